package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// newPromotion is a promotion with every field set.
func newPromotion(code string, method cart.Method) cart.Promotion {
	return cart.Promotion{
		Code:        code,
		Name:        "Promotion " + code,
		Description: "Ten percent off shoes of two brands.",
		Type:        cart.Percent,
		Method:      method,
		Rate:        1000,
		Amounts:     map[string]int64{"USD": 500, "KWD": 1250},
		MinSubtotal: map[string]int64{"USD": 5000},
		MinQuantity: 2,
		SKUs:        []string{"SHOE-1", "SHOE-2"},
		ProductIDs:  []string{"prod_shoe"},
		Brands:      []string{"Supra", "Acme"},
		SaleIDs:     []string{"sale_hitop"},
		StartsAt:    at(0),
		EndsAt:      at(1000),
		Active:      true,
		CreatedAt:   at(20),
		UpdatedAt:   at(20),
	}
}

// MustPutPromotion stores p and returns it as PutPromotion left it (with its Num).
func MustPutPromotion(tb testing.TB, s store.Store, p cart.Promotion) cart.Promotion {
	tb.Helper()
	MustWrite(tb, s, func(ctx context.Context, tx store.Tx) error { return tx.PutPromotion(ctx, &p) })
	return p
}

func readPromotion(t *testing.T, s store.Store, code string) cart.Promotion {
	t.Helper()
	var p cart.Promotion
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
		p, err = tx.Promotion(ctx, code)
		return err
	})
	return p
}

func readCoupons(t *testing.T, s store.Store, cartNum int64) []cart.Coupon {
	t.Helper()
	var cs []cart.Coupon
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
		cs, err = tx.Coupons(ctx, cartNum)
		return err
	})
	return cs
}

func autoCodes(t *testing.T, s store.Store, now time.Time) []string {
	t.Helper()
	var codes []string
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
		ps, err := tx.AutoPromotions(ctx, now)
		for _, p := range ps {
			codes = append(codes, p.Code)
		}
		return err
	})
	return codes
}

func testPromotions(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a promotion round-trips with every field", func(t *testing.T) {
		s := open(t)
		p := MustPutPromotion(t, s, newPromotion("SUMMER10", cart.Manual))
		if p.Num == 0 {
			t.Fatal("PutPromotion set no Num")
		}
		if diff := cmp.Diff(p, readPromotion(t, s, "SUMMER10"), cmpOpts); diff != "" {
			t.Errorf("read back (-put +read):\n%s", diff)
		}
	})

	t.Run("a promotion without conditions round-trips with empty lists and open windows", func(t *testing.T) {
		s := open(t)
		p := MustPutPromotion(t, s, cart.Promotion{Code: "SHIP", Type: cart.FreeShip, Method: cart.Auto, Active: true,
			CreatedAt: at(1), UpdatedAt: at(1)})
		got := readPromotion(t, s, "SHIP")
		if diff := cmp.Diff(p, got, cmpOpts); diff != "" || !got.StartsAt.IsZero() || !got.EndsAt.IsZero() {
			t.Errorf("read back (-put +read):\n%s", diff)
		}
	})

	t.Run("a second put replaces the fields and keeps the number and creation time", func(t *testing.T) {
		s := open(t)
		first := MustPutPromotion(t, s, newPromotion("SUMMER10", cart.Manual))
		next := newPromotion("SUMMER10", cart.Auto)
		next.Type, next.Rate, next.Amounts, next.SKUs, next.EndsAt = cart.Cash, 0, map[string]int64{"EUR": 300}, nil, time.Time{}
		next.CreatedAt, next.UpdatedAt = at(50), at(50)
		second := MustPutPromotion(t, s, next)
		if second.Num != first.Num || !second.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("num %d created %v, want %d %v", second.Num, second.CreatedAt, first.Num, first.CreatedAt)
		}
		if diff := cmp.Diff(second, readPromotion(t, s, "SUMMER10"), cmpOpts); diff != "" {
			t.Errorf("read back (-put +read):\n%s", diff)
		}
	})

	t.Run("a withdrawn promotion is not found, and a put revives it with its number", func(t *testing.T) {
		s := open(t)
		p := MustPutPromotion(t, s, newPromotion("GONE", cart.Manual))
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeletePromotion(ctx, "GONE") })
		err := s.Read(t.Context(), func(tx store.ReadTx) error {
			_, err := tx.Promotion(t.Context(), "GONE")
			return err
		})
		wantCode(t, err, cart.NotFound, "promotion_not_found")
		err = s.Write(t.Context(), func(tx store.Tx) error { return tx.DeletePromotion(t.Context(), "GONE") })
		wantCode(t, err, cart.NotFound, "promotion_not_found")
		err = s.Write(t.Context(), func(tx store.Tx) error { return tx.DeletePromotion(t.Context(), "NEVER") })
		wantCode(t, err, cart.NotFound, "promotion_not_found")
		if again := MustPutPromotion(t, s, newPromotion("GONE", cart.Manual)); again.Num != p.Num || again.Deleted {
			t.Errorf("revived num %d deleted %v, want %d false", again.Num, again.Deleted, p.Num)
		}
		readPromotion(t, s, "GONE")
	})

	t.Run("automatic promotions are the live active ones in their window, in code order", func(t *testing.T) {
		s := open(t)
		put := func(code string, f func(p *cart.Promotion)) {
			p := newPromotion(code, cart.Auto)
			p.StartsAt, p.EndsAt = time.Time{}, time.Time{}
			f(&p)
			MustPutPromotion(t, s, p)
		}
		put("B_OPEN", func(p *cart.Promotion) {})
		put("A_WINDOW", func(p *cart.Promotion) { p.StartsAt, p.EndsAt = at(100), at(200) })
		put("MANUAL", func(p *cart.Promotion) { p.Method = cart.Manual })
		put("OFF", func(p *cart.Promotion) { p.Active = false })
		put("GONE", func(p *cart.Promotion) {})
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeletePromotion(ctx, "GONE") })
		for _, tt := range []struct {
			at   time.Time
			want []string
		}{
			{at(99), []string{"B_OPEN"}},
			{at(100), []string{"A_WINDOW", "B_OPEN"}},
			{at(199), []string{"A_WINDOW", "B_OPEN"}},
			{at(200), []string{"B_OPEN"}}, // the end is exclusive
		} {
			if got := autoCodes(t, s, tt.at); !cmp.Equal(got, tt.want) {
				t.Errorf("at %v: %v, want %v", tt.at, got, tt.want)
			}
		}
	})

	t.Run("coupons are a cart's codes in the order applied, with their promotions", func(t *testing.T) {
		s := open(t)
		ten := MustPutPromotion(t, s, newPromotion("TEN", cart.Manual))
		five := MustPutPromotion(t, s, newPromotion("FIVE", cart.Manual))
		c := MustInsertCart(t, s, newCart("cust_1"))
		other := MustInsertCart(t, s, newCart("cust_2"))
		if got := readCoupons(t, s, c.Num); len(got) != 0 {
			t.Fatalf("a new cart has coupons %v", got)
		}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			for _, cp := range []cart.Coupon{
				{CartNum: c.Num, Code: "TEN", AddedAt: at(30)},
				{CartNum: c.Num, Code: "FIVE", AddedAt: at(10)},
				{CartNum: other.Num, Code: "TEN", AddedAt: at(5)},
			} {
				if err := tx.AddCoupon(ctx, cp); err != nil {
					return err
				}
			}
			return nil
		})
		want := []cart.Coupon{
			{CartNum: c.Num, Code: "FIVE", AddedAt: at(10), Promotion: five},
			{CartNum: c.Num, Code: "TEN", AddedAt: at(30), Promotion: ten},
		}
		if diff := cmp.Diff(want, readCoupons(t, s, c.Num), cmpOpts); diff != "" {
			t.Errorf("coupons (-want +got):\n%s", diff)
		}
		err := s.Write(t.Context(), func(tx store.Tx) error {
			return tx.AddCoupon(t.Context(), cart.Coupon{CartNum: c.Num, Code: "TEN", AddedAt: at(40)})
		})
		wantCode(t, err, cart.Conflict, "coupon_already_applied")

		// A withdrawn promotion stays on the carts that hold its code, marked deleted.
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeletePromotion(ctx, "FIVE") })
		if got := readCoupons(t, s, c.Num); len(got) != 2 || got[0].Code != "FIVE" || !got[0].Promotion.Deleted {
			t.Errorf("coupons after FIVE was withdrawn: %+v", got)
		}

		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.RemoveCoupon(ctx, c.Num, "TEN") })
		if got := readCoupons(t, s, c.Num); len(got) != 1 || got[0].Code != "FIVE" {
			t.Errorf("coupons after removing TEN: %+v", got)
		}
		if got := readCoupons(t, s, other.Num); len(got) != 1 || got[0].Code != "TEN" {
			t.Errorf("another cart's coupons changed: %+v", got)
		}
		err = s.Write(t.Context(), func(tx store.Tx) error { return tx.RemoveCoupon(t.Context(), c.Num, "TEN") })
		wantCode(t, err, cart.NotFound, "coupon_not_found")
	})
}
