package bench

import (
	"math"
	"testing"

	"github.com/goformer/goformer/models/seq2seq"
)

// TestTranslateBatchedEqualsAlone: beam search over a batch whose sentences
// end at different steps (rows dropped, parents renumbered) finds, for each
// sentence, the hypothesis it finds for that sentence alone, of exactly its
// number of steps.
func TestTranslateBatchedEqualsAlone(t *testing.T) {
	cfg := seq2seq.Base(61)
	cfg.DModel, cfg.EncoderFFNDim, cfg.DecoderFFNDim, cfg.EncoderLayers, cfg.DecoderLayers = 32, 64, 64, 2, 2
	cfg.EncoderAttentionHeads, cfg.DecoderAttentionHeads, cfg.Dropout, cfg.MaxPositionEmbeddings = 4, 4, 0, 64
	cfg.PadTokenID, cfg.DecoderStartTokenID, cfg.EOSTokenID, cfg.InitStd = 60, 60, 0, 0.5
	m, err := seq2seq.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	in := &TranslateInputs{
		Source: [][]int32{{5, 9, 0}, {7, 0}, {11, 12, 13, 14, 0}, {3, 0}, {21, 22, 0}},
		Steps:  []int{4, 7, 2, 5, 1},
	}
	type hyp struct {
		tokens []int32
		score  float64
	}
	run := func(in *TranslateInputs, batch int) []hyp {
		out := make([]hyp, len(in.Source))
		r, err := Translate(m, in, batch, 3, func(i int, tokens []int32, score float64) {
			out[i] = hyp{append([]int32(nil), tokens...), score}
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Sentences != len(in.Source) || r.TokensPerS <= 0 {
			t.Fatalf("result %+v", r)
		}
		return out
	}
	batched := run(in, 4)
	for i := range in.Source {
		alone := run(&TranslateInputs{Source: in.Source[i : i+1], Steps: in.Steps[i : i+1]}, 1)[0]
		b := batched[i]
		if len(b.tokens) != in.Steps[i] {
			t.Fatalf("sentence %d: %d tokens, want %d", i, len(b.tokens), in.Steps[i])
		}
		if math.Abs(b.score-alone.score) > 1e-4*math.Abs(alone.score) {
			t.Fatalf("sentence %d: batched score %g, alone %g", i, b.score, alone.score)
		}
		for j := range alone.tokens {
			if b.tokens[j] != alone.tokens[j] {
				t.Fatalf("sentence %d: batched %v, alone %v", i, b.tokens, alone.tokens)
			}
		}
		if b.score >= 0 {
			t.Fatalf("sentence %d: a sum of log-probabilities %g ≥ 0", i, b.score)
		}
	}
}
