package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

func newEvent(typ string, cartNum, version int64, key string, s int) store.Event {
	return store.Event{Type: typ, CartNum: cartNum, CartVersion: version, Key: key, OccurredAt: at(s),
		RequestID: "req-" + typ, IdempotencyKey: "", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, s))}
}

// MustAppendEvents appends events in a transaction of their own and positions them.
func MustAppendEvents(tb testing.TB, s store.Store, evs ...store.Event) {
	tb.Helper()
	MustWrite(tb, s, func(ctx context.Context, tx store.Tx) error { return tx.AppendEvents(ctx, evs) })
	MustPositionAll(tb, s)
}

// MustPositionAll positions every committed event.
func MustPositionAll(tb testing.TB, s store.Store) {
	tb.Helper()
	for {
		var n int
		MustWrite(tb, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.PositionEvents(ctx, 100)
			return err
		})
		if n == 0 {
			return
		}
	}
}

// ReadEvents returns every positioned event after a position.
func ReadEvents(tb testing.TB, s store.Store, after int64) []store.Event {
	tb.Helper()
	var out []store.Event
	for {
		var page []store.Event
		MustRead(tb, s, func(ctx context.Context, tx store.ReadTx) error {
			var err error
			page, err = tx.Events(ctx, after, 7)
			return err
		})
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// ReadCartEvents returns every positioned event of a cart after a position, read page by
// page.
func ReadCartEvents(tb testing.TB, s store.Store, cartNum, after int64, pageSize int) []store.Event {
	tb.Helper()
	var out []store.Event
	for {
		var page []store.Event
		MustRead(tb, s, func(ctx context.Context, tx store.ReadTx) error {
			var err error
			page, err = tx.CartEvents(ctx, cartNum, after, pageSize)
			return err
		})
		if len(page) > pageSize {
			tb.Fatalf("CartEvents(limit %d) returned %d", pageSize, len(page))
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

var ignoreSeq = cmpopts.IgnoreFields(store.Event{}, "Seq")

func testEvents(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("come back in append order with increasing positions and every field", func(t *testing.T) {
		s := open(t)
		want := []store.Event{newEvent("cart.created", 1, 1, "cart_1", 1), newEvent("stock.changed", 0, 0, "sku_A", 2)}
		want[1].IdempotencyKey = "key-1"
		MustAppendEvents(t, s, want...)
		more := newEvent("cart.item.added", 1, 2, "cart_1", 3)
		MustAppendEvents(t, s, more)
		want = append(want, more)
		got := ReadEvents(t, s, 0)
		if diff := cmp.Diff(want, got, cmpOpts, ignoreSeq); diff != "" {
			t.Fatalf("Events (-want +got):\n%s", diff)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq <= got[i-1].Seq {
				t.Fatalf("seq %d after %d", got[i].Seq, got[i-1].Seq)
			}
		}
		if rest := ReadEvents(t, s, got[1].Seq); len(rest) != 1 || rest[0].Seq != got[2].Seq {
			t.Errorf("Events after %d = %+v, want only %d", got[1].Seq, rest, got[2].Seq)
		}
	})

	t.Run("of one cart are the feed's events of that cart, positioned ones only", func(t *testing.T) {
		s := open(t)
		MustAppendEvents(t, s, newEvent("cart.created", 1, 1, "cart_1", 1), newEvent("cart.created", 2, 1, "cart_2", 2),
			newEvent("stock.changed", 0, 0, "sku_A", 3), newEvent("cart.item.added", 1, 2, "cart_1", 4))
		// Appended and committed but not positioned (on PostgreSQL; SQLite positions at once):
		// the feed does not show them yet, and neither may a cart's timeline.
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.AppendEvents(ctx, []store.Event{newEvent("cart.item.quantity_changed", 1, 3, "cart_1", 5), newEvent("cart.updated", 2, 2, "cart_2", 6)})
		})
		check := func(stage string) {
			t.Helper()
			feed := ReadEvents(t, s, 0)
			for _, num := range []int64{0, 1, 2, 3} {
				var want []store.Event
				for _, ev := range feed {
					if ev.CartNum == num && num != 0 {
						want = append(want, ev)
					}
				}
				got := ReadCartEvents(t, s, num, 0, 1)
				if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
					t.Fatalf("%s: CartEvents(%d) (-the feed's events of the cart +got):\n%s", stage, num, diff)
				}
				if len(want) > 1 {
					if rest := ReadCartEvents(t, s, num, want[0].Seq, 5); len(rest) != len(want)-1 || rest[0].Seq != want[1].Seq {
						t.Fatalf("%s: CartEvents(%d) after %d = %+v, want from %d on", stage, num, want[0].Seq, rest, want[1].Seq)
					}
				}
			}
		}
		check("before positioning")
		MustPositionAll(t, s)
		check("once positioned")
		if got := ReadCartEvents(t, s, 1, 0, 5); len(got) != 3 || got[2].Type != "cart.item.quantity_changed" {
			t.Fatalf("cart 1's events: %+v", got)
		}
	})

	t.Run("of a rolled back transaction are not recorded", func(t *testing.T) {
		s := open(t)
		boom := errors.New("boom")
		err := s.Write(t.Context(), func(tx store.Tx) error {
			if err := tx.AppendEvents(t.Context(), []store.Event{newEvent("cart.created", 1, 1, "cart_1", 1)}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Write = %v", err)
		}
		MustPositionAll(t, s)
		if got := ReadEvents(t, s, 0); len(got) != 0 {
			t.Fatalf("Events = %+v, want none", got)
		}
	})

	t.Run("never reuse a position once old ones are purged", func(t *testing.T) {
		s := open(t)
		MustAppendEvents(t, s, newEvent("cart.created", 1, 1, "cart_1", 1), newEvent("cart.created", 2, 1, "cart_2", 2))
		first := ReadEvents(t, s, 0)
		var n int
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.PurgeEvents(ctx, at(100), 10)
			return err
		})
		if n != 1 {
			t.Fatalf("PurgeEvents = %d, want 1: all old, but the newest stays", n)
		}
		boom := errors.New("boom")
		err := s.Write(t.Context(), func(tx store.Tx) error {
			if err := tx.AppendEvents(t.Context(), []store.Event{newEvent("rolled.back", 9, 1, "cart_9", 150)}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		MustAppendEvents(t, s, newEvent("cart.created", 3, 1, "cart_3", 200))
		got := ReadEvents(t, s, 0)
		if len(got) != 2 || got[0].Seq != first[1].Seq || got[1].Seq <= first[1].Seq || got[1].Type != "cart.created" {
			t.Fatalf("after purge Events = %+v, want %d and one past it", got, first[1].Seq)
		}
	})

	t.Run("purge keeps recent events and those a pending delivery needs", func(t *testing.T) {
		s := open(t)
		MustAppendEvents(t, s, newEvent("a", 0, 0, "k", 1), newEvent("b", 0, 0, "k", 2), newEvent("c", 0, 0, "k", 300))
		evs := ReadEvents(t, s, 0)
		mustPutWebhook(t, s, store.Webhook{ID: "wh", URL: "http://x", Secret: "s", Active: true, CreatedAt: at(0), UpdatedAt: at(0)})
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.AddDeliveries(ctx, "wh", []store.Delivery{{Seq: evs[1].Seq, Key: "k", CreatedAt: at(2), NextAttemptAt: at(2)}}, evs[2].Seq)
		})
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.PurgeEvents(ctx, at(100), 10)
			return err
		})
		got := ReadEvents(t, s, 0)
		if len(got) != 2 || got[0].Type != "b" || got[1].Type != "c" {
			t.Fatalf("after purge Events = %+v, want b (a delivery waits for it) and c (recent)", got)
		}
	})
}

func mustPutWebhook(t *testing.T, s store.Store, w store.Webhook) store.Webhook {
	t.Helper()
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutWebhook(ctx, &w) })
	return w
}

func testWebhooks(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("round trip, list in id order, and keep cursor and creation on replace", func(t *testing.T) {
		s := open(t)
		a := mustPutWebhook(t, s, store.Webhook{ID: "b-hook", URL: "http://127.0.0.1:9/x", Secret: "secret-1", Types: []string{"cart.*"},
			Active: true, Cursor: 5, CreatedAt: at(1), UpdatedAt: at(1)})
		mustPutWebhook(t, s, store.Webhook{ID: "a-hook", URL: "https://example.com/h", Secret: "secret-2", CreatedAt: at(2), UpdatedAt: at(2)})
		a.URL, a.PreviousSecret, a.PreviousUntil, a.Secret, a.UpdatedAt, a.Cursor, a.CreatedAt = "http://127.0.0.1:9/y", "secret-1", at(50), "secret-3", at(3), 0, at(3)
		a = mustPutWebhook(t, s, a)
		if a.Cursor != 5 || !a.CreatedAt.Equal(at(1)) {
			t.Fatalf("replaced webhook cursor %d created %v, want 5 and %v", a.Cursor, a.CreatedAt, at(1))
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Webhook(ctx, "b-hook")
			if err != nil {
				return err
			}
			if diff := cmp.Diff(a, got, cmpOpts); diff != "" {
				t.Errorf("Webhook (-want +got):\n%s", diff)
			}
			list, err := tx.Webhooks(ctx, "", 10)
			if err != nil {
				return err
			}
			if len(list) != 2 || list[0].ID != "a-hook" || list[1].ID != "b-hook" {
				t.Errorf("Webhooks = %+v", list)
			}
			if list, err = tx.Webhooks(ctx, "a-hook", 10); err != nil || len(list) != 1 || list[0].ID != "b-hook" {
				t.Errorf("Webhooks after a-hook = %+v, %v", list, err)
			}
			_, err = tx.Webhook(ctx, "nope")
			wantCode(t, err, cart.NotFound, "webhook_not_found")
			return nil
		})
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteWebhook(ctx, "a-hook") })
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.DeleteWebhook(t.Context(), "a-hook") })
		wantCode(t, err, cart.NotFound, "webhook_not_found")
	})
}

// deliveryFixture is a webhook with deliveries of events of two keys.
func deliveryFixture(t *testing.T, s store.Store) []store.Event {
	t.Helper()
	MustAppendEvents(t, s, newEvent("a", 1, 1, "cart_1", 1), newEvent("b", 1, 2, "cart_1", 2), newEvent("c", 2, 1, "cart_2", 3))
	evs := ReadEvents(t, s, 0)
	mustPutWebhook(t, s, store.Webhook{ID: "wh", URL: "http://x", Secret: "s", Active: true, CreatedAt: at(0), UpdatedAt: at(0)})
	var ds []store.Delivery
	for _, ev := range evs {
		ds = append(ds, store.Delivery{Seq: ev.Seq, Key: ev.Key, CreatedAt: at(5), NextAttemptAt: at(5)})
	}
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.AddDeliveries(ctx, "wh", ds, evs[2].Seq) })
	return evs
}

func claim(t *testing.T, s store.Store, owner string, now time.Time, limit int) []store.Delivery {
	t.Helper()
	var ds []store.Delivery
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		ds, err = tx.ClaimDeliveries(ctx, owner, now, now.Add(30*time.Second), limit, nil)
		return err
	})
	return ds
}

func seqs(ds []store.Delivery) []int64 {
	var out []int64
	for _, d := range ds {
		out = append(out, d.Seq)
	}
	return out
}

func testDeliveries(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("are claimed first of each key, once, with their events, and a key waits for its earlier event", func(t *testing.T) {
		s := open(t)
		evs := deliveryFixture(t, s)
		got := claim(t, s, "node-1", at(10), 10)
		if diff := cmp.Diff([]int64{evs[0].Seq, evs[2].Seq}, seqs(got)); diff != "" {
			t.Fatalf("claimed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(evs[0], got[0].Event, cmpOpts); diff != "" {
			t.Errorf("claimed event (-want +got):\n%s", diff)
		}
		if again := claim(t, s, "node-2", at(11), 10); len(again) != 0 {
			t.Fatalf("second claim got %v, want nothing while leased and waiting", seqs(again))
		}
		d := got[0]
		d.Status, d.Attempts, d.LastStatus, d.UpdatedAt = store.DeliveryDelivered, 1, 200, at(12)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.FinishAttempt(ctx, d) })
		if next := claim(t, s, "node-2", at(13), 10); len(next) != 1 || next[0].Seq != evs[1].Seq {
			t.Fatalf("after delivery claimed %v, want [%d]", seqs(next), evs[1].Seq)
		}
	})

	t.Run("whose lease lapsed are claimed again; renewed ones are not", func(t *testing.T) {
		s := open(t)
		deliveryFixture(t, s)
		first := claim(t, s, "node-1", at(10), 1)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.RenewLeases(ctx, "node-1", at(100))
			return err
		})
		if got := claim(t, s, "node-2", at(50), 10); len(got) != 1 || got[0].Seq == first[0].Seq {
			t.Fatalf("claim at 50 got %v: the renewed lease of %d must hold", seqs(got), first[0].Seq)
		}
		if got := claim(t, s, "node-2", at(101), 10); len(got) == 0 || got[0].Seq != first[0].Seq {
			t.Fatalf("claim at 101 got %v, want the lapsed %d first", seqs(got), first[0].Seq)
		}
	})

	t.Run("wait until due, fail, are listed by status and retried", func(t *testing.T) {
		s := open(t)
		evs := deliveryFixture(t, s)
		d := claim(t, s, "n", at(10), 1)[0]
		d.Status, d.Attempts, d.LastStatus, d.LastError, d.NextAttemptAt, d.UpdatedAt = store.DeliveryPending, 1, 500, "HTTP 500", at(60), at(10)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.FinishAttempt(ctx, d) })
		if got := claim(t, s, "n", at(20), 10); len(got) != 1 || got[0].Seq != evs[2].Seq {
			t.Fatalf("claim before due got %v, want only the other key's", seqs(got))
		}
		d = claim(t, s, "n", at(61), 10)[0]
		if d.Seq != evs[0].Seq || d.Attempts != 1 || d.LastStatus != 500 {
			t.Fatalf("due again: %+v", d)
		}
		d.Status, d.Attempts, d.UpdatedAt = store.DeliveryFailed, 2, at(61)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.FinishAttempt(ctx, d) })
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			failed, err := tx.Deliveries(ctx, "wh", store.DeliveryFailed, 0, 10)
			if err != nil {
				return err
			}
			if len(failed) != 1 || failed[0].Seq != evs[0].Seq || failed[0].LastError != "HTTP 500" || failed[0].Event.Type != "a" {
				t.Errorf("failed deliveries = %+v", failed)
			}
			all, err := tx.Deliveries(ctx, "wh", "", 0, 10)
			if len(all) != 3 {
				t.Errorf("all deliveries = %d, want 3", len(all))
			}
			oldest, ok, err := tx.OldestPending(ctx)
			if err != nil || !ok || !oldest.Equal(at(2)) {
				t.Errorf("OldestPending = %v %v %v, want %v (event b)", oldest, ok, err, at(2))
			}
			return err
		})
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.RetryDelivery(ctx, "wh", evs[0].Seq, at(70)) })
		if got := claim(t, s, "n", at(71), 10); len(got) == 0 || got[0].Seq != evs[0].Seq || got[0].Attempts != 0 {
			t.Fatalf("after retry claimed %+v", got)
		}
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.RetryDelivery(t.Context(), "wh", 99999, at(70)) })
		wantCode(t, err, cart.NotFound, "delivery_not_found")
	})

	t.Run("of the webhooks skipped are left alone", func(t *testing.T) {
		s := open(t)
		evs := deliveryFixture(t, s)
		mustPutWebhook(t, s, store.Webhook{ID: "wh2", URL: "http://y", Secret: "s", Active: true, CreatedAt: at(0), UpdatedAt: at(0)})
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.AddDeliveries(ctx, "wh2", []store.Delivery{{Seq: evs[2].Seq, Key: evs[2].Key, CreatedAt: at(5), NextAttemptAt: at(5)}}, evs[2].Seq)
		})
		var ds []store.Delivery
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ds, err = tx.ClaimDeliveries(ctx, "n", at(10), at(40), 10, []string{"wh"})
			return err
		})
		if len(ds) != 1 || ds[0].WebhookID != "wh2" {
			t.Fatalf("claimed %+v, want only wh2's", ds)
		}
	})

	t.Run("go with their webhook", func(t *testing.T) {
		s := open(t)
		deliveryFixture(t, s)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteWebhook(ctx, "wh") })
		if got := claim(t, s, "n", at(100), 10); len(got) != 0 {
			t.Fatalf("claimed %v after the webhook was deleted", seqs(got))
		}
	})
}

func take(t *testing.T, s store.Store, id, owner string, now time.Time) (store.Webhook, bool) {
	t.Helper()
	var (
		w  store.Webhook
		ok bool
	)
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		w, ok, err = tx.TakeWebhook(ctx, id, owner, now, now.Add(30*time.Second))
		return err
	})
	return w, ok
}

func record(t *testing.T, s store.Store, owner string, from, to int64, ds []store.Delivery, until time.Time) bool {
	t.Helper()
	var ok bool
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.RecordDeliveries(ctx, "wh", owner, from, to, ds, until)
		return err
	})
	return ok
}

func testStreams(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("are held by one owner until the lease lapses, renewed or released", func(t *testing.T) {
		s := open(t)
		mustPutWebhook(t, s, store.Webhook{ID: "wh", URL: "http://x", Secret: "s", Active: true, CreatedAt: at(0), UpdatedAt: at(0)})
		if w, ok := take(t, s, "wh", "node-1", at(10)); !ok || w.ID != "wh" || w.URL != "http://x" {
			t.Fatalf("first take: %v %+v", ok, w)
		}
		if _, ok := take(t, s, "wh", "node-2", at(20)); ok {
			t.Fatal("node-2 took the stream node-1 holds until 40")
		}
		if _, ok := take(t, s, "wh", "node-1", at(20)); !ok {
			t.Fatal("node-1 could not take its own stream again")
		}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.RenewLeases(ctx, "node-1", at(100))
			return err
		})
		if _, ok := take(t, s, "wh", "node-2", at(60)); ok {
			t.Fatal("node-2 took the stream node-1 renewed until 100")
		}
		if _, ok := take(t, s, "wh", "node-2", at(101)); !ok {
			t.Fatal("node-2 could not take the stream once node-1's lease lapsed")
		}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseWebhooks(ctx, "node-2") })
		if _, ok := take(t, s, "wh", "node-3", at(102)); !ok {
			t.Fatal("node-3 could not take the stream node-2 released")
		}
		err := s.Write(t.Context(), func(tx store.Tx) error {
			_, _, err := tx.TakeWebhook(t.Context(), "nope", "node-1", at(1), at(2))
			return err
		})
		wantCode(t, err, cart.NotFound, "webhook_not_found")
	})

	t.Run("record deliveries and move the cursor only for their holder at the cursor", func(t *testing.T) {
		s := open(t)
		MustAppendEvents(t, s, newEvent("a", 1, 1, "cart_1", 1), newEvent("b", 1, 2, "cart_1", 2), newEvent("c", 2, 1, "cart_2", 3))
		evs := ReadEvents(t, s, 0)
		mustPutWebhook(t, s, store.Webhook{ID: "wh", URL: "http://x", Secret: "s", Active: true, CreatedAt: at(0), UpdatedAt: at(0)})
		w, _ := take(t, s, "wh", "node-1", at(10))
		failed := store.Delivery{Seq: evs[0].Seq, Key: evs[0].Key, Status: store.DeliveryPending, Attempts: 1, LastStatus: 500,
			LastError: "HTTP 500", NextAttemptAt: at(60), CreatedAt: at(11), UpdatedAt: at(11)}
		waiting := store.Delivery{Seq: evs[1].Seq, Key: evs[1].Key, Status: store.DeliveryPending, NextAttemptAt: at(11), CreatedAt: at(11), UpdatedAt: at(11)}
		if record(t, s, "node-2", w.Cursor, evs[2].Seq, []store.Delivery{failed}, at(50)) {
			t.Fatal("node-2 recorded on a stream node-1 holds")
		}
		if record(t, s, "node-1", w.Cursor+1, evs[2].Seq, []store.Delivery{failed}, at(50)) {
			t.Fatal("recorded from a position that is not the cursor")
		}
		if !record(t, s, "node-1", w.Cursor, evs[2].Seq, []store.Delivery{failed, waiting}, at(50)) {
			t.Fatal("the holder could not record at the cursor")
		}
		if _, ok := take(t, s, "wh", "node-2", at(45)); ok {
			t.Fatal("recording did not extend the lease to 50")
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			w, err := tx.Webhook(ctx, "wh")
			if err != nil || w.Cursor != evs[2].Seq {
				t.Errorf("cursor = %d, %v; want %d", w.Cursor, err, evs[2].Seq)
			}
			ds, err := tx.Deliveries(ctx, "wh", "", 0, 10)
			if err != nil {
				return err
			}
			want := []store.Delivery{failed, waiting}
			for i := range want {
				want[i].WebhookID, want[i].Event = "wh", evs[i]
			}
			if diff := cmp.Diff(want, ds, cmpOpts); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			keys, err := tx.PendingKeys(ctx, "wh", []string{"cart_1", "cart_2", "cart_3"})
			if err != nil {
				return err
			}
			if diff := cmp.Diff([]string{"cart_1"}, keys); diff != "" {
				t.Errorf("pending keys (-want +got):\n%s", diff)
			}
			return nil
		})
		if got := claim(t, s, "n", at(61), 10); len(got) != 1 || got[0].Seq != evs[0].Seq || got[0].Attempts != 1 {
			t.Fatalf("claimed %+v, want the failed one first of its key", got)
		}
	})
}

func testIdleCarts(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	p := MustPutProduct(t, s, newProduct("p", newVariant("v", "SKU-1")))
	empty := MustInsertCart(t, s, newCart(""))
	full := MustInsertCart(t, s, newCart("c1"))
	MustInsertItem(t, s, newItem(full.Num, p.Variants[0].Num, 1))
	idle := func(before time.Time) []int64 {
		var nums []int64
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			var err error
			nums, err = tx.IdleCarts(ctx, before, 10)
			return err
		})
		return nums
	}
	after := full.LastActivity.Add(time.Hour)
	if got := idle(after); len(got) != 1 || got[0] != full.Num {
		t.Fatalf("IdleCarts = %v, want [%d] (not the empty %d)", got, full.Num, empty.Num)
	}
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.MarkAbandoned(ctx, full.Num, after) })
	if got := idle(after.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("IdleCarts after MarkAbandoned = %v, want none: once per idle period", got)
	}
	full.LastActivity = after.Add(time.Minute)
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateCart(ctx, full) })
	if got := idle(after.Add(2 * time.Hour)); len(got) != 1 {
		t.Fatalf("IdleCarts after new activity = %v, want the cart again", got)
	}
}
