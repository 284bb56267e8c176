package autograd

import (
	"fmt"

	"github.com/goformer/goformer/internal/cpu"
)

// MatMul returns a·b for a [..., m, k] and b [k, n] (shared by all leading
// indices): [..., m, n].
func (g *Graph) MatMul(a, b *Var) *Var {
	if g.failed("MatMul", a, b) {
		return g.poison
	}
	if a.Value.Dims() < 2 || b.Value.Dims() != 2 || lastDim(a) != b.Value.Dim(0) {
		return g.Fail(shapeErr("MatMul", "want a [..., m, k] and b [k, n]", a, b))
	}
	m, k, n := rows(a), lastDim(a), b.Value.Dim(1)
	var buf [8]int
	out := g.newVar([]*Var{a, b}, withLast(a.Shape(), n, &buf)...)
	cpu.Sgemm(false, false, m, n, k, 1, a.Value.Data(), k, b.Value.Data(), n, 0, out.Value.Data(), n)
	g.record(node{op: opMatMul, out: out, in: [4]*Var{a, b}, m: m, k: k, n: n})
	return out
}

func (g *Graph) matMulBackward(n *node) {
	dout := n.out.Grad.Data()
	a, b := n.in[0], n.in[1]
	if n.needs(0) { // da += dout·bᵀ
		da, fresh := g.gradFor(a)
		cpu.Sgemm(false, true, n.m, n.k, n.n, 1, dout, n.n, b.Value.Data(), n.n, beta(fresh), da, n.k)
	}
	if n.needs(1) { // db += aᵀ·dout
		cpu.Sgemm(true, false, n.k, n.n, n.m, 1, a.Value.Data(), n.k, dout, n.n, 1, g.grad(b), n.n)
	}
}

// Linear returns x·wᵀ + b for x [..., in], w [out, in] (PyTorch's layout)
// and b [out] (or nil): [..., out]. The bias starts the GEMM's C, so it
// costs no extra pass over the output.
func (g *Graph) Linear(x, w, b *Var) *Var {
	if g.failed("Linear", x, w) {
		return g.poison
	}
	if w.Value.Dims() != 2 || x.Value.Dims() < 1 || lastDim(x) != w.Value.Dim(1) {
		return g.Fail(shapeErr("Linear", "want x [..., in] and w [out, in]", x, w))
	}
	m, k, n := rows(x), lastDim(x), w.Value.Dim(0)
	if b != nil && (b.Value.Dims() != 1 || b.Value.Dim(0) != n) {
		return g.Fail(shapeErr("Linear", fmt.Sprintf("bias must be [%d]", n), w, b))
	}
	var buf [8]int
	out := g.newVar([]*Var{x, w, b}, withLast(x.Shape(), n, &buf)...)
	od := out.Value.Data()
	var beta float32
	if b != nil {
		cpu.FillRows(od, b.Value.Data(), m)
		beta = 1
	}
	if g.NoGrad && w.q != nil && w.q.N == n && w.q.K == k { // inference on quantised weights
		cpu.QLinear(m, x.Value.Data(), k, w.q, beta, od, n)
		return out
	}
	cpu.Sgemm(false, true, m, n, k, 1, x.Value.Data(), k, w.Value.Data(), k, beta, od, n)
	g.record(node{op: opLinear, out: out, in: [4]*Var{x, w, b}, m: m, k: k, n: n})
	return out
}

func (g *Graph) linearBackward(n *node) {
	dout := n.out.Grad.Data()
	x, w, b := n.in[0], n.in[1], n.in[2]
	if n.needs(0) { // dx += dout·w
		dx, fresh := g.gradFor(x)
		cpu.Sgemm(false, false, n.m, n.k, n.n, 1, dout, n.n, w.Value.Data(), n.k, beta(fresh), dx, n.k)
	}
	if n.needs(1) { // dw += doutᵀ·x
		cpu.Sgemm(true, false, n.n, n.k, n.m, 1, dout, n.n, x.Value.Data(), n.k, 1, g.grad(w), n.k)
	}
	if n.needs(2) { // db += Σ_rows dout
		db := g.grad(b)
		for r := 0; r < n.m; r++ {
			cpu.Axpy(1, dout[r*n.n:(r+1)*n.n], db)
		}
	}
}
