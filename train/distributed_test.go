package train

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/dist"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/tensor"
)

// dpTrainer is newTrainerDropout's run on one rank of comm, with accum
// micro-batches per rank and buckets of bucketBytes.
func dpTrainer(t *testing.T, dir string, steps int, comm dist.Comm, accum, bucketBytes int) (*Trainer, *gpt.Model) {
	tr, m := newTrainerDropout(t, dir, steps, 0.1)
	cfg := tr.Cfg
	cfg.Comm, cfg.GradAccum, cfg.BucketBytes = comm, accum, bucketBytes
	tr2, err := NewTrainer(cfg, tr.Task, tr.Opt, tr.Sched)
	if err != nil {
		t.Fatal(err)
	}
	tr2.Dropout = true
	return tr2, m
}

// runRanks runs f on every rank of a local group of n, concurrently.
func runRanks(n int, f func(c dist.Comm) error) []error {
	comms := dist.NewLocal(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = f(c)
			if errs[r] != nil && !errors.Is(errs[r], context.Canceled) {
				c.Abort(errs[r].Error())
			}
		}()
	}
	wg.Wait()
	return errs
}

// TestDataParallelMatchesAccumulation is the correctness test:
// N ranks with A micro-batches each give, step by step for 50 steps, the
// losses (1e-5 relative) and gradient norms of one process accumulating
// N·A micro-batches, with dropout on, and every rank ends with the same
// weights, bit for bit.
func TestDataParallelMatchesAccumulation(t *testing.T) {
	const steps = 50
	for _, c := range []struct{ ranks, accum, bucket int }{{2, 1, 1 << 20}, {2, 2, 4096}, {3, 1, -1}} {
		ref, refModel := dpTrainer(t, t.TempDir(), steps, nil, c.ranks*c.accum, 0)
		if err := ref.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		trainers := make([]*Trainer, c.ranks)
		models := make([]*gpt.Model, c.ranks)
		errs := runRanks(c.ranks, func(comm dist.Comm) error {
			tr, m := dpTrainer(t, dir, steps, comm, c.accum, c.bucket)
			trainers[comm.Rank()], models[comm.Rank()] = tr, m
			return tr.Run(context.Background())
		})
		for r, err := range errs {
			if err != nil {
				t.Fatalf("%d ranks × %d: rank %d: %v", c.ranks, c.accum, r, err)
			}
		}
		worst := 0.0
		for i, want := range ref.History {
			got := trainers[0].History[i]
			e := math.Abs(got.Loss-want.Loss) / want.Loss
			worst = max(worst, e)
			if e > 1e-5 || math.Abs(got.GradNorm-want.GradNorm) > 1e-4*want.GradNorm {
				t.Errorf("%d ranks × %d, step %d: loss %.7f, norm %.6f; one process: %.7f, %.6f", c.ranks, c.accum, i+1, got.Loss, got.GradNorm, want.Loss, want.GradNorm)
			}
			if (got.ValLoss == nil) != (want.ValLoss == nil) || got.ValLoss != nil && math.Abs(*got.ValLoss-*want.ValLoss) > 1e-5**want.ValLoss {
				t.Errorf("step %d: validation loss differs", i+1)
			}
		}
		t.Logf("%d ranks × %d micro-batches, buckets of %d bytes: loss %.4f → %.4f, worst relative difference from one process %.2g",
			c.ranks, c.accum, c.bucket, ref.History[0].Loss, ref.History[steps-1].Loss, worst)
		refParams := refModel.Params.List()
		for r := range models {
			for i, p := range models[r].Params.List() {
				if r > 0 {
					if !equalBits(p.Value.Data(), models[0].Params.List()[i].Value.Data()) {
						t.Errorf("%d ranks: rank %d's %s differs from rank 0's", c.ranks, r, p.Name)
					}
					continue
				}
				got, want := p.Value.Data(), refParams[i].Value.Data()
				if strings.HasSuffix(p.Name, "attn.c_attn.bias") {
					// The key bias's gradient is exactly zero, and Adam turns
					// rounding noise in it into steps of about lr
					// (TestTrajectoryMatchesPyTorch): compare q and v only.
					c := len(want) / 3
					got = append(append([]float32{}, got[:c]...), got[2*c:]...)
					want = append(append([]float32{}, want[:c]...), want[2*c:]...)
				}
				if e := relErr(got, want); e > 1e-4 {
					t.Errorf("%d ranks: %s after %d steps: relative error %.2g against one process", c.ranks, p.Name, steps, e)
				}
			}
		}
	}
}

func equalBits(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i] - b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / max(den, 1e-30))
}

// TestDataParallelResume: a 2-rank run interrupted by one rank's Ctrl-C
// stops every rank after the same step with rank 0's checkpoint, and
// resuming it (rank 0 alone reads the checkpoint) gives exactly the
// metrics of an uninterrupted run.
func TestDataParallelResume(t *testing.T) {
	const steps = 20
	whole, _ := dpTrainer(t, t.TempDir(), steps, nil, 2, 0)
	if err := whole.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stopped := make([]int, 2)
	errs := runRanks(2, func(comm dist.Comm) error {
		tr, _ := dpTrainer(t, dir, steps, comm, 1, 1<<20)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if comm.Rank() == 1 { // Ctrl-C reaches rank 1 during step 8
			tr.Task = &cancelTask{LMTask: tr.Task.(*LMTask), at: 8, cancel: cancel}
		}
		err := tr.Run(ctx)
		stopped[comm.Rank()] = tr.Step()
		return err
	})
	for r, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("rank %d: %v, want context.Canceled", r, err)
		}
	}
	if stopped[0] != 8 || stopped[1] != 8 {
		t.Fatalf("ranks stopped after steps %v, want 8 and 8", stopped)
	}
	var resumed *Trainer
	errs = runRanks(2, func(comm dist.Comm) error {
		tr, _ := dpTrainer(t, dir, steps, comm, 1, 1<<20)
		if err := tr.Resume(); err != nil {
			return err
		}
		if comm.Rank() == 0 {
			resumed = tr
		}
		return tr.Run(context.Background())
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("resumed rank %d: %v", r, err)
		}
	}
	if len(resumed.History) != steps {
		t.Fatalf("resumed history has %d steps", len(resumed.History))
	}
	for i, want := range whole.History {
		if got := resumed.History[i]; math.Abs(got.Loss-want.Loss) > 1e-5*want.Loss {
			t.Errorf("step %d: resumed 2-rank loss %.7f, uninterrupted one process %.7f", i+1, got.Loss, want.Loss)
		}
	}
}

// cancelTask cancels a context during its at-th training batch.
type cancelTask struct {
	*LMTask
	calls, at int
	cancel    func()
}

func (c *cancelTask) Loss(g *autograd.Graph, rng *tensor.RNG, s Split) (*autograd.Var, int, error) {
	if s == TrainSplit {
		if c.calls++; c.calls == c.at {
			c.cancel()
		}
	}
	return c.LMTask.Loss(g, rng, s)
}

// failingTask fails on its rank from a given step on, as a rank whose data
// went bad would.
type failingTask struct {
	*LMTask
	calls, from int
}

func (f *failingTask) Loss(g *autograd.Graph, rng *tensor.RNG, s Split) (*autograd.Var, int, error) {
	if f.calls++; f.calls >= f.from {
		return nil, 0, errors.New("the disk went away")
	}
	return f.LMTask.Loss(g, rng, s)
}

// TestDataParallelRankFailure: a rank that stops answering makes the
// others give up after Timeout with an error that says so, not hang.
func TestDataParallelRankFailure(t *testing.T) {
	comms := dist.NewLocal(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r, comm := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr, _ := dpTrainer(t, t.TempDir(), 10, comm, 1, 1<<20)
			if r == 1 {
				tr.Task = &failingTask{LMTask: tr.Task.(*LMTask), from: 4}
			}
			tr.Cfg.Timeout = 2 * time.Second
			errs[r] = tr.Run(context.Background()) // no Abort: rank 0 must notice alone
		}()
	}
	wg.Wait()
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "the disk went away") {
		t.Errorf("the failing rank returned %v", errs[1])
	}
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "no answer from the other ranks") || !strings.Contains(errs[0].Error(), "step 4") {
		t.Errorf("the waiting rank returned %v", errs[0])
	}
}

// TestParamReadyOrder: OnParamReady reports each parameter once, when its
// gradient is final, for a model whose embedding is tied to its output.
func TestParamReadyOrder(t *testing.T) {
	_, m := newTrainerDropout(t, t.TempDir(), 1, 0.1)
	task, _ := tinyTask(t, 3)
	task.Model, task.Parameters = m, m.Params.List()
	g := autograd.NewGraph(1)
	g.Training = true
	snap := map[*autograd.Var][]float32{}
	var order []string
	g.OnParamReady = func(p *autograd.Var) {
		if _, ok := snap[p]; ok {
			t.Errorf("%s reported twice", p.Name)
		}
		snap[p] = append([]float32(nil), p.Grad.Data()...)
		order = append(order, p.Name)
	}
	loss, _, err := task.Loss(g, tensor.NewRNG(1), TrainSplit)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(loss); err != nil {
		t.Fatal(err)
	}
	for _, p := range task.Params() {
		s, ok := snap[p]
		if !ok {
			t.Errorf("%s never reported", p.Name)
			continue
		}
		if !equalBits(s, p.Grad.Data()) {
			t.Errorf("%s was reported before its gradient was final", p.Name)
		}
	}
	if len(order) > 0 && !strings.HasPrefix(order[len(order)-1], "wte") && !strings.HasPrefix(order[len(order)-1], "wpe") {
		t.Errorf("the embeddings should be ready last, got order %v", order)
	}
}
