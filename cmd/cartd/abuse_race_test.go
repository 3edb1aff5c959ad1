//go:build race

package main

// underRace is true when the tests run under the race detector, which slows cartd some
// twentyfold: the attacks of TestHostileClientsAgainstDefaults then measure the detector, and
// its 600 connections for 25 s push honest requests past the server's timeouts.
const underRace = true
