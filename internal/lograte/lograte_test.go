package lograte

import (
	"testing"
	"time"
)

func TestSampler(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		after       time.Duration
		ok          bool
		wantDropped int64
	}{
		{0, true, 0},
		{100 * time.Millisecond, false, 0},
		{500 * time.Millisecond, false, 0},
		{999 * time.Millisecond, false, 0},
		{time.Second, true, 3},
		{1500 * time.Millisecond, false, 0},
		{5 * time.Second, true, 1},
		{5 * time.Second, false, 0},
	}
	var s Sampler
	for _, st := range steps {
		ok, dropped := s.Allow(start.Add(st.after))
		if ok != st.ok || dropped != st.wantDropped {
			t.Errorf("Allow at +%v = %v, %d; want %v, %d", st.after, ok, dropped, st.ok, st.wantDropped)
		}
	}
}
