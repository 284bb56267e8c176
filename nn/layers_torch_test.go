package nn

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/tensor"
)

// TestLayersMatchPyTorch builds each layer, loads the weights PyTorch used
// (scripts/reference/layers.py) and compares the output (within 1e-5 of its
// largest value) and the gradients of the inputs and every parameter
// (within 1e-4 of their norm).
func TestLayersMatchPyTorch(t *testing.T) {
	f, err := tensor.ReadSafetensors("testdata/layers_torch.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *tensor.Tensor {
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	mask := func(x *tensor.Tensor) []bool {
		out := make([]bool, x.Len())
		for i, v := range x.Data() {
			out[i] = v != 0
		}
		return out
	}
	for name, js := range f.Metadata {
		var c struct {
			Kind                    string
			D, Heads, FFN, Batch, T int
			NormFirst               bool `json:"norm_first"`
		}
		if err := json.Unmarshal([]byte(js), &c); err != nil {
			t.Fatal(err)
		}
		var ps Params
		rng := tensor.NewRNG(1)
		cfg := LayerConfig{D: c.D, Heads: c.Heads, FFN: c.FFN, Activation: ReLU, PreLN: c.NormFirst, Eps: 1e-5, Bias: true}
		var run func(g *autograd.Graph, in []*autograd.Var) *autograd.Var
		tgtPad, srcPad := mask(get(name+".tgt_pad")), mask(get(name+".src_pad"))
		switch c.Kind {
		case "mha_self", "mha_cross":
			m, err := NewMultiHeadAttention(&ps, "attn", c.D, c.Heads, true, rng)
			if err != nil {
				t.Fatal(err)
			}
			run = func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
				if c.Kind == "mha_self" {
					return m.Forward(g, in[0], nil, autograd.AttentionOptions{Causal: true, KeyPad: tgtPad}, nil)
				}
				return m.Forward(g, in[0], in[1], autograd.AttentionOptions{KeyPad: srcPad}, nil)
			}
		case "encoder":
			l, err := NewEncoderLayer(&ps, "layer", cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			run = func(g *autograd.Graph, in []*autograd.Var) *autograd.Var { return l.Forward(g, in[0], tgtPad) }
		case "decoder":
			l, err := NewDecoderLayer(&ps, "layer", cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			run = func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
				return l.Forward(g, in[0], in[1], tgtPad, srcPad, nil)
			}
		default:
			t.Fatalf("unknown case kind %q", c.Kind)
		}
		loaded := 0
		for _, key := range f.Names() {
			if pn, ok := strings.CutPrefix(key, name+".param."); ok {
				p := ps.Get(pn)
				if p == nil {
					t.Fatalf("%s: fixture parameter %q has no twin", name, pn)
				}
				copy(p.Value.Data(), get(key).Data())
				loaded++
			}
		}
		if loaded != len(ps.List()) {
			t.Fatalf("%s: fixture has %d parameters, layer %d", name, loaded, len(ps.List()))
		}
		g := autograd.NewGraph(1)
		var inputs []*autograd.Var
		for i := 0; ; i++ {
			key := name + ".in" + string(rune('0'+i))
			if f.Info(key) == nil {
				break
			}
			inputs = append(inputs, autograd.NewParam("in", get(key)))
		}
		out := run(g, inputs)
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		if e := fixture.MaxRelErr(out.Value.Data(), get(name+".out").Data()); !(e <= 1e-5) {
			t.Errorf("%s: output differs from PyTorch by %.3g", name, e)
		}
		if err := g.BackwardWithGrad(out, get(name+".dout")); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		check := func(what string, got, want []float32) {
			e := fixture.NormRelErr(got, want, 1)
			worst = math.Max(worst, e)
			if !(e <= 1e-4) {
				t.Errorf("%s: gradient of %s differs from PyTorch by %.3g relative to its norm", name, what, e)
			}
		}
		for i, in := range inputs {
			check("input", in.Grad.Data(), get(name+".grad.in"+string(rune('0'+i))).Data())
		}
		for _, p := range ps.List() {
			check(p.Name, p.Grad.Data(), get(name+".grad."+p.Name).Data())
		}
		t.Logf("%s: output error %.2g, worst gradient error %.2g", name, fixture.MaxRelErr(out.Value.Data(), get(name+".out").Data()), worst)
	}
}
