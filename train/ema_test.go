package train

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// TestEMA checks the average against its definition written out by hand
// (the steps from Start on, weighted d^age and normalised), that it
// leaves the parameters alone, and that a bad decay is refused.
func TestEMA(t *testing.T) {
	p := autograd.NewParam("w", tensor.New(3))
	e := &EMA{Decay: 0.75, Start: 3, Params: []*autograd.Var{p}}
	if _, err := e.Average(); err == nil {
		t.Fatal("no step averaged: no error")
	}
	sum, norm := make([]float64, 3), 0.0
	for step := 1; step <= 6; step++ {
		for i := range p.Value.Data() {
			p.Value.Data()[i] = float32(step*step + i)
		}
		if err := e.AfterStep(Metrics{Step: step}); err != nil {
			t.Fatal(err)
		}
		if step >= 3 {
			for i := range sum {
				sum[i] = 0.75*sum[i] + float64(step*step+i)
			}
			norm = 0.75*norm + 1
		}
	}
	want := []float64{sum[0] / norm, sum[1] / norm, sum[2] / norm}
	avg, err := e.Average()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range avg[0].Data() {
		if math.Abs(float64(v)-want[i]) > 1e-5 {
			t.Fatalf("avg[%d] = %g, want %g", i, v, want[i])
		}
	}
	if e.Updates != 4 || p.Value.Data()[0] != 36 {
		t.Fatalf("updates %d (want 4), parameter %g (want 36, untouched)", e.Updates, p.Value.Data()[0])
	}
	if err := (&EMA{Decay: 1, Params: e.Params}).AfterStep(Metrics{Step: 1}); err == nil {
		t.Error("decay 1: no error")
	}
}

// TestEMAResume runs 10 steps with two averages, straight and interrupted
// after step 7 then resumed from the checkpoint, and compares the averages
// bit for bit: the checkpoint carries them (TensorHook). One average
// starts after the interruption, so its state is carried empty.
func TestEMAResume(t *testing.T) {
	build := func(dir string) *Trainer {
		tr, _ := newTrainerDropout(t, dir, 10, 0.1)
		ps := tr.Task.Params()
		tr.Hooks = []Hook{&EMA{Decay: 0.9, Start: 2, Params: ps}, &EMA{Decay: 0.5, Start: 9, Params: ps}}
		return tr
	}
	straight := build(t.TempDir())
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := build(dir)
	ctx, cancel := context.WithCancel(context.Background())
	first.OnStep = func(m Metrics) {
		if m.Step == 7 {
			cancel()
		}
	}
	if err := first.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	resumed := build(dir)
	if err := resumed.Resume(); err != nil {
		t.Fatal(err)
	}
	if u := resumed.Hooks[0].(*EMA).Updates; u != 6 {
		t.Fatalf("resumed EMA has %d updates, want 6 (steps 2–7)", u)
	}
	if err := resumed.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for h := range 2 {
		a, err1 := straight.Hooks[h].(*EMA).Average()
		b, err2 := resumed.Hooks[h].(*EMA).Average()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		moved := false
		for i := range a {
			for j, v := range a[i].Data() {
				if b[i].Data()[j] != v {
					t.Fatalf("EMA %d, %s[%d]: straight %g, resumed %g", h, straight.Task.Params()[i].Name, j, v, b[i].Data()[j])
				}
				moved = moved || v != straight.Task.Params()[i].Value.Data()[j]
			}
		}
		if !moved {
			t.Fatalf("EMA %d equals the last parameters: the test checks nothing", h)
		}
	}
}
