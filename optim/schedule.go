package optim

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate for a step (counted from 0).
type Schedule interface {
	LR(step int) float32
}

// Constant is a fixed learning rate.
type Constant float32

// LR returns the constant.
func (c Constant) LR(int) float32 { return float32(c) }

// Noam is the schedule of "Attention Is All You Need":
// lr = factor · d_model^-0.5 · min(s^-0.5, s · warmup^-1.5) with s = step+1.
type Noam struct {
	DModel, Warmup int
	Factor         float64
}

// LR returns the paper's learning rate at step.
func (n Noam) LR(step int) float32 {
	s := float64(step + 1)
	return float32(n.Factor * math.Pow(float64(n.DModel), -0.5) * math.Min(math.Pow(s, -0.5), s*math.Pow(float64(n.Warmup), -1.5)))
}

// WarmupCosine rises linearly to Max over Warmup steps, then follows half a
// cosine down to Min at DecaySteps, and stays at Min (nanoGPT's get_lr).
type WarmupCosine struct {
	Max, Min           float64
	Warmup, DecaySteps int
}

// LR returns the learning rate at step.
func (w WarmupCosine) LR(step int) float32 {
	switch {
	case step < w.Warmup:
		return float32(w.Max * float64(step+1) / float64(w.Warmup+1))
	case step > w.DecaySteps:
		return float32(w.Min)
	}
	ratio := float64(step-w.Warmup) / math.Max(1, float64(w.DecaySteps-w.Warmup))
	coeff := 0.5 * (1 + math.Cos(math.Pi*ratio))
	return float32(w.Min + coeff*(w.Max-w.Min))
}

// Validate reports a schedule that makes no sense.
func (w WarmupCosine) Validate() error {
	if w.Max <= 0 || w.Min < 0 || w.Min > w.Max || w.Warmup < 0 || w.DecaySteps < w.Warmup {
		return fmt.Errorf("optim: warmup-cosine schedule needs 0 ≤ min ≤ max, max > 0 and 0 ≤ warmup ≤ decay steps, got %+v", w)
	}
	return nil
}
