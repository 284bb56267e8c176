package generate

import (
	"math"
	"testing"

	"github.com/goformer/goformer/tensor"
)

func TestSampler(t *testing.T) {
	logits := []float32{1, 3, 2, -1}
	if got := (&Sampler{}).Next(logits); got != 1 {
		t.Fatalf("greedy = %d, want 1", got)
	}
	// Top-k 2 never picks outside {1, 2}; the frequencies follow softmax.
	s := &Sampler{Temperature: 1, TopK: 2, RNG: tensor.NewRNG(1)}
	counts := map[int32]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		counts[s.Next(logits)]++
	}
	if counts[0] != 0 || counts[3] != 0 {
		t.Fatalf("top-k 2 drew outside the top 2: %v", counts)
	}
	want := 1 / (1 + math.Exp(-1)) // P(token 1 | tokens 1, 2)
	if got := float64(counts[1]) / n; math.Abs(got-want) > 0.02 {
		t.Fatalf("P(1) = %.3f, want %.3f", got, want)
	}
	// Top-p 0.5 keeps only the most likely token here (its probability is 0.66).
	s = &Sampler{Temperature: 1, TopP: 0.5, RNG: tensor.NewRNG(2)}
	for i := 0; i < 100; i++ {
		if got := s.Next(logits); got != 1 {
			t.Fatalf("top-p 0.5 drew %d", got)
		}
	}
	for _, bad := range []Sampler{{Temperature: -1}, {TopK: -1}, {TopP: 1.5}, {Temperature: 1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
