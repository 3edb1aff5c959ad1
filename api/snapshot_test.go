package api_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
)

// TestCartReadsMatchFreshReads holds the engine's cart snapshots (engine/snapshot.go) to the
// reads they stand in for. One store, two servers: the first, whose engine makes every write
// and keeps snapshots where the store allows them, and the second, over the same store hidden
// behind a plain store.Store, which keeps none and reads every cart afresh. Random steps write
// to the first (quantities, stock, prices, settings, a coupon, the sweeper, a checkout) and
// move the clock across reservation lapses, a sale's start and end and an automatic
// promotion's; after each, every cart is read from both, and the answers must be the same
// bytes with the same ETag, and If-None-Match with that ETag must answer 304 from the first.
// On SQLite, reads must also have been answered from snapshots.
func TestCartReadsMatchFreshReads(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
			ts := mustServer(t, serverOptions{ReservationTTL: 10 * time.Minute, Now: clock.Now})
			fresh := httptest.NewServer(api.New(engine.New(struct{ store.Store }{ts.Store}, engine.Config{ReservationTTL: 10 * time.Minute}), api.Config{}))
			t.Cleanup(fresh.Close)
			d := &snapshotDiff{ts: ts, fresh: fresh, clock: clock, rng: rand.New(rand.NewPCG(seed, 21))}
			d.run(t, 250)
			hits := ts.Engine.SnapshotHits()
			t.Logf("%d reads compared, %d answered from a snapshot", d.reads, hits)
			if kind := os.Getenv("CARTD_TEST_STORE"); (kind == "" || kind == "sqlite") && hits < uint64(d.reads)/10 {
				t.Errorf("only %d of %d reads were answered from a snapshot", hits, d.reads)
			}
		})
	}
}

type snapshotDiff struct {
	ts     *testServer
	fresh  *httptest.Server
	clock  *testClock
	rng    *rand.Rand
	carts  []int64
	skus   []string
	price  map[string]int64
	reads  int
	taxed  bool
	coupon map[int64]bool
}

func (d *snapshotDiff) putProducts(t *testing.T) {
	t.Helper()
	admin := d.admin(t)
	for i := 0; i < len(d.skus); i += 3 {
		prod := cart.Product{ID: fmt.Sprintf("prod_%d", i), Name: "Product", Brand: "Acme"}
		for _, sku := range d.skus[i:min(i+3, len(d.skus))] {
			v := cart.Variant{ID: "var_" + sku, SKU: sku, Active: true, Prices: map[string]int64{"USD": d.price[sku]}, TaxRate: 750}
			if sku[len(sku)-1] == '3' {
				v.SaleID = "flash"
			}
			prod.Variants = append(prod.Variants, v)
		}
		if _, err := d.ts.Engine.PutProduct(t.Context(), admin, prod, engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
}

func (d *snapshotDiff) admin(t *testing.T) auth.Principal {
	t.Helper()
	p, err := d.ts.Engine.Authenticate(t.Context(), d.ts.Admin)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (d *snapshotDiff) setup(t *testing.T) {
	ctx, admin, start := t.Context(), d.admin(t), d.clock.Now()
	d.price, d.coupon = map[string]int64{}, map[int64]bool{}
	for i := range 9 {
		sku := fmt.Sprintf("SNAP-%d", i)
		d.skus = append(d.skus, sku)
		d.price[sku] = 700 + int64(i)*111
	}
	if _, err := d.ts.Engine.PutSale(ctx, admin, cart.Sale{ID: "flash", Name: "Flash", StartsAt: start.Add(20 * time.Minute), EndsAt: start.Add(70 * time.Minute)}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	d.putProducts(t)
	for i, sku := range d.skus {
		d.setStock(t, sku, int64(4+i%5))
	}
	for _, p := range []cart.Promotion{
		{Code: "SOON", Name: "Soon", Type: cart.Cash, Method: cart.Auto, Amounts: map[string]int64{"USD": 250}, StartsAt: start.Add(40 * time.Minute), EndsAt: start.Add(55 * time.Minute), Active: true},
		{Code: "TENOFF", Name: "Ten off", Type: cart.Percent, Method: cart.Manual, Rate: 1000, Active: true},
	} {
		if _, err := d.ts.Engine.PutPromotion(ctx, admin, p, engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		v, err := d.ts.Engine.CreateCart(ctx, admin, engine.NewCart{Currency: "USD"}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d.carts = append(d.carts, v.Cart.Num)
	}
}

func (d *snapshotDiff) setStock(t *testing.T, sku string, n int64) {
	t.Helper()
	if _, err := d.ts.Engine.PutInventory(t.Context(), d.admin(t), sku, engine.StockChange{OnHand: &cart.Decimal{N: n}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
}

func (d *snapshotDiff) run(t *testing.T, steps int) {
	d.setup(t)
	ctx, admin := t.Context(), d.admin(t)
	for step := range steps {
		num := d.carts[d.rng.IntN(len(d.carts))]
		sku := d.skus[d.rng.IntN(len(d.skus))]
		var what string
		var err error
		switch r := d.rng.IntN(100); {
		case r < 35:
			what = "quantity"
			ch := cart.SetTo(int64(d.rng.IntN(5)))
			_, err = d.ts.Engine.Update(ctx, admin, num, []engine.Update{{Item: engine.ItemRef{SKU: sku}, Change: &ch, Policy: cart.Clamp}}, engine.Options{})
		case r < 45:
			what = "stock"
			d.setStock(t, sku, int64(d.rng.IntN(7)))
		case r < 50:
			what = "price"
			d.price[sku] += int64(d.rng.IntN(200)) - 60
			d.putProducts(t)
		case r < 53:
			what = "settings"
			d.taxed = !d.taxed
			_, err = d.ts.Engine.PutSettings(ctx, admin, engine.SettingsUpdate{PricesIncludeTax: &d.taxed}, engine.Options{})
		case r < 58:
			what = "coupon"
			if d.coupon[num] {
				_, err = d.ts.Engine.RemoveCoupon(ctx, admin, num, "TENOFF", engine.Options{})
			} else {
				_, err = d.ts.Engine.ApplyCoupon(ctx, admin, num, "TENOFF", engine.Options{})
			}
			if err == nil {
				d.coupon[num] = !d.coupon[num]
			}
		case r < 61:
			what = "sweep"
			_, err = d.ts.Engine.Sweep(ctx)
		case r < 62:
			what = "checkout"
			_, err = d.ts.Engine.Checkout(ctx, admin, num, engine.Options{})
		case r < 85:
			what = "clock"
			d.clock.Advance([]time.Duration{time.Second, time.Minute, 3 * time.Minute, 7 * time.Minute, 10 * time.Minute}[d.rng.IntN(5)])
		default:
			what = "nothing"
		}
		if err != nil && !isCartError(err) {
			t.Fatalf("step %d (%s): %v", step, what, err)
		}
		for _, n := range d.carts {
			d.compare(t, step, what, n)
		}
	}
}

// compare reads cart n from both servers, twice from the first (the second read may be the
// snapshot the first left), and requires the same bytes.
func (d *snapshotDiff) compare(t *testing.T, step int, what string, n int64) {
	t.Helper()
	path := fmt.Sprintf("/v1/carts/cart_%d", n)
	want := (&testServer{URL: d.fresh.URL, Client: d.fresh.Client()}).do(t, "GET", path, d.ts.Admin, nil)
	for range 2 {
		got := d.ts.do(t, "GET", path, d.ts.Admin, nil)
		d.reads++
		if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) || got.Header.Get("ETag") != want.Header.Get("ETag") {
			t.Fatalf("step %d (after %s): cart %d read %d %s %s, a fresh read %d %s %s", step, what, n,
				got.Status, got.Header.Get("ETag"), got.Body, want.Status, want.Header.Get("ETag"), want.Body)
		}
	}
	if r := d.ts.do(t, "GET", path, d.ts.Admin, nil, "If-None-Match", want.Header.Get("ETag")); r.Status != 304 {
		t.Fatalf("step %d: If-None-Match %s answered %d, want 304", step, want.Header.Get("ETag"), r.Status)
	}
}

func isCartError(err error) bool {
	var ce *cart.Error
	return errors.As(err, &ce)
}
