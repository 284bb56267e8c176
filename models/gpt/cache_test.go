package gpt

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/generate"
)

func sharpModel(t *testing.T) *Model {
	t.Helper()
	m, err := New(Config{VocabSize: 23, NPositions: 40, NEmbd: 32, NLayer: 3, NHead: 4}, 9)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params.List() { // larger weights: sharper, less tied predictions
		for i := range p.Value.Data() {
			p.Value.Data()[i] *= 8
		}
	}
	return m
}

// lastLogits recomputes the whole sequence and returns its last position's
// logits.
func lastLogits(t *testing.T, m *Model, seq []int32) []float32 {
	t.Helper()
	g := autograd.NewGraph(0)
	g.NoGrad = true
	full, _, err := m.Forward(g, seq, 1, len(seq), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := m.Config.VocabSize
	return full.Value.Data()[(len(seq)-1)*v:]
}

// TestDecoderMatchesFullRecompute decodes a batch of prompts of different
// lengths (left-padded in the prefill) greedily with the KV cache and, row
// by row, by recomputing the whole prefix each step: the logits agree to
// float32 rounding at every step and the tokens are the same. The prefill
// runs whole, in chunks of two positions and of one (prefillTokens).
func TestDecoderMatchesFullRecompute(t *testing.T) {
	for _, tokens := range []int{512, 6, 1} {
		saved := prefillTokens
		prefillTokens = tokens
		t.Run(fmt.Sprintf("prefill-%d", tokens), testDecoderMatchesFullRecompute)
		prefillTokens = saved
	}
}

func testDecoderMatchesFullRecompute(t *testing.T) {
	m := sharpModel(t)
	prompts := [][]int32{{3, 17, 5}, {9}, {1, 2, 3, 4, 5, 6}}
	dec, err := m.NewDecoder(prompts, 1, 30)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([][]int32, len(prompts))
	for i, p := range prompts {
		seqs[i] = append([]int32(nil), p...)
	}
	tokens := append([]int32(nil), dec.Starts()...)
	v := m.Config.VocabSize
	for step := 0; step < 30; step++ {
		logits, err := dec.Step(tokens, nil)
		if err != nil {
			t.Fatal(err)
		}
		for r := range prompts {
			got := logits[r*v : (r+1)*v]
			want := lastLogits(t, m, seqs[r])
			var maxDiff, scale float64
			best, bestFull := 0, 0
			for i := range want {
				maxDiff = math.Max(maxDiff, math.Abs(float64(want[i]-got[i])))
				scale = math.Max(scale, math.Abs(float64(want[i])))
				if got[i] > got[best] {
					best = i
				}
				if want[i] > want[bestFull] {
					bestFull = i
				}
			}
			if maxDiff > 1e-4*scale {
				t.Fatalf("step %d row %d: cached logits differ by %g (scale %g)", step, r, maxDiff, scale)
			}
			if best != bestFull {
				t.Fatalf("step %d row %d: cache picks %d, full recompute %d", step, r, best, bestFull)
			}
			seqs[r] = append(seqs[r], int32(best))
			tokens[r] = int32(best)
		}
	}
	if _, err := dec.Step(tokens, nil); err == nil {
		t.Fatal("a 31st step on a decoder of 30 succeeded")
	}
}

// TestGPTSearchSharesTheDecoder: generate's greedy search over the batched
// GPT decoder gives each prompt's greedy continuation, beam search with
// one beam is greedy, and beam 3 finds a sequence at least as likely.
func TestGPTSearchSharesTheDecoder(t *testing.T) {
	m := sharpModel(t)
	prompts := [][]int32{{3, 17, 5}, {9, 9}}
	cfg := generate.SearchConfig{Vocab: 23, EOS: -1, MaxLen: 8, Beam: 1, Starts: []int32{5, 9}}
	dec, err := m.NewDecoder(prompts, 1, cfg.MaxLen+1)
	if err != nil {
		t.Fatal(err)
	}
	greedy, err := generate.Greedy(dec, len(prompts), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		seq := append([]int32(nil), p...)
		for range cfg.MaxLen {
			last := lastLogits(t, m, seq)
			best := 0
			for j := range last {
				if last[j] > last[best] {
					best = j
				}
			}
			seq = append(seq, int32(best))
		}
		if got, want := greedy[i], seq[len(p):]; !slices.Equal(got, want) {
			t.Fatalf("prompt %d: batched greedy %v, recomputed %v", i, got, want)
		}
	}
	dec1, _ := m.NewDecoder(prompts, 1, cfg.MaxLen+1)
	beam1, err := generate.BeamSearch(dec1, len(prompts), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range prompts {
		if !slices.Equal(beam1[i], greedy[i]) {
			t.Fatalf("prompt %d: beam 1 %v, greedy %v", i, beam1[i], greedy[i])
		}
	}
	cfg.Beam = 3
	dec3, _ := m.NewDecoder(prompts, 3, cfg.MaxLen+1)
	beam3, err := generate.BeamSearch(dec3, len(prompts), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		if lb, lg := logProb(t, m, p, beam3[i]), logProb(t, m, p, greedy[i]); lb < lg-1e-4 {
			t.Fatalf("prompt %d: beam 3 %v scores %g, below greedy's %g", i, beam3[i], lb, lg)
		}
	}
}

// logProb scores a continuation by full recomputation.
func logProb(t *testing.T, m *Model, prompt, cont []int32) float64 {
	seq := append([]int32(nil), prompt...)
	var lp float64
	for _, tok := range cont {
		last := lastLogits(t, m, seq)
		mx := float64(last[0])
		for _, v := range last {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for _, v := range last {
			sum += math.Exp(float64(v) - mx)
		}
		lp += float64(last[tok]) - mx - math.Log(sum)
		seq = append(seq, tok)
	}
	return lp
}
