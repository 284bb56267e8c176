package gpt

import (
	"math"
	"testing"

	"github.com/goformer/goformer/autograd"
)

// TestCacheMatchesFullRecompute decodes greedily with the KV cache and by
// recomputing the whole prefix each step: the tokens must be the same and
// the logits agree to float32 rounding.
func TestCacheMatchesFullRecompute(t *testing.T) {
	m, err := New(Config{VocabSize: 23, NPositions: 40, NEmbd: 32, NLayer: 3, NHead: 4}, 9)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params.List() { // larger weights: sharper, less tied predictions
		for i := range p.Value.Data() {
			p.Value.Data()[i] *= 8
		}
	}
	prompt := []int32{3, 17, 5}
	c := m.NewCache()
	var logits []float32
	for _, tok := range prompt {
		if logits, err = c.Next(tok); err != nil {
			t.Fatal(err)
		}
	}
	seq := append([]int32(nil), prompt...)
	g := autograd.NewGraph(0)
	g.NoGrad = true
	for step := 0; step < 30; step++ {
		g.Reset()
		full, _, err := m.Forward(g, seq, 1, len(seq), nil)
		if err != nil {
			t.Fatal(err)
		}
		v := m.Config.VocabSize
		last := full.Value.Data()[(len(seq)-1)*v:]
		var maxDiff, scale float64
		best, bestFull := 0, 0
		for i := range last {
			maxDiff = math.Max(maxDiff, math.Abs(float64(last[i]-logits[i])))
			scale = math.Max(scale, math.Abs(float64(last[i])))
			if logits[i] > logits[best] {
				best = i
			}
			if last[i] > last[bestFull] {
				bestFull = i
			}
		}
		if maxDiff > 1e-4*scale {
			t.Fatalf("step %d: cached logits differ by %g (scale %g)", step, maxDiff, scale)
		}
		if best != bestFull {
			t.Fatalf("step %d: cache picks %d, full recompute %d", step, best, bestFull)
		}
		seq = append(seq, int32(best))
		if logits, err = c.Next(int32(best)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != len(seq) {
		t.Fatalf("cache holds %d positions, sequence %d", c.Len(), len(seq))
	}
}
