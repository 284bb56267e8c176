package seq2seq

import (
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
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
	var rows []int32
	fixture.CheckSameLoss(t, "LabelledLoss", &m.Params, func(g *autograd.Graph) (*autograd.Var, error) {
		_, loss, err := m.Loss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1)
		return loss, err
	}, func(g *autograd.Graph) (*autograd.Var, error) {
		return m.LabelledLoss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1, &rows)
	})
}
