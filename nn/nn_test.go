package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

func TestSinusoidal(t *testing.T) {
	s1, s2, c1, c2 := math.Sin(1), math.Sin(0.01), math.Cos(1), math.Cos(0.01)
	for _, tc := range []struct {
		layout PositionLayout
		want   []float64
	}{{Interleaved, []float64{s1, c1, s2, c2}}, {Halves, []float64{s1, s2, c1, c2}}} {
		pe, err := Sinusoidal(3, 4, tc.layout)
		if err != nil {
			t.Fatal(err)
		}
		row := pe.Row(1).Data()
		for i, w := range tc.want {
			if math.Abs(float64(row[i])-w) > 1e-7 {
				t.Fatalf("layout %d: PE(1) = %v, want %v", tc.layout, row, tc.want)
			}
		}
		if r0 := pe.Row(0).Data(); r0[0] != 0 || r0[len(r0)-1] != 1 {
			t.Fatalf("PE(0) = %v", r0)
		}
	}
	if _, err := Sinusoidal(3, 5, Halves); err == nil {
		t.Fatal("odd width accepted")
	}
}

func TestParamsAndErrors(t *testing.T) {
	var ps Params
	rng := tensor.NewRNG(1)
	l := NewLinear(&ps, "fc", 3, 4, true, rng)
	if ps.Count() != 16 || ps.Get("fc.weight") != l.W || strings.Join(ps.Names(), ",") != "fc.bias,fc.weight" {
		t.Fatalf("params: %d %v", ps.Count(), ps.Names())
	}
	for _, v := range l.W.Value.Data() {
		if math.Abs(float64(v)) > 1/math.Sqrt(3) {
			t.Fatalf("Linear init %g outside ±1/√3", v)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("duplicate parameter name accepted")
			}
		}()
		NewLinear(&ps, "fc", 3, 4, true, rng)
	}()
	if _, err := NewMultiHeadAttention(&ps, "a", 10, 3, true, rng); err == nil || !strings.Contains(err.Error(), "3 heads") {
		t.Fatalf("bad heads: %v", err)
	}
	g := autograd.NewGraph(1)
	if Activation("mish").Apply(g, autograd.Constant(tensor.New(2))); g.Err() == nil || !strings.Contains(g.Err().Error(), `"mish"`) {
		t.Fatalf("unknown activation: %v", g.Err())
	}
}
