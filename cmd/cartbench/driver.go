package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to a minute with three significant digits:
// a p99 of 12.345 ms is told from 12.355 ms, and a request slower than a minute is recorded as
// a minute (the client's timeout is shorter by default anyway).
const (
	histMin    = 1
	histMax    = int64(time.Minute / time.Microsecond)
	histDigits = 3
)

// request is one HTTP request a simulated client sends.
type request struct {
	method string
	url    string
	body   []byte   // nil for none
	header []string // extra header pairs
	auth   bool     // send the admin key
}

// shopper is one simulated client of a phase. The driver calls prepare (untimed: a client
// whose view of its cart went stale re-reads it here), then next, times the request until
// the response is read to EOF, and gives the response to done, which classifies it.
type shopper interface {
	prepare(ctx context.Context) error
	next() request
	// done sees a response, or status 0 when there was none (a transport error).
	done(status int, header http.Header, body []byte) verdict
}

// verdict is what a shopper makes of a response.
type verdict struct {
	// outcome names what the response was when that is worth counting apart
	// (insufficient_stock, quantity_clamped, ...).
	outcome string
	// expected says that a non-2xx status is an outcome the scenario provokes on purpose,
	// not an error.
	expected bool
	// unusable marks a 2xx whose body the client could not use (not a cart): an error.
	unusable bool
}

// budget bounds a phase: by a deadline, or by a count of requests shared by all clients.
type budget struct {
	deadline time.Time
	counted  bool
	left     atomic.Int64
}

func newBudget(d time.Duration, requests int64) *budget {
	b := &budget{deadline: time.Now().Add(d), counted: requests > 0}
	b.left.Store(requests)
	return b
}

// take reports whether one more request may start. A request already started always runs
// to its end: cutting it off would count a timeout nobody caused.
func (b *budget) take() bool {
	if b.counted {
		return b.left.Add(-1) >= 0
	}
	return time.Now().Before(b.deadline)
}

// tally is what one client counted; the driver merges them after the phase, so clients share
// no lock while they run.
type tally struct {
	hist      *hdrhistogram.Histogram
	requests  int64
	bytes     int64
	errors    map[string]int64 // by status, "transport", "resync", "unusable_body"
	outcomes  map[string]int64
	lastError string
}

func newTally() *tally {
	return &tally{hist: hdrhistogram.New(histMin, histMax, histDigits), errors: map[string]int64{}, outcomes: map[string]int64{}}
}

// driver runs the measured phases of a run.
type driver struct {
	hc       *http.Client
	key      string
	duration time.Duration
	requests int64
}

// measure runs one phase: every shopper on its own goroutine, sending one request at a time
// (a closed loop, as a person at a storefront does), until the budget is spent.
func (d *driver) measure(ctx context.Context, name string, shoppers []shopper) phaseReport {
	b := newBudget(d.duration, d.requests)
	tallies := make([]*tally, len(shoppers))
	var wg sync.WaitGroup
	start := time.Now()
	for i, s := range shoppers {
		tallies[i] = newTally()
		wg.Go(func() { d.loop(ctx, b, s, tallies[i]) })
	}
	wg.Wait()
	return summarize(name, time.Since(start), tallies)
}

func (d *driver) loop(ctx context.Context, b *budget, s shopper, t *tally) {
	var buf bytes.Buffer
	for ctx.Err() == nil && b.take() {
		if err := s.prepare(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			t.errors["resync"]++
			t.lastError = err.Error()
			time.Sleep(50 * time.Millisecond) // the server is in trouble: do not spin on it
			continue
		}
		r := s.next()
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
		if err != nil {
			t.errors["transport"]++
			t.lastError = err.Error()
			continue
		}
		if r.auth {
			req.Header.Set("Authorization", "Bearer "+d.key)
		}
		if r.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(r.header); i += 2 {
			req.Header.Set(r.header[i], r.header[i+1])
		}
		t0 := time.Now()
		resp, err := d.hc.Do(req)
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(resp.Body)
			resp.Body.Close()
		}
		elapsed := time.Since(t0)
		if err != nil && ctx.Err() != nil {
			return // interrupted by the operator: not the server's doing
		}
		t.requests++
		if err != nil {
			t.errors["transport"]++
			t.lastError = err.Error()
			s.done(0, nil, nil) // no response: the shopper no longer knows its cart
			continue
		}
		t.hist.RecordValue(min(max(elapsed.Microseconds(), histMin), histMax))
		t.bytes += int64(buf.Len())
		v := s.done(resp.StatusCode, resp.Header, buf.Bytes())
		if v.outcome != "" {
			t.outcomes[v.outcome]++
		}
		switch {
		case (resp.StatusCode < 200 || resp.StatusCode > 299) && !v.expected:
			t.errors[strconv.Itoa(resp.StatusCode)]++
		case v.unusable:
			t.errors["unusable_body"]++
		default:
			continue
		}
		t.lastError = r.method + " " + r.url + ": " + strconv.Itoa(resp.StatusCode) + " " + snippet(buf.Bytes())
	}
}

func snippet(b []byte) string {
	s := string(bytes.TrimSpace(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// summarize merges the clients' tallies into the phase's report.
func summarize(name string, elapsed time.Duration, tallies []*tally) phaseReport {
	all := hdrhistogram.New(histMin, histMax, histDigits)
	p := phaseReport{Name: name, Clients: len(tallies), Seconds: elapsed.Seconds(), Errors: map[string]int64{}, Outcomes: map[string]int64{}}
	var bytes int64
	for _, t := range tallies {
		all.Merge(t.hist)
		p.Requests += t.requests
		bytes += t.bytes
		for k, v := range t.errors {
			p.Errors[k] += v
		}
		for k, v := range t.outcomes {
			p.Outcomes[k] += v
		}
		if t.lastError != "" {
			p.LastError = t.lastError
		}
	}
	if elapsed > 0 {
		p.RPS = float64(p.Requests) / elapsed.Seconds()
	}
	if n := all.TotalCount(); n > 0 {
		p.BytesPerResponse = bytes / n
		p.Latency = latencyReport{
			P50:  all.ValueAtQuantile(50),
			P90:  all.ValueAtQuantile(90),
			P99:  all.ValueAtQuantile(99),
			Max:  all.Max(),
			Mean: int64(all.Mean()),
		}
	}
	return p
}
