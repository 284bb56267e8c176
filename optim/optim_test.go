package optim

import (
	"math"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

func param(name string, vals []float32, shape ...int) *autograd.Var {
	t, _ := tensor.FromSlice(append([]float32(nil), vals...), shape...)
	return autograd.NewParam(name, t)
}

func TestAdamWDecaysMatricesOnly(t *testing.T) {
	w := param("w", []float32{1, 1, 1, 1}, 2, 2)
	b := param("b", []float32{1, 1}, 2)
	o := NewAdamW([]*autograd.Var{w, b}, 0.9, 0.99, 0.5)
	o.Step(0.1) // zero gradients: only weight decay moves anything
	if got := w.Value.Data()[0]; math.Abs(float64(got)-0.95) > 1e-6 {
		t.Fatalf("matrix after decay = %g, want 0.95", got)
	}
	if got := b.Value.Data()[0]; got != 1 {
		t.Fatalf("bias decayed to %g", got)
	}
	// First Adam step moves every coordinate by lr·sign(g) (bias-corrected).
	b.Grad.Data()[0], b.Grad.Data()[1] = 3, -0.001
	o2 := NewAdam([]*autograd.Var{b}, 0.9, 0.999)
	o2.Step(0.01)
	if d0, d1 := b.Value.Data()[0]-1, b.Value.Data()[1]-1; math.Abs(float64(d0)+0.01) > 1e-5 || math.Abs(float64(d1)-0.01) > 1e-5 {
		t.Fatalf("first Adam step moved by %g, %g; want -0.01, +0.01", d0, d1)
	}
	state, step := o2.State()
	o3 := NewAdam([]*autograd.Var{b}, 0.9, 0.999)
	byName := map[string]*tensor.Tensor{}
	for _, s := range state {
		byName[s.Name] = s.Tensor
	}
	if err := o3.SetState(func(n string) (*tensor.Tensor, error) { return byName[n], nil }, step); err != nil || o3.step != 1 {
		t.Fatalf("SetState: %v, step %d", err, o3.step)
	}
}

func TestSGDMomentum(t *testing.T) {
	p := param("p", []float32{0}, 1)
	o := NewSGD([]*autograd.Var{p}, 0.9, 0)
	for i := 0; i < 3; i++ {
		p.Grad.Data()[0] = 1
		o.Step(0.1)
	}
	// buffers 1, 1.9, 2.71 → p = -0.1·(1+1.9+2.71)
	if got := p.Value.Data()[0]; math.Abs(float64(got)+0.561) > 1e-6 {
		t.Fatalf("p = %g, want -0.561", got)
	}
}

func TestClipGradNorm(t *testing.T) {
	a := param("a", []float32{0, 0}, 2)
	copy(a.Grad.Data(), []float32{3, 4})
	if n := ClipGradNorm([]*autograd.Var{a}, 1); n != 5 {
		t.Fatalf("norm %g, want 5", n)
	}
	if n := GradNorm([]*autograd.Var{a}); math.Abs(n-1) > 1e-5 {
		t.Fatalf("after clipping norm %g, want 1", n)
	}
	ClipGradNorm([]*autograd.Var{a}, 10)
	if n := GradNorm([]*autograd.Var{a}); math.Abs(n-1) > 1e-5 {
		t.Fatalf("clipping below the limit changed the norm to %g", n)
	}
}

func TestSchedules(t *testing.T) {
	n := Noam{DModel: 512, Warmup: 4000, Factor: 1}
	peak := n.LR(3999)
	if want := math.Pow(512, -0.5) * math.Pow(4000, -0.5); math.Abs(float64(peak)-want) > 1e-9 {
		t.Fatalf("Noam peak %g, want %g", peak, want)
	}
	if n.LR(100) >= peak || n.LR(20000) >= peak {
		t.Fatal("Noam does not peak at the end of warmup")
	}
	w := WarmupCosine{Max: 1e-3, Min: 1e-4, Warmup: 100, DecaySteps: 2000}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := w.LR(0); got != float32(1e-3/101.0) {
		t.Fatalf("first warmup step %g", got)
	}
	if got := w.LR(100); math.Abs(float64(got)-1e-3) > 1e-9 {
		t.Fatalf("end of warmup %g, want max", got)
	}
	if got := w.LR(1050); math.Abs(float64(got)-5.5e-4) > 1e-9 {
		t.Fatalf("middle %g, want 5.5e-4", got)
	}
	if got := w.LR(5000); got != float32(1e-4) {
		t.Fatalf("after decay %g, want min", got)
	}
	if (WarmupCosine{Max: 1, Min: 2}).Validate() == nil {
		t.Fatal("min > max accepted")
	}
	if Constant(0.5).LR(7) != 0.5 {
		t.Fatal("Constant")
	}
}
