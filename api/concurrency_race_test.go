//go:build race

package api_test

// underRace is true when the tests run under the race detector, which slows the SQLite store
// (translated C) about twentyfold; the concurrency tests then do less work per client, so
// they stay within seconds while keeping every client concurrent.
const underRace = true
