package t5

import (
	"math"
	"testing"

	"github.com/goformer/goformer/autograd"
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
		run := func(labelled bool) (float32, map[string][]float32) {
			g := autograd.NewGraph(9)
			g.Training = true
			m.Params.ZeroGrad()
			var loss *autograd.Var
			if labelled {
				loss, err = m.LabelledLoss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1, nil)
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
			t.Fatalf("tied %v: labelled loss %.7g, Loss %.7g", tied, part, full)
		}
		if len(partGrads) != len(fullGrads) || len(fullGrads) < 10 {
			t.Fatalf("tied %v: %d gradients, Loss gives %d", tied, len(partGrads), len(fullGrads))
		}
		for name, want := range fullGrads {
			got := partGrads[name]
			scale := 0.0
			for _, v := range want {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*scale+1e-9 {
					t.Fatalf("tied %v: %s[%d]: gradient %.6g, Loss's %.6g", tied, name, i, got[i], want[i])
				}
			}
		}
	}
}
