//go:build race

package main

// underRace is true when the tests run under the race detector, which slows cartd some
// twentyfold: the abuse scenario's 600 connections then measure the detector.
const underRace = true
