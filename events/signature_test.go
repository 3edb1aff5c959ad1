package events_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/events"
)

func TestSignature(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	header := events.Signature(now, body, "new-secret-0123456789", "old-secret-0123456789")
	if !strings.HasPrefix(header, "t=1800000000,v1=") || strings.Count(header, "v1=") != 2 {
		t.Fatalf("header %q: want t= and one v1= per secret", header)
	}
	for _, tc := range []struct {
		name    string
		header  string
		body    []byte
		secret  string
		at      time.Time
		wantErr error
	}{
		{"verifies with the new secret", header, body, "new-secret-0123456789", now, nil},
		{"verifies with the old secret during a rotation", header, body, "old-secret-0123456789", now, nil},
		{"refuses another secret", header, body, "other-secret-0123456789", now, events.ErrNoSignature},
		{"refuses a changed body", header, []byte(`{"id":"evt_2"}`), "new-secret-0123456789", now, events.ErrNoSignature},
		{"refuses a replay after the tolerance", header, body, "new-secret-0123456789", now.Add(6 * time.Minute), events.ErrTooOld},
		{"refuses a header without a timestamp", "v1=abc", body, "new-secret-0123456789", now, events.ErrNoSignature},
		{"refuses an empty header", "", body, "new-secret-0123456789", now, events.ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := events.Verify(tc.header, tc.body, tc.secret, tc.at, 5*time.Minute); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
		})
	}
}
