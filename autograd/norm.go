package autograd

import (
	"fmt"

	"github.com/goformer/goformer/internal/cpu"
)

// LayerNorm normalises the last dimension of x and applies gamma and beta
// ([d] each): (x - mean)/sqrt(var + eps)·gamma + beta.
func (g *Graph) LayerNorm(x, gamma, beta *Var, eps float32) *Var {
	if g.failed("LayerNorm", x, gamma, beta) {
		return g.poison
	}
	d := lastDim(x)
	if gamma.Value.Len() != d || beta.Value.Len() != d {
		return g.Fail(shapeErr("LayerNorm", fmt.Sprintf("gamma and beta must have %d elements", d), x, gamma, beta))
	}
	r := rows(x)
	out := g.newVar([]*Var{x, gamma, beta}, x.Shape()...)
	var mean, rstd []float32
	if out.RequiresGrad {
		mean, rstd = g.arena.alloc(r), g.arena.alloc(r)
	}
	cpu.LayerNorm(out.Value.Data(), x.Value.Data(), gamma.Value.Data(), beta.Value.Data(), mean, rstd, r, d, eps)
	g.record(node{op: opLayerNorm, out: out, in: [4]*Var{x, gamma, beta}, rows: r, cols: d, mean: mean, rstd: rstd})
	return out
}

func (g *Graph) layerNormBackward(n *node) {
	x, gamma, beta := n.in[0], n.in[1], n.in[2]
	dx := g.arena.alloc(n.rows * n.cols)
	dgamma, dbeta := g.grad(gamma), g.grad(beta)
	cpu.LayerNormBackward(dx, dgamma, dbeta, x.Value.Data(), gamma.Value.Data(), n.mean, n.rstd, n.out.Grad.Data(), n.rows, n.cols)
	if n.needs(0) {
		g.accumulate(x, 1, dx)
	}
}

// RMSNorm normalises the last dimension of x by its root mean square and
// applies gamma ([d]): x/sqrt(mean(x²) + eps)·gamma, with no mean taken
// and no bias (T5's T5LayerNorm).
func (g *Graph) RMSNorm(x, gamma *Var, eps float32) *Var {
	if g.failed("RMSNorm", x, gamma) {
		return g.poison
	}
	d := lastDim(x)
	if gamma.Value.Len() != d {
		return g.Fail(shapeErr("RMSNorm", fmt.Sprintf("gamma must have %d elements", d), x, gamma))
	}
	r := rows(x)
	out := g.newVar([]*Var{x, gamma}, x.Shape()...)
	var rstd []float32
	if out.RequiresGrad {
		rstd = g.arena.alloc(r)
	}
	cpu.RMSNorm(out.Value.Data(), x.Value.Data(), gamma.Value.Data(), rstd, r, d, eps)
	g.record(node{op: opRMSNorm, out: out, in: [4]*Var{x, gamma}, rows: r, cols: d, rstd: rstd})
	return out
}

func (g *Graph) rmsNormBackward(n *node) {
	x, gamma := n.in[0], n.in[1]
	dx := g.arena.alloc(n.rows * n.cols)
	var dgamma []float32
	if n.needs(1) {
		dgamma = g.grad(gamma)
	} else {
		dgamma = g.arena.alloc(n.cols)
	}
	cpu.RMSNormBackward(dx, dgamma, x.Value.Data(), gamma.Value.Data(), n.rstd, n.out.Grad.Data(), n.rows, n.cols)
	if n.needs(0) {
		g.accumulate(x, 1, dx)
	}
}
