package seq2seq

import (
	"bytes"
	"flag"
	"math"
	"os"
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
	smoothing := map[string]float32{"pegasus": 0.1, "marian": 0.1, "bart": 0, "mbart": 0}
	for _, name := range []string{"pegasus", "marian", "bart", "mbart"} {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.PreLN() != (name == "pegasus" || name == "mbart") {
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
	for _, typ := range []string{"marian", "pegasus", "pegasus+pointer"} {
		cfg := Config{ModelType: strings.TrimSuffix(typ, "+pointer"), VocabSize: 13, DModel: 8, EncoderLayers: 1, DecoderLayers: 2, EncoderAttentionHeads: 2,
			DecoderAttentionHeads: 2, EncoderFFNDim: 16, DecoderFFNDim: 16, MaxPositionEmbeddings: 10, ScaleEmbedding: true,
			PointerGenerator: strings.HasSuffix(typ, "+pointer")}
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

var update = flag.Bool("update", false, "rewrite testdata/bart_from_goformer (then run scripts/reference/bart.py)")

// TestBartFromGoformerLoadsInPyTorch: a BART checkpoint goformer saves
// holds exactly the tensors BartForConditionalGeneration saves (the
// reference asserts names and shapes) and gives the same logits in the
// PyTorch reference; the committed checkpoint is what Save writes today.
func TestBartFromGoformerLoadsInPyTorch(t *testing.T) {
	bos, eos := 0, 2
	m, err := New(Config{ModelType: "bart", VocabSize: 29, DModel: 16, EncoderLayers: 2, DecoderLayers: 2, EncoderAttentionHeads: 4,
		DecoderAttentionHeads: 4, EncoderFFNDim: 32, DecoderFFNDim: 32, ActivationFunction: "gelu", MaxPositionEmbeddings: 40,
		ScaleEmbedding: false, InitStd: 0.3, BOSTokenID: 0, PadTokenID: 1, EOSTokenID: 2, DecoderStartTokenID: 2,
		ForcedBOSTokenID: &bos, ForcedEOSTokenID: &eos}, 5)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "bart_from_goformer")
	if *update {
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	fresh := t.TempDir()
	if err := m.Save(fresh); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"config.json", "model.safetensors"} {
		a, err1 := os.ReadFile(filepath.Join(dir, name))
		b, err2 := os.ReadFile(filepath.Join(fresh, name))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Fatalf("testdata/bart_from_goformer/%s is not what Save writes now (%v %v): rerun with -update and scripts/reference/bart.py", name, err1, err2)
		}
	}
	ref, err := tensor.ReadSafetensors(filepath.Join("testdata", "bart_ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := tensor.ReadSafetensors(filepath.Join("testdata", "bart_from_goformer_ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	g := autograd.NewGraph(1)
	logits, _, err := m.Loss(g, fixture.IDs(fixture.Get(t, ref, "src")), 7, fixture.IDs(fixture.Get(t, ref, "tgt_in")), fixture.IDs(fixture.Get(t, ref, "labels")), 6, 2,
		fixture.Bools(fixture.Get(t, ref, "src_pad")), fixture.Bools(fixture.Get(t, ref, "tgt_pad")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if e := fixture.MaxRelErr(logits.Value.Data(), fixture.Get(t, want, "logits")); !(e <= 1e-5) {
		t.Fatalf("the reference's logits from goformer's BART checkpoint differ by %.3g relative", e)
	} else {
		t.Logf("logits from goformer's BART checkpoint in PyTorch: relative error %.2g", e)
	}
}
