package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// newProduct is a product with every field set.
func newProduct(id string, variants ...cart.Variant) cart.Product {
	return cart.Product{
		ID:          id,
		Name:        "Product " + id,
		Brand:       "Acme",
		Category:    "Apparel",
		Description: "A fine thing.",
		ImageURL:    "https://img.example/" + id + ".jpg",
		TaxCode:     "6109",
		Variants:    variants,
		CreatedAt:   at(100),
		UpdatedAt:   at(100),
	}
}

// newVariant is a variant with every field set.
func newVariant(id, sku string) cart.Variant {
	return cart.Variant{
		ID:           id,
		SKU:          sku,
		Name:         "Blue / " + sku,
		Options:      []cart.Option{{Name: "color", Value: "Blue"}, {Name: "size", Value: sku}},
		Prices:       map[string]int64{"USD": 8099, "INR": 20000},
		RetailPrices: map[string]int64{"USD": 9999},
		Tiers: []cart.Tier{
			{MinQuantity: 10, Prices: map[string]int64{"USD": 7500}},
			{MinQuantity: 50, Prices: map[string]int64{"USD": 7000, "INR": 18000}},
		},
		TaxRate:     500,
		WeightGrams: 180,
		Active:      true,
		Returnable:  true,
		SaleID:      "sale_summer",
	}
}

// MustPutProduct stores p and returns it as PutProduct left it (with its nums).
func MustPutProduct(tb testing.TB, s store.Store, p cart.Product) cart.Product {
	tb.Helper()
	MustWrite(tb, s, func(ctx context.Context, tx store.Tx) error { return tx.PutProduct(ctx, &p) })
	return p
}

func readProduct(t *testing.T, s store.Store, id string) cart.Product {
	t.Helper()
	var p cart.Product
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
		p, err = tx.Product(ctx, id)
		return err
	})
	return p
}

// withoutVariants is p as VariantBySKU and Lines return it.
func withoutVariants(p cart.Product) cart.Product {
	p.Variants = nil
	return p
}

func testProducts(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a product is created with its variants", func(t *testing.T) {
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_m", "TEE-M")))
		if p.Num == 0 {
			t.Fatal("PutProduct left the product's Num 0")
		}
		for i, v := range p.Variants {
			if v.Num == 0 || v.ProductNum != p.Num || v.ProductID != p.ID {
				t.Errorf("variants[%d] = num %d, product %d %q; want a num and product %d %q",
					i, v.Num, v.ProductNum, v.ProductID, p.Num, p.ID)
			}
		}
		if diff := cmp.Diff(p, readProduct(t, s, p.ID), cmpOpts); diff != "" {
			t.Errorf("Product (-want +got):\n%s", diff)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			for _, want := range p.Variants {
				for name, lookup := range map[string]func() (cart.Variant, cart.Product, error){
					"VariantBySKU": func() (cart.Variant, cart.Product, error) { return tx.VariantBySKU(ctx, want.SKU) },
					"VariantByID":  func() (cart.Variant, cart.Product, error) { return tx.VariantByID(ctx, want.ID) },
					"VariantByNum": func() (cart.Variant, cart.Product, error) { return tx.VariantByNum(ctx, want.Num) },
				} {
					v, gotP, err := lookup()
					if err != nil {
						return err
					}
					if diff := cmp.Diff(want, v, cmpOpts); diff != "" {
						t.Errorf("%s(%s) variant (-want +got):\n%s", name, want.ID, diff)
					}
					if diff := cmp.Diff(withoutVariants(p), gotP, cmpOpts); diff != "" {
						t.Errorf("%s(%s) product (-want +got):\n%s", name, want.ID, diff)
					}
				}
			}
			return nil
		})
	})

	t.Run("putting a product again keeps its numbers and takes the new fields and order", func(t *testing.T) {
		s := open(t)
		first := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_m", "TEE-M")))

		again := newProduct("prod_tee", newVariant("var_tee_m", "TEE-M2"), newVariant("var_tee_s", "TEE-S"))
		again.Name = "Renamed"
		again.Variants[0].Prices = map[string]int64{"USD": 100}
		again.Variants[1].Active = false
		again.CreatedAt, again.UpdatedAt = at(200), at(200)
		got := MustPutProduct(t, s, again)

		if got.Num != first.Num || got.Variants[0].Num != first.Variants[1].Num || got.Variants[1].Num != first.Variants[0].Num {
			t.Errorf("nums changed: product %d→%d, variants %d,%d→%d,%d", first.Num, got.Num,
				first.Variants[1].Num, first.Variants[0].Num, got.Variants[0].Num, got.Variants[1].Num)
		}
		if !got.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("CreatedAt = %v after a second put, want the first put's %v", got.CreatedAt, first.CreatedAt)
		}
		if diff := cmp.Diff(got, readProduct(t, s, "prod_tee"), cmpOpts); diff != "" {
			t.Errorf("Product (-want +got):\n%s", diff)
		}
	})

	t.Run("a variant left out is deleted, and its lines still show it", func(t *testing.T) {
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_m", "TEE-M")))
		dropped := p.Variants[1]
		c := MustInsertCart(t, s, newCart("cust_1"))
		MustInsertItem(t, s, newItem(c.Num, dropped.Num, 1))

		p = MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S")))
		if diff := cmp.Diff(p, readProduct(t, s, "prod_tee"), cmpOpts); diff != "" {
			t.Errorf("Product (-want +got):\n%s", diff)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			_, _, err := tx.VariantBySKU(ctx, dropped.SKU)
			wantCode(t, err, cart.NotFound, "variant_not_found")
			_, _, err = tx.VariantByID(ctx, dropped.ID)
			wantCode(t, err, cart.NotFound, "variant_not_found")
			_, _, err = tx.VariantByNum(ctx, dropped.Num)
			wantCode(t, err, cart.NotFound, "variant_not_found")
			return nil
		})
		lines := readLines(t, s, c.Num)
		if len(lines) != 1 {
			t.Fatalf("got %d lines, want 1", len(lines))
		}
		want := dropped
		want.Deleted = true
		if diff := cmp.Diff(&want, lines[0].Variant, cmpOpts); diff != "" {
			t.Errorf("line's variant (-want +got):\n%s", diff)
		}
	})

	t.Run("a rejected product writes nothing, even if the caller commits", func(t *testing.T) {
		tests := []struct {
			name   string
			put    cart.Product
			reason string
			field  string
		}{
			{
				name:   "a SKU twice in the product",
				put:    newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_m", "TEE-S")),
				reason: "duplicate_sku", field: "variants[1].sku",
			},
			{
				name:   "a SKU of another product's live variant",
				put:    newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_x", "MUG-1")),
				reason: "duplicate_sku", field: "variants[1].sku",
			},
			{
				name:   "a new product with a SKU of another product's live variant",
				put:    newProduct("prod_new", newVariant("var_new", "MUG-1")),
				reason: "duplicate_sku", field: "variants[0].sku",
			},
			{
				name:   "a variant id of another product",
				put:    newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_mug", "TEE-X")),
				reason: "variant_belongs_to_other_product", field: "variants[1].id",
			},
			{
				name:   "a variant id twice in the product",
				put:    newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_s", "TEE-X")),
				reason: "duplicate_variant_id", field: "variants[1].id",
			},
		}
		for _, tt := range tests {
			t.Run("with "+tt.name, func(t *testing.T) {
				s := open(t)
				tee := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_m", "TEE-M")))
				mug := MustPutProduct(t, s, newProduct("prod_mug", newVariant("var_mug", "MUG-1")))

				MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
					p := tt.put
					err := tx.PutProduct(ctx, &p)
					wantCode(t, err, cart.Invalid, tt.reason)
					if e := cart.AsError(err); len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
						t.Errorf("fields = %+v, want one naming %s", e.Fields, tt.field)
					}
					return nil // commit: the rejected put must have left nothing to commit
				})

				for _, want := range []cart.Product{tee, mug} {
					if diff := cmp.Diff(want, readProduct(t, s, want.ID), cmpOpts); diff != "" {
						t.Errorf("Product %s (-want +got):\n%s", want.ID, diff)
					}
				}
				MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
					_, err := tx.Product(ctx, "prod_new")
					wantCode(t, err, cart.NotFound, "product_not_found")
					return nil
				})
			})
		}
	})

	t.Run("a deleted variant's SKU can be taken by a new variant", func(t *testing.T) {
		s := open(t)
		MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_old", "SHARED")))
		MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S")))
		mug := MustPutProduct(t, s, newProduct("prod_mug", newVariant("var_mug", "SHARED")))
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			v, _, err := tx.VariantBySKU(ctx, "SHARED")
			if err != nil {
				return err
			}
			if v.Num != mug.Variants[0].Num {
				t.Errorf("VariantBySKU(SHARED) = %s, want var_mug", v.ID)
			}
			return nil
		})
		// Reviving the old variant with its SKU now collides with the new holder.
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			p := newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_old", "SHARED"))
			wantCode(t, tx.PutProduct(ctx, &p), cart.Invalid, "duplicate_sku")
			return nil
		})
	})

	t.Run("variants of one product may swap SKUs", func(t *testing.T) {
		s := open(t)
		MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_a", "SKU-A"), newVariant("var_b", "SKU-B")))
		want := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_a", "SKU-B"), newVariant("var_b", "SKU-A")))
		if diff := cmp.Diff(want, readProduct(t, s, "prod_tee"), cmpOpts); diff != "" {
			t.Errorf("Product (-want +got):\n%s", diff)
		}
	})

	t.Run("a deleted product is not found, its lines show it deleted, and a put revives it", func(t *testing.T) {
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S")))
		c := MustInsertCart(t, s, newCart("cust_1"))
		MustInsertItem(t, s, newItem(c.Num, p.Variants[0].Num, 1))

		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteProduct(ctx, "prod_tee") })
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			_, err := tx.Product(ctx, "prod_tee")
			wantCode(t, err, cart.NotFound, "product_not_found")
			_, _, err = tx.VariantBySKU(ctx, "TEE-S")
			wantCode(t, err, cart.NotFound, "variant_not_found")
			_, _, err = tx.VariantByID(ctx, "var_tee_s")
			wantCode(t, err, cart.NotFound, "variant_not_found")
			return nil
		})
		lines := readLines(t, s, c.Num)
		if len(lines) != 1 || !lines[0].Product.Deleted || !lines[0].Variant.Deleted {
			t.Errorf("lines after DeleteProduct = %+v, want one with product and variant deleted", lines)
		}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			wantCode(t, tx.DeleteProduct(ctx, "prod_tee"), cart.NotFound, "product_not_found")
			return nil
		})

		revived := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S")))
		if revived.Num != p.Num || revived.Variants[0].Num != p.Variants[0].Num {
			t.Errorf("revived product has nums %d/%d, want %d/%d",
				revived.Num, revived.Variants[0].Num, p.Num, p.Variants[0].Num)
		}
		if diff := cmp.Diff(revived, readProduct(t, s, "prod_tee"), cmpOpts); diff != "" {
			t.Errorf("Product (-want +got):\n%s", diff)
		}
	})
}

func testStock(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a SKU never stocked has zero stock", func(t *testing.T) {
		s := open(t)
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Stock(ctx, "NOPE")
			if err != nil {
				return err
			}
			if diff := cmp.Diff(cart.Stock{SKU: "NOPE"}, got, cmpOpts); diff != "" {
				t.Errorf("Stock (-want +got):\n%s", diff)
			}
			return nil
		})
	})

	t.Run("stock round trips and a put replaces it", func(t *testing.T) {
		s := open(t)
		for _, want := range []cart.Stock{
			{SKU: "TEE-S", OnHand: 10, Reserved: 4, Backordered: 2, UpdatedAt: at(1)},
			{SKU: "TEE-S", OnHand: 3, Reserved: 5, UpdatedAt: at(2)}, // below reserved is accepted
		} {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutStock(ctx, want) })
			MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
				got, err := tx.Stock(ctx, want.SKU)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
					t.Errorf("Stock (-want +got):\n%s", diff)
				}
				return nil
			})
		}
	})

	t.Run("negative stock is refused", func(t *testing.T) {
		s := open(t)
		for _, st := range []cart.Stock{
			{SKU: "TEE-S", OnHand: -1, UpdatedAt: at(1)},
			{SKU: "TEE-S", OnHand: 1, Reserved: -1, UpdatedAt: at(1)},
		} {
			err := s.Write(t.Context(), func(tx store.Tx) error { return tx.PutStock(t.Context(), st) })
			if err == nil {
				t.Errorf("PutStock(%+v) succeeded", st)
			}
		}
	})

	t.Run("stock holders are the items holding the SKU, newest first", func(t *testing.T) {
		s := open(t)
		// An item of a variant since deleted still holds the SKU's stock.
		old := MustPutProduct(t, s, newProduct("prod_old", newVariant("var_old", "HOT")))
		MustPutProduct(t, s, newProduct("prod_old"))
		p := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_hot", "HOT"), newVariant("var_cold", "COLD")))
		hot, cold, gone := p.Variants[0].Num, p.Variants[1].Num, old.Variants[0].Num

		c1 := MustInsertCart(t, s, newCart("cust_1"))
		c2 := MustInsertCart(t, s, newCart("cust_2"))
		item := func(cartNum, variantNum, reserved int64, updated int) cart.Item {
			it := newItem(cartNum, variantNum, 5)
			it.ReservedQuantity = reserved
			it.UpdatedAt = at(updated)
			return MustInsertItem(t, s, it)
		}
		oldest := item(c1.Num, hot, 2, 5)
		item(c1.Num, cold, 3, 9) // another SKU
		tied := item(c2.Num, hot, 1, 7)
		item(c2.Num, hot, 0, 8) // holds nothing
		ofDeleted := item(c2.Num, gone, 1, 6)
		tiedLater := item(c1.Num, hot, 1, 7)

		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.StockHolders(ctx, "HOT")
			if err != nil {
				return err
			}
			want := []cart.Item{tiedLater, tied, ofDeleted, oldest}
			if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
				t.Errorf("StockHolders (-want +got):\n%s", diff)
			}
			none, err := tx.StockHolders(ctx, "NOPE")
			if err != nil {
				return err
			}
			if len(none) != 0 {
				t.Errorf("StockHolders(NOPE) = %+v, want none", none)
			}
			return nil
		})
	})
}
