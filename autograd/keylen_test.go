package autograd

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// TestAttentionKeyLen: keys and values laid out at a capacity larger than
// KeyLen give what the same keys packed give, bit for bit, with the fused
// kernel and with KeepAttention's plain path; KeyLen is refused where a
// gradient would be needed or when it exceeds the rows.
func TestAttentionKeyLen(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	const b, heads, tq, tk, capacity, d = 3, 2, 1, 6, 9, 8
	q := randTensor(rng, 1, b, tq, heads*d)
	k, v := randTensor(rng, 1, b, tk, heads*d), randTensor(rng, 1, b, tk, heads*d)
	wide := func(x *tensor.Tensor) *tensor.Tensor {
		w := tensor.New(b, capacity, heads*d)
		for r := 0; r < b; r++ {
			copy(w.Data()[r*capacity*heads*d:], x.Data()[r*tk*heads*d:(r+1)*tk*heads*d])
			for i := tk * heads * d; i < capacity*heads*d; i++ {
				w.Data()[r*capacity*heads*d+i] = 1e30 // never read
			}
		}
		return w
	}
	kw, vw := wide(k), wide(v)
	pad := make([]bool, b*tk)
	pad[tk+1] = true
	for _, keep := range []bool{false, true} {
		run := func(k, v *tensor.Tensor, keyLen int) *tensor.Tensor {
			g := NewGraph(0)
			g.NoGrad, g.KeepAttention = true, keep
			out := g.Attention(Constant(q), Constant(k), Constant(v), heads, AttentionOptions{Causal: true, KeyPad: pad, KeyLen: keyLen})
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			return out.Value.Clone()
		}
		packed, strided := run(k, v, 0), run(kw, vw, tk)
		for i, x := range packed.Data() {
			if x != strided.Data()[i] {
				t.Fatalf("keep=%v: output %d: packed %g, at capacity %g", keep, i, x, strided.Data()[i])
			}
		}
	}
	g := NewGraph(0)
	qp := NewParam("q", q.Clone())
	g.Attention(qp, Constant(kw), Constant(vw), heads, AttentionOptions{KeyLen: tk})
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "inference") {
		t.Errorf("KeyLen with a gradient to compute: error %v", err)
	}
	g = NewGraph(0)
	g.NoGrad = true
	g.Attention(Constant(q), Constant(kw), Constant(vw), heads, AttentionOptions{KeyLen: capacity + 1})
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "KeyLen") {
		t.Errorf("KeyLen beyond the rows: error %v", err)
	}
}
