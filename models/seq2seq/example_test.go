package seq2seq_test

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/seq2seq"
)

// Build a small pre-LN (Pegasus-layout) encoder-decoder and compute the
// label-smoothed loss of translating one padded batch.
func Example() {
	cfg := seq2seq.Config{ModelType: "pegasus", VocabSize: 20, DModel: 32, EncoderLayers: 2, DecoderLayers: 2,
		EncoderAttentionHeads: 4, DecoderAttentionHeads: 4, EncoderFFNDim: 64, DecoderFFNDim: 64,
		MaxPositionEmbeddings: 64, ScaleEmbedding: true, PadTokenID: 0, EOSTokenID: 1}
	m, err := seq2seq.New(cfg, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Two source sentences of length 4 (the second padded), targets of 3.
	src := []int32{5, 6, 7, 1, 8, 9, 1, 0}
	srcPad := []bool{false, false, false, false, false, false, false, true}
	tgtIn := []int32{0, 5, 6, 0, 8, 9} // shifted right, starting with the start token (pad)
	labels := []int32{5, 6, 1, 8, 9, 1}
	g := autograd.NewGraph(1)
	logits, loss, err := m.Loss(g, src, 4, tgtIn, labels, 3, 2, srcPad, nil, 0.1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("logits:", logits.Shape())
	fmt.Println("pre-LN:", m.Config.PreLN(), "loss near ln(20):", loss.Value.Item() > 2 && loss.Value.Item() < 4)
	// Output:
	// logits: [2 3 20]
	// pre-LN: true loss near ln(20): true
}

// Translate a batch of tokenized sentences with beam search. With a trained
// model directory (goformer train --preset multi30k-de-en) the model comes
// from seq2seq.Load and the ids from tokenizer.LoadHF(dir + "/tokenizer.json").
func ExampleModel_Translate() {
	cfg := seq2seq.Config{ModelType: "pegasus", VocabSize: 20, DModel: 32, EncoderLayers: 1, DecoderLayers: 1,
		EncoderAttentionHeads: 4, DecoderAttentionHeads: 4, EncoderFFNDim: 64, DecoderFFNDim: 64,
		MaxPositionEmbeddings: 64, ScaleEmbedding: true, PadTokenID: 0, EOSTokenID: 1}
	m, err := seq2seq.New(cfg, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	src := [][]int32{{5, 6, 7}, {8, 9}} // EOS is appended
	out, err := m.Translate(src, seq2seq.TranslateOptions{Beam: 4, LengthPenalty: 0.6, MaxLenA: 1, MaxLenB: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The longest source, EOS included, has 4 tokens: outputs have at most 1·4+2.
	fmt.Println(len(out), "translations, at most 6 tokens each:", len(out[0]) <= 6, len(out[1]) <= 6)
	// Output:
	// 2 translations, at most 6 tokens each: true true
}
