package main

// --webhook: cartbench runs a webhook endpoint of its own and registers it on cartd for the
// run, so that a measurement of what event deliveries cost needs nothing else (BENCHMARKS.md,
// "Events out"). The endpoint verifies every delivery's signature, as a shop's would.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cartd/cartd/client"
	"github.com/cartd/cartd/events"
)

// webhookReport is what the endpoint received during the run.
type webhookReport struct {
	URL           string `json:"url"`
	Received      int64  `json:"received"`
	BadSignatures int64  `json:"bad_signatures"`
}

// receiver is the run's webhook endpoint.
type receiver struct {
	srv      *http.Server
	url      string
	secret   string
	received atomic.Int64
	bad      atomic.Int64
}

// startReceiver listens on 127.0.0.1 (a port the kernel picks).
func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16)
	rand.Read(b)
	r := &receiver{url: "http://" + ln.Addr().String() + "/cartd", secret: "whsec_" + hex.EncodeToString(b)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 10<<20))
	if err != nil || events.Verify(req.Header.Get("Cartd-Signature"), body, r.secret, time.Now(), 5*time.Minute) != nil {
		r.bad.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.received.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) close() { r.srv.Close() }

func (r *receiver) report() *webhookReport {
	return &webhookReport{URL: r.url, Received: r.received.Load(), BadSignatures: r.bad.Load()}
}

// registerWebhook registers the receiver on cartd as id, for the types given (none: every
// type).
func registerWebhook(ctx context.Context, api *client.Client, id string, r *receiver, types []string) error {
	body := map[string]any{"url": r.url, "secret": r.secret}
	if len(types) > 0 {
		body["types"] = types
	}
	err := api.Do(ctx, http.MethodPut, "/v1/webhooks/"+id, body, nil)
	if err != nil {
		return errors.New("register the webhook: " + err.Error())
	}
	return nil
}

// unregisterWebhook deletes the run's webhook and its deliveries.
func unregisterWebhook(ctx context.Context, api *client.Client, id string) error {
	return api.Do(ctx, http.MethodDelete, "/v1/webhooks/"+id, nil, nil)
}
