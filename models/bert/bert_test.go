package bert

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

func get(t *testing.T, f *tensor.Safetensors, name string) []float32 {
	t.Helper()
	x, err := f.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	return x.Data()
}

func ints(x []float32) []int32 {
	out := make([]int32, len(x))
	for i, v := range x {
		out[i] = int32(v)
	}
	return out
}

// TestMatchesPyTorch compares both heads with the PyTorch reference
// (scripts/reference/bert.py): logits, loss and every gradient.
func TestMatchesPyTorch(t *testing.T) {
	for _, tc := range []struct {
		name string
		head Head
	}{{"mlm", MaskedLM}, {"qa", QuestionAnswering}} {
		m, err := Load(filepath.Join("testdata", tc.name), tc.head)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := tensor.ReadSafetensors(filepath.Join("testdata", tc.name+"_ref.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		const b, n = 2, 9
		ids, types := ints(get(t, ref, "ids")), ints(get(t, ref, "types"))
		pad := make([]bool, b*n)
		for i, v := range get(t, ref, "pad") {
			pad[i] = v != 0
		}
		g := autograd.NewGraph(1)
		var logits, loss *autograd.Var
		if tc.head == MaskedLM {
			logits, loss, err = m.MaskedLMLoss(g, ids, types, b, n, pad, ints(get(t, ref, "labels")))
		} else {
			logits, loss, err = m.QALoss(g, ids, types, b, n, pad, ints(get(t, ref, "starts")), ints(get(t, ref, "ends")))
		}
		if err != nil {
			t.Fatal(err)
		}
		var e, w float64
		for i, v := range get(t, ref, "logits") {
			e = math.Max(e, math.Abs(float64(logits.Value.Data()[i])-float64(v)))
			w = math.Max(w, math.Abs(float64(v)))
		}
		if !(e/w <= 1e-5) {
			t.Errorf("%s: logits differ from PyTorch by %.3g relative", tc.name, e/w)
		}
		wantLoss := get(t, ref, "loss")[0]
		if d := math.Abs(float64(loss.Value.Item()-wantLoss)) / float64(wantLoss); !(d <= 1e-5) {
			t.Errorf("%s: loss %g, PyTorch %g", tc.name, loss.Value.Item(), wantLoss)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for _, p := range m.Params.List() {
			want := get(t, ref, "grad."+p.Name)
			var de, dw float64
			for i, v := range want {
				d := float64(p.Grad.Data()[i]) - float64(v)
				de += d * d
				dw += float64(v) * float64(v)
			}
			rel := math.Sqrt(de) / math.Max(math.Sqrt(dw), 1) // floor: the key biases' true gradient is zero
			worst = math.Max(worst, rel)
			if !(rel <= 1e-4) {
				t.Errorf("%s: gradient of %s differs by %.3g relative to its norm", tc.name, p.Name, rel)
			}
		}
		t.Logf("%s: logits error %.2g, loss %g vs %g, worst gradient error %.2g over %d parameters", tc.name, e/w, loss.Value.Item(), wantLoss, worst, len(m.Params.List()))
		// Save and load back bit-identically.
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		m2, err := Load(dir, tc.head)
		if err != nil {
			t.Fatal(err)
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
