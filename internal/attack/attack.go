// Package attack plays the hostile clients cartd must withstand (docs/abuse.md) against a
// running node, and the honest clients that must still be served meanwhile: the end-to-end
// test of cmd/cartd and cartbench's abuse scenario run the same code, so the figures in
// BENCHMARKS.md are those of the test.
//
//   - Hoard: storefront adds from one address, half with a made-up well-formed session cookie
//     and half with none, each asking for units of one SKU: a bot emptying a flash sale
//     into carts it never buys.
//   - SlowBodies: connections that send a request's headers and then its body a byte at a
//     time, renewing themselves as the server closes them: a slow-body attack on the
//     in-flight cap.
//   - Probe: an authenticated client at a steady rate, timing each answer.
//   - Shoppers: honest anonymous shoppers, each from an address of its own.
//
// Every loop is bounded in count and time.
package attack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// SessionCookie is the storefront session's cookie name.
const SessionCookie = "sessionid"

// ItemKey is the storefront's item_key of a product's SKU.
func ItemKey(productNum int64, sku string) string {
	return fmt.Sprintf("prod%d_%s_dflt", productNum, sku)
}

// clientFrom is an HTTP client whose connections leave from local address ip (nil: any).
func clientFrom(ip net.IP) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
}

// Hoard is the hoarding attack.
type Hoard struct {
	// Bases are the nodes (http://host:port), sent to in turn: several nodes sharing one
	// PostgreSQL must hold the cap between them.
	Bases      []string
	ProductNum int64
	SKU        string
	Adds       int   // requests; half with a made-up cookie
	Units      int64 // asked for by each
	Workers    int   // concurrent requests
	// MadeUp makes a made-up session secret, well-formed (auth.NewSecret(auth.SessionPrefix)).
	MadeUp func() string
}

// HoardResult counts the answers by status, and lists the carts the adds that were served
// put units in (their numbers).
type HoardResult struct {
	Statuses map[int]int
	Carts    []int64
}

// cartOf is the cart number of a storefront answer, 0 if it names none.
func cartOf(body []byte) int64 {
	var v struct {
		Cart struct {
			ID *int64 `json:"id"`
		} `json:"cart"`
	}
	if json.Unmarshal(body, &v) != nil || v.Cart.ID == nil {
		return 0
	}
	return *v.Cart.ID
}

// Run sends the adds and returns their statuses; a request that got no answer is an error.
func (h Hoard) Run(ctx context.Context) (HoardResult, error) {
	c := clientFrom(nil)
	defer c.CloseIdleConnections()
	body, _ := json.Marshal(map[string]any{"item_key": ItemKey(h.ProductNum, h.SKU), "quantity": h.Units})
	res := HoardResult{Statuses: map[int]int{}}
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(h.Workers, 1) {
		wg.Go(func() {
			for i := range next {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.Bases[i%len(h.Bases)]+"/api/v1/cart/", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				if i%2 == 0 {
					req.AddCookie(&http.Cookie{Name: SessionCookie, Value: h.MadeUp()})
				}
				resp, err := c.Do(req)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					res.Statuses[resp.StatusCode]++
					if n := cartOf(b); resp.StatusCode == http.StatusOK && n != 0 {
						res.Carts = append(res.Carts, n)
					}
				}
				mu.Unlock()
			}
		})
	}
	for i := range h.Adds {
		next <- i
	}
	close(next)
	wg.Wait()
	return res, firstErr
}

// SlowBodies is the slow-body attack.
type SlowBodies struct {
	Addr     string        // host:port
	Conns    int           // connections held at once
	Hold     time.Duration // how long the attack lasts
	Declared int           // Content-Length each request declares
	Every    time.Duration // between two body bytes
	// Paths are the requests' paths, taken in turn (each a POST without a credential).
	Paths []string
}

// SlowResult is what the attack saw: requests sent, and answers by status (a request the
// server closed without an answer counts under 0).
type SlowResult struct {
	Requests int
	Answers  map[int]int
}

// Run holds Conns connections for Hold, each opening again (after a pause of Every) when the
// server answers or closes it.
func (s SlowBodies) Run(ctx context.Context) SlowResult {
	ctx, cancel := context.WithTimeout(ctx, s.Hold)
	defer cancel()
	var mu sync.Mutex
	res := SlowResult{Answers: map[int]int{}}
	var wg sync.WaitGroup
	for i := range s.Conns {
		path := s.Paths[i%len(s.Paths)]
		wg.Go(func() {
			for ctx.Err() == nil {
				status := s.one(ctx, path)
				mu.Lock()
				res.Requests++
				res.Answers[status]++
				mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(s.Every):
				}
			}
		})
	}
	wg.Wait()
	return res
}

// one sends one slow request and returns the status of its answer (0 for none).
func (s SlowBodies) one(ctx context.Context, path string) int {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return 0
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	ct := "application/json"
	if strings.HasPrefix(path, "/services/") {
		ct = "application/x-www-form-urlencoded"
	}
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, s.Addr, ct, s.Declared); err != nil {
		return 0
	}
	answer := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answer <- 0
			return
		}
		resp.Body.Close()
		answer <- resp.StatusCode
	}()
	tick := time.NewTicker(s.Every)
	defer tick.Stop()
	for sent := 0; ; {
		select {
		case status := <-answer:
			return status
		case <-ctx.Done():
			conn.Close()
			return <-answer
		case <-tick.C:
			if sent < s.Declared-1 { // never the last byte
				if _, err := conn.Write([]byte{'x'}); err == nil {
					sent++
				}
			}
		}
	}
}

// ProbeResult is what the authenticated client saw.
type ProbeResult struct {
	Latencies []time.Duration // of every request, answered or not
	Statuses  map[int]int     // 0: no answer
}

// OK is the share of requests answered 2xx.
func (p ProbeResult) OK() float64 {
	n, ok := 0, 0
	for s, c := range p.Statuses {
		n += c
		if s >= 200 && s < 300 {
			ok += c
		}
	}
	if n == 0 {
		return 0
	}
	return float64(ok) / float64(n)
}

// Quantile is the q-quantile of the latencies (0.99: p99), by rank.
func (p ProbeResult) Quantile(q float64) time.Duration {
	if len(p.Latencies) == 0 {
		return 0
	}
	l := slices.Clone(p.Latencies)
	slices.Sort(l)
	return l[min(int(q*float64(len(l))), len(l)-1)]
}

// Probe sends GET path with the Bearer key perSecond times a second for d, each on its own
// schedule (a slow answer does not delay the next request).
func Probe(ctx context.Context, base, path, key string, perSecond int, d time.Duration) ProbeResult {
	c := clientFrom(nil)
	defer c.CloseIdleConnections()
	res := ProbeResult{Statuses: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	n := int(d.Seconds() * float64(perSecond))
	for range n {
		select {
		case <-ctx.Done():
			wg.Wait()
			return res
		case <-tick.C:
		}
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			start := time.Now()
			resp, err := c.Do(req)
			status := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			el := time.Since(start)
			mu.Lock()
			res.Latencies = append(res.Latencies, el)
			res.Statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return res
}

// Shoppers has n honest anonymous shoppers add units of a SKU to carts of their own, shopper
// i connecting from first+i (127.0.0.2, 127.0.0.3, ... on loopback: the whole 127.0.0.0/8 is
// the machine's; nil: any local address), and returns each one's status and cart number (0
// when not served); an unanswered request is an error.
func Shoppers(ctx context.Context, base string, productNum int64, sku string, n int, units int64, first net.IP) ([]int, []int64, error) {
	statuses := make([]int, n)
	carts := make([]int64, n)
	errs := make([]error, n)
	body, _ := json.Marshal(map[string]any{"item_key": ItemKey(productNum, sku), "quantity": units})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var ip net.IP
			if first != nil {
				ip = slices.Clone(first.To4())
				ip[3] += byte(i)
			}
			c := clientFrom(ip)
			defer c.CloseIdleConnections()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/cart/", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				errs[i] = fmt.Errorf("shopper %d from %s: %w", i, ip, err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
			if resp.StatusCode == http.StatusOK {
				carts[i] = cartOf(b)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return statuses, carts, err
		}
	}
	return statuses, carts, nil
}

// HostPort is the host:port of a base URL.
func HostPort(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}
