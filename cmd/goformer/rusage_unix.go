//go:build linux || darwin || freebsd

package main

import (
	"runtime"
	"syscall"
)

// peakRSSMiB returns the process's peak resident memory in MiB (0 if the
// system does not say).
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / (1 << 20) // bytes there
	}
	return float64(ru.Maxrss) / (1 << 10) // KiB on Linux and FreeBSD
}
