package train

import (
	"testing"
	"time"

	"github.com/goformer/goformer/dist"
)

// TestTrainingStepAllocatesNothing: after the first step, the Trainer's
// own step (batch, forward, backward, clipping, AdamW: what Run repeats)
// makes no Go heap allocation, with dropout on as the presets have it.
func TestTrainingStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	tr, _ := newTrainerDropout(t, t.TempDir(), 100, 0.1)
	step := func() {
		if _, err := tr.TrainStep(); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Fatalf("a training step allocates %v times", n)
	}
}

// TestDataParallelStepAllocatesNothing: the same for a step of a 2-rank
// run (ranks as goroutines): the gradient buckets, their jobs and the
// losses' sum are made once, not per step.
func TestDataParallelStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	comms := dist.NewLocal(2)
	var trainers [2]*Trainer
	for r, c := range comms {
		tr, _ := dpTrainer(t, t.TempDir(), 100, c, 1, 4096)
		tr.comm = c
		tr.red = newReducer(c, tr.Task.Params(), 4096, time.Minute)
		defer tr.red.close()
		trainers[r] = tr
	}
	// Rank 1 steps on its own goroutine, told by a channel (no allocation).
	next, done := make(chan bool), make(chan error)
	go func() {
		for range next {
			_, _, err := trainers[1].trainStep(nil)
			done <- err
		}
	}()
	defer close(next)
	step := func() {
		next <- true
		if _, _, err := trainers[0].trainStep(nil); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Fatalf("a 2-rank step allocates %v times (both ranks)", n)
	}
}
