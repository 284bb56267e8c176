package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// forwardFn builds an operation on fresh parameters holding the given
// values and returns its output.
type forwardFn func(g *Graph, in []*Var) *Var

// spread holds the values −n/20, …, n/20 (0.1 apart) in a random order.
func spread(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	n := t.Len()
	for i, p := range rng.Perm(n) {
		t.Data()[i] = float32(p)*0.1 - float32(n)/20
	}
	return t
}

func randTensor(rng *rand.Rand, scale float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = (rng.Float32()*2 - 1) * scale
	}
	return t
}

// checkGradients compares the gradients Backward gives for each input with
// central finite differences of the loss L = Σ w∘f(inputs) (w random),
// computed in float64 from the float32 forward pass. The step h is large
// enough for float32's rounding not to swamp the difference; a wrong
// derivative is off by far more than the tolerance.
func checkGradients(t *testing.T, name string, f forwardFn, inputs []*tensor.Tensor, training bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(99, 1))
	run := func(vals []*tensor.Tensor, withGrad bool) (*Graph, []*Var, *Var) {
		g := NewGraph(7)
		g.Training = training
		g.NoGrad = !withGrad
		vars := make([]*Var, len(vals))
		for i, v := range vals {
			vars[i] = NewParam(fmt.Sprint("in", i), v)
		}
		out := f(g, vars)
		if err := g.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return g, vars, out
	}
	g, vars, out := run(inputs, true)
	w := randTensor(rng, 1, out.Shape()...)
	if err := g.BackwardWithGrad(out, w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	loss := func() float64 {
		_, _, o := run(inputs, false)
		var l float64
		for i, v := range o.Value.Data() {
			l += float64(v) * float64(w.Data()[i])
		}
		return l
	}
	const h = 1e-2
	for vi, in := range inputs {
		grad := vars[vi].Grad.Data()
		var maxErr, maxG float64
		for i := range in.Data() {
			orig := in.Data()[i]
			in.Data()[i] = orig + h
			lp := loss()
			in.Data()[i] = orig - h
			lm := loss()
			in.Data()[i] = orig
			num := (lp - lm) / (float64(orig+h) - float64(orig-h))
			maxErr = math.Max(maxErr, math.Abs(num-float64(grad[i])))
			maxG = math.Max(maxG, math.Abs(num))
		}
		if maxErr > 2e-3*math.Max(1, maxG) {
			t.Errorf("%s: input %d: gradient differs from finite differences by %.3g (largest gradient %.3g)", name, vi, maxErr, maxG)
		}
	}
}

func TestOpGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	awayFromZero := func(x *tensor.Tensor) *tensor.Tensor { // no ReLU kinks within a step
		for i, v := range x.Data() {
			if math.Abs(float64(v)) < 0.05 {
				x.Data()[i] = 0.3
			}
		}
		return x
	}
	ids := []int32{3, 0, 3, 6, 1}
	targets := []int32{2, -100, 0, 4, 4, 1}
	for _, tc := range []struct {
		name     string
		f        forwardFn
		in       []*tensor.Tensor
		training bool
	}{
		{"MatMul", func(g *Graph, in []*Var) *Var { return g.MatMul(in[0], in[1]) },
			[]*tensor.Tensor{randTensor(rng, 1, 2, 3, 4), randTensor(rng, 1, 4, 5)}, false},
		{"Linear", func(g *Graph, in []*Var) *Var { return g.Linear(in[0], in[1], in[2]) },
			[]*tensor.Tensor{randTensor(rng, 1, 2, 3, 4), randTensor(rng, 1, 5, 4), randTensor(rng, 1, 5)}, false},
		{"Add broadcast", func(g *Graph, in []*Var) *Var { return g.Add(in[0], in[1]) },
			[]*tensor.Tensor{randTensor(rng, 1, 3, 2, 4), randTensor(rng, 1, 2, 4)}, false},
		{"Scale+Reshape", func(g *Graph, in []*Var) *Var {
			return g.Scale(g.Reshape(in[0], 4, -1), -1.5)
		}, []*tensor.Tensor{randTensor(rng, 1, 2, 6)}, false},
		{"LayerNorm", func(g *Graph, in []*Var) *Var { return g.LayerNorm(in[0], in[1], in[2], 1e-5) },
			[]*tensor.Tensor{randTensor(rng, 2, 3, 7), randTensor(rng, 1, 7), randTensor(rng, 1, 7)}, false},
		{"GELU", func(g *Graph, in []*Var) *Var { return g.GELU(in[0]) },
			[]*tensor.Tensor{randTensor(rng, 3, 4, 5)}, false},
		{"GELUErf", func(g *Graph, in []*Var) *Var { return g.GELUErf(in[0]) },
			[]*tensor.Tensor{randTensor(rng, 3, 4, 5)}, false},
		{"SiLU", func(g *Graph, in []*Var) *Var { return g.SiLU(in[0]) },
			[]*tensor.Tensor{randTensor(rng, 3, 4, 5)}, false},
		{"ReLU", func(g *Graph, in []*Var) *Var { return g.ReLU(in[0]) },
			[]*tensor.Tensor{awayFromZero(randTensor(rng, 3, 4, 5))}, false},
		{"Tanh", func(g *Graph, in []*Var) *Var { return g.Tanh(in[0]) },
			[]*tensor.Tensor{randTensor(rng, 3, 4, 5)}, false},
		{"MeanPool padded", func(g *Graph, in []*Var) *Var {
			return g.MeanPool(in[0], []bool{false, false, true, false, true, true, false, false, false})
		}, []*tensor.Tensor{randTensor(rng, 1, 3, 3, 4)}, false},
		// values 0.1 apart (a permutation), so no two tie within a step
		{"MaxPool padded", func(g *Graph, in []*Var) *Var {
			return g.MaxPool(in[0], []bool{false, false, true, false, true, true, false, false, false})
		}, []*tensor.Tensor{spread(rng, 3, 3, 4)}, false},
		{"MaxPool", func(g *Graph, in []*Var) *Var { return g.MaxPool(in[0], nil) },
			[]*tensor.Tensor{spread(rng, 2, 5, 3)}, false},
		{"MeanPool", func(g *Graph, in []*Var) *Var { return g.MeanPool(in[0], nil) },
			[]*tensor.Tensor{randTensor(rng, 1, 2, 3, 4)}, false},
		{"Normalize", func(g *Graph, in []*Var) *Var { return g.Normalize(in[0]) },
			[]*tensor.Tensor{randTensor(rng, 1, 3, 5)}, false},
		{"Dropout", func(g *Graph, in []*Var) *Var { return g.Dropout(in[0], 0.3) },
			[]*tensor.Tensor{randTensor(rng, 1, 6, 5)}, true},
		{"Embedding", func(g *Graph, in []*Var) *Var { return g.Embedding(in[0], ids, 2, 5) },
			[]*tensor.Tensor{randTensor(rng, 1, 7, 3)}, false},
		{"Softmax", func(g *Graph, in []*Var) *Var { return g.Softmax(in[0]) },
			[]*tensor.Tensor{randTensor(rng, 2, 3, 6)}, false},
		{"CrossEntropy", func(g *Graph, in []*Var) *Var { return g.CrossEntropy(in[0], targets, -100, 0) },
			[]*tensor.Tensor{randTensor(rng, 2, 2, 3, 5)}, false},
		{"CrossEntropy smoothed", func(g *Graph, in []*Var) *Var { return g.CrossEntropy(in[0], targets, -100, 0.1) },
			[]*tensor.Tensor{randTensor(rng, 2, 6, 5)}, false},
		// a teacher's distribution in each row, one row one-hot, one uniform
		{"SoftCrossEntropy", func(g *Graph, in []*Var) *Var {
			return g.SoftCrossEntropy(in[0], []float32{
				0.5, 0.25, 0, 0.125, 0.125,
				0, 0, 1, 0, 0,
				0.2, 0.2, 0.2, 0.2, 0.2})
		}, []*tensor.Tensor{randTensor(rng, 2, 3, 5)}, false},
		{"Attention causal", func(g *Graph, in []*Var) *Var {
			return g.Attention(in[0], in[1], in[2], 2, AttentionOptions{Causal: true})
		}, []*tensor.Tensor{randTensor(rng, 1, 2, 5, 6), randTensor(rng, 1, 2, 5, 6), randTensor(rng, 1, 2, 5, 6)}, false},
		{"AttentionQKV causal padded", func(g *Graph, in []*Var) *Var {
			return g.AttentionQKV(in[0], 2, AttentionOptions{Causal: true, KeyPad: []bool{false, false, false, true, false, false, false, false}})
		}, []*tensor.Tensor{randTensor(rng, 1, 2, 4, 12)}, false},
		{"Attention cross padded", func(g *Graph, in []*Var) *Var {
			return g.Attention(in[0], in[1], in[2], 3, AttentionOptions{KeyPad: []bool{false, false, true, false, false, false, false, true}})
		}, []*tensor.Tensor{randTensor(rng, 1, 2, 3, 6), randTensor(rng, 1, 2, 4, 6), randTensor(rng, 1, 2, 4, 6)}, false},
		{"RMSNorm", func(g *Graph, in []*Var) *Var { return g.RMSNorm(in[0], in[1], 1e-6) },
			[]*tensor.Tensor{randTensor(rng, 2, 3, 7), randTensor(rng, 1, 7)}, false},
		{"Mul", func(g *Graph, in []*Var) *Var { return g.Mul(in[0], in[1]) },
			[]*tensor.Tensor{randTensor(rng, 1, 3, 4), randTensor(rng, 1, 3, 4)}, false},
		{"Mul shared input", func(g *Graph, in []*Var) *Var { return g.Mul(in[0], in[0]) },
			[]*tensor.Tensor{randTensor(rng, 1, 3, 4)}, false},
		{"RelativeBias", func(g *Graph, in []*Var) *Var { return g.RelativeBias(in[0], []int32{0, 2, 2, 1, 3, 0, 1}) },
			[]*tensor.Tensor{randTensor(rng, 1, 4, 3)}, false},
		// T5's self-attention: a relative bias gathered from its table, no
		// scaling of q·k, causal and padded, Tq < Tk (a cached decoder).
		{"Attention relative bias", func(g *Graph, in []*Var) *Var {
			bias := g.RelativeBias(in[3], []int32{3, 1, 0, 2, 4, 4, 1, 0})
			return g.Attention(in[0], in[1], in[2], 2, AttentionOptions{Causal: true, Scale: 1, Bias: bias,
				KeyPad: []bool{false, false, true, false, false, false, false, false, false, false, false, true}})
		}, []*tensor.Tensor{randTensor(rng, 1, 2, 3, 6), randTensor(rng, 1, 2, 6, 6), randTensor(rng, 1, 2, 6, 6), randTensor(rng, 2, 5, 2)}, false},
	} {
		checkGradients(t, tc.name, tc.f, tc.in, tc.training)
	}
	checkGradients(t, "Narrow", func(g *Graph, in []*Var) *Var { return g.Narrow(in[0], 2, 3) },
		[]*tensor.Tensor{randTensor(rng, 1, 2, 3, 7)}, false)
	// Parts that are intermediate values (whose gradient starts here) and
	// parameters (whose gradient accumulates), one of them used twice.
	checkGradients(t, "ConcatRows", func(g *Graph, in []*Var) *Var {
		parts := g.ConcatRows(g.Scale(in[0], 2), g.Scale(in[1], -1))
		return g.Add(g.Linear(parts, in[2], nil), g.Linear(g.ConcatRows(in[0], in[0]), in[2], nil))
	}, []*tensor.Tensor{randTensor(rng, 1, 3, 5), randTensor(rng, 1, 3, 5), randTensor(rng, 1, 4, 5)}, false)
	// Rows skipped, taken out of order and twice; from an intermediate value
	// (fresh gradient) and a parameter (accumulating).
	checkGradients(t, "GatherRows", func(g *Graph, in []*Var) *Var {
		return g.Add(g.GatherRows(g.Scale(in[0], 3), []int32{4, 0, 2, 4}), g.GatherRows(in[0], []int32{1, 1, 5, 0}))
	}, []*tensor.Tensor{randTensor(rng, 1, 2, 3, 4)}, false)
}
