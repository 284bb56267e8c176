package seq2seq

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/tensor"
)

// TestMatchesPyTorch loads the Pegasus (pre-LN) and Marian (post-LN)
// checkpoints scripts/reference/seq2seq.py made from torch.nn.Transformer,
// and the BART checkpoint scripts/reference/bart.py made from its own
// rendering of modeling_bart.py, and compares logits, the loss (label
// smoothed, except BART's) and every gradient.
func TestMatchesPyTorch(t *testing.T) {
	smoothing := map[string]float32{"pegasus": 0.1, "marian": 0.1, "bart": 0}
	for _, name := range []string{"pegasus", "marian", "bart"} {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.PreLN() != (name == "pegasus") {
			t.Fatalf("%s: PreLN = %v", name, m.Config.PreLN())
		}
		ref, err := tensor.ReadSafetensors(filepath.Join("testdata", name+"_ref.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		const b, s, tl = 2, 7, 6
		g := autograd.NewGraph(1)
		logits, loss, err := m.Loss(g, fixture.IDs(fixture.Get(t, ref, "src")), s, fixture.IDs(fixture.Get(t, ref, "tgt_in")), fixture.IDs(fixture.Get(t, ref, "labels")), tl, b,
			fixture.Bools(fixture.Get(t, ref, "src_pad")), fixture.Bools(fixture.Get(t, ref, "tgt_pad")), smoothing[name])
		if err != nil {
			t.Fatal(err)
		}
		e := fixture.MaxRelErr(logits.Value.Data(), fixture.Get(t, ref, "logits"))
		if !(e <= 1e-5) {
			t.Errorf("%s: logits differ from PyTorch by %.3g relative", name, e)
		}
		wantLoss := fixture.Get(t, ref, "loss")[0]
		if d := math.Abs(float64(loss.Value.Item()-wantLoss)) / float64(wantLoss); !(d <= 1e-5) {
			t.Errorf("%s: loss %g, PyTorch %g", name, loss.Value.Item(), wantLoss)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for _, p := range m.Params.List() {
			// Floor of 1 for the key biases, whose true gradient is zero.
			rel := fixture.NormRelErr(p.Grad.Data(), fixture.Get(t, ref, "grad."+p.Name), 1)
			worst = math.Max(worst, rel)
			if !(rel <= 1e-4) {
				t.Errorf("%s: gradient of %s differs from PyTorch by %.3g relative to its norm", name, p.Name, rel)
			}
		}
		t.Logf("%s: logits error %.2g, loss %g vs %g, worst gradient error %.2g over %d parameters",
			name, e, loss.Value.Item(), wantLoss, worst, len(m.Params.List()))
	}
}

func TestSaveLoadBitIdentical(t *testing.T) {
	for _, typ := range []string{"marian", "pegasus"} {
		cfg := Config{ModelType: typ, VocabSize: 13, DModel: 8, EncoderLayers: 1, DecoderLayers: 2, EncoderAttentionHeads: 2,
			DecoderAttentionHeads: 2, EncoderFFNDim: 16, DecoderFFNDim: 16, MaxPositionEmbeddings: 10, ScaleEmbedding: true}
		m, err := New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		m2, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params.List() {
			for i, v := range p.Value.Data() {
				if math.Float32bits(v) != math.Float32bits(m2.Params.Get(p.Name).Value.Data()[i]) {
					t.Fatalf("%s: %s[%d] changed", typ, p.Name, i)
				}
			}
		}
	}
}

func TestBasePresetIsThePapers(t *testing.T) {
	m, err := New(Base(37000), 1)
	if err != nil {
		t.Fatal(err)
	}
	// The paper's base model: about 65M parameters with a 37k shared vocabulary.
	if n := m.Params.Count(); n < 60e6 || n > 66e6 {
		t.Fatalf("base model has %d parameters", n)
	}
	bad := Base(100)
	bad.EncoderAttentionHeads = 7
	if _, err := New(bad, 1); err == nil || !strings.Contains(err.Error(), "encoder_attention_heads") {
		t.Fatalf("bad heads: %v", err)
	}
}
