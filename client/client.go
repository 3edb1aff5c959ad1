// Package client calls cartd's native API (/v1) from Go: typed requests and responses,
// problem+json errors as *Error, and retries that never apply a change twice.
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("CARTD_KEY"))
//	cart, err := c.CreateCart(ctx, client.NewCart{Currency: "USD"})
//	cart, err = c.AddItem(ctx, cart.ID, client.NewItem{SKU: "CABLE-USBC-1M", Quantity: 10})
//	var pe *client.Error
//	if errors.As(err, &pe) && pe.Code == "insufficient_stock" {
//		// pe.Available units are left; pe.Cart is the cart as it is.
//	}
//
// Retries. A call is retried, up to WithRetries times with a doubling pause, when it could not
// reach cartd or cartd answered 429, 503, or 409 idempotency_in_flight (honouring
// Retry-After). GET, PUT and DELETE are idempotent by nature; every POST and PATCH carries an
// Idempotency-Key, the caller's (WithIdempotencyKey) or a random one the client makes, and
// every retry sends the same key and body, so cartd applies the change at most once and a
// retry gets the first answer. Any other answer is final and returned at once. See
// docs/client.md.
package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one cartd with one credential: an API key (sk_...) or a customer token
// (ct_...). It is safe for concurrent use.
type Client struct {
	base       string
	credential string
	hc         *http.Client
	retries    int
	backoff    time.Duration
	maxBackoff time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends the calls through hc (its transport, timeouts, tracing). The default
// is a client with a 30 s timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetries sets how many times a call is retried after its first try (default 3). 0 turns
// retries off, and with them the automatic Idempotency-Key of POST and PATCH calls.
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// WithBackoff sets the pause before the first retry (default 100 ms), doubled for each
// further one up to limit (default 5 s); each pause is jittered by up to a half. A
// Retry-After from cartd takes the place of the pause, up to limit.
func WithBackoff(first, limit time.Duration) Option {
	return func(c *Client) { c.backoff, c.maxBackoff = first, limit }
}

// New returns a client of the cartd at baseURL (http://127.0.0.1:8080) calling with
// credential.
func New(baseURL, credential string, opts ...Option) *Client {
	c := &Client{
		base:       strings.TrimSuffix(baseURL, "/"),
		credential: credential,
		hc:         &http.Client{Timeout: 30 * time.Second},
		retries:    3,
		backoff:    100 * time.Millisecond,
		maxBackoff: 5 * time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is an answer of cartd other than a success: an RFC 9457 problem (docs/errors.md).
type Error struct {
	Status int    // the HTTP status
	Code   string // the stable code to branch on (insufficient_stock); "" if the body was no problem
	Type   string
	Title  string
	Detail string
	Errors []FieldError
	// Available is, with insufficient_stock, the most the line could hold.
	Available *int64
	// Version and Cart are the cart as it is, with 409 and 412: recover in one round trip.
	Version *int64
	Cart    *Cart
	// Stock is the SKU's stock as it is, with 412 version_mismatch of an inventory write.
	Stock *Inventory
	// RetryAfter is cartd's Retry-After, with 429 and 503.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = http.StatusText(e.Status)
	}
	if e.Detail == "" {
		return fmt.Sprintf("cartd: %d %s", e.Status, code)
	}
	return fmt.Sprintf("cartd: %d %s: %s", e.Status, code, e.Detail)
}

// ErrorCode is the problem code of err ("insufficient_stock"), or "" when err is no *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// CallOption sets a header of one call.
type CallOption func(http.Header)

// IfMatch makes a change conditional on the cart (or stock) still being at version: another
// version is an *Error with status 412 and nothing changes.
func IfMatch(version int64) CallOption {
	return func(h http.Header) { h.Set("If-Match", `"`+strconv.FormatInt(version, 10)+`"`) }
}

// WithIdempotencyKey gives a POST or PATCH the caller's Idempotency-Key, in place of a random
// one: a caller that keeps the key can retry across restarts of its own.
func WithIdempotencyKey(key string) CallOption {
	return func(h http.Header) { h.Set("Idempotency-Key", key) }
}

// PreferMinimal asks for a minimal answer (Prefer: return=minimal): the cart's version, totals
// and messages and only the lines the call changed (Cart.Items) or removed
// (Cart.RemovedItemIDs).
func PreferMinimal() CallOption { return func(h http.Header) { h.Set("Prefer", "return=minimal") } }

// Header sets any other header of the call.
func Header(key, value string) CallOption { return func(h http.Header) { h.Set(key, value) } }

// Do sends one call of the native API: in (nil for none) as the JSON body, the answer's JSON
// decoded into out (nil to discard it). A status other than 2xx is an *Error. Retries as the
// package doc says. The typed methods are built on it; it serves routes they do not cover.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, opts ...CallOption) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("cartd: %s %s: encode: %w", method, path, err)
		}
	}
	header := http.Header{}
	if c.credential != "" {
		header.Set("Authorization", "Bearer "+c.credential)
	}
	if in != nil {
		header.Set("Content-Type", "application/json")
	}
	header.Set("Accept", "application/json")
	for _, o := range opts {
		o(header)
	}
	// The key is what makes a retried POST or PATCH safe: a client that does not retry sends
	// none of its own (cartd then keeps no idempotency record of the call).
	if c.retries > 0 && (method == http.MethodPost || method == http.MethodPatch) && header.Get("Idempotency-Key") == "" {
		header.Set("Idempotency-Key", newKey())
	}
	pause := c.backoff
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, header, body, out)
		if err == nil || attempt >= c.retries || !retryable(err) {
			return err
		}
		wait := pause + rand.N(pause/2+1)
		var pe *Error
		if errors.As(err, &pe) && pe.RetryAfter > 0 {
			wait = pe.RetryAfter
		}
		t := time.NewTimer(min(wait, c.maxBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, c.maxBackoff)
	}
}

// once sends one try of a call.
func (c *Client) once(ctx context.Context, method, path string, header http.Header, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("cartd: %s %s: %w", method, path, err)
	}
	req.Header = header.Clone()
	resp, err := c.hc.Do(req)
	if err != nil {
		return &transportError{err: fmt.Errorf("cartd: %s %s: %w", method, path, err), ctx: ctx}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return &transportError{err: fmt.Errorf("cartd: %s %s: read answer: %w", method, path, err), ctx: ctx}
	}
	if resp.StatusCode >= 300 {
		return problemOf(resp, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("cartd: %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// transportError is a call that got no answer: retryable unless the caller's context ended.
type transportError struct {
	err error
	ctx context.Context
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var te *transportError
	if errors.As(err, &te) {
		return te.ctx.Err() == nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Status == http.StatusTooManyRequests || pe.Status == http.StatusServiceUnavailable ||
			(pe.Status == http.StatusConflict && pe.Code == "idempotency_in_flight")
	}
	return false
}

// problemOf reads a non-2xx answer as an *Error.
func problemOf(resp *http.Response, raw []byte) *Error {
	var p struct {
		Type      string       `json:"type"`
		Title     string       `json:"title"`
		Detail    string       `json:"detail"`
		Code      string       `json:"code"`
		Errors    []FieldError `json:"errors"`
		Available *int64       `json:"available"`
		Version   *int64       `json:"version"`
		Cart      *Cart        `json:"cart"`
		Stock     *Inventory   `json:"stock"`
	}
	e := &Error{Status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && json.Unmarshal(raw, &p) == nil {
		e.Type, e.Title, e.Detail, e.Code = p.Type, p.Title, p.Detail, p.Code
		e.Errors, e.Available, e.Version, e.Cart, e.Stock = p.Errors, p.Available, p.Version, p.Cart, p.Stock
		return e
	}
	// Not cartd's problem (a proxy's page, say): keep the start of the body for the message.
	e.Detail = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	return e
}

// newKey is a random Idempotency-Key: 128 bits, hex.
func newKey() string {
	var b [16]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func esc(s string) string { return url.PathEscape(s) }
