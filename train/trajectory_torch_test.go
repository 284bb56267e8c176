package train

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/tensor"
)

// fixedBatches is a Task that returns the fixture's batches in order.
type fixedBatches struct {
	m          *gpt.Model
	ids, tgts  []int32
	batch, seq int
	next       int
}

func (f *fixedBatches) Params() []*autograd.Var { return f.m.Params.List() }

func (f *fixedBatches) Loss(g *autograd.Graph, _ *tensor.RNG, split Split) (*autograd.Var, int, error) {
	n := f.batch * f.seq
	i := f.next % (len(f.ids) / n)
	if split == TrainSplit {
		f.next++
	}
	_, loss, err := f.m.Forward(g, f.ids[i*n:(i+1)*n], f.batch, f.seq, f.tgts[i*n:(i+1)*n])
	return loss, n, err
}

// TestTrajectoryMatchesPyTorch trains the tiny GPT-2 of models/gpt/testdata
// for 40 steps with the Trainer and AdamW, and compares every step's loss
// and gradient norm, and the final weights, with PyTorch's torch.optim.AdamW
// and clip_grad_norm_ run in float64 on the same batches
// (scripts/reference/trajectory.py). It checks the whole training step, not
// one op: clipping, weight-decay groups, bias correction and the schedule.
func TestTrajectoryMatchesPyTorch(t *testing.T) {
	ref, err := tensor.ReadSafetensors("testdata/trajectory_torch.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	m, err := gpt.Load("../models/gpt/testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, wantNorm := fixture.Get(t, ref, "losses"), fixture.Get(t, ref, "grad_norms")
	steps := len(wantLoss)
	task := &fixedBatches{m: m, ids: fixture.IDs(fixture.Get(t, ref, "ids")), tgts: fixture.IDs(fixture.Get(t, ref, "targets")), batch: 4, seq: 16}
	opt := optim.NewAdamW(task.Params(), 0.9, 0.99, 0.1)
	tr, err := NewTrainer(Config{Steps: steps, ClipNorm: 1, Dir: t.TempDir(), Seed: 1}, task, opt,
		optim.WarmupCosine{Max: 3e-3, Min: 3e-4, Warmup: 5, DecaySteps: steps})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, h := range tr.History {
		e := math.Abs(h.Loss-float64(wantLoss[i])) / float64(wantLoss[i])
		worst = math.Max(worst, e)
		if e > 1e-4 {
			t.Errorf("step %d: loss %.6f, PyTorch %.6f", i+1, h.Loss, wantLoss[i])
		}
		if en := math.Abs(h.GradNorm-float64(wantNorm[i])) / float64(wantNorm[i]); en > 1e-3 {
			t.Errorf("step %d: gradient norm %.6f, PyTorch %.6f", i+1, h.GradNorm, wantNorm[i])
		}
	}
	t.Logf("loss %.4f → %.4f; worst relative loss difference over %d steps %.2g", wantLoss[0], wantLoss[steps-1], steps, worst)
	for _, p := range m.Params.List() {
		want := fixture.Get(t, ref, "final."+p.Name)
		got := p.Value
		if p.Value.Dims() == 2 && !strings.HasPrefix(p.Name, "wte") && !strings.HasPrefix(p.Name, "wpe") {
			got = tensor.Transpose(p.Value) // Conv1D stores [in, out]
		}
		g, w := got.Data(), want
		if strings.HasSuffix(p.Name, "attn.c_attn.bias") {
			// The key projection's bias has a gradient of exactly zero
			// (softmax ignores a shift shared by a query's scores), and
			// Adam turns each side's rounding noise in it into steps of
			// about lr with random signs: compare the q and v parts only.
			c := len(w) / 3
			g = append(append([]float32{}, g[:c]...), g[2*c:]...)
			w = append(append([]float32{}, w[:c]...), w[2*c:]...)
		}
		if e := fixture.NormRelErr(g, w, 0); !(e <= 1e-4) {
			t.Errorf("%s after %d steps: relative error %.2g", p.Name, steps, e)
		}
	}
}
