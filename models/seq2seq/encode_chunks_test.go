package seq2seq

import (
	"math"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/nn"
	"github.com/goformer/goformer/tensor"
)

// TestEncodeInChunksMatchesOneCall: a batch larger than one chunk
// (encodeChunkTokens) is encoded in pieces whose outputs, padding rows
// included, equal those of one Encode over the whole batch.
func TestEncodeInChunksMatchesOneCall(t *testing.T) {
	cfg := Config{ModelType: "bart", VocabSize: 50, DModel: 16, EncoderLayers: 2, DecoderLayers: 1,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 24, DecoderFFNDim: 24,
		MaxPositionEmbeddings: 128, PadTokenID: 1, EOSTokenID: 2, DecoderStartTokenID: 2, InitStd: 0.1}
	m, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(4)
	const batch = 141 // 4096/90 = 45 a chunk: three full chunks and one of 6
	src := make([][]int32, batch)
	for i := range src {
		src[i] = make([]int32, 20+rng.IntN(71))
		for k := range src[i] {
			src[i][k] = int32(3 + rng.IntN(47))
		}
		src[i][len(src[i])-1] = 2
	}
	ids, pad, s, err := nn.PadSources(src, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s != 90 || batch <= encodeChunkTokens/s {
		t.Fatalf("the batch (%d of %d tokens) fits one chunk; the test needs several", batch, s)
	}
	g1, g2 := autograd.NewGraph(0), autograd.NewGraph(0)
	g1.NoGrad, g2.NoGrad = true, true
	chunked, err := m.encodeInChunks(g1, ids, batch, s, pad)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := m.Encode(g2, ids, batch, s, pad)
	if err != nil {
		t.Fatal(err)
	}
	a, b := chunked.Value.Data(), whole.Value.Data()
	if len(a) != len(b) {
		t.Fatalf("chunked output has %d values, one call %d", len(a), len(b))
	}
	for i := range a {
		if d := math.Abs(float64(a[i] - b[i])); d > 1e-5*math.Max(1, math.Abs(float64(b[i]))) {
			t.Fatalf("value %d (source %d, position %d): chunked %g, one call %g", i, i/(s*16), i/16%s, a[i], b[i])
		}
	}
}
