package cpu_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/tensor"
)

// TestAttentionMatchesPyTorch compares the flash and plain attention with
// PyTorch (nanoGPT's formulation, computed in float64) on the fixture that
// scripts/reference/attention.py writes.
func TestAttentionMatchesPyTorch(t *testing.T) {
	f, err := tensor.ReadSafetensors("testdata/attention_torch.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Metadata) == 0 {
		t.Fatal("fixture has no cases")
	}
	get := func(name string) []float32 {
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		return x.Data()
	}
	for name, js := range f.Metadata {
		var c struct {
			Batch, Heads, Tq, Tk, Dim int
			Causal                    bool
		}
		if err := json.Unmarshal([]byte(js), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a := &cpu.Attention{Batch: c.Batch, Heads: c.Heads, Tq: c.Tq, Tk: c.Tk, Dim: c.Dim, Causal: c.Causal}
		for i, p := range get(name + ".pad") {
			if p != 0 {
				if a.KeyPad == nil {
					a.KeyPad = make([]bool, c.Batch*c.Tk)
				}
				a.KeyPad[i] = true
			}
		}
		q, k, v, dout := get(name+".q"), get(name+".k"), get(name+".v"), get(name+".dout")
		out, lse := make([]float32, len(q)), make([]float32, c.Batch*c.Heads*c.Tq)
		dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		a.Forward(out, lse, q, k, v)
		a.Backward(dq, dk, dv, q, k, v, out, lse, dout)
		probs := make([]float32, c.Batch*c.Heads*c.Tq*c.Tk)
		pout := make([]float32, len(q))
		pdq, pdk, pdv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		a.ForwardPlain(pout, probs, q, k, v)
		a.BackwardPlain(pdq, pdk, pdv, nil, q, k, v, probs, dout)
		for _, chk := range []struct {
			what string
			got  []float32
			want string
		}{
			{"flash out", out, "out"}, {"flash dq", dq, "dq"}, {"flash dk", dk, "dk"}, {"flash dv", dv, "dv"},
			{"plain out", pout, "out"}, {"plain dq", pdq, "dq"}, {"plain dk", pdk, "dk"}, {"plain dv", pdv, "dv"},
		} {
			want := get(name + "." + chk.want)
			var maxErr, maxRef float64
			for i, w := range want {
				maxErr = math.Max(maxErr, math.Abs(float64(chk.got[i])-float64(w)))
				maxRef = math.Max(maxRef, math.Abs(float64(w)))
			}
			if rel := maxErr / maxRef; !(rel <= 1e-5) {
				t.Errorf("%s: %s differs from PyTorch by %.3g relative (max |err| %.3g)", name, chk.what, rel, maxErr)
			} else {
				t.Logf("%s: %s relative error %.2g", name, chk.what, rel)
			}
		}
	}
}
