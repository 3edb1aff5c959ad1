//go:build !race

package api_test

// underRace is true when the tests run under the race detector; see concurrency_race_test.go.
const underRace = false
