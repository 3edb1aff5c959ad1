package engine_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// TestMinimalChangesMatchWholeRepricing holds the memo path (engine/memo.go) to the whole
// re-pricing it stands in for. Two engines over two SQLite files on two clocks get the same
// random calls, one by one: every change to the cart under test is made with
// Options.Minimal on the first engine and without on the second, around them the clock
// moves past reservation lapses and a sale's start and end, the sweeper runs, stock is
// lowered and raised, prices and settings change, a coupon comes and goes, an automatic
// promotion starts and ends, and another cart competes for the same SKUs. Each minimal answer
// must agree with the whole one: same version, totals, messages, changed and removed lines,
// and every line it shows equal to the whole cart's; errors must be the same, carts
// included.
func TestMinimalChangesMatchWholeRepricing(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			a, b := mustLife(t, ttl), mustLife(t, ttl)
			pair := &lifePair{a: a, b: b, rng: rand.New(rand.NewPCG(seed, 77))}
			pair.run(t, 600)
			t.Logf("%d of %d minimal changes answered from a memo", pair.partial, pair.minimal)
			if pair.partial < pair.minimal/8 {
				t.Errorf("only %d of %d minimal changes were answered from a memo", pair.partial, pair.minimal)
			}
		})
	}
}

type lifePair struct {
	a, b              *life
	rng               *rand.Rand
	cart, other       int64
	skus              []string
	minimal, partial  int
	price             map[string]int64
	includeTax        bool
	couponOn, promoOn bool
}

func (p *lifePair) both(t *testing.T, fn func(f *life) (any, error)) (any, any, error, error) {
	t.Helper()
	ra, ea := fn(p.a)
	rb, eb := fn(p.b)
	return ra, rb, ea, eb
}

// must runs fn on both engines and fails the test if either fails.
func (p *lifePair) must(t *testing.T, what string, fn func(f *life) error) {
	t.Helper()
	for _, f := range []*life{p.a, p.b} {
		if err := fn(f); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

func (p *lifePair) advance(d time.Duration) {
	p.a.clock.Advance(d)
	p.b.clock.Advance(d)
}

func (p *lifePair) putProducts(t *testing.T) {
	t.Helper()
	for i := 0; i < len(p.skus); i += 4 {
		prod := cart.Product{ID: fmt.Sprintf("prod_%d", i), Name: "Product", Brand: "Acme"}
		for _, sku := range p.skus[i:min(i+4, len(p.skus))] {
			v := cart.Variant{ID: "var_" + sku, SKU: sku, Active: true, Prices: map[string]int64{"USD": p.price[sku]}, TaxRate: int64(len(sku)%3) * 750}
			switch sku[len(sku)-1] {
			case '1':
				v.RetailPrices = map[string]int64{"USD": p.price[sku] + 250}
			case '2':
				v.Tiers = []cart.Tier{{MinQuantity: 3, Prices: map[string]int64{"USD": p.price[sku] - 100}}}
			case '3':
				v.SaleID = "flash"
			case '4':
				v.Prices["EUR"] = p.price[sku] // still priced in USD: not a no_price line
			case '5':
				// Measured to a tenth (docs/measured-quantities.md): the steps' quantities are
				// tenths of a kilogram, each line's subtotal rounded half up.
				v.QuantityScale, v.Unit = 1, "kg"
			}
			prod.Variants = append(prod.Variants, v)
		}
		p.must(t, "put product", func(f *life) error {
			_, err := f.eng.PutProduct(t.Context(), f.admin, prod, engine.Options{})
			return err
		})
	}
}

func (p *lifePair) setup(t *testing.T) {
	t.Helper()
	p.price = map[string]int64{}
	for i := range 14 {
		sku := fmt.Sprintf("SKU-%02d", i)
		p.skus = append(p.skus, sku)
		p.price[sku] = 500 + int64(i)*137
	}
	start := p.a.clock.Now()
	p.must(t, "put sale", func(f *life) error {
		_, err := f.eng.PutSale(t.Context(), f.admin, cart.Sale{ID: "flash", Name: "Flash", StartsAt: start.Add(-time.Hour), EndsAt: start.Add(50 * time.Minute)}, engine.Options{})
		return err
	})
	p.putProducts(t)
	for i, sku := range p.skus[:len(p.skus)-1] { // the last one is never stocked until a step stocks it
		p.a.setStock(t, sku, int64(3+i%6))
		p.b.setStock(t, sku, int64(3+i%6))
	}
	rate := cart.ShippingRate{Flat: 499, FreeOver: 9000}
	p.must(t, "settings", func(f *life) error {
		_, err := f.eng.PutSettings(t.Context(), f.admin, engine.SettingsUpdate{Shipping: map[string]cart.ShippingRate{"USD": rate}}, engine.Options{})
		return err
	})
	p.must(t, "coupon promotion", func(f *life) error {
		_, err := f.eng.PutPromotion(t.Context(), f.admin, cart.Promotion{Code: "TENOFF", Name: "Ten off", Type: cart.Percent, Method: cart.Manual, Rate: 1000, Active: true}, engine.Options{})
		return err
	})
	p.must(t, "automatic promotion", func(f *life) error {
		_, err := f.eng.PutPromotion(t.Context(), f.admin, cart.Promotion{Code: "LATER", Name: "Later", Type: cart.Cash, Method: cart.Auto,
			Amounts: map[string]int64{"USD": 300}, StartsAt: start.Add(3 * time.Hour), EndsAt: start.Add(4 * time.Hour), Active: true}, engine.Options{})
		return err
	})
	p.cart, p.other = p.a.open(t), p.a.open(t)
	if p.b.open(t) != p.cart || p.b.open(t) != p.other {
		t.Fatal("the two stores numbered carts differently")
	}
}

func (p *lifePair) run(t *testing.T, steps int) {
	p.setup(t)
	policies := []cart.Policy{cart.Reject, cart.Clamp, cart.Ignore}
	for step := range steps {
		r := p.rng.IntN(100)
		sku := p.skus[p.rng.IntN(len(p.skus))]
		switch {
		case r < 40:
			ch := cart.SetTo(int64(p.rng.IntN(7)))
			if p.rng.IntN(2) == 0 {
				ch = cart.Change{N: int64(p.rng.IntN(6) - 2)}
			}
			u := engine.Update{Item: engine.ItemRef{SKU: sku}, Change: &ch, Policy: policies[p.rng.IntN(3)]}
			p.change(t, step, "update", func(f *life, opt engine.Options) (cart.View, error) {
				return f.eng.Update(t.Context(), f.admin, p.cart, []engine.Update{u}, opt)
			})
		case r < 48:
			var us []engine.Update
			for range 2 + p.rng.IntN(3) {
				ch := cart.SetTo(int64(p.rng.IntN(5)))
				us = append(us, engine.Update{Item: engine.ItemRef{SKU: p.skus[p.rng.IntN(len(p.skus))]}, Change: &ch, Policy: policies[p.rng.IntN(3)]})
			}
			p.change(t, step, "batch", func(f *life, opt engine.Options) (cart.View, error) {
				return f.eng.Batch(t.Context(), f.admin, p.cart, us, opt)
			})
		case r < 53:
			notes := fmt.Sprint("note ", step)
			p.change(t, step, "notes", func(f *life, opt engine.Options) (cart.View, error) {
				return f.eng.Update(t.Context(), f.admin, p.cart, []engine.Update{{Item: engine.ItemRef{SKU: sku}, Notes: &notes}}, opt)
			})
		case r < 55:
			p.change(t, step, "clear", func(f *life, opt engine.Options) (cart.View, error) {
				return f.eng.ClearCart(t.Context(), f.admin, p.cart, opt)
			})
		case r < 63:
			q := int64(p.rng.IntN(5))
			p.both(t, func(f *life) (any, error) { return f.set(t, p.other, sku, q, cart.Clamp) })
		case r < 73:
			p.advance([]time.Duration{time.Second, time.Minute, 4 * time.Minute, 9 * time.Minute, ttl}[p.rng.IntN(5)])
		case r < 77:
			p.a.sweep(t)
			p.b.sweep(t)
		case r < 83:
			n := int64(p.rng.IntN(8))
			p.a.setStock(t, sku, n)
			p.b.setStock(t, sku, n)
		case r < 86:
			p.price[sku] += int64(p.rng.IntN(300)) - 100
			p.putProducts(t)
		case r < 88:
			p.includeTax = !p.includeTax
			p.must(t, "settings", func(f *life) error {
				_, err := f.eng.PutSettings(t.Context(), f.admin, engine.SettingsUpdate{PricesIncludeTax: &p.includeTax}, engine.Options{})
				return err
			})
		case r < 91:
			on := p.couponOn
			p.couponOn = !on
			p.change(t, step, "coupon", func(f *life, opt engine.Options) (cart.View, error) {
				if on {
					return f.eng.RemoveCoupon(t.Context(), f.admin, p.cart, "TENOFF", opt)
				}
				return f.eng.ApplyCoupon(t.Context(), f.admin, p.cart, "TENOFF", opt)
			})
		default:
			va, vb := p.a.cart(t, p.cart), p.b.cart(t, p.cart)
			if !reflect.DeepEqual(va, vb) {
				t.Fatalf("step %d: the two carts read differently:\n%+v\n%+v", step, va, vb)
			}
		}
	}
}

// change makes the same change on both engines, minimal on the first, and compares.
func (p *lifePair) change(t *testing.T, step int, what string, call func(f *life, opt engine.Options) (cart.View, error)) {
	t.Helper()
	va, ea := call(p.a, engine.Options{Minimal: true})
	vb, eb := call(p.b, engine.Options{})
	p.minimal++
	if ea != nil || eb != nil {
		var ca, cb *cart.Error
		if !errors.As(ea, &ca) || !errors.As(eb, &cb) || !reflect.DeepEqual(ca, cb) {
			var carts string
			if ca != nil && cb != nil && ca.Cart != nil && cb.Cart != nil {
				carts = viewDiff(*ca.Cart, *cb.Cart)
			}
			t.Fatalf("step %d (%s): errors differ:\nminimal: %#v\nwhole:   %#v\n%s", step, what, ea, eb, carts)
		}
		return
	}
	if va.Partial {
		p.partial++
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("step %d (%s, partial %v): "+format, append([]any{step, what, va.Partial}, args...)...)
	}
	type totals struct {
		Version, ItemCount, Unique, Expired, Subtotal, Discount, Tax, Shipping, Total, Retail, Saved int64
		IncludeTax                                                                                   bool
	}
	sum := func(v cart.View) totals {
		return totals{v.Cart.Version, v.ItemCount, v.UniqueItemCount, v.Expired, v.Subtotal, v.Discount, v.Tax, v.Shipping, v.Total, v.RetailTotal, v.Saved, v.PricesIncludeTax}
	}
	if sum(va) != sum(vb) {
		fail("totals differ:\nminimal: %+v\nwhole:   %+v", sum(va), sum(vb))
	}
	if !reflect.DeepEqual(va.Cart, vb.Cart) {
		fail("carts differ:\nminimal: %+v\nwhole:   %+v", va.Cart, vb.Cart)
	}
	if !reflect.DeepEqual(va.Messages, vb.Messages) {
		fail("messages differ:\nminimal: %+v\nwhole:   %+v", va.Messages, vb.Messages)
	}
	if !reflect.DeepEqual(va.ChangedItems, vb.ChangedItems) || !reflect.DeepEqual(va.RemovedItems, vb.RemovedItems) {
		fail("changed %v removed %v, whole changed %v removed %v", va.ChangedItems, va.RemovedItems, vb.ChangedItems, vb.RemovedItems)
	}
	if !reflect.DeepEqual(va.Promotions, vb.Promotions) {
		fail("promotions differ:\nminimal: %+v\nwhole:   %+v", va.Promotions, vb.Promotions)
	}
	lists := func(v cart.View) map[int64]cart.LineView {
		out := map[int64]cart.LineView{}
		for _, ls := range [][]cart.LineView{v.Lines, v.ExpiredLines, v.Unavailable} {
			for _, l := range ls {
				out[l.Item.Num] = l
			}
		}
		return out
	}
	whole := lists(vb)
	shown := lists(va)
	for n, l := range shown {
		if !reflect.DeepEqual(l, whole[n]) {
			fail("line %d differs:\nminimal: %+v\nwhole:   %+v", n, l, whole[n])
		}
	}
	for _, n := range va.ChangedItems {
		if _, ok := shown[n]; !ok {
			fail("changed line %d is not in the minimal view", n)
		}
	}
	if !va.Partial && !reflect.DeepEqual(va, vb) {
		fail("whole views differ:\nminimal: %+v\nwhole:   %+v", va, vb)
	}
}

// viewDiff names the fields in which two views differ, and how.
func viewDiff(a, b cart.View) string {
	var out string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if fa, fb := va.Field(i).Interface(), vb.Field(i).Interface(); !reflect.DeepEqual(fa, fb) {
			out += fmt.Sprintf("%s:\n  %+v\n  %+v\n", va.Type().Field(i).Name, fa, fb)
		}
	}
	return out
}
