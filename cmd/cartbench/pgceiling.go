package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgceiling: what the PostgreSQL under cartd sustains for the update a quantity change makes,
// measured by cartbench in the same run so that spread and hot can be read as a fraction of
// it. Each of pgCeilingWorkers workers, on a connection of its own, runs a hand-written pgx
// transaction of the shape of a quantity change: lock the line (SELECT ... FOR UPDATE), move
// the stock by the difference (one conditional UPDATE), write the line, write the cart's
// total and version, commit. Two phases over pgCeilingRows carts of one line each:
// ceiling/postgres, every line on a stock row of its own (spread's shape), and
// ceiling/postgres-hot, every line on one stock row (hot's shape). The tables live in a
// schema of the run's own (cartbench_<run prefix>), created before and dropped after, so
// cartd's tables are never touched. Needs --postgres URL; without it the scenario is skipped
// with a reason.
const (
	pgCeilingWorkers = 32
	pgCeilingRows    = 10_000
	pgCeilingPrice   = 1999
)

// Phase names of the pgceiling scenario.
const (
	pgCeilingPhase    = "ceiling/postgres"
	pgCeilingHotPhase = "ceiling/postgres-hot"
)

func runPgCeiling(ctx context.Context, r *runner) ([]phaseReport, error) {
	if r.postgres == "" {
		fmt.Fprintln(r.stderr, "cartbench: pgceiling: skipped: no --postgres URL")
		return nil, nil
	}
	schema := "cartbench_" + r.prefix
	admin, err := pgx.Connect(ctx, r.postgres)
	if err != nil {
		return nil, fmt.Errorf("--postgres: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	defer func() {
		if _, err := admin.Exec(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			fmt.Fprintln(r.stderr, "cartbench: pgceiling: drop schema:", err)
		}
	}()
	if err := pgCeilingSetup(ctx, admin, schema); err != nil {
		return nil, fmt.Errorf("set up %s: %w", schema, err)
	}
	var phases []phaseReport
	for _, hot := range []bool{false, true} {
		name := pgCeilingPhase
		if hot {
			name = pgCeilingHotPhase
		}
		p, err := r.measurePg(ctx, name, schema, hot)
		if err != nil {
			return phases, fmt.Errorf("%s: %w", name, err)
		}
		phases = append(phases, p)
		if ctx.Err() != nil {
			return phases, ctx.Err()
		}
	}
	return phases, nil
}

// pgCeilingSetup creates the schema: carts, their lines (line i in cart i, on stock row i,
// quantity 1) and stock rows 0..pgCeilingRows-1 plus the hot row -1, each with ample stock
// and one unit reserved per line on it.
func pgCeilingSetup(ctx context.Context, c *pgx.Conn, schema string) error {
	stmts := []string{
		"CREATE SCHEMA " + schema,
		"CREATE TABLE " + schema + ".carts (id bigint PRIMARY KEY, total bigint NOT NULL, version bigint NOT NULL, updated_at timestamptz NOT NULL)",
		"CREATE TABLE " + schema + ".stock (sku bigint PRIMARY KEY, on_hand bigint NOT NULL, reserved bigint NOT NULL, version bigint NOT NULL)",
		"CREATE TABLE " + schema + ".lines (id bigint PRIMARY KEY, cart_id bigint NOT NULL, sku bigint NOT NULL, quantity bigint NOT NULL, reserved_quantity bigint NOT NULL, updated_at timestamptz NOT NULL)",
		fmt.Sprintf("INSERT INTO %s.carts SELECT i, %d, 1, now() FROM generate_series(0, %d) i", schema, pgCeilingPrice, pgCeilingRows-1),
		fmt.Sprintf("INSERT INTO %s.lines SELECT i, i, i, 1, 1, now() FROM generate_series(0, %d) i", schema, pgCeilingRows-1),
		fmt.Sprintf("INSERT INTO %s.stock SELECT i, %d, 1, 1 FROM generate_series(0, %d) i", schema, ampleStock*1000, pgCeilingRows-1),
		fmt.Sprintf("INSERT INTO %s.stock VALUES (-1, %d, %d, 1)", schema, ampleStock*1000, pgCeilingRows),
		"ANALYZE " + schema + ".carts", "ANALYZE " + schema + ".lines", "ANALYZE " + schema + ".stock",
	}
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// measurePg runs one phase: pgCeilingWorkers workers, each on its own connection, each
// transaction on a line drawn at random from the run's seed. hot moves the stock of row -1
// whatever the line's own SKU, as if every line were on one SKU.
func (r *runner) measurePg(ctx context.Context, name, schema string, hot bool) (phaseReport, error) {
	conns := make([]*pgx.Conn, pgCeilingWorkers)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	for i := range conns {
		c, err := pgx.Connect(ctx, r.postgres)
		if err != nil {
			return phaseReport{}, err
		}
		conns[i] = c
	}
	q := pgCeilingQueries(schema, hot)
	b := newBudget(r.drv.duration, r.drv.requests)
	tallies := make([]*tally, len(conns))
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		tallies[i] = newTally()
		rng := r.rng(name, i)
		wg.Go(func() { pgLoop(ctx, b, c, q, rng, tallies[i]) })
	}
	wg.Wait()
	return summarize(name, time.Since(start), tallies), nil
}

// pgQueries are the statements of the ceiling transaction.
type pgQueries struct {
	lockLine, moveStock, writeLine, writeCart string
	hot                                       bool // move the stock of row -1, whatever the line's SKU
}

func pgCeilingQueries(schema string, hot bool) pgQueries {
	return pgQueries{hot: hot,
		lockLine: "SELECT cart_id, sku, quantity FROM " + schema + ".lines WHERE id = $1 FOR UPDATE",
		// The same condition cartd's reservation keeps: never more reserved than on hand.
		moveStock: "UPDATE " + schema + ".stock SET reserved = reserved + $1, version = version + 1 WHERE sku = $3 AND on_hand - reserved >= $2",
		writeLine: "UPDATE " + schema + ".lines SET quantity = $1, reserved_quantity = $1, updated_at = now() WHERE id = $2",
		writeCart: "UPDATE " + schema + ".carts SET total = $1, version = version + 1, updated_at = now() WHERE id = $2",
	}
}

var errShort = errors.New("stock row not updated")

// pgLoop is one worker: one transaction at a time until the budget is spent. Each sets its
// line to the next quantity of the cycle 1..5, so every transaction moves stock.
func pgLoop(ctx context.Context, b *budget, c *pgx.Conn, q pgQueries, rng *rand.Rand, t *tally) {
	for ctx.Err() == nil && b.take() {
		line := rng.Int64N(pgCeilingRows)
		t0 := time.Now()
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			var cart, sku, old int64
			if err := tx.QueryRow(ctx, q.lockLine, line).Scan(&cart, &sku, &old); err != nil {
				return err
			}
			qty := old%5 + 1
			delta := qty - old
			if q.hot {
				sku = -1
			}
			tag, err := tx.Exec(ctx, q.moveStock, delta, max(delta, 0), sku)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return errShort
			}
			if _, err := tx.Exec(ctx, q.writeLine, qty, line); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, q.writeCart, qty*pgCeilingPrice, cart)
			return err
		})
		elapsed := time.Since(t0)
		if err != nil && ctx.Err() != nil {
			return
		}
		t.requests++
		if err != nil {
			t.errors["postgres"]++
			t.lastError = err.Error()
			continue
		}
		t.hist.RecordValue(min(max(elapsed.Microseconds(), histMin), histMax))
	}
}
