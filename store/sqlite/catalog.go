package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/column"
)

// productColumns are the columns productRow scans, for a query naming products "p".
const productColumns = `p.num, p.id, p.name, p.brand, p.category, p.description, p.image_url,
	p.tax_code, p.deleted, p.created_at, p.updated_at, p.quantity_rule`

// productRow is the scan target of productColumns.
type productRow struct {
	p                cart.Product
	created, updated int64
	rule             []byte
}

func (r *productRow) dest() []any {
	return []any{&r.p.Num, &r.p.ID, &r.p.Name, &r.p.Brand, &r.p.Category, &r.p.Description,
		&r.p.ImageURL, &r.p.TaxCode, &r.p.Deleted, &r.created, &r.updated, &r.rule}
}

func (r *productRow) product() (cart.Product, error) {
	p := r.p
	p.CreatedAt, p.UpdatedAt = fromMicros(r.created), fromMicros(r.updated)
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
	qProduct = `SELECT ` + productColumns + ` FROM products p WHERE p.id = ? AND p.deleted = 0`

	qProductVariants = `
		SELECT ` + variantColumns + `
		FROM variants v JOIN products p ON p.num = v.product_num
		WHERE v.product_num = ? AND v.deleted = 0
		ORDER BY v.position`
)

// Product returns a live product with its live variants in the order of its last PUT.
func (t *txn) Product(ctx context.Context, id string) (cart.Product, error) {
	var pr productRow
	err := t.queryRow(ctx, qProduct, id).Scan(pr.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return cart.Product{}, errProductNotFound(id)
	}
	if err != nil {
		return cart.Product{}, fmt.Errorf("sqlite: get product: %w", dbErr(ctx, err))
	}
	p, err := pr.product()
	if err != nil {
		return cart.Product{}, fmt.Errorf("sqlite: get product: %w", err)
	}

	rows, err := t.query(ctx, qProductVariants, p.Num)
	if err != nil {
		return cart.Product{}, fmt.Errorf("sqlite: get product variants: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var vr variantRow
	dest := vr.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return cart.Product{}, fmt.Errorf("sqlite: get product variants: %w", dbErr(ctx, err))
		}
		v, err := vr.variant()
		if err != nil {
			return cart.Product{}, fmt.Errorf("sqlite: get product variants: variant %s: %w", vr.v.ID, err)
		}
		p.Variants = append(p.Variants, v)
	}
	if err := rows.Err(); err != nil {
		return cart.Product{}, fmt.Errorf("sqlite: get product variants: %w", dbErr(ctx, err))
	}
	return p, nil
}

// qVariantBy is the lookup of one live variant and its product by one of the variant's unique
// columns, named by the placeholder's condition.
const (
	qVariantBy = `SELECT ` + variantColumns + `, ` + productColumns + `
		FROM variants v JOIN products p ON p.num = v.product_num
		WHERE v.deleted = 0 AND p.deleted = 0 AND `
	qVariantBySKU = qVariantBy + `v.sku = ?`
	qVariantByID  = qVariantBy + `v.id = ?`
	qVariantByNum = qVariantBy + `v.num = ?`
)

// VariantBySKU finds the live variant with a SKU.
func (t *txn) VariantBySKU(ctx context.Context, sku string) (cart.Variant, cart.Product, error) {
	if t.c != nil {
		if e, ok := t.c.liveBySKU[sku]; ok {
			return *e.v, *e.p, nil
		}
	}
	v, p, err := t.variant(ctx, qVariantBySKU, sku,
		cart.Errorf(cart.NotFound, "variant_not_found", "no variant with SKU %q", sku))
	if err == nil && t.c != nil {
		put(t.c, t.c.liveBySKU, sku, variantEntry{&v, &p})
	}
	return v, p, err
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
func (t *txn) variant(ctx context.Context, query string, arg any,
	notFound *cart.Error) (cart.Variant, cart.Product, error) {
	var (
		vr variantRow
		pr productRow
	)
	err := t.queryRow(ctx, query, arg).Scan(append(vr.dest(), pr.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return cart.Variant{}, cart.Product{}, notFound
	}
	if err != nil {
		return cart.Variant{}, cart.Product{}, fmt.Errorf("sqlite: get variant: %w", dbErr(ctx, err))
	}
	v, err := vr.variant()
	if err != nil {
		return cart.Variant{}, cart.Product{}, fmt.Errorf("sqlite: get variant %s: %w", vr.v.ID, err)
	}
	p, err := pr.product()
	if err != nil {
		return cart.Variant{}, cart.Product{}, fmt.Errorf("sqlite: get variant %s: %w", vr.v.ID, err)
	}
	return v, p, nil
}

const (
	qPutProduct = `
		INSERT INTO products (id, name, brand, category, description, image_url, tax_code,
		                      deleted, created_at, updated_at, quantity_rule)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name,
			brand = excluded.brand,
			category = excluded.category,
			description = excluded.description,
			image_url = excluded.image_url,
			tax_code = excluded.tax_code,
			quantity_rule = excluded.quantity_rule,
			deleted = 0,
			updated_at = excluded.updated_at
		RETURNING num, created_at`

	qDeleteVariants = `UPDATE variants SET deleted = 1 WHERE product_num = ?`
)

// PutProduct creates or replaces a product and its variants. Everything that can reject the
// product is checked before the first write, so a rejected product changes nothing even if the
// caller goes on to commit. A product that existed keeps its Num and CreatedAt (written back
// into p); a deleted one is revived.
//
// SKUs of this product's own variants never conflict with each other across the change: all
// its variants are first marked deleted, freeing their SKUs, and the ones listed are then
// revived with their new SKUs, so variants may swap or hand over SKUs in one PUT.
func (t *txn) PutProduct(ctx context.Context, p *cart.Product) error {
	if t.c != nil {
		t.c.dropCatalog()
	}
	if err := t.checkProduct(ctx, p); err != nil {
		return err
	}

	rule, err := column.EncodeJSON(p.QuantityRule, p.QuantityRule == nil)
	if err != nil {
		return fmt.Errorf("sqlite: put product: quantity rule: %w", err)
	}
	var created int64
	err = t.queryRow(ctx, qPutProduct, p.ID, p.Name, p.Brand, p.Category, p.Description,
		p.ImageURL, p.TaxCode, micros(p.CreatedAt), micros(p.UpdatedAt), rule).
		Scan(&p.Num, &created)
	if err != nil {
		return fmt.Errorf("sqlite: put product: %w", dbErr(ctx, err))
	}
	p.CreatedAt = fromMicros(created)
	p.Deleted = false

	if _, err := t.exec(ctx, qDeleteVariants, p.Num); err != nil {
		return fmt.Errorf("sqlite: put product: drop variants: %w", dbErr(ctx, err))
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
		WHERE v.id = ?`

	// qSKUHolder finds a live variant of another product holding a SKU.
	qSKUHolder = `
		SELECT v.id FROM variants v JOIN products p ON p.num = v.product_num
		WHERE v.sku = ? AND v.deleted = 0 AND p.id <> ?`
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
		err := t.queryRow(ctx, qVariantOwner, v.ID).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("sqlite: put product: check variant id: %w", dbErr(ctx, err))
		case owner != p.ID:
			return cart.InvalidField("variant_belongs_to_other_product", fmt.Sprintf("variants[%d].id", i),
				"variant %q belongs to product %q", v.ID, owner)
		}

		var holder string
		err = t.queryRow(ctx, qSKUHolder, v.SKU, p.ID).Scan(&holder)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("sqlite: put product: check sku: %w", dbErr(ctx, err))
		default:
			return cart.InvalidField("duplicate_sku", fmt.Sprintf("variants[%d].sku", i),
				"SKU %q belongs to variant %q", v.SKU, holder)
		}
	}
	return nil
}

// qPutVariant upserts a variant by id; checkProduct has made sure the id is this product's.
const qPutVariant = `
	INSERT INTO variants (id, product_num, position, sku, name, options, prices, retail_prices,
	                      tiers, tax_rate, weight_grams, active, returnable, sale_id, deleted,
	                      quantity_rule, quantity_scale, unit)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
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
		deleted = 0
	RETURNING num`

// putVariant upserts one variant by id at position i of its product, setting its Num.
func (t *txn) putVariant(ctx context.Context, v *cart.Variant, i int) error {
	options, err := column.EncodeJSON(v.Options, len(v.Options) == 0)
	if err != nil {
		return fmt.Errorf("sqlite: put variant %s: options: %w", v.ID, err)
	}
	prices, err := column.EncodeJSON(v.Prices, len(v.Prices) == 0)
	if err != nil {
		return fmt.Errorf("sqlite: put variant %s: prices: %w", v.ID, err)
	}
	retail, err := column.EncodeJSON(v.RetailPrices, len(v.RetailPrices) == 0)
	if err != nil {
		return fmt.Errorf("sqlite: put variant %s: retail prices: %w", v.ID, err)
	}
	tiers, err := column.EncodeJSON(v.Tiers, len(v.Tiers) == 0)
	if err != nil {
		return fmt.Errorf("sqlite: put variant %s: tiers: %w", v.ID, err)
	}
	rule, err := column.EncodeJSON(v.QuantityRule, v.QuantityRule == nil)
	if err != nil {
		return fmt.Errorf("sqlite: put variant %s: quantity rule: %w", v.ID, err)
	}
	err = t.queryRow(ctx, qPutVariant, v.ID, v.ProductNum, i, v.SKU, v.Name, options, prices, retail, tiers,
		v.TaxRate, v.WeightGrams, v.Active, v.Returnable, v.SaleID, rule,
		int64(v.QuantityScale), v.Unit).
		Scan(&v.Num)
	if err != nil {
		return fmt.Errorf("sqlite: put variant %s: %w", v.ID, dbErr(ctx, err))
	}
	return nil
}

const qDeleteProduct = `
	UPDATE products SET deleted = 1, updated_at = ?
	WHERE id = ? AND deleted = 0
	RETURNING num`

// DeleteProduct marks a live product and all its variants deleted, at the transaction's
// instant; items keep pointing at them and show them unavailable.
func (t *txn) DeleteProduct(ctx context.Context, id string) error {
	if t.c != nil {
		t.c.dropCatalog()
	}
	var num int64
	err := t.queryRow(ctx, qDeleteProduct, micros(t.now), id).Scan(&num)
	if errors.Is(err, sql.ErrNoRows) {
		return errProductNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete product: %w", dbErr(ctx, err))
	}
	if _, err := t.exec(ctx, qDeleteVariants, num); err != nil {
		return fmt.Errorf("sqlite: delete product: variants: %w", dbErr(ctx, err))
	}
	return nil
}
