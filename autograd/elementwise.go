package autograd

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/tensor"
)

// Add returns a + b, where b has a's shape or a's trailing dimensions (and
// is then added to every leading index: biases, position embeddings).
func (g *Graph) Add(a, b *Var) *Var {
	if g.failed("Add", a, b) {
		return g.poison
	}
	as, bs := a.Shape(), b.Shape()
	if len(bs) > len(as) || !tensor.EqualShapes(as[len(as)-len(bs):], bs) || b.Value.Len() == 0 {
		return g.Fail(shapeErr("Add", "b must have a's shape or its trailing dimensions", a, b))
	}
	out := g.newVar([]*Var{a, b}, as...)
	od, ad, bd := out.Value.Data(), a.Value.Data(), b.Value.Data()
	for off := 0; off < len(ad); off += len(bd) {
		cpu.Add(od[off:off+len(bd)], ad[off:off+len(bd)], bd)
	}
	g.record(node{op: opAdd, out: out, in: [4]*Var{a, b}})
	return out
}

func (g *Graph) addBackward(n *node) {
	dout := n.out.Grad.Data()
	if n.needs(0) {
		g.accumulate(n.in[0], 1, dout)
	}
	if n.needs(1) { // b was broadcast: sum the gradient over the leading indices
		db := g.grad(n.in[1])
		for off := 0; off < len(dout); off += len(db) {
			cpu.Axpy(1, dout[off:off+len(db)], db)
		}
	}
}

// Mul returns the elementwise product a∘b of two tensors of one shape
// (the gate of a gated feed-forward network).
func (g *Graph) Mul(a, b *Var) *Var {
	if g.failed("Mul", a, b) {
		return g.poison
	}
	if !a.Value.SameShape(b.Value) {
		return g.Fail(shapeErr("Mul", "a and b must have the same shape", a, b))
	}
	out := g.newVar([]*Var{a, b}, a.Shape()...)
	od, ad, bd := out.Value.Data(), a.Value.Data(), b.Value.Data()
	for i, x := range ad {
		od[i] = x * bd[i]
	}
	g.record(node{op: opMul, out: out, in: [4]*Var{a, b}})
	return out
}

func (g *Graph) mulBackward(n *node) {
	dout := n.out.Grad.Data()
	for i, other := range [2]*Var{n.in[1], n.in[0]} {
		if !n.needs(i) {
			continue
		}
		d, fresh := g.gradFor(n.in[i])
		od := other.Value.Data()
		if fresh {
			for e, x := range dout {
				d[e] = x * od[e]
			}
		} else {
			for e, x := range dout {
				d[e] += x * od[e]
			}
		}
	}
}

// Scale returns s·x.
func (g *Graph) Scale(x *Var, s float32) *Var {
	if g.failed("Scale", x) {
		return g.poison
	}
	out := g.newVar([]*Var{x}, x.Shape()...)
	od := out.Value.Data()
	for i, v := range x.Value.Data() {
		od[i] = s * v
	}
	g.record(node{op: opScale, out: out, in: [4]*Var{x}, scale: s})
	return out
}

// passBackward is the backward of Scale (dx = s·dout) and Reshape (dx =
// dout, scale 1).
func (g *Graph) passBackward(n *node) {
	if n.needs(0) {
		s := n.scale
		if n.op == opReshape {
			s = 1
		}
		g.accumulate(n.in[0], s, n.out.Grad.Data())
	}
}

// Reshape returns x with a new shape (one dimension may be -1). The value
// shares x's data.
func (g *Graph) Reshape(x *Var, shape ...int) *Var {
	if g.failed("Reshape", x) {
		return g.poison
	}
	var buf [8]int
	sh := append(buf[:0], shape...)
	infer, known := -1, 1
	for i, d := range sh {
		if d == -1 && infer < 0 {
			infer = i
		} else {
			known *= d
		}
	}
	if infer >= 0 && known > 0 && x.Value.Len()%known == 0 {
		sh[infer] = x.Value.Len() / known
		known = x.Value.Len()
	}
	if known != x.Value.Len() || infer >= 0 && sh[infer] < 0 {
		_, err := x.Value.Reshape(shape...) // for its error, which names both shapes
		if err == nil {
			err = shapeErr("Reshape", "cannot reshape", x)
		}
		return g.Fail(err)
	}
	out := g.newVarShell()
	out.Value = out.own
	out.Value.Rebind(x.Value.Data(), sh...)
	out.RequiresGrad = x.RequiresGrad && !g.NoGrad
	g.record(node{op: opReshape, out: out, in: [4]*Var{x}})
	return out
}

// Narrow returns the columns [from, from+width) of x's last dimension as a
// new contiguous tensor [..., width] (PyTorch's x[..., from:from+width]).
func (g *Graph) Narrow(x *Var, from, width int) *Var {
	if g.failed("Narrow", x) {
		return g.poison
	}
	c := lastDim(x)
	if x.Value.Dims() < 1 || from < 0 || width < 1 || from+width > c {
		return g.Fail(shapeErr("Narrow", fmt.Sprintf("columns [%d, %d) are not inside the last dimension", from, from+width), x))
	}
	var buf [8]int
	out := g.newVar([]*Var{x}, withLast(x.Shape(), width, &buf)...)
	od, xd := out.Value.Data(), x.Value.Data()
	for r := range rows(x) {
		copy(od[r*width:(r+1)*width], xd[r*c+from:r*c+from+width])
	}
	g.record(node{op: opNarrow, out: out, in: [4]*Var{x}, cols: c, offset: from})
	return out
}

func (g *Graph) narrowBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout := n.out.Grad.Data()
	c, from := n.cols, n.offset
	width := lastDim(n.out)
	dx, fresh := g.gradFor(n.in[0])
	if fresh {
		clear(dx)
	}
	for r := range rows(n.out) {
		cpu.Axpy(1, dout[r*width:(r+1)*width], dx[r*c+from:r*c+from+width])
	}
}

// ConcatRows stacks two matrices of the same width, a [m, c] over b [n, c],
// as one [m+n, c] (PyTorch's torch.cat([a, b], dim=0)).
func (g *Graph) ConcatRows(a, b *Var) *Var {
	if g.failed("ConcatRows", a, b) {
		return g.poison
	}
	if a.Value.Dims() != 2 || b.Value.Dims() != 2 || a.Shape()[1] != b.Shape()[1] {
		return g.Fail(shapeErr("ConcatRows", "want two matrices of the same width", a, b))
	}
	m, n, c := a.Shape()[0], b.Shape()[0], a.Shape()[1]
	out := g.newVar([]*Var{a, b}, m+n, c)
	od := out.Value.Data()
	copy(od, a.Value.Data())
	copy(od[m*c:], b.Value.Data())
	g.record(node{op: opConcatRows, out: out, in: [4]*Var{a, b}, rows: m, cols: c})
	return out
}

func (g *Graph) concatRowsBackward(n *node) {
	dout := n.out.Grad.Data()
	split := n.rows * n.cols
	for i, part := range [2][]float32{dout[:split], dout[split:]} {
		if !n.needs(i) {
			continue
		}
		dx, fresh := g.gradFor(n.in[i])
		if fresh {
			copy(dx, part)
		} else {
			cpu.Axpy(1, part, dx)
		}
	}
}

// GatherRows returns the rows idx of x [..., c] as one matrix [len(idx), c]
// (PyTorch's x.reshape(-1, c)[idx]); the gradient of a row taken twice is
// the sum of both. idx must stay unchanged until Backward.
func (g *Graph) GatherRows(x *Var, idx []int32) *Var {
	if g.failed("GatherRows", x) {
		return g.poison
	}
	r, c := rows(x), lastDim(x)
	for i, v := range idx {
		if v < 0 || int(v) >= r {
			return g.Fail(shapeErr("GatherRows", fmt.Sprintf("index %d (position %d) is outside the %d rows", v, i, r), x))
		}
	}
	out := g.newVar([]*Var{x}, len(idx), c)
	od, xd := out.Value.Data(), x.Value.Data()
	for i, v := range idx {
		copy(od[i*c:(i+1)*c], xd[int(v)*c:(int(v)+1)*c])
	}
	g.record(node{op: opGatherRows, out: out, in: [4]*Var{x}, ids: idx, cols: c})
	return out
}

func (g *Graph) gatherRowsBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout, c := n.out.Grad.Data(), n.cols
	dx, fresh := g.gradFor(n.in[0])
	if fresh {
		clear(dx)
	}
	for i, v := range n.ids {
		cpu.Axpy(1, dout[i*c:(i+1)*c], dx[int(v)*c:(int(v)+1)*c])
	}
}

// GELU applies the tanh approximation of GELU (GPT-2's) elementwise.
func (g *Graph) GELU(x *Var) *Var { return g.activation(opGELU, "GELU", x) }

// GELUErf applies the exact GELU, 0.5·x·(1 + erf(x/√2)) (BERT's).
func (g *Graph) GELUErf(x *Var) *Var { return g.activation(opGELUErf, "GELUErf", x) }

// SiLU applies x·sigmoid(x) (swish) elementwise.
func (g *Graph) SiLU(x *Var) *Var { return g.activation(opSiLU, "SiLU", x) }

// activation is the forward of the smooth activations, whose kernels come
// in forward/backward pairs.
func (g *Graph) activation(op opKind, name string, x *Var) *Var {
	if g.failed(name, x) {
		return g.poison
	}
	out := g.newVar([]*Var{x}, x.Shape()...)
	od, xd := out.Value.Data(), x.Value.Data()
	switch op {
	case opGELU:
		cpu.GELU(od, xd)
	case opGELUErf:
		cpu.GELUErf(od, xd)
	case opSiLU:
		cpu.SiLU(od, xd)
	}
	g.record(node{op: op, out: out, in: [4]*Var{x}})
	return out
}

func (g *Graph) activationBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout := n.out.Grad.Data()
	dx := g.arena.alloc(len(dout))
	x := n.in[0].Value.Data()
	switch n.op {
	case opGELU:
		cpu.GELUBackward(dx, x, dout)
	case opGELUErf:
		cpu.GELUErfBackward(dx, x, dout)
	case opSiLU:
		cpu.SiLUBackward(dx, x, dout)
	}
	g.accumulate(n.in[0], 1, dx)
}

// Tanh applies the hyperbolic tangent elementwise (BERT's pooler and
// RoBERTa's classification head use it).
func (g *Graph) Tanh(x *Var) *Var {
	if g.failed("Tanh", x) {
		return g.poison
	}
	out := g.newVar([]*Var{x}, x.Shape()...)
	od := out.Value.Data()
	for i, v := range x.Value.Data() {
		od[i] = float32(math.Tanh(float64(v)))
	}
	g.record(node{op: opTanh, out: out, in: [4]*Var{x}})
	return out
}

// tanhBackward uses the output: d tanh(x)/dx = 1 − tanh(x)².
func (g *Graph) tanhBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout := n.out.Grad.Data()
	dx := g.arena.alloc(len(dout))
	for i, y := range n.out.Value.Data() {
		dx[i] = dout[i] * (1 - y*y)
	}
	g.accumulate(n.in[0], 1, dx)
}

// ReLU applies max(x, 0) elementwise.
func (g *Graph) ReLU(x *Var) *Var {
	if g.failed("ReLU", x) {
		return g.poison
	}
	out := g.newVar([]*Var{x}, x.Shape()...)
	cpu.ReLU(out.Value.Data(), x.Value.Data())
	g.record(node{op: opReLU, out: out, in: [4]*Var{x}})
	return out
}

func (g *Graph) reluBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout := n.out.Grad.Data()
	dx, fresh := g.gradFor(n.in[0])
	x := n.in[0].Value.Data()
	if fresh {
		cpu.ReLUBackward(dx, x, dout)
		return
	}
	cpu.ReLUBackwardAdd(dx, x, dout)
}

// Dropout zeroes each element with probability p and scales the rest by
// 1/(1-p) while the graph is Training; otherwise it returns x itself.
func (g *Graph) Dropout(x *Var, p float32) *Var {
	if g.failed("Dropout", x) {
		return g.poison
	}
	if !g.Training || p == 0 {
		return x
	}
	out := g.newVar([]*Var{x}, x.Shape()...)
	// The mask is one bit per element (a 32nd of the activation's memory),
	// in arena memory viewed as words. The graph's generator gives one
	// seed per call; the kernel draws every element's decision from it.
	n := x.Value.Len()
	words := g.arena.alloc((n + 31) / 32)
	kept := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(words))), len(words))
	keep := 1 / (1 - p)
	cpu.Dropout(out.Value.Data(), x.Value.Data(), kept, p, keep, g.rng.Uint64())
	g.record(node{op: opDropout, out: out, in: [4]*Var{x}, kept: kept, scale: keep})
	return out
}

func (g *Graph) dropoutBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dx, fresh := g.gradFor(n.in[0])
	cpu.DropoutBackward(dx, n.out.Grad.Data(), n.kept, n.scale, !fresh)
}
