package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

func testQuantityRules(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("quantity rules come back as stored, absent ones as nil", func(t *testing.T) {
		s := open(t)
		own := newVariant("var_pair", "PAIR")
		own.QuantityRule = &cart.QuantityRule{Min: 2, Max: 10, Increment: 2, MaxPerCustomer: 6}
		empty := newVariant("var_any", "ANY")
		empty.QuantityRule = &cart.QuantityRule{} // its own rule, restricting nothing: not its product's
		inherits := newVariant("var_inherit", "INHERIT")
		p := newProduct("prod_rules", own, empty, inherits)
		p.QuantityRule = &cart.QuantityRule{Increment: 12}
		p = MustPutProduct(t, s, p)
		if diff := cmp.Diff(p, readProduct(t, s, p.ID), cmpOpts); diff != "" {
			t.Errorf("Product (-want +got):\n%s", diff)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			v, gotP, err := tx.VariantBySKU(ctx, "INHERIT")
			if err != nil {
				return err
			}
			if v.QuantityRule != nil || gotP.QuantityRule == nil || *gotP.QuantityRule != *p.QuantityRule {
				t.Errorf("VariantBySKU: variant rule %v, product rule %v; want nil and %v", v.QuantityRule, gotP.QuantityRule, *p.QuantityRule)
			}
			return nil
		})
		p.QuantityRule, p.Variants[0].QuantityRule = nil, nil
		p = MustPutProduct(t, s, p)
		if got := readProduct(t, s, p.ID); got.QuantityRule != nil || got.Variants[0].QuantityRule != nil {
			t.Errorf("rules left after a PUT without them: %v, %v", got.QuantityRule, got.Variants[0].QuantityRule)
		}
	})

	t.Run("a measured variant's scale, unit and scaled figures come back as stored", func(t *testing.T) {
		s := open(t)
		kg := newVariant("var_kg", "KG")
		kg.QuantityScale, kg.Unit = 3, "kg"
		kg.Tiers = []cart.Tier{{MinQuantity: 2500, Prices: map[string]int64{"USD": 999}}}
		kg.QuantityRule = &cart.QuantityRule{Min: 250, Increment: 250, Max: 10_000}
		p := MustPutProduct(t, s, newProduct("prod_kg", kg, newVariant("var_pc", "PC")))
		if diff := cmp.Diff(p, readProduct(t, s, p.ID), cmpOpts); diff != "" {
			t.Errorf("Product (-want +got):\n%s", diff)
		}
		c := MustInsertCart(t, s, newCart("cust_kg"))
		MustInsertItem(t, s, newItem(c.Num, p.Variants[0].Num, 1250))
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			lines, err := tx.Lines(ctx, c.Num)
			if err != nil {
				return err
			}
			if len(lines) != 1 || lines[0].Item.Quantity != 1250 || lines[0].Variant.QuantityScale != 3 || lines[0].Variant.Unit != "kg" {
				t.Errorf("Lines: %+v", lines)
			}
			v, _, err := tx.VariantBySKU(ctx, "PC")
			if err != nil {
				return err
			}
			if v.QuantityScale != 0 || v.Unit != "" {
				t.Errorf("a variant without a scale reads %d %q", v.QuantityScale, v.Unit)
			}
			return nil
		})
	})

	t.Run("a customer's units count their other active carts and recently completed ones", func(t *testing.T) {
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_ltd", newVariant("var_ltd", "LTD"), newVariant("var_other", "OTHER")))
		ltd, other := p.Variants[0].Num, p.Variants[1].Num
		cartOf := func(customer string, status cart.Status, updated int) cart.Cart {
			c := newCart(customer)
			c.Status, c.UpdatedAt = status, at(updated)
			return MustInsertCart(t, s, c)
		}
		mine := cartOf("cust_1", cart.StatusActive, 5)
		MustInsertItem(t, s, newItem(mine.Num, ltd, 1))
		active := cartOf("cust_1", cart.StatusActive, 5)
		MustInsertItem(t, s, newItem(active.Num, ltd, 2))
		MustInsertItem(t, s, newItem(active.Num, other, 7))
		recent := cartOf("cust_1", cart.StatusCompleted, 50)
		MustInsertItem(t, s, newItem(recent.Num, ltd, 3))
		old := cartOf("cust_1", cart.StatusCompleted, 10)
		MustInsertItem(t, s, newItem(old.Num, ltd, 100))
		cartOf("cust_1", cart.StatusMerged, 50) // a merged cart holds no lines
		someone := cartOf("cust_2", cart.StatusActive, 5)
		MustInsertItem(t, s, newItem(someone.Num, ltd, 40))
		guest := cartOf("", cart.StatusActive, 5)
		MustInsertItem(t, s, newItem(guest.Num, ltd, 40))

		for _, tt := range []struct {
			name     string
			customer string
			except   int64
			variant  int64
			want     int64
		}{
			{"other active carts and completed ones since the instant", "cust_1", mine.Num, ltd, 5},
			{"the cart being changed is left out", "cust_1", active.Num, ltd, 4},
			{"another variant is counted apart", "cust_1", mine.Num, other, 7},
			{"another customer's carts do not count", "cust_2", 0, other, 0},
			{"a guest has no customer to count", "", 0, ltd, 0},
		} {
			t.Run(tt.name, func(t *testing.T) {
				MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
					n, err := tx.CustomerUnits(ctx, tt.customer, tt.variant, tt.except, at(20))
					if err != nil {
						return err
					}
					if n != tt.want {
						t.Errorf("CustomerUnits = %d, want %d", n, tt.want)
					}
					return nil
				})
			})
		}
	})

	t.Run("transactions counting one customer's units see each other's writes", func(t *testing.T) {
		// Each transaction counts the units of the customer's other carts and adds one unit
		// to its own cart only if the total stays within 5: with the count holding until the
		// commit, the customer ends with exactly 5 however the transactions interleave.
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_ltd", newVariant("var_ltd", "LTD")))
		ltd := p.Variants[0].Num
		const carts, limit = 4, 5
		var nums [carts]int64
		for i := range nums {
			nums[i] = MustInsertCart(t, s, newCart("cust_1")).Num
		}
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				num := nums[i%carts]
				err := s.Write(t.Context(), func(tx store.Tx) error {
					ctx := t.Context()
					if _, err := tx.Cart(ctx, num); err != nil {
						return err
					}
					held, err := tx.CustomerUnits(ctx, "cust_1", ltd, num, at(0))
					if err != nil {
						return err
					}
					lines, err := tx.Lines(ctx, num)
					if err != nil {
						return err
					}
					var mine int64
					for _, l := range lines {
						mine += l.Item.Quantity
					}
					if held+mine+1 > limit {
						return nil
					}
					if len(lines) == 0 {
						it := newItem(num, ltd, 1)
						return tx.InsertItem(ctx, &it)
					}
					it := lines[0].Item
					it.Quantity, it.ReservedQuantity = it.Quantity+1, it.ReservedQuantity+1
					return tx.UpdateItem(ctx, it)
				})
				if err != nil {
					t.Errorf("Write: %v", err)
				}
			}()
		}
		wg.Wait()
		var total int64
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			total, err = tx.CustomerUnits(ctx, "cust_1", ltd, 0, at(0))
			return err
		})
		if total != limit {
			t.Fatalf("the customer holds %d units, want %d", total, limit)
		}
	})
}
