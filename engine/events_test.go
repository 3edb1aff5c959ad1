package engine_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
)

// feed returns every event after a position.
func (f *life) feed(tb testing.TB, after int64) []store.Event {
	tb.Helper()
	var out []store.Event
	for {
		evs, more, err := f.eng.Events(tb.Context(), f.admin, after, 3)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, evs...)
		if !more {
			return out
		}
		after = evs[len(evs)-1].Seq
	}
}

func lastSeq(evs []store.Event) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// eventOf returns the first event of a type about a cart (0: any), with its data decoded.
func eventOf(tb testing.TB, evs []store.Event, typ string, cartNum int64) (store.Event, map[string]any) {
	tb.Helper()
	for _, ev := range evs {
		if ev.Type == typ && (cartNum == 0 || ev.CartNum == cartNum) {
			var data map[string]any
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				tb.Fatalf("%s data %s: %v", typ, ev.Data, err)
			}
			return ev, data
		}
	}
	tb.Fatalf("no %s event about cart %d in %s", typ, cartNum, types(evs))
	return store.Event{}, nil
}

func types(evs []store.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// wantData fails unless data holds each field of want (numbers compared as JSON numbers).
func wantData(tb testing.TB, typ string, data map[string]any, want map[string]any) {
	tb.Helper()
	for k, v := range want {
		if n, ok := v.(int); ok {
			v = float64(n)
		}
		if data[k] != v {
			tb.Errorf("%s data[%q] = %v, want %v (data %v)", typ, k, data[k], v, data)
		}
	}
}

func TestEventsOfCalls(t *testing.T) {
	t.Run("every version of a cart has an event carrying it, in order, with the change's cause", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "p", "", 5, "A", "B")
		num := f.open(t)
		f.mustSet(t, num, "A", 2)
		f.mustSet(t, num, "A", 3)
		if _, err := f.set(t, num, "B", 9, cart.Clamp); err != nil {
			t.Fatal(err)
		}
		if _, err := f.set(t, num, "A", 99, cart.Reject); cart.ErrorCode(err) != cart.StockShort {
			t.Fatalf("set above stock = %v, want stock_short", err)
		}
		f.mustSet(t, num, "B", 0)
		final, err := f.checkout(t, num)
		if err != nil {
			t.Fatal(err)
		}
		evs := f.feed(t, 0)
		versions := map[int64]bool{}
		var last int64
		for i, ev := range evs {
			if i > 0 && ev.Seq <= evs[i-1].Seq {
				t.Fatalf("seq %d after %d", ev.Seq, evs[i-1].Seq)
			}
			if ev.CartNum != num {
				continue
			}
			if ev.CartVersion < last {
				t.Fatalf("cart version %d after %d", ev.CartVersion, last)
			}
			last = ev.CartVersion
			versions[ev.CartVersion] = true
		}
		for v := int64(1); v <= final.Cart.Version; v++ {
			if !versions[v] {
				t.Errorf("no event carries version %d (events %v)", v, types(evs))
			}
		}
		_, d := eventOf(t, evs, engine.EventCartCreated, num)
		wantData(t, "cart.created", d, map[string]any{"currency": "USD", "customer_id": nil})
		_, d = eventOf(t, evs, engine.EventItemAdded, num)
		wantData(t, "cart.item.added", d, map[string]any{"sku": "A", "quantity": 2, "cause": "request"})
		_, d = eventOf(t, evs, engine.EventItemQuantityChanged, num)
		wantData(t, "cart.item.quantity_changed", d, map[string]any{"sku": "A", "from": 2, "to": 3, "delta": 1, "cause": "request"})
		var clamped map[string]any
		for _, ev := range evs {
			if ev.Type == engine.EventItemAdded {
				var dd map[string]any
				json.Unmarshal(ev.Data, &dd)
				if dd["sku"] == "B" {
					clamped = dd
				}
			}
		}
		wantData(t, "cart.item.added B", clamped, map[string]any{"quantity": 5, "cause": "clamp"})
		_, d = eventOf(t, evs, engine.EventItemRemoved, num)
		wantData(t, "cart.item.removed", d, map[string]any{"sku": "B", "quantity": 5, "cause": "request"})
		ev, d := eventOf(t, evs, engine.EventCartCheckedOut, num)
		if ev.CartVersion != final.Cart.Version {
			t.Errorf("cart.checked_out version %d, want %d", ev.CartVersion, final.Cart.Version)
		}
		if string(ev.Data) != "null" {
			t.Errorf("cart.checked_out data without a renderer = %s", ev.Data)
		}
		_ = d
		_, d = eventOf(t, evs, engine.EventStockChanged, 0)
		if d["sku"] == nil || d["available"] == nil || d["version"] == nil {
			t.Errorf("stock.changed data = %v", d)
		}
	})

	t.Run("a refused call records nothing", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "p", "", 1, "A")
		num := f.open(t)
		before := lastSeq(f.feed(t, 0))
		if _, err := f.set(t, num, "A", 2, cart.Reject); cart.ErrorCode(err) != cart.StockShort {
			t.Fatalf("set = %v", err)
		}
		if evs := f.feed(t, before); len(evs) != 0 {
			t.Fatalf("a refused call recorded %v", types(evs))
		}
	})

	t.Run("a lapse released by the sweeper, stock lowered below holdings, a merge and a purge are reported", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "p", "", 10, "A", "B")
		lapsing := f.open(t)
		f.mustSet(t, lapsing, "A", 2)
		f.clock.Advance(ttl + time.Second)
		mark := lastSeq(f.feed(t, 0))
		if f.sweep(t) != 1 {
			t.Fatal("the sweeper released nothing")
		}
		evs := f.feed(t, mark)
		ev, d := eventOf(t, evs, engine.EventReservationReleased, lapsing)
		wantData(t, "reservation.released", d, map[string]any{"sku": "A", "units": 2, "reason": "expired"})
		if v := f.cart(t, lapsing).Cart.Version; ev.CartVersion != v {
			t.Errorf("release carries version %d, cart is at %d", ev.CartVersion, v)
		}

		holder := f.open(t)
		f.mustSet(t, holder, "B", 6)
		mark = lastSeq(f.feed(t, 0))
		f.setStock(t, "B", 4)
		_, d = eventOf(t, f.feed(t, mark), engine.EventReservationReleased, holder)
		wantData(t, "reservation.released", d, map[string]any{"sku": "B", "units": 2, "reason": "stock_lowered"})

		into := f.open(t)
		mark = lastSeq(f.feed(t, 0))
		if _, err := f.eng.MergeCart(t.Context(), f.admin, holder, into, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		evs = f.feed(t, mark)
		_, d = eventOf(t, evs, engine.EventCartMerged, holder)
		wantData(t, "cart.merged", d, map[string]any{"from": engine.CartID(holder), "into": engine.CartID(into)})
		eventOf(t, evs, engine.EventCartMerged, into)
		_, d = eventOf(t, evs, engine.EventItemAdded, into)
		wantData(t, "cart.item.added", d, map[string]any{"sku": "B", "quantity": 4, "cause": "merge"})

		guest := f.open(t)
		f.mustSet(t, guest, "A", 1)
		f.clock.Advance(48 * time.Hour)
		mark = lastSeq(f.feed(t, 0))
		if _, err := f.eng.PurgeAbandonedCarts(t.Context(), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		evs = f.feed(t, mark)
		eventOf(t, evs, engine.EventCartPurged, guest)
	})

	t.Run("cart.abandoned is reported once per idle period", func(t *testing.T) {
		f := mustLife(t, 0)
		f.product(t, "p", "", 10, "A")
		idle, empty := f.open(t), f.open(t)
		f.mustSet(t, idle, "A", 1)
		report := func() int {
			n, err := f.eng.ReportAbandoned(t.Context(), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if report() != 0 {
			t.Fatal("reported a cart touched just now")
		}
		f.clock.Advance(2 * time.Hour)
		mark := lastSeq(f.feed(t, 0))
		if n := report(); n != 1 {
			t.Fatalf("reported %d carts, want 1 (not the empty %d)", n, empty)
		}
		ev, d := eventOf(t, f.feed(t, mark), engine.EventCartAbandoned, idle)
		wantData(t, "cart.abandoned", d, map[string]any{"idle_seconds": 7200})
		if ev.CartVersion != f.cart(t, idle).Cart.Version {
			t.Errorf("cart.abandoned version %d", ev.CartVersion)
		}
		f.clock.Advance(2 * time.Hour)
		if n := report(); n != 0 {
			t.Fatalf("reported %d carts again in the same idle period", n)
		}
		f.mustSet(t, idle, "A", 2)
		f.clock.Advance(2 * time.Hour)
		if n := report(); n != 1 {
			t.Fatalf("reported %d carts after a new idle period, want 1", n)
		}
	})
}
