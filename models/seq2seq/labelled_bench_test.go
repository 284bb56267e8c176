package seq2seq

import (
	"testing"

	"github.com/goformer/goformer/autograd"
)

// BenchmarkLabelledLossSummarizer times one training step's loss and
// backward pass at the debian-summarize preset's shapes (mBART, 3+3 layers,
// d_model 128, vocabulary 8,000; 105 descriptions of 78 tokens; synopses of
// 6-15 tokens with every tenth at 24, 11.9 on average, padded to 24 as the
// preset's batches pad 12.2 to 24.0), with the decoder run in groups of
// similar target length and over the whole padded batch, back to back.
//
//	go test ./models/seq2seq -run '^$' -bench LabelledLossSummarizer -count 5
func BenchmarkLabelledLossSummarizer(b *testing.B) {
	cfg := Config{ModelType: "mbart", VocabSize: 8000, DModel: 128, EncoderLayers: 3, DecoderLayers: 3,
		EncoderAttentionHeads: 4, DecoderAttentionHeads: 4, EncoderFFNDim: 512, DecoderFFNDim: 512,
		ActivationFunction: "relu", MaxPositionEmbeddings: 128, PadTokenID: 1, EOSTokenID: 2,
		DecoderStartTokenID: 2, Dropout: 0.1, InitStd: 0.02}
	m, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	const batch, srcLen, tgtLen, pad = 105, 78, 24, 1
	src, srcPad := make([]int32, batch*srcLen), make([]bool, batch*srcLen)
	for i := range src {
		src[i] = int32(3 + (i*7919)%7990)
	}
	tgtIn, labels, tgtPad := make([]int32, batch*tgtLen), make([]int32, batch*tgtLen), make([]bool, batch*tgtLen)
	for r := 0; r < batch; r++ {
		n := 6 + r%10 // target tokens, EOS included
		if r%10 == 9 {
			n = tgtLen
		}
		for p := 0; p < tgtLen; p++ {
			i := r*tgtLen + p
			switch {
			case p < n:
				labels[i] = int32(3 + (i*104729)%7990)
				if p == n-1 {
					labels[i] = 2
				}
			default:
				labels[i] = pad
			}
			switch {
			case p == 0:
				tgtIn[i] = 2
			case p <= n-1:
				tgtIn[i] = labels[i-1]
			default:
				tgtIn[i], tgtPad[i] = pad, true
			}
		}
	}
	for _, grouped := range []bool{true, false} {
		name := "whole"
		if grouped {
			name = "grouped"
		}
		b.Run(name, func(b *testing.B) {
			decodeInGroups = grouped
			defer func() { decodeInGroups = true }()
			g := autograd.NewGraph(1)
			g.Training = true
			var rows []int32
			for b.Loop() {
				g.Reset()
				m.Params.ZeroGrad()
				loss, err := m.LabelledLoss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1, &rows)
				if err != nil {
					b.Fatal(err)
				}
				if err := g.Backward(loss); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
