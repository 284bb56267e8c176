// Package progress draws the progress of long work (training steps,
// sentences translated) on a terminal or a log.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/goformer/goformer/train"
)

// Bar shows steps, loss, tokens/s and the time left: one rewritten line
// on a terminal, a plain line every few seconds otherwise. As an io.Writer
// it passes messages through, clearing its line first.
type Bar struct {
	w         io.Writer
	tty       bool
	total     int
	start     time.Time
	startStep int
	lastPrint time.Time
	shown     bool
	Unit      string // what is counted, for updateCount
	// RateUnit names what a training step's rate counts (Metrics.
	// TokensPerS: the task's loss count per second); default "tok".
	RateUnit string
	// Limit, if positive, is the training time after which the run
	// stops whatever its steps (a recipe's max_minutes): the ETA is the
	// sooner of the steps' and the time left (total − Metrics.Elapsed).
	Limit time.Duration
	now   func() time.Time // time.Now; tests replace it
}

// New returns a bar counting towards total, on w.
func New(w io.Writer, total int) *Bar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &Bar{w: w, tty: tty, total: total, start: time.Now(), startStep: -1, now: time.Now}
}

// Reset starts counting again towards total.
func (p *Bar) Reset(total int) { p.total, p.start, p.startStep = total, p.now(), -1 }

// Write writes b after clearing the progress line.
func (p *Bar) Write(b []byte) (int, error) {
	p.Clear()
	return p.w.Write(b)
}

// Update shows a training step.
func (p *Bar) Update(m train.Metrics) {
	now := p.now()
	if p.startStep < 0 {
		// The first step seen (of a fresh or a resumed run): the rate is
		// timed from its end, since when it began is not known here.
		p.startStep, p.start = m.Step, now
	}
	if !p.tty && now.Sub(p.lastPrint) < 5*time.Second && m.Step != p.total {
		return
	}
	p.lastPrint = now
	eta := "?" // no step timed yet
	if done := m.Step - p.startStep; done > 0 {
		d := time.Duration(float64(now.Sub(p.start)) / float64(done) * float64(p.total-m.Step))
		if p.Limit > 0 {
			d = min(d, max(0, p.Limit-time.Duration(m.Elapsed*float64(time.Second))))
		}
		eta = d.Round(time.Second).String()
	}
	unit := p.RateUnit
	if unit == "" {
		unit = "tok"
	}
	p.line(fmt.Sprintf("step %d/%d  loss %.4f  lr %.2e  %.0f %s/s  ETA %s", m.Step, p.total, m.Loss, m.LR, m.TokensPerS, unit, eta))
}

// UpdateCount shows done of total items (sentences) with their rate.
func (p *Bar) UpdateCount(done int) {
	now := p.now()
	if !p.tty && now.Sub(p.lastPrint) < 5*time.Second && done != p.total {
		return
	}
	p.lastPrint = now
	secs := now.Sub(p.start).Seconds()
	eta := time.Duration(0)
	if done > 0 {
		eta = time.Duration(secs / float64(done) * float64(p.total-done) * float64(time.Second)).Round(time.Second)
	}
	p.line(fmt.Sprintf("%d/%d %s  %.1f/s  ETA %s", done, p.total, p.Unit, float64(done)/secs, eta))
}

func (p *Bar) line(s string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
		p.shown = true
	} else {
		fmt.Fprintln(p.w, s)
	}
}

// Clear removes the progress line from a terminal.
func (p *Bar) Clear() {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
