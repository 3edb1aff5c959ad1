package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/events"
)

// TestReceiver holds the example to what cartd sends: events.Signature is what the webhook
// dispatcher puts in Cartd-Signature.
func TestReceiver(t *testing.T) {
	const secret = "whsec_example_secret_0001"
	body := []byte(`{"id":"evt_7","object":"event","seq":7,"type":"cart.created","cart_id":"cart_3","cart_version":1,"occurred_at":"2030-01-01T00:00:00Z","data":{"customer_id":null,"currency":"USD"}}`)
	now := time.Now()
	const printed = "evt_7 cart.created cart_3 v1"
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		sends  int
		status int
		lines  int
	}{
		{"a signed delivery is handled", events.Signature(now, body, secret), body, 1, 204, 1},
		{"a duplicate is acknowledged and handled once", events.Signature(now, body, secret), body, 2, 204, 1},
		{"a rotation's two signatures pass with either secret", events.Signature(now, body, "whsec_new_secret_00001", secret), body, 1, 204, 1},
		{"another secret's signature is refused", events.Signature(now, body, "whsec_other_secret_0001"), body, 1, 401, 0},
		{"a changed body is refused", events.Signature(now, body, secret), bytes.Replace(body, []byte("USD"), []byte("EUR"), 1), 1, 401, 0},
		{"an old signature is refused", events.Signature(now.Add(-time.Hour), body, secret), body, 1, 401, 0},
		{"no signature is refused", "", body, 1, 401, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			h := newHandler(secret, &out)
			for range tc.sends {
				req := httptest.NewRequest(http.MethodPost, "/cartd", bytes.NewReader(tc.body))
				req.Header.Set("Cartd-Signature", tc.header)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
			}
			if n := strings.Count(out.String(), printed); n != tc.lines {
				t.Fatalf("printed %q: %d events, want %d", out.String(), n, tc.lines)
			}
		})
	}
}
