package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// ImportRow is one row of a catalog import: a product to create or replace (nil for a row
// that only sets stock) and absolute on-hand counts to set, all or nothing.
type ImportRow struct {
	Product *cart.Product
	Stock   []StockLevel
}

// StockLevel is an absolute on-hand count for a SKU, as PUT /v1/inventory/{sku} sets it.
// OnHand is a decimal of the scale of the SKU's variant (docs/measured-quantities.md).
type StockLevel struct {
	SKU    string
	OnHand cart.Decimal
}

// ImportResult is what became of one ImportRow: Err (a *cart.Error) when the row was
// refused and changed nothing, else Changed says whether anything had to be written.
type ImportResult struct {
	Changed bool
	Err     error
}

// MaxImportBatch bounds the rows of one ImportCatalog call: one transaction holds the
// writer for the whole batch, so it must stay short.
const MaxImportBatch = 5000

// ImportCatalog writes a batch of catalog rows in one transaction (scope catalog:write) and
// says, row by row, what became of each. A row is all or nothing: its product is validated
// and written as PutProduct does, and its stock set as PutInventory sets an absolute on_hand
// (reservations above the new count released, newest first), so a row refused for its values
// (invalid product, SKU of another product, on_hand out of range) changes nothing and takes
// nothing from the other rows of the batch. Everything that can refuse a row is checked
// before the row's first write, so the rows need no savepoints.
//
// Rows are idempotent: a product stored exactly as given is not written again (its
// updated_at stays) and a SKU already at the given on_hand is not written (its version stays),
// so importing the same rows twice changes nothing the second time. Rows apply in order; a
// later row of the batch sees what an earlier one wrote.
//
// The error is for the batch as a whole (the store failed, or the principal lacks the scope):
// then nothing of the batch was written. With no rows, ImportCatalog only checks the scope,
// which lets a front door refuse a caller before reading an upload.
func (e *Engine) ImportCatalog(ctx context.Context, p auth.Principal, rows []ImportRow) ([]ImportResult, error) {
	if err := require(p, auth.CatalogWrite); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if len(rows) > MaxImportBatch {
		return nil, cart.Errorf(cart.Invalid, "batch_too_large", "at most %d rows go in one batch, not %d", MaxImportBatch, len(rows))
	}
	checked := make([]ImportRow, len(rows))
	results := make([]ImportResult, len(rows))
	for i, row := range rows {
		checked[i], results[i].Err = checkImportRow(row)
	}
	for {
		out, err := e.importBatch(ctx, checked, results)
		var failed *failedStatement
		if errors.As(err, &failed) {
			// The database refused a statement of the row, which may have ended the
			// transaction for every row after it: run the batch again without that row.
			results[failed.row].Err = failed.err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("import catalog: %w", err)
		}
		return out, nil
	}
}

// failedStatement is a row refused by the database itself (PostgreSQL refusing a NUL in a
// name, say) rather than by a check before its writes.
type failedStatement struct {
	row int
	err error
}

func (f *failedStatement) Error() string { return f.err.Error() }

// importBatch runs one transaction over the rows not refused yet.
func (e *Engine) importBatch(ctx context.Context, rows []ImportRow, refused []ImportResult) ([]ImportResult, error) {
	var out []ImportResult
	err := e.observedWrite(ctx, func(tx store.Tx) error {
		// Write may run this function again: start from the checks' results every time.
		out = slices.Clone(refused)
		for i, row := range rows {
			if out[i].Err != nil {
				continue
			}
			changed, err := e.importRow(ctx, tx, row)
			var ce *cart.Error
			switch {
			case errors.As(err, &ce) && ce.Code != cart.Internal && ce.Code != cart.Unavailable && ce.Err != nil:
				return &failedStatement{row: i, err: err}
			case errors.As(err, &ce) && ce.Code != cart.Internal && ce.Code != cart.Unavailable:
				out[i].Err = err
			case err != nil:
				return err
			}
			out[i].Changed = changed
		}
		return nil
	})
	return out, err
}

// checkImportRow validates a row as PUT /v1/products and PUT /v1/inventory would, before the
// transaction, and returns the product as it is to be stored (name trimmed, tiers sorted,
// default variant names). Field errors name a variant as variants[i] and a stock level as
// stock[i], for the importer to find the line.
func checkImportRow(row ImportRow) (ImportRow, error) {
	if row.Product == nil && len(row.Stock) == 0 {
		return row, cart.Errorf(cart.Invalid, "empty_row", "the row holds neither a product nor stock")
	}
	if row.Product != nil {
		prod := *row.Product
		prod.Variants = slices.Clone(prod.Variants)
		for i := range prod.Variants {
			prod.Variants[i].Tiers = slices.Clone(prod.Variants[i].Tiers)
		}
		if err := validateProduct(&prod); err != nil {
			return row, err
		}
		row.Product = &prod
	}
	seen := make(map[string]bool, len(row.Stock))
	for i, s := range row.Stock {
		f := fmt.Sprintf("stock[%d].", i)
		switch {
		case validSKU(f+"sku", s.SKU) != nil:
			return row, validSKU(f+"sku", s.SKU)
		case seen[s.SKU]:
			return row, cart.InvalidField("duplicate_sku", f+"sku", "the row sets the stock of %s twice", s.SKU)
		case s.OnHand.Err(f+"on_hand") != nil:
			return row, s.OnHand.Err(f + "on_hand")
		case s.OnHand.N < 0:
			return row, cart.InvalidField("invalid_on_hand", f+"on_hand", "on_hand of %s must be between 0 and %d", s.SKU, int64(maxStock))
		}
		seen[s.SKU] = true
	}
	return row, nil
}

// importRow writes one checked row in tx, skipping what is already as given, and reports
// whether it wrote anything. The product goes first: PutProduct refuses a product before its
// first write, and the stock writes after it cannot be refused (their values were checked),
// so a refused row leaves nothing behind.
func (e *Engine) importRow(ctx context.Context, tx store.Tx, row ImportRow) (bool, error) {
	changed := false
	if row.Product != nil {
		stored, err := tx.Product(ctx, row.Product.ID)
		if err != nil && cart.ErrorCode(err) != cart.NotFound {
			return false, err
		}
		if err != nil || !sameProduct(stored, *row.Product) {
			prod := *row.Product
			prod.CreatedAt, prod.UpdatedAt = tx.Now(), tx.Now()
			if err := checkScaleChanges(ctx, tx, &prod); err != nil {
				return false, err
			}
			if err := tx.PutProduct(ctx, &prod); err != nil {
				return false, err
			}
			changed = true
		}
	}
	for i, s := range row.Stock {
		scale, err := skuScale(ctx, tx, s.SKU)
		if err != nil {
			return false, err
		}
		f := fmt.Sprintf("stock[%d].on_hand", i)
		onHand, err := s.OnHand.Scaled(int(scale), f)
		if err != nil {
			return false, err
		}
		if onHand > maxStock {
			return false, cart.InvalidField("invalid_on_hand", f, "on_hand of %s must be between 0 and %d", s.SKU, int64(maxStock))
		}
		st, err := tx.Stock(ctx, s.SKU)
		if err != nil {
			return false, err
		}
		st.SKU = s.SKU
		if st.OnHand == onHand {
			continue
		}
		if _, err := e.setOnHand(ctx, tx, st, onHand); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// sameProduct reports whether the stored product already is what want describes: the same
// fields and the same live variants in the same order. Empty and absent lists and maps are
// the same (the stores keep neither).
func sameProduct(stored, want cart.Product) bool {
	if stored.ID != want.ID || stored.Name != want.Name || stored.Brand != want.Brand ||
		stored.Category != want.Category || stored.Description != want.Description ||
		stored.ImageURL != want.ImageURL || stored.TaxCode != want.TaxCode || stored.Deleted ||
		!sameRule(stored.QuantityRule, want.QuantityRule) {
		return false
	}
	return slices.EqualFunc(stored.Variants, want.Variants, sameVariant)
}

func sameVariant(a, b cart.Variant) bool {
	return a.ID == b.ID && a.SKU == b.SKU && a.Name == b.Name && a.TaxRate == b.TaxRate &&
		a.WeightGrams == b.WeightGrams && a.Active == b.Active && a.Returnable == b.Returnable &&
		a.SaleID == b.SaleID && a.QuantityScale == b.QuantityScale && a.Unit == b.Unit && !a.Deleted && !b.Deleted && sameRule(a.QuantityRule, b.QuantityRule) &&
		slices.Equal(a.Options, b.Options) &&
		maps.Equal(a.Prices, b.Prices) && maps.Equal(a.RetailPrices, b.RetailPrices) &&
		slices.EqualFunc(a.Tiers, b.Tiers, func(x, y cart.Tier) bool {
			return x.MinQuantity == y.MinQuantity && maps.Equal(x.Prices, y.Prices)
		})
}

// sameRule reports whether two optional quantity rules are the same: both absent, or equal.
func sameRule(a, b *cart.QuantityRule) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// skuScale is the quantity scale of the live variant selling sku: what its stock figures
// count units of. A SKU no variant sells (yet) counts whole units.
func skuScale(ctx context.Context, tx store.ReadTx, sku string) (uint8, error) {
	v, _, err := tx.VariantBySKU(ctx, sku)
	switch {
	case cart.ErrorCode(err) == cart.NotFound:
		return 0, nil
	case err != nil:
		return 0, err
	}
	return v.QuantityScale, nil
}
