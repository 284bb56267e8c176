package t5

import (
	"fmt"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
)

// TestLabelledLossMatchesLoss: the loss over the labelled positions alone
// equals Loss's, with padding, dropout and label smoothing, and so do the
// gradients of every parameter, tied and untied heads both.
func TestLabelledLossMatchesLoss(t *testing.T) {
	for _, tied := range []bool{true, false} {
		cfg := Config{VocabSize: 19, DModel: 8, DKV: 3, DFF: 10, NumLayers: 2, NumHeads: 2, FeedForwardProj: "relu", DropoutRate: 0.1}
		if !tied {
			cfg.FeedForwardProj, cfg.TieWordEmbeddings = "gated-gelu", &tied
		}
		m, err := New(cfg, 5)
		if err != nil {
			t.Fatal(err)
		}
		pad := int32(m.Config.PadTokenID)
		const batch, srcLen, tgtLen = 2, 4, 5
		src := []int32{4, 5, 6, 1, 7, 8, pad, pad}
		srcPad := []bool{false, false, false, false, false, false, true, true}
		tgtIn := []int32{pad, 9, 10, 11, 12, pad, 13, pad, pad, pad}
		labels := []int32{9, 10, 11, 12, 1, 13, 1, pad, pad, pad}
		tgtPad := []bool{false, false, false, false, false, false, false, true, true, true}
		fixture.CheckSameLoss(t, fmt.Sprintf("tied %v", tied), &m.Params, func(g *autograd.Graph) (*autograd.Var, error) {
			_, loss, err := m.Loss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1)
			return loss, err
		}, func(g *autograd.Graph) (*autograd.Var, error) {
			return m.LabelledLoss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1, nil)
		})
	}
}
