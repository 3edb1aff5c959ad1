package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cartd/cartd/engine"
)

// abuseConfig is what keeps hostile clients from hoarding stock or starving honest traffic
// (docs/abuse.md): the cap on what one address's anonymous carts hold, the rate of new
// storefront sessions per address, and the bounds on bodies still arriving. The guard and the
// engine take it from here.
type abuseConfig struct {
	holdPercent      float64
	holdMin          int64
	sessionRate      float64
	sessionBurst     int
	bodyTimeout      time.Duration
	maxPendingBodies int
}

// abuseFlags declares the flags of a on fs, each defaulting to its environment twin.
//
// The defaults are meant to be safe behind a corporate NAT (hundreds of honest shoppers on one
// address) and still stop one script: 10% of a SKU (at least 2 units) held by one address's
// anonymous carts, 2 new sessions a second per address with bursts of 60, bodies in 10 s
// (100 KiB/s for the largest, 1 MiB), 64 bodies arriving at once per address.
func abuseFlags(fs *flag.FlagSet, a *abuseConfig, env func(key, def string) string) error {
	var errs []error
	parse := func(key, def string, p func(string) error) {
		if err := p(env(key, def)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	parse("CARTD_ANON_HOLD_PERCENT", "10", func(s string) (err error) { a.holdPercent, err = strconv.ParseFloat(s, 64); return })
	parse("CARTD_ANON_HOLD_MIN", "2", func(s string) (err error) { a.holdMin, err = strconv.ParseInt(s, 10, 64); return })
	parse("CARTD_SESSION_RATE", "2", func(s string) (err error) { a.sessionRate, err = strconv.ParseFloat(s, 64); return })
	parse("CARTD_SESSION_BURST", "60", func(s string) (err error) { a.sessionBurst, err = strconv.Atoi(s); return })
	parse("CARTD_BODY_TIMEOUT", "10s", func(s string) (err error) { a.bodyTimeout, err = time.ParseDuration(s); return })
	parse("CARTD_MAX_PENDING_BODIES", "64", func(s string) (err error) { a.maxPendingBodies, err = strconv.Atoi(s); return })
	fs.Float64Var(&a.holdPercent, "anon-hold-percent", a.holdPercent, "percent of a SKU's on_hand that the anonymous (storefront session) carts of one client address may hold together; 0 with --anon-hold-min 0 turns the cap off (CARTD_ANON_HOLD_PERCENT)")
	fs.Int64Var(&a.holdMin, "anon-hold-min", a.holdMin, "units of a SKU one client address's anonymous carts may always hold, whatever the percent (CARTD_ANON_HOLD_MIN)")
	fs.Float64Var(&a.sessionRate, "session-rate", a.sessionRate, "new storefront sessions per second per client address; 0 turns it off (CARTD_SESSION_RATE)")
	fs.IntVar(&a.sessionBurst, "session-burst", a.sessionBurst, "burst of new storefront sessions per client address; 0 means twice the rate (CARTD_SESSION_BURST)")
	fs.DurationVar(&a.bodyTimeout, "body-timeout", a.bodyTimeout, "time for a request's body to arrive after its headers, before it is served; 0: only --read-timeout bounds it (CARTD_BODY_TIMEOUT)")
	fs.IntVar(&a.maxPendingBodies, "max-pending-bodies", a.maxPendingBodies, "requests without a credential in their headers whose bodies may be arriving at once, per client address; 0 means no cap (CARTD_MAX_PENDING_BODIES)")
	return errors.Join(errs...)
}

// validate checks a once the flags are parsed.
func (a abuseConfig) validate() error {
	switch {
	case a.holdPercent < 0 || a.holdPercent > 100 || math.IsNaN(a.holdPercent):
		return errors.New("--anon-hold-percent must be from 0 to 100")
	case a.holdMin < 0:
		return errors.New("--anon-hold-min must not be negative")
	case a.sessionRate < 0 || math.IsNaN(a.sessionRate) || math.IsInf(a.sessionRate, 0):
		return errors.New("--session-rate must be 0 (off) or a positive number of sessions per second")
	case a.sessionBurst < 0:
		return errors.New("--session-burst must not be negative")
	case a.bodyTimeout < 0:
		return errors.New("--body-timeout must not be negative")
	case a.maxPendingBodies < 0:
		return errors.New("--max-pending-bodies must not be negative")
	}
	return nil
}

// anonymousHold is the engine's cap on anonymous holdings.
func (a abuseConfig) anonymousHold() engine.AnonymousHold {
	return engine.AnonymousHold{Percent: a.holdPercent, Min: a.holdMin}
}
