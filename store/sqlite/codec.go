package sqlite

import (
	"database/sql"
	"encoding/json"
	"time"
)

// Times are INTEGER microseconds since the epoch; a nullable time column is NULL for the zero
// time. The zero time itself round-trips through micros too (year 1 fits in an int64).

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromNullMicros(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromMicros(us.Int64)
}

// nullNum stores a reference to a num, 0 for none, as NULL when there is none.
func nullNum(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// jsonText stores client JSON (metadata) verbatim as TEXT (bound as []byte it would be a
// BLOB, which the STRICT tables refuse); empty is NULL.
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
