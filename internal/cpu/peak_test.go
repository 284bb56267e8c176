package cpu

import (
	"testing"
	"time"
)

// TestCeilings: both measurements return a positive, finite number (their
// values are the machine's; bench peak and bench membw print them).
func TestCeilings(t *testing.T) {
	if p := PeakGFLOPS(20 * time.Millisecond); !(p > 0) || p > 1e6 {
		t.Errorf("peak %g GFLOPS", p)
	}
	if b := StreamGBps(1<<22, 20*time.Millisecond); !(b > 0) || b > 1e5 {
		t.Errorf("bandwidth %g GB/s", b)
	}
}
