package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is a whole run: what --json prints, and what the table is drawn from.
type report struct {
	Run       runInfo          `json:"run"`
	Scenarios []scenarioReport `json:"scenarios"`
	// OK is false when an invariant failed, or a request failed and --allow-errors was not given.
	OK bool `json:"ok"`
}

// runInfo says how the run was made and on what, so a figure can be read in its context.
type runInfo struct {
	URL         string    `json:"url"`
	Prefix      string    `json:"prefix"` // the run's ids start with it
	Conns       int       `json:"conns"`
	Duration    string    `json:"duration,omitempty"` // per phase
	Requests    int64     `json:"requests,omitempty"` // per phase, instead of a duration
	Seed        uint64    `json:"seed"`
	AllowErrors bool      `json:"allow_errors"`
	GoVersion   string    `json:"go_version"` // of cartbench
	OS          string    `json:"os"`
	CPUs        int       `json:"cpus"`
	GOMAXPROCS  int       `json:"gomaxprocs"`
	StartedAt   time.Time `json:"started_at"`
	// Webhook is what the endpoint of --webhook received, up to the end of the run.
	Webhook *webhookReport `json:"webhook,omitempty"`
}

type scenarioReport struct {
	Name   string        `json:"name"`
	Phases []phaseReport `json:"phases"`
	// Invariants is nil for the ceiling, which creates no data.
	Invariants *invariantReport `json:"invariants"`
}

// phaseReport is one measured phase: one row of the table.
type phaseReport struct {
	Name             string           `json:"name"`
	Clients          int              `json:"clients"`
	Requests         int64            `json:"requests"`
	Seconds          float64          `json:"seconds"`
	RPS              float64          `json:"rps"`
	Latency          latencyReport    `json:"latency_us"`
	BytesPerResponse int64            `json:"bytes_per_response"`
	Errors           map[string]int64 `json:"errors"`   // by HTTP status, "transport", "resync", "unusable_body"
	Outcomes         map[string]int64 `json:"outcomes"` // expected outcomes and warnings, by code
	LastError        string           `json:"last_error,omitempty"`
	// CeilingRatio is RPS over the json-echo ceiling's, when the run measured it.
	CeilingRatio float64 `json:"ceiling_ratio,omitempty"`
}

// latencyReport is in microseconds, from the merged HDR histogram of all clients; responses
// of every status count, transport errors do not (they have no response).
type latencyReport struct {
	P50  int64 `json:"p50"`
	P90  int64 `json:"p90"`
	P99  int64 `json:"p99"`
	Max  int64 `json:"max"`
	Mean int64 `json:"mean"`
}

func (p phaseReport) errorCount() int64 {
	var n int64
	for _, v := range p.Errors {
		n += v
	}
	return n
}

// finish sets the ratios to the ceiling and the verdict.
func (rep *report) finish(allowErrors bool) {
	var ceiling float64
	for _, s := range rep.Scenarios {
		for _, p := range s.Phases {
			if p.Name == ceilingPhase {
				ceiling = p.RPS
			}
		}
	}
	rep.OK = true
	for i := range rep.Scenarios {
		s := &rep.Scenarios[i]
		if s.Invariants != nil && !s.Invariants.OK {
			rep.OK = false
		}
		for j := range s.Phases {
			p := &s.Phases[j]
			if ceiling > 0 && p.Name != ceilingPhase {
				p.CeilingRatio = p.RPS / ceiling
			}
			if p.errorCount() > 0 && !allowErrors {
				rep.OK = false
			}
		}
	}
}

func (rep *report) invariantsFailed() bool {
	for _, s := range rep.Scenarios {
		if s.Invariants != nil && !s.Invariants.OK {
			return true
		}
	}
	return false
}

func (rep *report) errored() bool {
	for _, s := range rep.Scenarios {
		for _, p := range s.Phases {
			if p.errorCount() > 0 {
				return true
			}
		}
	}
	return false
}

func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeTable prints the human report: one row per phase, then errors, then the invariants.
func (rep *report) writeTable(w io.Writer) error {
	var b strings.Builder
	ri := rep.Run
	budget := ri.Duration + " per phase"
	if ri.Requests > 0 {
		budget = fmt.Sprintf("%d requests per phase", ri.Requests)
	}
	fmt.Fprintf(&b, "cartbench %s: %d connections, %s, seed %d, run %s\n", ri.URL, ri.Conns, budget, ri.Seed, ri.Prefix)
	fmt.Fprintf(&b, "load generator: %s, %d CPUs, GOMAXPROCS %d, %s\n\n", ri.OS, ri.CPUs, ri.GOMAXPROCS, ri.GoVersion)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Cells are right-aligned (numbers read best so); the phase name is padded to read left.
	width := len("phase")
	for _, s := range rep.Scenarios {
		for _, p := range s.Phases {
			width = max(width, len(p.Name))
		}
	}
	fmt.Fprintf(tw, "%-*s\trequests\treq/s\tvs ceiling\tp50\tp90\tp99\tmax\tbytes/resp\terrors\t\n", width, "phase")
	for _, s := range rep.Scenarios {
		for _, p := range s.Phases {
			ratio := "-"
			if p.CeilingRatio > 0 {
				ratio = fmt.Sprintf("%.0f%%", 100*p.CeilingRatio)
			}
			fmt.Fprintf(tw, "%-*s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", width, p.Name, p.Requests, p.RPS, ratio,
				micros(p.Latency.P50), micros(p.Latency.P90), micros(p.Latency.P99), micros(p.Latency.Max),
				p.BytesPerResponse, p.errorCount())
		}
	}
	tw.Flush()
	var notes []string
	for _, s := range rep.Scenarios {
		for _, p := range s.Phases {
			if len(p.Outcomes) > 0 {
				notes = append(notes, fmt.Sprintf("  %s outcomes: %s", p.Name, counts(p.Outcomes)))
			}
			if len(p.Errors) > 0 {
				notes = append(notes, fmt.Sprintf("  %s ERRORS: %s; last: %s", p.Name, counts(p.Errors), p.LastError))
			}
		}
	}
	if wh := ri.Webhook; wh != nil {
		notes = append(notes, fmt.Sprintf("  webhook %s: %d deliveries received, %d badly signed", wh.URL, wh.Received, wh.BadSignatures))
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	b.WriteString("\ninvariants (ARCHITECTURE.md §Invariants: no oversell, reserved = lines' reserved_quantity, totals = recomputation):\n")
	for _, s := range rep.Scenarios {
		inv := s.Invariants
		switch {
		case inv == nil:
			fmt.Fprintf(&b, "  %-10s n/a (creates no carts)\n", s.Name)
		case inv.OK:
			fmt.Fprintf(&b, "  %-10s ok: %d carts, %d lines, %d SKUs\n", s.Name, inv.Carts, inv.Lines, inv.SKUs)
		default:
			fmt.Fprintf(&b, "  %-10s FAILED: %d violations in %d carts, %d SKUs\n", s.Name, inv.ViolationCount, inv.Carts, inv.SKUs)
			for _, v := range inv.Violations {
				fmt.Fprintf(&b, "    - %s\n", v)
			}
			if inv.ViolationCount > len(inv.Violations) {
				fmt.Fprintf(&b, "    ... and %d more\n", inv.ViolationCount-len(inv.Violations))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// micros renders a latency in microseconds with a unit a person reads at a glance.
func micros(us int64) string {
	switch {
	case us >= 1_000_000:
		return fmt.Sprintf("%.2fs", float64(us)/1e6)
	case us >= 1000:
		return fmt.Sprintf("%.2fms", float64(us)/1e3)
	}
	return fmt.Sprintf("%dµs", us)
}

// counts renders a map of counts as "k=v k=v" in key order.
func counts(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
