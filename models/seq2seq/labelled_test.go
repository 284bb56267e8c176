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

// TestLabelledLossGrouped: a batch large enough to be decoded in groups of
// similar target length (targets of 1 to 9 tokens, padded to 12) gives
// Loss's loss and gradients; without dropout, since the groups draw their
// masks in other shapes. The groups are checked to form.
func TestLabelledLossGrouped(t *testing.T) {
	for _, modelType := range []string{"bart", "marian"} {
		cfg := Config{ModelType: modelType, VocabSize: 23, DModel: 16, EncoderLayers: 1, DecoderLayers: 2,
			EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 24, DecoderFFNDim: 24,
			MaxPositionEmbeddings: 16, PadTokenID: 1, EOSTokenID: 2, DecoderStartTokenID: 2, InitStd: 0.1}
		m, err := New(cfg, 5)
		if err != nil {
			t.Fatal(err)
		}
		const batch, srcLen, tgtLen = groupedRows, groupedSrcLen, groupedTgtLen
		src, srcPad, tgtIn, labels, tgtPad := groupedBatch(func(b, p, ns int, src []int32) int32 { return int32(5 + (b*11+p*5)%18) })
		if gr := m.targetGroups(batch, tgtLen, tgtPad, labels); len(gr) < 2 {
			t.Fatalf("%s: %d groups, want several", modelType, len(gr))
		}
		fixture.CheckSameLoss(t, modelType+" grouped LabelledLoss", &m.Params, func(g *autograd.Graph) (*autograd.Var, error) {
			_, loss, err := m.Loss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1)
			return loss, err
		}, func(g *autograd.Graph) (*autograd.Var, error) {
			return m.LabelledLoss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1, nil)
		})
	}
}

// The batch of groupedBatch: rows, padded source and target lengths.
const groupedRows, groupedSrcLen, groupedTgtLen = 40, 7, 12

// groupedBatch is a batch that LabelledLoss decodes in groups of similar
// target length: 40 rows, sources of 3 to 7 tokens padded to 7 (EOS 2,
// pad 1), targets of 1 to 9 tokens padded to 12; label(b, p, ns, src)
// gives row b's target token p (the row's source has ns tokens before
// EOS, src holds it), the last being EOS.
func groupedBatch(label func(b, p, ns int, src []int32) int32) (src []int32, srcPad []bool, tgtIn, labels []int32, tgtPad []bool) {
	const batch, srcLen, tgtLen, pad = groupedRows, groupedSrcLen, groupedTgtLen, 1
	src, srcPad = make([]int32, batch*srcLen), make([]bool, batch*srcLen)
	tgtIn, labels, tgtPad = make([]int32, batch*tgtLen), make([]int32, batch*tgtLen), make([]bool, batch*tgtLen)
	for b := 0; b < batch; b++ {
		ns := 3 + b%5
		for p := 0; p < srcLen; p++ {
			i := b*srcLen + p
			switch {
			case p < ns:
				src[i] = int32(5 + (b*7+p*3)%18)
			case p == ns:
				src[i] = 2
			default:
				src[i], srcPad[i] = pad, true
			}
		}
		nt := 1 + (b*5)%9 // target tokens, EOS included
		for p := 0; p < tgtLen; p++ {
			i := b*tgtLen + p
			switch {
			case p < nt:
				labels[i] = label(b, p, ns, src[b*srcLen:(b+1)*srcLen])
				if p == nt-1 {
					labels[i] = 2
				}
				tgtIn[i] = 2
				if p > 0 {
					tgtIn[i] = labels[i-1]
				}
			default:
				tgtIn[i], labels[i], tgtPad[i] = pad, pad, true
			}
		}
	}
	return src, srcPad, tgtIn, labels, tgtPad
}
