package api_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres"
	"github.com/cartd/cartd/store/postgres/postgrestest"
	"github.com/cartd/cartd/store/sqlite"
)

// mustStore opens the store a test server runs on, whose clock is now when set: a SQLite file
// in a temporary directory or, with CARTD_TEST_STORE=postgres (.ci/run runs the package once
// more so), a new schema on the PostgreSQL server of CARTD_TEST_POSTGRES_URL. The caller
// closes it.
func mustStore(tb testing.TB, now func() time.Time) store.Store {
	tb.Helper()
	var (
		st  store.Store
		err error
	)
	switch kind := os.Getenv("CARTD_TEST_STORE"); kind {
	case "", "sqlite":
		st, err = sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: now})
	case "postgres":
		if os.Getenv(postgrestest.EnvURL) == "" {
			tb.Fatalf("CARTD_TEST_STORE=postgres needs %s", postgrestest.EnvURL)
		}
		st, err = postgres.Open(context.Background(), postgrestest.URL(tb), postgres.Options{MaxConns: 8, Now: now, StockBuckets: postgrestest.StockBuckets(tb)})
	default:
		tb.Fatalf("CARTD_TEST_STORE=%q: want sqlite or postgres", kind)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
