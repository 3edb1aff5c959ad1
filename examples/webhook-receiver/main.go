// Command webhook-receiver is a small cartd webhook endpoint: it checks each delivery's
// Cartd-Signature against the webhook's secret, refuses stale or forged ones, skips events it
// has already handled (deliveries are at least once: a duplicate carries the same
// Cartd-Event-Id) and prints the others. It uses only the standard library, so it can be
// copied into a shop's own service as it is. See docs/events.md.
//
//	CARTD_WEBHOOK_SECRET=whsec_... go run ./examples/webhook-receiver -addr 127.0.0.1:9000
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tolerance is how old a signature may be: a delivery replayed later is refused.
const tolerance = 5 * time.Minute

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	secret := os.Getenv("CARTD_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set CARTD_WEBHOOK_SECRET to the webhook's secret")
	}
	log.Printf("listening on http://%s/cartd", *addr)
	log.Fatal(http.ListenAndServe(*addr, newHandler(secret, os.Stdout)))
}

// event is the part of a cartd event this receiver reads.
type event struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	CartID      string          `json:"cart_id"`
	CartVersion int64           `json:"cart_version"`
	Data        json.RawMessage `json:"data"`
}

// newHandler answers deliveries: 2xx once an event is handled (cartd then stops sending it),
// 4xx for what is not a valid delivery, which cartd retries and, if it never succeeds, lists
// as failed.
func newHandler(secret string, out io.Writer) http.Handler {
	var (
		mu   sync.Mutex
		done = map[string]bool{} // a real service keeps this in its database
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "POST an event", http.StatusBadRequest)
			return
		}
		if err := verify(r.Header.Get("Cartd-Signature"), body, secret, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "not an event", http.StatusBadRequest)
			return
		}
		mu.Lock()
		dup := done[ev.ID]
		done[ev.ID] = true
		mu.Unlock()
		if !dup {
			fmt.Fprintf(out, "%s %s %s v%d %s\n", ev.ID, ev.Type, ev.CartID, ev.CartVersion, ev.Data)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// verify checks a Cartd-Signature header, "t=<unix seconds>,v1=<hex>[,v1=<hex>]": one v1 must
// be HMAC-SHA256(secret, "<t>.<body>"), and t within tolerance of now. (During a secret
// rotation cartd sends a v1 for each secret; one matching is enough.)
func verify(header string, body []byte, secret string, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no signature timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature too old")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no valid signature")
}
