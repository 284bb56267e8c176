package bert

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/tensor"
)

// TestMatchesPyTorch compares both heads of BERT, RoBERTa and DistilBERT
// with the PyTorch references (scripts/reference/bert.py,
// bert_families.py): logits, loss and every gradient; then saves and loads
// back bit-identically, in the family's own names and config fields.
func TestMatchesPyTorch(t *testing.T) {
	for _, tc := range []struct {
		name string
		head Head
	}{{"mlm", MaskedLM}, {"qa", QuestionAnswering}, {"roberta_mlm", MaskedLM}, {"roberta_qa", QuestionAnswering},
		{"distilbert_mlm", MaskedLM}, {"distilbert_qa", QuestionAnswering}} {
		m, err := Load(filepath.Join("testdata", tc.name), tc.head)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := tensor.ReadSafetensors(filepath.Join("testdata", tc.name+"_ref.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		const b, n = 2, 9
		ids := fixture.IDs(fixture.Get(t, ref, "ids"))
		var types []int32
		if ref.Info("types") != nil {
			types = fixture.IDs(fixture.Get(t, ref, "types"))
		}
		pad := fixture.Bools(fixture.Get(t, ref, "pad"))
		g := autograd.NewGraph(1)
		var logits, loss *autograd.Var
		if tc.head == MaskedLM {
			logits, loss, err = m.MaskedLMLoss(g, ids, types, b, n, pad, fixture.IDs(fixture.Get(t, ref, "labels")))
		} else {
			logits, loss, err = m.QALoss(g, ids, types, b, n, pad, fixture.IDs(fixture.Get(t, ref, "starts")), fixture.IDs(fixture.Get(t, ref, "ends")))
		}
		if err != nil {
			t.Fatal(err)
		}
		e := fixture.MaxRelErr(logits.Value.Data(), fixture.Get(t, ref, "logits"))
		if !(e <= 1e-5) {
			t.Errorf("%s: logits differ from PyTorch by %.3g relative", tc.name, e)
		}
		wantLoss := fixture.Get(t, ref, "loss")[0]
		if d := math.Abs(float64(loss.Value.Item()-wantLoss)) / float64(wantLoss); !(d <= 1e-5) {
			t.Errorf("%s: loss %g, PyTorch %g", tc.name, loss.Value.Item(), wantLoss)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for _, p := range m.Params.List() {
			rel := fixture.NormRelErr(p.Grad.Data(), fixture.Get(t, ref, "grad."+p.Name), 1) // floor: the key biases' true gradient is zero
			worst = math.Max(worst, rel)
			if !(rel <= 1e-4) {
				t.Errorf("%s: gradient of %s differs by %.3g relative to its norm", tc.name, p.Name, rel)
			}
		}
		t.Logf("%s: logits error %.2g, loss %g vs %g, worst gradient error %.2g over %d parameters", tc.name, e, loss.Value.Item(), wantLoss, worst, len(m.Params.List()))
		if tc.head == MaskedLM { // the training loss, the head on the labelled rows only: the same loss and gradients
			for _, p := range m.Params.List() {
				p.ZeroGrad()
			}
			g := autograd.NewGraph(1)
			loss, err := m.MaskedTokensLoss(g, ids, types, b, n, pad, fixture.IDs(fixture.Get(t, ref, "labels")))
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(float64(loss.Value.Item()-wantLoss)) / float64(wantLoss); !(d <= 1e-5) {
				t.Errorf("%s: MaskedTokensLoss %g, PyTorch %g", tc.name, loss.Value.Item(), wantLoss)
			}
			if err := g.Backward(loss); err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Params.List() {
				if rel := fixture.NormRelErr(p.Grad.Data(), fixture.Get(t, ref, "grad."+p.Name), 1); !(rel <= 1e-4) {
					t.Errorf("%s: MaskedTokensLoss gradient of %s differs by %.3g relative to its norm", tc.name, p.Name, rel)
				}
			}
		}
		// Save and load back bit-identically.
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		m2, err := Load(dir, tc.head)
		if err != nil {
			t.Fatal(err)
		}
		if m2.Config.ModelType != m.Config.ModelType || m2.Config.HiddenSize != m.Config.HiddenSize {
			t.Fatalf("%s: config changed through Save/Load: %+v", tc.name, m2.Config)
		}
		for _, p := range m.Params.List() {
			for i, v := range p.Value.Data() {
				if math.Float32bits(v) != math.Float32bits(m2.Params.Get(p.Name).Value.Data()[i]) {
					t.Fatalf("%s: %s[%d] changed through Save/Load", tc.name, p.Name, i)
				}
			}
		}
	}
}

// TestInitSinusoidalPositions checks the position table after
// InitSinusoidalPositions: the paper's interleaved sines and cosines
// scaled to the word embeddings' root mean square, in the parameter of
// the checkpoint's name.
func TestInitSinusoidalPositions(t *testing.T) {
	cfg := Config{VocabSize: 50, HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32, MaxPositionEmbeddings: 40}
	m, err := New(cfg, QuestionAnswering, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.InitSinusoidalPositions(); err != nil {
		t.Fatal(err)
	}
	w := m.Params.Get("bert.embeddings.position_embeddings.weight")
	if w == nil {
		t.Fatal("no bert.embeddings.position_embeddings.weight")
	}
	std := float64(m.Config.InitializerRange)
	d := w.Value.Data()
	var sum float64
	for pos := 0; pos < 40; pos++ {
		for i := 0; i < 8; i++ {
			angle := float64(pos) / math.Pow(10000, float64(2*i)/16)
			s, c := float64(d[pos*16+2*i]), float64(d[pos*16+2*i+1])
			if math.Abs(s-math.Sin(angle)*std*math.Sqrt2) > 1e-7 || math.Abs(c-math.Cos(angle)*std*math.Sqrt2) > 1e-7 {
				t.Fatalf("position %d pair %d: got (%g, %g)", pos, i, s, c)
			}
			sum += s*s + c*c
		}
	}
	if rms := math.Sqrt(sum / (40 * 16)); math.Abs(rms-std) > 0.1*std {
		t.Errorf("root mean square %g, want about initializer_range %g", rms, std)
	}
}

// TestInitMimeticAttention checks that the identity is added to every
// layer's query and key weights and to nothing else.
func TestInitMimeticAttention(t *testing.T) {
	cfg := Config{VocabSize: 50, HiddenSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 32, MaxPositionEmbeddings: 40}
	before, err := New(cfg, QuestionAnswering, 3)
	if err != nil {
		t.Fatal(err)
	}
	after, err := New(cfg, QuestionAnswering, 3)
	if err != nil {
		t.Fatal(err)
	}
	after.InitMimeticAttention(1.5)
	changed := 0
	for _, name := range before.Params.Names() {
		b, a := before.Params.Get(name).Value, after.Params.Get(name).Value
		bd, ad := b.Data(), a.Data()
		qk := strings.HasSuffix(name, "attention.self.query.weight") || strings.HasSuffix(name, "attention.self.key.weight")
		for i := range bd {
			want := bd[i]
			if qk && i/16 == i%16 {
				want += 1.5
			}
			if ad[i] != want {
				t.Fatalf("%s[%d]: got %g, want %g", name, i, ad[i], want)
			}
		}
		if qk {
			changed++
		}
	}
	if changed != 4 {
		t.Errorf("%d query and key weights changed, want 4", changed)
	}
}
