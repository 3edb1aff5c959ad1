package postgres

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cartd/cartd/cart"
)

// Times are TIMESTAMPTZ, which keeps microseconds: a time truncated to the microsecond (as
// Tx.Now is) comes back equal, finer precision is dropped, and every time is read back in UTC.
// A nullable time column is NULL for the zero time.

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// utc reads a TIMESTAMPTZ column in UTC.
func utc(t time.Time) time.Time { return t.UTC() }

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// sortHolders puts stock holders in release order: most recently changed first, then newest
// item first.
func sortHolders(items []cart.Item) {
	slices.SortFunc(items, func(a, b cart.Item) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.Num, a.Num)
	})
}

// rebind numbers the ? placeholders of a query the stores share (store/internal/table) as
// PostgreSQL's $1, $2, ...; those queries hold no ? but their placeholders.
func rebind(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	return b.String()
}
