// Package lograte keeps a flood of refusals from flooding the log: an attack of thousands of
// requests a second should show as one line a second that says how many it stands for, not
// as thousands of lines that cost as much to write as the refusals they report.
package lograte

import (
	"sync/atomic"
	"time"
)

// DefaultEvery is a Sampler's interval when its Every is 0.
const DefaultEvery = time.Second

// Sampler lets one event a interval through to the log and counts the others. The zero value
// is ready to use; it is safe for concurrent use.
type Sampler struct {
	// Every is the interval; 0 means DefaultEvery.
	Every   time.Duration
	next    atomic.Int64 // unix nanoseconds before which events are counted, not logged
	dropped atomic.Int64
}

// Allow reports whether an event at now is to be logged and, if so, how many events were held
// back since the last one logged (to be reported with it).
func (s *Sampler) Allow(now time.Time) (ok bool, dropped int64) {
	every := s.Every
	if every <= 0 {
		every = DefaultEvery
	}
	t := now.UnixNano()
	next := s.next.Load()
	if t < next || !s.next.CompareAndSwap(next, t+int64(every)) {
		s.dropped.Add(1)
		return false, 0
	}
	return true, s.dropped.Swap(0)
}
