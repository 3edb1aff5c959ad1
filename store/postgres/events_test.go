package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres/postgrestest"
	"github.com/cartd/cartd/store/storetest"
)

func appendOne(ctx context.Context, tx store.Tx, name string) error {
	return tx.AppendEvents(ctx, []store.Event{{Type: "test", Key: name, OccurredAt: tx.Now(), Data: json.RawMessage(`{}`)}})
}

// TestFeedVisibility holds the feed's promise across nodes: a reader that follows the last
// position it saw never misses an event, even one whose transaction began (and drew its id)
// before others that committed first.
func TestFeedVisibility(t *testing.T) {
	t.Run("a slow transaction's event comes after the fast ones a reader already saw", func(t *testing.T) {
		u := postgrestest.URL(t)
		a, b := mustOpen(t, u, Options{}), mustOpen(t, u, Options{})
		holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- a.Write(context.Background(), func(tx store.Tx) error {
				if err := appendOne(context.Background(), tx, "slow"); err != nil {
					return err
				}
				close(holding)
				<-release
				return nil
			})
		}()
		<-holding
		for i := range 3 {
			storetest.MustWrite(t, b, func(ctx context.Context, tx store.Tx) error { return appendOne(ctx, tx, fmt.Sprint("fast", i)) })
		}
		storetest.MustPositionAll(t, b)
		seen := storetest.ReadEvents(t, a, 0)
		if len(seen) != 3 {
			t.Fatalf("before the slow commit the feed shows %d events, want the 3 fast ones", len(seen))
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		storetest.MustPositionAll(t, a)
		rest := storetest.ReadEvents(t, b, seen[2].Seq)
		if len(rest) != 1 || rest[0].Key != "slow" {
			t.Fatalf("after position %d the feed shows %+v, want the slow event", seen[2].Seq, rest)
		}
	})

	t.Run("a reader following its cursor sees every committed event once, whatever the interleaving", func(t *testing.T) {
		const writers, each = 6, 25
		u := postgrestest.URL(t)
		nodes := [2]*Store{mustOpen(t, u, Options{}), mustOpen(t, u, Options{})}
		ctx := t.Context()
		var committed sync.Map
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for i := range each {
					name := fmt.Sprintf("w%d-%d", w, i)
					// Transactions hold their event uncommitted for varying times, so that ids
					// are drawn in one order and committed in another.
					hold := time.Duration(r.IntN(4)) * time.Millisecond
					err := nodes[(w+i)%2].Write(ctx, func(tx store.Tx) error {
						if err := appendOne(ctx, tx, name); err != nil {
							return err
						}
						time.Sleep(hold)
						return nil
					})
					if err != nil {
						t.Errorf("Write: %v", err)
						return
					}
					committed.Store(name, true)
				}
			})
		}
		var writing atomic.Bool
		writing.Store(true)
		positioned := make(chan struct{})
		for n := range nodes {
			go func() {
				defer func() { positioned <- struct{}{} }()
				for writing.Load() {
					if err := nodes[n].Write(ctx, func(tx store.Tx) error {
						_, err := tx.PositionEvents(ctx, 7)
						return err
					}); err != nil {
						t.Errorf("PositionEvents: %v", err)
						return
					}
				}
			}()
		}
		seen := map[string]int64{}
		var cursor int64
		read := func() {
			for _, ev := range storetest.ReadEvents(t, nodes[int(cursor)%2], cursor) {
				if ev.Seq <= cursor {
					t.Fatalf("seq %d after cursor %d", ev.Seq, cursor)
				}
				if prev, dup := seen[ev.Key]; dup {
					t.Fatalf("%s seen at %d and %d", ev.Key, prev, ev.Seq)
				}
				seen[ev.Key], cursor = ev.Seq, ev.Seq
			}
		}
		stopped := make(chan struct{})
		go func() { wg.Wait(); close(stopped) }()
		for reading := true; reading; {
			select {
			case <-stopped:
				reading = false
			default:
				read()
			}
		}
		writing.Store(false)
		<-positioned
		<-positioned
		storetest.MustPositionAll(t, nodes[0])
		read()
		n := 0
		committed.Range(func(k, _ any) bool {
			n++
			if _, ok := seen[k.(string)]; !ok {
				t.Errorf("committed event %s never seen by the reader", k)
			}
			return true
		})
		if n != writers*each || len(seen) != n {
			t.Fatalf("committed %d, seen %d, want %d", n, len(seen), writers*each)
		}
	})
}

// TestCartEventsPlan holds a cart's timeline to its index: the query reads one range of
// events_cart (migration 0018) even as the generic plan a prepared statement settles on, where
// the planner does not know the cart asked for and relies on cart_num <> 0 as written.
func TestCartEventsPlan(t *testing.T) {
	s := mustOpen(t, postgrestest.URL(t), Options{})
	ctx := t.Context()
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO events (seq, type, cart_num, cart_version, order_key, occurred_at, request_id, idempotency_key, data)
		SELECT n, 'cart.updated', CASE WHEN n % 2 = 0 THEN 0 ELSE n % 997 END, n, 'k', now(), '', '', '{}'
		FROM generate_series(1, 20000) AS n`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, q := range []string{`SET plan_cache_mode = force_generic_plan`, `PREPARE cart_events (bigint, bigint, int) AS ` + qCartEvents} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE cart_events (5, 0, 51)`)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(plan)
	if !strings.Contains(text, "events_cart") || strings.Contains(text, "Seq Scan") {
		t.Fatalf("a cart's events are not read through events_cart:\n%s", strings.Join(plan, "\n"))
	}
}
