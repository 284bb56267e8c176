//go:build !(linux || darwin || freebsd)

package main

// peakRSSMiB is unknown on this system.
func peakRSSMiB() float64 { return 0 }
