package postgres

import (
	"cmp"
	"encoding/json"
	"slices"
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

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullNum stores a reference to a num, 0 for none, as NULL when there is none.
func nullNum(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// jsonText stores client JSON (metadata) verbatim as TEXT; empty is NULL.
func jsonText(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// rawJSON keeps a scanned JSON column as it is, NULL as nil.
func rawJSON(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// encodeJSON stores a Go value as a JSON TEXT column, or NULL when empty says it holds nothing.
func encodeJSON(v any, empty bool) (any, error) {
	if empty {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// decodeJSON reads a JSON column into dst, leaving dst alone for NULL.
func decodeJSON(b []byte, dst any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, dst)
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
