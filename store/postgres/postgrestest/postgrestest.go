// Package postgrestest gives tests a PostgreSQL database of their own: a new schema on the
// server named by CARTD_TEST_POSTGRES_URL, dropped when the test ends. Creating a schema and
// migrating it takes a few tens of milliseconds, so every test can have a fresh one.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the test server's URL, such as
// postgres://postgres@127.0.0.1:5432/cartd_ci?sslmode=disable. .ci/run always sets it.
const EnvURL = "CARTD_TEST_POSTGRES_URL"

// ServerURL returns the test server's URL, skipping the test when none is configured.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		tb.Skip(EnvURL + " is not set: skipping the PostgreSQL tests (.ci/run sets it)")
	}
	return u
}

// URL creates an empty schema and returns the server's URL with search_path set to it, so
// that everything connecting with it (a store, a cartd process) works in that schema alone.
// The schema and everything in it is dropped when the test ends; call URL before opening
// anything on it, so that what was opened is closed first. Without a configured server the
// test is skipped.
func URL(tb testing.TB) string {
	tb.Helper()
	base := ServerURL(tb)
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvURL, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "cartd_test_" + hex.EncodeToString(b[:])
	if err := exec(base, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := exec(base, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Error(err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on a connection of its own.
func exec(url, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to the test PostgreSQL server: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// EnvStockBuckets names the environment variable that sets the stock buckets
// (postgres.Options.StockBuckets, cartd's --stock-buckets) of the stores and nodes the tests
// open on PostgreSQL, so that the same suites run with stock spread over several rows.
const EnvStockBuckets = "CARTD_TEST_STOCK_BUCKETS"

// StockBuckets returns the stock buckets the tests should open stores with: the value of
// CARTD_TEST_STOCK_BUCKETS, or 0 (one row per SKU) when it is unset.
func StockBuckets(tb testing.TB) int {
	tb.Helper()
	v := os.Getenv(EnvStockBuckets)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		tb.Fatalf("%s=%q: want a count of rows", EnvStockBuckets, v)
	}
	return n
}
