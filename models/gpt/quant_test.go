package gpt

import (
	"math"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
)

// TestQuantizedForward: with bf16 or int8 weights, inference logits stay
// within 1% (bf16) and 3% (int8) relative of float32's, while a graph that
// records a tape (training) still computes with the float32 weights, bit
// for bit as before quantising.
func TestQuantizedForward(t *testing.T) {
	m, err := New(Config{VocabSize: 97, NPositions: 32, NEmbd: 64, NLayer: 2, NHead: 4}, 7)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, 2*19)
	for i := range ids {
		ids[i] = int32((i*31 + 7) % 97)
	}
	run := func(noGrad bool) ([]float32, float64) {
		g := autograd.NewGraph(1)
		g.NoGrad = noGrad
		logits, loss, err := m.Forward(g, ids, 2, 19, ids)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), logits.Value.Data()...), float64(loss.Value.Item())
	}
	want, wantLoss := run(true)
	trainLogits, trainLoss := run(false)
	for _, c := range []struct {
		dtype string
		tol   float64
	}{{"bf16", 0.01}, {"int8", 0.03}} {
		bytes, err := m.Params.Quantize(c.dtype)
		if err != nil {
			t.Fatal(err)
		}
		got, loss := run(true)
		e := fixture.NormRelErr(got, want, 0)
		if !(e <= c.tol) || math.Abs(loss-wantLoss) > c.tol*wantLoss {
			t.Errorf("%s: logits %.3g relative from float32 (want ≤ %g), loss %.5f against %.5f", c.dtype, e, c.tol, loss, wantLoss)
		}
		if e == 0 {
			t.Errorf("%s: the quantised weights were not used", c.dtype)
		}
		t.Logf("%s (%d bytes of weights): logits %.2g relative from float32, loss %.5f against %.5f", c.dtype, bytes, e, loss, wantLoss)
		tl, tloss := run(false)
		if fixture.NormRelErr(tl, trainLogits, 0) != 0 || tloss != trainLoss {
			t.Errorf("%s: a training graph changed after quantising", c.dtype)
		}
	}
	if _, err := m.Params.Quantize("fp32"); err != nil {
		t.Fatal(err)
	}
	if got, _ := run(true); fixture.NormRelErr(got, want, 0) != 0 {
		t.Error("fp32 after quantising does not give the float32 logits back")
	}
	if _, err := m.Params.Quantize("int4"); err == nil {
		t.Error("an unknown format was accepted")
	}
}
