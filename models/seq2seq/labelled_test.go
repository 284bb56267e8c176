package seq2seq

import (
	"math"
	"testing"

	"github.com/goformer/goformer/autograd"
)

// TestLabelledLossMatchesLoss: the loss over the labelled positions alone
// equals Loss's (padding positions, dropout on, label smoothing) and so do
// the gradients of every parameter, final_logits_bias and the tied
// embedding included.
func TestLabelledLossMatchesLoss(t *testing.T) {
	cfg := Config{ModelType: "bart", VocabSize: 23, DModel: 16, EncoderLayers: 1, DecoderLayers: 2,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 24, DecoderFFNDim: 24,
		MaxPositionEmbeddings: 16, PadTokenID: 1, EOSTokenID: 2, DecoderStartTokenID: 2, Dropout: 0.1, InitStd: 0.1}
	m, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.biasVar.Value.Data() {
		m.biasVar.Value.Data()[i] = float32(i%5) * 0.1
	}
	const batch, srcLen, tgtLen, pad = 3, 5, 4, 1
	src := []int32{5, 6, 7, 2, pad, 8, 9, 2, pad, pad, 10, 11, 12, 13, 2}
	srcPad := make([]bool, len(src))
	for i, v := range src {
		srcPad[i] = v == pad
	}
	tgtIn := []int32{2, 5, 6, 7, 2, 9, pad, pad, 2, 11, 12, pad}
	labels := []int32{5, 6, 7, 2, 9, 2, pad, pad, 11, 12, 2, pad}
	tgtPad := []bool{false, false, false, false, false, false, true, true, false, false, false, true}
	run := func(labelled bool) (float32, map[string][]float32) {
		g := autograd.NewGraph(9)
		g.Training = true
		m.Params.ZeroGrad()
		var loss *autograd.Var
		if labelled {
			var rows []int32
			loss, err = m.LabelledLoss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1, &rows)
		} else {
			_, loss, err = m.Loss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		grads := map[string][]float32{}
		for _, p := range m.Params.List() {
			if p.Grad != nil {
				grads[p.Name] = append([]float32(nil), p.Grad.Data()...)
			}
		}
		return loss.Value.Item(), grads
	}
	full, fullGrads := run(false)
	part, partGrads := run(true)
	if math.Abs(float64(full-part)) > 1e-6*math.Abs(float64(full)) {
		t.Fatalf("labelled loss %.7g, Loss %.7g", part, full)
	}
	if len(partGrads) != len(fullGrads) || len(fullGrads) < 10 {
		t.Fatalf("%d gradients, Loss gives %d", len(partGrads), len(fullGrads))
	}
	for name, want := range fullGrads {
		got := partGrads[name]
		scale := 0.0
		for _, v := range want {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*scale+1e-9 {
				t.Fatalf("%s[%d]: gradient %.6g, Loss's %.6g", name, i, got[i], want[i])
			}
		}
	}
}
