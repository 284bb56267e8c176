package train

import (
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/tensor"
)

// TestTrainingStepAllocatesNothing: after the first step, a whole GPT
// training step (batch, forward, backward, clipping, AdamW) makes no Go
// heap allocation.
func TestTrainingStepAllocatesNothing(t *testing.T) {
	task, _ := tinyTask(t, 1)
	params := task.Params()
	opt := optim.NewAdamW(params, 0.9, 0.99, 0.1)
	g := autograd.NewGraph(1)
	rng := tensor.NewRNG(1)
	step := func() {
		for _, p := range params {
			p.ZeroGrad()
		}
		g.Reset()
		loss, _, err := task.Loss(g, rng, TrainSplit)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		optim.ClipGradNorm(params, 1)
		opt.Step(1e-3)
	}
	step()
	if n := testing.AllocsPerRun(10, step); n != 0 {
		t.Fatalf("a training step allocates %v times", n)
	}
}
