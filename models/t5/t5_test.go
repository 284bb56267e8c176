package t5

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/tensor"
)

var variants = []string{"t5-small", "flan-t5-small"}

// TestMatchesPyTorch loads the two checkpoints scripts/reference/t5.py
// wrote (t5-small-shaped as model.safetensors, flan-t5-small-shaped as
// pytorch_model.bin with the tied embedding copies) and compares logits,
// loss and every gradient with its rendering of modeling_t5.py.
func TestMatchesPyTorch(t *testing.T) {
	for _, name := range variants {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if (name == "t5-small") != (m.lmHead == nil) || (name == "t5-small") == m.Config.Gated() {
			t.Fatalf("%s: read as %s", name, m.Config.Variant())
		}
		ref, err := tensor.ReadSafetensors(filepath.Join("testdata", name+"_ref.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		const b, s, tl = 2, 13, 11
		g := autograd.NewGraph(1)
		logits, loss, err := m.Loss(g, fixture.IDs(fixture.Get(t, ref, "src")), s, fixture.IDs(fixture.Get(t, ref, "tgt_in")), fixture.IDs(fixture.Get(t, ref, "labels")), tl, b,
			fixture.Bools(fixture.Get(t, ref, "src_pad")), fixture.Bools(fixture.Get(t, ref, "tgt_pad")), 0)
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
			rel := fixture.NormRelErr(p.Grad.Data(), fixture.Get(t, ref, "grad."+p.Name), 1e-3)
			worst = math.Max(worst, rel)
			if !(rel <= 1e-4) {
				t.Errorf("%s: gradient of %s differs from PyTorch by %.3g relative to its norm", name, p.Name, rel)
			}
		}
		t.Logf("%s: logits error %.2g, loss %g vs %g, worst gradient error %.2g over %d parameters",
			name, e, loss.Value.Item(), wantLoss, worst, len(m.Params.List()))
	}
}

// TestBucketsMatchPyTorch compares Bucket with _relative_position_bucket
// as PyTorch computed it, on offsets −300..300 for three bucket settings
// in both directions.
func TestBucketsMatchPyTorch(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "buckets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Offsets []int            `json:"offsets"`
		Buckets map[string][]int `json:"buckets"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	settings := map[string][3]int{"32_128_bi": {32, 128, 1}, "32_128_causal": {32, 128, 0}, "8_12_bi": {8, 12, 1},
		"8_12_causal": {8, 12, 0}, "6_20_bi": {6, 20, 1}, "6_20_causal": {6, 20, 0}}
	if len(ref.Buckets) != len(settings) {
		t.Fatalf("fixture has %d settings, want %d", len(ref.Buckets), len(settings))
	}
	for name, want := range ref.Buckets {
		s := settings[name]
		for i, rel := range ref.Offsets {
			if got := Bucket(rel, s[2] == 1, s[0], s[1]); int(got) != want[i] {
				t.Fatalf("%s: offset %d: bucket %d, PyTorch %d", name, rel, got, want[i])
			}
		}
	}
}

// TestGenerateMatchesPyTorch decodes the fixture's sources with the KV
// cache (together, finished rows dropped, and one at a time) and checks
// every setting's output against the reference's full recomputation.
func TestGenerateMatchesPyTorch(t *testing.T) {
	for _, name := range variants {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join("testdata", name+"_generate.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ref map[string]struct {
			Config  generate.HFConfig `json:"config"`
			Inputs  [][]int32         `json:"inputs"`
			Outputs [][]int32         `json:"outputs"`
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatal(err)
		}
		for setting, r := range ref {
			o := m.GenerationOptions()
			if err := r.Config.Apply(&o, 0); err != nil {
				t.Fatal(err)
			}
			got, err := m.Generate(r.Inputs, o, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range r.Inputs {
				one, err := m.Generate(r.Inputs[i:i+1], o, 0, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got[i], r.Outputs[i]) || !slices.Equal(one[0], r.Outputs[i]) {
					t.Errorf("%s %s: source %d: batched %v, alone %v, PyTorch %v", name, setting, i, got[i], one[0], r.Outputs[i])
				}
			}
		}
	}
}

// TestCacheMatchesRecomputation checks that decoding step by step with
// the KV cache (the relative bias following the position) gives the logits
// of the full decoder over the whole prefix, for both variants, with beam
// reordering in the middle.
func TestCacheMatchesRecomputation(t *testing.T) {
	for _, name := range variants {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		src := [][]int32{{5, 9, 33, 7, 1}, {12, 1}}
		dec, err := m.NewDecoder(src, 2, 40)
		if err != nil {
			t.Fatal(err)
		}
		rows := 4
		hist := make([][]int32, rows)
		tokens := make([]int32, rows)
		var parents []int
		for step := 0; step < 35; step++ {
			if step == 3 {
				parents = []int{1, 0, 3, 3}
				hist = [][]int32{slices.Clone(hist[1]), slices.Clone(hist[0]), slices.Clone(hist[3]), slices.Clone(hist[3])}
			} else {
				parents = nil
			}
			for r := range tokens {
				if step == 0 {
					tokens[r] = 0
				} else {
					tokens[r] = int32(3 + (step*7+r*13)%200)
				}
				hist[r] = append(hist[r], tokens[r])
			}
			logits, err := dec.Step(tokens, parents)
			if err != nil {
				t.Fatal(err)
			}
			if step%6 != 5 && step != 3 {
				continue
			}
			for r := 0; r < rows; r++ {
				g := autograd.NewGraph(0)
				g.NoGrad = true
				s := src[r/2]
				mem, err := m.Encode(g, s, 1, len(s), nil)
				if err != nil {
					t.Fatal(err)
				}
				full, err := m.Decode(g, mem, hist[r], 1, len(hist[r]), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				v := m.Config.VocabSize
				want := full.Value.Data()[(len(hist[r])-1)*v:]
				got := logits[r*v : (r+1)*v]
				var worst, scale float64
				for i := range want {
					worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
					scale = math.Max(scale, math.Abs(float64(want[i])))
				}
				if worst > 1e-5*scale {
					t.Fatalf("%s step %d row %d: cached logits differ from recomputation by %.3g (scale %.3g)", name, step, r, worst, scale)
				}
			}
		}
	}
}

func TestSaveLoadBitIdentical(t *testing.T) {
	for _, gated := range []bool{false, true} {
		cfg := Config{VocabSize: 19, DModel: 8, DKV: 3, DFF: 10, NumLayers: 1, NumHeads: 2, FeedForwardProj: "relu"}
		if gated {
			tie := false
			cfg.FeedForwardProj, cfg.TieWordEmbeddings = "gated-gelu", &tie
		}
		m, err := New(cfg, 4)
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
		if len(m2.Params.List()) != len(m.Params.List()) {
			t.Fatalf("%d parameters after loading, want %d", len(m2.Params.List()), len(m.Params.List()))
		}
		for _, p := range m.Params.List() {
			for i, v := range p.Value.Data() {
				if math.Float32bits(v) != math.Float32bits(m2.Params.Get(p.Name).Value.Data()[i]) {
					t.Fatalf("gated=%v: %s[%d] changed", gated, p.Name, i)
				}
			}
		}
	}
}

// TestDecoderJoinMatchesAlone: sources that join a running batch between
// steps and rows that leave it get the logits their source gets decoded
// alone (the relative bias follows each row's left-padded history).
func TestDecoderJoinMatchesAlone(t *testing.T) {
	for _, name := range variants {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			src := [][]int32{{5, 9, 33, 7, 1}, {12, 1}, {40, 41, 42, 43, 44, 45, 46, 47, 1}, {8, 8, 1}}
			fixture.CheckJoin(t, func(src [][]int32, maxLen int) (fixture.JoinDecoder, error) {
				return m.NewDecoder(src, 1, maxLen)
			}, src, m.Config.VocabSize, 0)
			fixture.CheckJoinBeams(t, func(src [][]int32, copies, maxLen int) (fixture.BeamDecoder, error) {
				return m.NewDecoder(src, copies, maxLen)
			}, src, m.Config.VocabSize, 0)
		})
	}
}
