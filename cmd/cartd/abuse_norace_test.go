//go:build !race

package main

// underRace is true when the tests run under the race detector (abuse_race_test.go).
const underRace = false
