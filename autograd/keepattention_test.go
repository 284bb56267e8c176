package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// TestKeepAttention: with KeepAttention, attention runs the plain path;
// its probabilities equal softmax(q·kᵀ·scale + bias + masks) computed
// here in float64 from the op's own inputs, each visible row sums to 1,
// and its output equals the fused kernel's.
func TestKeepAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const b, heads, tq, tk, d = 2, 3, 5, 7, 4
	q, k, v := randTensor(rng, 1, b, tq, heads*d), randTensor(rng, 1, b, tk, heads*d), randTensor(rng, 1, b, tk, heads*d)
	bias := randTensor(rng, 1, heads, tq+tk-1)
	pad := make([]bool, b*tk)
	pad[tk-1], pad[tk+2] = true, true
	for _, withBias := range []bool{false, true} {
		opt := AttentionOptions{Causal: true, KeyPad: pad}
		if withBias {
			opt.Scale = 1
		}
		run := func(keep bool) (*tensor.Tensor, []AttentionMap) {
			g := NewGraph(0)
			g.NoGrad, g.KeepAttention = true, keep
			o := opt
			if withBias {
				o.Bias = Constant(bias)
			}
			out := g.Attention(Constant(q), Constant(k), Constant(v), heads, o)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			return out.Value.Clone(), g.AttentionMaps()
		}
		fused, none := run(false)
		plain, maps := run(true)
		if len(none) != 0 || len(maps) != 1 {
			t.Fatalf("%d maps without KeepAttention, %d with", len(none), len(maps))
		}
		for i, x := range fused.Data() {
			if math.Abs(float64(x-plain.Data()[i])) > 1e-5 {
				t.Fatalf("bias=%v: output %d: fused %g, plain %g", withBias, i, x, plain.Data()[i])
			}
		}
		m := maps[0]
		scale := 1 / math.Sqrt(d)
		if withBias {
			scale = 1
		}
		for bb := 0; bb < b; bb++ {
			for h := 0; h < heads; h++ {
				for i := 0; i < tq; i++ {
					s := make([]float64, tk)
					mx := math.Inf(-1)
					for j := 0; j < tk; j++ {
						if j > i+tk-tq || pad[bb*tk+j] {
							s[j] = math.Inf(-1)
							continue
						}
						for x := 0; x < d; x++ {
							s[j] += float64(q.Data()[(bb*tq+i)*heads*d+h*d+x]) * float64(k.Data()[(bb*tk+j)*heads*d+h*d+x])
						}
						s[j] *= scale
						if withBias {
							s[j] += float64(bias.Data()[h*(tq+tk-1)+j-i+tq-1])
						}
						mx = math.Max(mx, s[j])
					}
					var sum, got float64
					for j := range s {
						sum += math.Exp(s[j] - mx)
					}
					for j := range s {
						want := math.Exp(s[j]-mx) / sum
						p := float64(m.At(bb, h, i, j))
						got += p
						if math.Abs(p-want) > 1e-6 {
							t.Fatalf("bias=%v: P[%d,%d,%d,%d] = %g, want %g", withBias, bb, h, i, j, p, want)
						}
					}
					if math.Abs(got-1) > 1e-5 {
						t.Fatalf("row %d,%d,%d sums to %g", bb, h, i, got)
					}
				}
			}
		}
	}
	// The fused QKV projection: the same probabilities as separate q, k, v.
	qkv := tensor.New(b, tk, 3*heads*d)
	for r := 0; r < b*tk; r++ {
		copy(qkv.Data()[r*3*heads*d:], k.Data()[r*heads*d:(r+1)*heads*d])
		copy(qkv.Data()[r*3*heads*d+heads*d:], k.Data()[r*heads*d:(r+1)*heads*d])
		copy(qkv.Data()[r*3*heads*d+2*heads*d:], v.Data()[r*heads*d:(r+1)*heads*d])
	}
	g := NewGraph(0)
	g.NoGrad, g.KeepAttention = true, true
	g.AttentionQKV(Constant(qkv), heads, AttentionOptions{Causal: true})
	g.Attention(Constant(k), Constant(k), Constant(v), heads, AttentionOptions{Causal: true})
	maps := g.AttentionMaps()
	if g.Err() != nil || len(maps) != 2 {
		t.Fatalf("%v, %d maps", g.Err(), len(maps))
	}
	for i, p := range maps[0].Probs {
		if p != maps[1].Probs[i] {
			t.Fatalf("fused QKV probability %d: %g, separate %g", i, p, maps[1].Probs[i])
		}
	}
	g.Reset()
	if len(g.AttentionMaps()) != 0 {
		t.Error("Reset kept the maps")
	}
	// Training graphs cannot keep them.
	g = NewGraph(0)
	g.KeepAttention = true
	g.Attention(NewParam("q", q), Constant(k), Constant(v), heads, AttentionOptions{})
	if g.Err() == nil {
		t.Error("KeepAttention on a graph that records gradients was accepted")
	}
}
