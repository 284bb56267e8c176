package train

import (
	"testing"
)

// TestTrainingStepAllocatesNothing: after the first step, the Trainer's
// own step (batch, forward, backward, clipping, AdamW: what Run repeats)
// makes no Go heap allocation, with dropout on as the presets have it.
func TestTrainingStepAllocatesNothing(t *testing.T) {
	tr, _ := newTrainerDropout(t, t.TempDir(), 100, 0.1)
	step := func() {
		if _, err := tr.TrainStep(); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(10, step); n != 0 {
		t.Fatalf("a training step allocates %v times", n)
	}
}
