package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/goformer/goformer/train"
)

// TestBarETA: the ETA is the steps' (time per step × steps left) unless
// the run's time limit comes sooner.
func TestBarETA(t *testing.T) {
	for _, c := range []struct {
		limit   time.Duration
		elapsed float64 // Metrics.Elapsed at step 100
		want    string
	}{
		{0, 100, "ETA 15m0s"},                  // 900 steps left at 1 s each (100 steps in 100 s)
		{time.Hour, 100, "ETA 15m0s"},          // the steps end first
		{10 * time.Minute, 100, "ETA 8m20s"},   // the clock ends first: 600 s − 100 s
		{10 * time.Minute, 700, "ETA 0s"},      // past the limit (a resumed run's total)
		{20 * time.Minute, 100.4, "ETA 15m0s"}, // the steps again
		{15*time.Minute + 30*time.Second, 100, "ETA 13m50s"},
	} {
		var buf bytes.Buffer
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		p := New(&buf, 1001)
		p.now = func() time.Time { return clock }
		p.Limit = c.limit
		p.Update(train.Metrics{Step: 1})
		clock = clock.Add(100 * time.Second)
		p.Update(train.Metrics{Step: 101, Elapsed: c.elapsed})
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if last := lines[len(lines)-1]; !strings.HasSuffix(last, c.want) || !strings.HasPrefix(last, "step 101/1001") {
			t.Errorf("limit %v, elapsed %g: %q, want it to end in %q", c.limit, c.elapsed, last, c.want)
		}
	}
}

// TestBarETAFirstStep: the first step a bar sees, of a fresh run or a
// resumed one, has no rate yet: its ETA is unknown, not 0s; the next step
// is timed from it.
func TestBarETAFirstStep(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := New(&buf, 8000)
	p.now = func() time.Time { return clock }
	p.Update(train.Metrics{Step: 3650, Elapsed: 1500}) // resumed at step 3,649
	clock = clock.Add(10 * time.Second)
	p.Update(train.Metrics{Step: 3660, Elapsed: 1510})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "ETA ?") || !strings.HasSuffix(lines[1], "ETA 1h12m20s") {
		t.Errorf("lines %q: want the first to end in \"ETA ?\", the second in \"ETA 1h12m20s\" (4,340 steps at 1 s)", lines)
	}
}

// TestBarCount: done of total with the rate and the time left.
func TestBarCount(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := New(&buf, 0)
	p.now = func() time.Time { return clock }
	p.Reset(40)
	p.Unit = "documents"
	clock = clock.Add(10 * time.Second)
	p.UpdateCount(10)
	if got, want := strings.TrimSpace(buf.String()), "10/40 documents  1.0/s  ETA 30s"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
