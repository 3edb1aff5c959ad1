// Package column holds the conversions between domain values and SQL columns that both stores
// share: references and JSON kept as TEXT, with NULL for "nothing". Both databases store JSON
// as TEXT (SQLite's STRICT tables have no JSON type; PostgreSQL keeps the client's bytes as they
// came, which JSONB would not).
package column

import "encoding/json"

// NullNum stores a reference to a num, 0 for none, as NULL when there is none.
func NullNum(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// JSONText stores client JSON (metadata) verbatim as TEXT (as []byte it would bind as a BLOB,
// which SQLite's STRICT tables refuse); empty is NULL.
func JSONText(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// RawJSON keeps a scanned JSON column as it is, NULL as nil.
func RawJSON(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// EncodeJSON stores a Go value as a JSON TEXT column, or NULL when empty says it holds nothing.
func EncodeJSON(v any, empty bool) (any, error) {
	if empty {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// DecodeJSON reads a JSON column into dst, leaving dst alone for NULL.
func DecodeJSON(b []byte, dst any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, dst)
}
