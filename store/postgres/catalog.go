package postgres

import (
	"context"
	"fmt"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/column"
)

// productColumns are the columns productRow scans, for a query naming products "p".
const productColumns = `p.num, p.id, p.name, p.brand, p.category, p.description, p.image_url,
	p.tax_code, p.deleted, p.created_at, p.updated_at, p.quantity_rule`

// productRow is the scan target of productColumns.
type productRow struct {
	p    cart.Product
	rule []byte
}

func (r *productRow) dest() []any {
	return []any{&r.p.Num, &r.p.ID, &r.p.Name, &r.p.Brand, &r.p.Category, &r.p.Description,
		&r.p.ImageURL, &r.p.TaxCode, &r.p.Deleted, &r.p.CreatedAt, &r.p.UpdatedAt, &r.rule}
}

func (r *productRow) product() (cart.Product, error) {
	p := r.p
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if err := column.DecodeJSON(r.rule, &p.QuantityRule); err != nil {
		return cart.Product{}, fmt.Errorf("product %s: quantity rule: %w", p.ID, err)
	}
	return p, nil
}

// variantColumns are the columns variantRow scans, for a query joining variants "v" to their
// products "p" (the variant's ProductID is its product's id).
const variantColumns = `v.num, v.id, v.product_num, p.id, v.sku, v.name, v.options, v.prices,
	v.retail_prices, v.tiers, v.tax_rate, v.weight_grams, v.active, v.returnable, v.sale_id, v.deleted,
	v.quantity_rule, v.quantity_scale, v.unit`

// variantRow is the scan target of variantColumns; the JSON columns are decoded by variant.
type variantRow struct {
	v                                    cart.Variant
	options, prices, retail, tiers, rule []byte
	scale                                int64
}

func (r *variantRow) dest() []any {
	return []any{&r.v.Num, &r.v.ID, &r.v.ProductNum, &r.v.ProductID, &r.v.SKU, &r.v.Name,
		&r.options, &r.prices, &r.retail, &r.tiers, &r.v.TaxRate, &r.v.WeightGrams,
		&r.v.Active, &r.v.Returnable, &r.v.SaleID, &r.v.Deleted, &r.rule,
		&r.scale, &r.v.Unit}
}

func (r *variantRow) variant() (cart.Variant, error) {
	v := r.v
	if r.scale < 0 || r.scale > cart.MaxScale {
		return cart.Variant{}, fmt.Errorf("quantity scale %d out of range", r.scale)
	}
	v.QuantityScale = uint8(r.scale)
	if err := column.DecodeJSON(r.options, &v.Options); err != nil {
		return cart.Variant{}, fmt.Errorf("options: %w", err)
	}
	if err := column.DecodeJSON(r.prices, &v.Prices); err != nil {
		return cart.Variant{}, fmt.Errorf("prices: %w", err)
	}
	if err := column.DecodeJSON(r.retail, &v.RetailPrices); err != nil {
		return cart.Variant{}, fmt.Errorf("retail prices: %w", err)
	}
	if err := column.DecodeJSON(r.tiers, &v.Tiers); err != nil {
		return cart.Variant{}, fmt.Errorf("tiers: %w", err)
	}
	if err := column.DecodeJSON(r.rule, &v.QuantityRule); err != nil {
		return cart.Variant{}, fmt.Errorf("quantity rule: %w", err)
	}
	return v, nil
}

func errProductNotFound(id string) *cart.Error {
	return cart.Errorf(cart.NotFound, "product_not_found", "product %q not found", id)
}

const (
	qProduct = `SELECT ` + productColumns + ` FROM products p WHERE p.id = $1 AND NOT p.deleted`

	qProductVariants = `
		SELECT ` + variantColumns + `
		FROM variants v JOIN products p ON p.num = v.product_num
		WHERE v.product_num = $1 AND NOT v.deleted
		ORDER BY v.position`
)

// Product returns a live product with its live variants in the order of its last PUT.
func (t *txn) Product(ctx context.Context, id string) (cart.Product, error) {
	var pr productRow
	found, err := t.queryRow(ctx, "get product", qProduct, []any{id}, pr.dest()...)
	if err != nil {
		return cart.Product{}, err
	}
	if !found {
		return cart.Product{}, errProductNotFound(id)
	}
	p, err := pr.product()
	if err != nil {
		return cart.Product{}, fmt.Errorf("postgres: get product: %w", err)
	}
	var vr variantRow
	err = t.query(ctx, "get product variants", qProductVariants, []any{p.Num}, vr.dest(), func() error {
		v, err := vr.variant()
		if err != nil {
			return fmt.Errorf("variant %s: %w", vr.v.ID, err)
		}
		p.Variants = append(p.Variants, v)
		return nil
	})
	if err != nil {
		return cart.Product{}, err
	}
	return p, nil
}

// qVariantBy is the lookup of one live variant and its product by one of the variant's unique
// columns, named by the placeholder's condition.
const (
	qVariantBy = `SELECT ` + variantColumns + `, ` + productColumns + `
		FROM variants v JOIN products p ON p.num = v.product_num
		WHERE NOT v.deleted AND NOT p.deleted AND `
	qVariantBySKU = qVariantBy + `v.sku = $1`
	qVariantByID  = qVariantBy + `v.id = $1`
	qVariantByNum = qVariantBy + `v.num = $1`
)

// VariantBySKU finds the live variant with a SKU.
func (t *txn) VariantBySKU(ctx context.Context, sku string) (cart.Variant, cart.Product, error) {
	return t.variant(ctx, qVariantBySKU, sku,
		cart.Errorf(cart.NotFound, "variant_not_found", "no variant with SKU %q", sku))
}

// VariantByID finds a live variant by the id the shop gave it.
func (t *txn) VariantByID(ctx context.Context, id string) (cart.Variant, cart.Product, error) {
	return t.variant(ctx, qVariantByID, id,
		cart.Errorf(cart.NotFound, "variant_not_found", "variant %q not found", id))
}

// VariantByNum finds a live variant by cartd's number for it.
func (t *txn) VariantByNum(ctx context.Context, num int64) (cart.Variant, cart.Product, error) {
	return t.variant(ctx, qVariantByNum, num,
		cart.Errorf(cart.NotFound, "variant_not_found", "variant %d not found", num))
}

// variant runs one of the qVariantBy queries.
func (t *txn) variant(ctx context.Context, query string, arg any, notFound *cart.Error) (cart.Variant, cart.Product, error) {
	var (
		vr variantRow
		pr productRow
	)
	found, err := t.queryRow(ctx, "get variant", query, []any{arg}, append(vr.dest(), pr.dest()...)...)
	if err != nil {
		return cart.Variant{}, cart.Product{}, err
	}
	if !found {
		return cart.Variant{}, cart.Product{}, notFound
	}
	v, err := vr.variant()
	if err != nil {
		return cart.Variant{}, cart.Product{}, fmt.Errorf("postgres: get variant %s: %w", vr.v.ID, err)
	}
	p, err := pr.product()
	if err != nil {
		return cart.Variant{}, cart.Product{}, fmt.Errorf("postgres: get variant %s: %w", vr.v.ID, err)
	}
	return v, p, nil
}

const (
	qPutProduct = `
		INSERT INTO products (id, name, brand, category, description, image_url, tax_code,
		                      deleted, created_at, updated_at, quantity_rule)
		VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name,
			brand = excluded.brand,
			category = excluded.category,
			description = excluded.description,
			image_url = excluded.image_url,
			tax_code = excluded.tax_code,
			quantity_rule = excluded.quantity_rule,
			deleted = false,
			updated_at = excluded.updated_at
		RETURNING num, created_at`

	qDeleteVariants = `UPDATE variants SET deleted = true WHERE product_num = $1`
)

// PutProduct creates or replaces a product and its variants. Everything that can reject the
// product is checked before the first write, so a rejected product changes nothing even if the
// caller goes on to commit. A product that existed keeps its Num and CreatedAt (written back
// into p); a deleted one is revived.
//
// SKUs of this product's own variants never conflict with each other across the change: all
// its variants are first marked deleted, freeing their SKUs, and the ones listed are then
// revived with their new SKUs, so variants may swap or hand over SKUs in one PUT.
//
// The checks read without locking. A product row upserted concurrently by another PUT of the
// same product is waited for; a SKU or variant id taken meanwhile by another product shows as
// a unique violation or a variant of another product at write time, and the transaction is
// re-run, when the checks find the other product's claim.
func (t *txn) PutProduct(ctx context.Context, p *cart.Product) error {
	if err := t.checkProduct(ctx, p); err != nil {
		return err
	}
	rule, err := column.EncodeJSON(p.QuantityRule, p.QuantityRule == nil)
	if err != nil {
		return fmt.Errorf("postgres: put product: quantity rule: %w", err)
	}
	_, err = t.queryRow(ctx, "put product", qPutProduct,
		[]any{p.ID, p.Name, p.Brand, p.Category, p.Description, p.ImageURL, p.TaxCode, p.CreatedAt, p.UpdatedAt, rule},
		&p.Num, &p.CreatedAt)
	if err != nil {
		return err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	p.Deleted = false

	if _, err := t.exec(ctx, "put product: drop variants", qDeleteVariants, p.Num); err != nil {
		return err
	}
	for i := range p.Variants {
		v := &p.Variants[i]
		v.ProductNum, v.ProductID, v.Deleted = p.Num, p.ID, false
		if err := t.putVariant(ctx, v, i); err != nil {
			return err
		}
	}
	return nil
}

const (
	// qVariantOwner finds the product a variant id belongs to, deleted or not: ids are unique
	// for good.
	qVariantOwner = `
		SELECT p.id FROM variants v JOIN products p ON p.num = v.product_num
		WHERE v.id = $1`

	// qSKUHolder finds a live variant of another product holding a SKU.
	qSKUHolder = `
		SELECT v.id FROM variants v JOIN products p ON p.num = v.product_num
		WHERE v.sku = $1 AND NOT v.deleted AND p.id <> $2`
)

// checkProduct finds what would make PutProduct fail, reading only.
func (t *txn) checkProduct(ctx context.Context, p *cart.Product) error {
	ids := make(map[string]int, len(p.Variants))
	skus := make(map[string]int, len(p.Variants))
	for i, v := range p.Variants {
		if j, ok := ids[v.ID]; ok {
			return cart.InvalidField("duplicate_variant_id", fmt.Sprintf("variants[%d].id", i),
				"variant id %q is also the id of variants[%d]", v.ID, j)
		}
		ids[v.ID] = i
		if j, ok := skus[v.SKU]; ok {
			return cart.InvalidField("duplicate_sku", fmt.Sprintf("variants[%d].sku", i),
				"SKU %q is also the SKU of variants[%d]", v.SKU, j)
		}
		skus[v.SKU] = i
	}

	for i, v := range p.Variants {
		var owner string
		found, err := t.queryRow(ctx, "put product: check variant id", qVariantOwner, []any{v.ID}, &owner)
		if err != nil {
			return err
		}
		if found && owner != p.ID {
			return cart.InvalidField("variant_belongs_to_other_product", fmt.Sprintf("variants[%d].id", i),
				"variant %q belongs to product %q", v.ID, owner)
		}

		var holder string
		found, err = t.queryRow(ctx, "put product: check sku", qSKUHolder, []any{v.SKU, p.ID}, &holder)
		if err != nil {
			return err
		}
		if found {
			return cart.InvalidField("duplicate_sku", fmt.Sprintf("variants[%d].sku", i),
				"SKU %q belongs to variant %q", v.SKU, holder)
		}
	}
	return nil
}

// qPutVariant upserts a variant by id. checkProduct made sure the id is free or this
// product's; the WHERE clause refuses to take over another product's variant should one have
// been created with this id since, and then no row is returned.
const qPutVariant = `
	INSERT INTO variants (id, product_num, position, sku, name, options, prices, retail_prices,
	                      tiers, tax_rate, weight_grams, active, returnable, sale_id, deleted,
	                      quantity_rule, quantity_scale, unit)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, false, $15, $16, $17)
	ON CONFLICT (id) DO UPDATE SET
		position = excluded.position,
		sku = excluded.sku,
		name = excluded.name,
		options = excluded.options,
		prices = excluded.prices,
		retail_prices = excluded.retail_prices,
		tiers = excluded.tiers,
		tax_rate = excluded.tax_rate,
		weight_grams = excluded.weight_grams,
		active = excluded.active,
		returnable = excluded.returnable,
		sale_id = excluded.sale_id,
		quantity_rule = excluded.quantity_rule,
		quantity_scale = excluded.quantity_scale,
		unit = excluded.unit,
		deleted = false
	WHERE variants.product_num = excluded.product_num
	RETURNING num`

// putVariant upserts one variant by id at position i of its product, setting its Num.
func (t *txn) putVariant(ctx context.Context, v *cart.Variant, i int) error {
	op := "put variant " + v.ID
	options, err := column.EncodeJSON(v.Options, len(v.Options) == 0)
	if err != nil {
		return fmt.Errorf("postgres: %s: options: %w", op, err)
	}
	prices, err := column.EncodeJSON(v.Prices, len(v.Prices) == 0)
	if err != nil {
		return fmt.Errorf("postgres: %s: prices: %w", op, err)
	}
	retail, err := column.EncodeJSON(v.RetailPrices, len(v.RetailPrices) == 0)
	if err != nil {
		return fmt.Errorf("postgres: %s: retail prices: %w", op, err)
	}
	tiers, err := column.EncodeJSON(v.Tiers, len(v.Tiers) == 0)
	if err != nil {
		return fmt.Errorf("postgres: %s: tiers: %w", op, err)
	}
	rule, err := column.EncodeJSON(v.QuantityRule, v.QuantityRule == nil)
	if err != nil {
		return fmt.Errorf("postgres: %s: quantity rule: %w", op, err)
	}
	found, err := t.queryRow(ctx, op, qPutVariant,
		[]any{v.ID, v.ProductNum, i, v.SKU, v.Name, options, prices, retail, tiers,
			v.TaxRate, v.WeightGrams, v.Active, v.Returnable, v.SaleID, rule, int64(v.QuantityScale), v.Unit},
		&v.Num)
	if err != nil {
		return err
	}
	if !found {
		return t.stale(op)
	}
	return nil
}

const qDeleteProduct = `
	UPDATE products SET deleted = true, updated_at = $1
	WHERE id = $2 AND NOT deleted
	RETURNING num`

// DeleteProduct marks a live product and all its variants deleted, at the transaction's
// instant; items keep pointing at them and show them unavailable.
func (t *txn) DeleteProduct(ctx context.Context, id string) error {
	var num int64
	found, err := t.queryRow(ctx, "delete product", qDeleteProduct, []any{t.now, id}, &num)
	if err != nil {
		return err
	}
	if !found {
		return errProductNotFound(id)
	}
	_, err = t.exec(ctx, "delete product: variants", qDeleteVariants, num)
	return err
}
