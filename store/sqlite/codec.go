package sqlite

import (
	"database/sql"
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
