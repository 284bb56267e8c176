package bert

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/tensor"
)

// TestHeadsMatchPyTorch compares the sequence- and token-classification
// heads of BERT, RoBERTa, XLM-RoBERTa and DistilBERT with the PyTorch
// references of scripts/reference/encoder_heads.py: logits, the
// cross-entropy loss and every gradient; then saves and loads back with
// the labels.
func TestHeadsMatchPyTorch(t *testing.T) {
	for _, fam := range []string{"bert", "roberta", "xlmroberta", "distilbert"} {
		for _, tc := range []struct {
			name string
			head Head
		}{{fam + "_seqcls", SequenceClassification}, {fam + "_tokcls", TokenClassification}} {
			m, err := Load(filepath.Join("testdata", tc.name), tc.head)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := tensor.ReadSafetensors(filepath.Join("testdata", tc.name+"_ref.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			const b, n = 3, 8
			ids := fixture.IDs(fixture.Get(t, ref, "ids"))
			types := fixture.IDs(fixture.Get(t, ref, "types"))
			if m.Config.TypeVocabSize <= 1 {
				types = nil
			}
			pad := fixture.Bools(fixture.Get(t, ref, "pad"))
			labels := fixture.IDs(fixture.Get(t, ref, "labels"))
			g := autograd.NewGraph(1)
			logits, err := m.Logits(g, ids, types, b, n, pad)
			if err != nil {
				t.Fatal(err)
			}
			nl := m.Config.NumLabels()
			loss := g.CrossEntropy(g.Reshape(logits, len(labels), nl), labels, -100, 0)
			if e := fixture.MaxRelErr(logits.Value.Data(), fixture.Get(t, ref, "logits")); !(e <= 1e-5) {
				t.Errorf("%s: logits differ from PyTorch by %.3g relative", tc.name, e)
			}
			want := fixture.Get(t, ref, "loss")[0]
			if d := math.Abs(float64(loss.Value.Item()-want)) / float64(want); !(d <= 1e-5) {
				t.Errorf("%s: loss %g, PyTorch %g", tc.name, loss.Value.Item(), want)
			}
			if err := g.Backward(loss); err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Params.List() {
				if rel := fixture.NormRelErr(p.Grad.Data(), fixture.Get(t, ref, "grad."+p.Name), 1); !(rel <= 1e-4) {
					t.Errorf("%s: gradient of %s differs by %.3g relative to its norm", tc.name, p.Name, rel)
				}
			}
			names := m.Config.Names()
			if tc.head == SequenceClassification && !slices.Equal(names, []string{"negative", "neutral", "positive"}) {
				t.Errorf("%s: labels %v", tc.name, names)
			}
			dir := t.TempDir()
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			m2, err := Load(dir, tc.head)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m2.Config.Names(), names) || m2.Config.ModelType != m.Config.ModelType {
				t.Errorf("%s: labels %v and family %q after Save/Load, want %v and %q", tc.name, m2.Config.Names(), m2.Config.ModelType, names, m.Config.ModelType)
			}
		}
	}
}

// TestBaseMatchesPyTorch reads a classification checkpoint's encoder as a
// bare model (BertModel) and compares its hidden states with PyTorch's;
// saved, the bare model has BertModel's names (no bert. prefix) and loads
// back.
func TestBaseMatchesPyTorch(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "bert_seqcls"), Base)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := tensor.ReadSafetensors(filepath.Join("testdata", "bert_base_ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ids, types, pad := fixture.IDs(fixture.Get(t, ref, "ids")), fixture.IDs(fixture.Get(t, ref, "types")), fixture.Bools(fixture.Get(t, ref, "pad"))
	h, err := m.Hidden(ids, types, 3, 8, pad)
	if err != nil {
		t.Fatal(err)
	}
	if e := fixture.MaxRelErr(h, fixture.Get(t, ref, "hidden")); !(e <= 1e-5) {
		t.Errorf("hidden states differ from PyTorch by %.3g relative", e)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	f, err := tensor.ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Info("embeddings.word_embeddings.weight") == nil || f.Info("pooler.dense.weight") == nil || f.Info("bert.embeddings.word_embeddings.weight") != nil {
		t.Errorf("a saved bare model has names %v, want BertModel's", f.Names()[:3])
	}
	m2, err := Load(dir, Base)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := m2.Hidden(ids, types, 3, 8, pad)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h, h2) {
		t.Error("hidden states changed through Save/Load")
	}
	if m2.Config.Architectures[0] != "BertModel" {
		t.Errorf("architectures %v, want BertModel", m2.Config.Architectures)
	}
}

// TestHeadErrors: a checkpoint without the head a caller asks for, and
// labels that do not match the classifier, are named.
func TestHeadErrors(t *testing.T) {
	if _, err := Load(filepath.Join("testdata", "mlm"), SequenceClassification); err == nil || !strings.Contains(err.Error(), "no SequenceClassification head") {
		t.Errorf("a masked-LM checkpoint read for classification: %v", err)
	}
	dir := t.TempDir()
	m, err := Load(filepath.Join("testdata", "bert_seqcls"), SequenceClassification)
	if err != nil {
		t.Fatal(err)
	}
	m.Config.ID2Label = map[string]string{"0": "a", "1": "b"}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, SequenceClassification); err == nil || !strings.Contains(err.Error(), "declares 2 labels") {
		t.Errorf("2 labels for a 3-row classifier: %v", err)
	}
	for _, bad := range []Labels{{ID2Label: map[string]string{"1": "a"}}, {ID2Label: map[string]string{"x": "a"}}, {ProblemType: "ranking"},
		{ID2Label: map[string]string{"0": "a"}, NumLabelsField: 3}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("labels %+v accepted", bad)
		}
	}
}
