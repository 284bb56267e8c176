package gpt

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/tensor"
)

// TestMatchesPyTorch loads the checkpoint scripts/reference/gpt.py wrote (a
// published-style GPT-2 file: no transformer. prefix, attn.bias buffers) and
// compares logits, loss and every parameter's gradient with PyTorch's.
func TestMatchesPyTorch(t *testing.T) {
	m, err := Load("testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := tensor.ReadSafetensors("testdata/tiny_ref.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	ids, targets := fixture.IDs(fixture.Get(t, ref, "ids")), fixture.IDs(fixture.Get(t, ref, "targets"))
	g := autograd.NewGraph(1)
	logits, loss, err := m.Forward(g, ids, 2, 11, targets)
	if err != nil {
		t.Fatal(err)
	}
	if e := fixture.MaxRelErr(logits.Value.Data(), fixture.Get(t, ref, "logits")); !(e <= 1e-5) {
		t.Errorf("logits differ from PyTorch by %.3g relative", e)
	} else {
		t.Logf("logits: relative error %.2g", e)
	}
	if e := fixture.MaxRelErr(loss.Value.Data(), fixture.Get(t, ref, "loss")); !(e <= 1e-5) {
		t.Errorf("loss %g, PyTorch %g", loss.Value.Item(), fixture.Get(t, ref, "loss")[0])
	} else {
		t.Logf("loss: relative error %.2g", e)
	}
	if err := g.Backward(loss); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for _, p := range m.Params.List() {
		want := fixture.Get(t, ref, "grad."+p.Name)
		got := p.Grad
		if isConv1D(p.Name) {
			got = tensor.Transpose(got)
		}
		e := fixture.NormRelErr(got.Data(), want, 0)
		worst = math.Max(worst, e)
		if !(e <= 1e-4) {
			t.Errorf("gradient of %s differs from PyTorch by %.3g relative to its norm", p.Name, e)
		}
	}
	t.Logf("gradients: worst relative error %.2g over %d parameters", worst, len(m.Params.List()))
}

func TestSaveLoadBitIdentical(t *testing.T) {
	m, err := New(Config{VocabSize: 11, NPositions: 8, NEmbd: 12, NLayer: 2, NHead: 2}, 5)
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
		q := m2.Params.Get(p.Name)
		for i, v := range p.Value.Data() {
			if math.Float32bits(v) != math.Float32bits(q.Value.Data()[i]) {
				t.Fatalf("%s[%d]: saved %g, loaded %g", p.Name, i, v, q.Value.Data()[i])
			}
		}
	}
	f, err := tensor.ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if info := f.Info("transformer.h.0.attn.c_attn.weight"); info == nil || info.Shape[0] != 12 || info.Shape[1] != 36 {
		t.Fatalf("c_attn not saved as Conv1D [in, out]: %+v", info)
	}
}

func TestBiasFreeModel(t *testing.T) {
	no := false
	m, err := New(Config{VocabSize: 11, NPositions: 8, NEmbd: 12, NLayer: 2, NHead: 2, Bias: &no}, 5)
	if err != nil {
		t.Fatal(err)
	}
	withBias, _ := New(Config{VocabSize: 11, NPositions: 8, NEmbd: 12, NLayer: 2, NHead: 2}, 5)
	if d := withBias.Params.Count() - m.Params.Count(); d != 2*(36+12+48+12+12+12)+12 {
		t.Fatalf("bias-free model has %d fewer parameters", d)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	f, _ := tensor.ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	if f.Info("transformer.h.1.mlp.c_fc.bias") == nil {
		t.Fatal("zero biases not written: transformers could not load the directory")
	}
	m2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := autograd.NewGraph(1)
	l1, _, _ := m.Forward(g, []int32{1, 2, 3}, 1, 3, nil)
	l2, _, _ := m2.Forward(autograd.NewGraph(1), []int32{1, 2, 3}, 1, 3, nil)
	if fixture.MaxRelErr(l1.Value.Data(), l2.Value.Data()) != 0 {
		t.Fatal("bias-free model changed through Save/Load")
	}
}

func TestLoadErrorsNameTheProblem(t *testing.T) {
	m, _ := New(Config{VocabSize: 11, NPositions: 8, NEmbd: 12, NLayer: 1, NHead: 2}, 5)
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	// A config whose sizes disagree with the weights.
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(cfg), `"vocab_size": 11`, `"vocab_size": 10`, 1)), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "transformer.wte.weight") || !strings.Contains(err.Error(), "[11 12]") {
		t.Errorf("mismatched config: %v", err)
	}
	// Sizes far beyond the weights are refused before anything is
	// allocated, naming the fields; absurd ones by their limits.
	for _, tc := range []struct {
		field string
		value any
		want  string
	}{
		{"n_layer", 1000, "a size in the config is wrong"},
		{"n_embd", 1 << 40, "at most 16777216"},
		{"n_layer", 1000000000, "n_layer 1000000000 is more than"},
		{"vocab_size", 2000000000, "at most 16777216"},
		{"layer_norm_epsilon", -1, "layer_norm_epsilon must be a positive number"},
		{"eos_token_id", -1, "eos_token_id -1 is outside the vocabulary"},
		{"resid_pdrop", 1.5, "resid_pdrop must be in [0, 1)"},
	} {
		var c map[string]any
		json.Unmarshal(cfg, &c)
		c[tc.field] = tc.value
		b, _ := json.Marshal(c)
		os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s %v: %v", tc.field, tc.value, err)
		}
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(cfg), `"n_head": 2`, `"n_head": 5`, 1)), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "n_head") {
		t.Errorf("bad n_head: %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty dir: %v", err)
	}
	// A checkpoint missing a tensor.
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	var kept []tensor.NamedTensor
	for _, p := range m.Params.List() {
		if p.Name == "ln_f.bias" {
			continue
		}
		v := p.Value
		if isConv1D(p.Name) {
			v = tensor.Transpose(v)
		}
		kept = append(kept, tensor.NamedTensor{Name: p.Name, Tensor: v})
	}
	tensor.WriteSafetensors(filepath.Join(dir, "model.safetensors"), kept, nil)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `"ln_f.bias"`) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing tensor: %v", err)
	}
}

func TestForwardErrors(t *testing.T) {
	m, _ := New(Config{VocabSize: 11, NPositions: 8, NEmbd: 12, NLayer: 1, NHead: 2}, 5)
	g := autograd.NewGraph(1)
	if _, _, err := m.Forward(g, make([]int32, 9), 1, 9, nil); err == nil || !strings.Contains(err.Error(), "exceeds the model's context of 8") {
		t.Errorf("too long: %v", err)
	}
	if _, _, err := m.Forward(g, []int32{1, 2, 30}, 1, 3, nil); err == nil || !strings.Contains(err.Error(), "id 30") {
		t.Errorf("bad id: %v", err)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/from_goformer (then run scripts/reference/gpt.py)")

// fromGoformerConfig is the model whose goformer-saved checkpoint the
// PyTorch reference reads.
var fromGoformerConfig = Config{VocabSize: 19, NPositions: 12, NEmbd: 16, NLayer: 2, NHead: 2}

// TestFromGoformerLoadsInPyTorch checks that a checkpoint goformer saves is
// read by the reference GPT-2 (scripts/reference/gpt.py) and gives the same
// logits there; and that the committed checkpoint is what Save writes today.
func TestFromGoformerLoadsInPyTorch(t *testing.T) {
	m, err := New(fromGoformerConfig, 77)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "from_goformer")
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
			t.Fatalf("testdata/from_goformer/%s is not what Save writes now (%v %v): rerun with -update and scripts/reference/gpt.py", name, err1, err2)
		}
	}
	ref, err := tensor.ReadSafetensors(filepath.Join("testdata", "from_goformer_ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ids := fixture.IDs(fixture.Get(t, ref, "ids"))
	g := autograd.NewGraph(1)
	logits, _, err := m.Forward(g, ids, 2, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := fixture.MaxRelErr(logits.Value.Data(), fixture.Get(t, ref, "logits")); !(e <= 1e-5) {
		t.Fatalf("PyTorch's logits from goformer's checkpoint differ by %.3g relative", e)
	} else {
		t.Logf("logits from goformer's checkpoint in PyTorch: relative error %.2g", e)
	}
}

// TestLoadsPyTorchCheckpoints: the tiny model's weights as the hub serves
// older checkpoints (pytorch_model.bin with the transformer. prefix, the
// attention-mask buffers and a tied lm_head sharing wte's storage; and the
// same split into shards behind pytorch_model.bin.index.json, written by
// scripts/reference/pytorch_bin.py) load to exactly the safetensors
// model's parameters.
func TestLoadsPyTorchCheckpoints(t *testing.T) {
	want, err := Load("testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"testdata/tiny-bin", "testdata/tiny-sharded"} {
		m, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range want.Params.List() {
			q := m.Params.Get(p.Name)
			if q == nil || !slices.Equal(q.Value.Data(), p.Value.Data()) {
				t.Errorf("%s: parameter %s differs from the safetensors checkpoint's", dir, p.Name)
			}
		}
	}
}
