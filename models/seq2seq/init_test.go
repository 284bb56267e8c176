package seq2seq

import (
	"math"
	"strings"
	"testing"
)

// TestInitMimeticAndSinusoidal checks the two from-scratch initialisations
// of a BART model: the identity added to the query and key weights of
// every attention (cross-attention included) and to nothing else; the
// position tables of both stacks set to scaled sinusoids; and a Marian
// model refused, having no learned positions.
func TestInitMimeticAndSinusoidal(t *testing.T) {
	cfg := Config{ModelType: "bart", VocabSize: 37, DModel: 16, EncoderLayers: 2, DecoderLayers: 2,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 32, DecoderFFNDim: 32, MaxPositionEmbeddings: 20}
	before, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	m.InitMimeticAttention(0.5)
	if err := m.InitSinusoidalPositions(); err != nil {
		t.Fatal(err)
	}
	qk := 0
	for _, name := range m.Params.Names() {
		got, was := m.Params.Get(name).Value.Data(), before.Params.Get(name).Value.Data()
		switch {
		case strings.HasSuffix(name, "_proj.weight") && (strings.Contains(name, ".q_proj") || strings.Contains(name, ".k_proj")):
			qk++
			for i := range got {
				want := was[i]
				if i/16 == i%16 {
					want += 0.5
				}
				if got[i] != want {
					t.Fatalf("%s[%d]: got %g, want %g", name, i, got[i], want)
				}
			}
		case strings.HasSuffix(name, "embed_positions.weight"):
			for pos := 0; pos < len(got)/16; pos++ {
				want := math.Sin(float64(pos)) * float64(m.Config.InitStd) * math.Sqrt2 // column 0: sin(pos)
				if math.Abs(float64(got[pos*16])-want) > 1e-7 {
					t.Fatalf("%s row %d: got %g, want %g", name, pos, got[pos*16], want)
				}
			}
		default:
			for i := range got {
				if got[i] != was[i] {
					t.Fatalf("%s changed", name)
				}
			}
		}
	}
	if qk != 2*(2+2+2) { // encoder self, decoder self and cross: q and k each
		t.Errorf("%d query and key weights, want 12", qk)
	}
	cfg.ModelType = "marian"
	marian, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := marian.InitSinusoidalPositions(); err == nil {
		t.Error("a Marian model's fixed positions were accepted")
	}
}
