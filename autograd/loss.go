package autograd

import (
	"fmt"

	"github.com/goformer/goformer/internal/cpu"
)

// Softmax applies a stable softmax over the last dimension.
func (g *Graph) Softmax(x *Var) *Var {
	if g.failed("Softmax", x) {
		return g.poison
	}
	out := g.newVar([]*Var{x}, x.Shape()...)
	cpu.SoftmaxRows(out.Value.Data(), x.Value.Data(), rows(x), lastDim(x))
	g.record(node{op: opSoftmax, out: out, in: [4]*Var{x}, rows: rows(x), cols: lastDim(x)})
	return out
}

func (g *Graph) softmaxBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dx := g.arena.alloc(n.rows * n.cols)
	cpu.SoftmaxRowsBackward(dx, n.out.Value.Data(), n.out.Grad.Data(), n.rows, n.cols)
	g.accumulate(n.in[0], 1, dx)
}

// CrossEntropy returns the mean over the rows of logits [..., V] of
// -log softmax(logits)[target], skipping rows whose target is ignoreIndex,
// with label smoothing eps (the target distribution puts 1-eps on the
// target and eps/V on every class, as PyTorch does). targets must stay
// unchanged until Backward.
func (g *Graph) CrossEntropy(logits *Var, targets []int32, ignoreIndex int32, eps float32) *Var {
	if g.failed("CrossEntropy", logits) {
		return g.poison
	}
	r, vocab := rows(logits), lastDim(logits)
	if len(targets) != r {
		return g.Fail(fmt.Errorf("autograd.CrossEntropy: %d targets for %d rows of logits %v", len(targets), r, logits.Shape()))
	}
	for i, t := range targets {
		if t != ignoreIndex && (t < 0 || int(t) >= vocab) {
			return g.Fail(fmt.Errorf("autograd.CrossEntropy: target %d at row %d is outside [0, %d)", t, i, vocab))
		}
	}
	out := g.newVar([]*Var{logits}, 1)
	probs := g.arena.alloc(r * vocab)
	// Each row's loss in float64, summed in row order.
	if cap(g.rowLosses) < r {
		g.rowLosses = make([]float64, r)
	}
	losses := g.rowLosses[:r]
	cpu.SoftmaxCrossEntropy(probs, logits.Value.Data(), targets, ignoreIndex, eps, losses, r, vocab)
	var total float64
	count := 0
	for i, t := range targets {
		if t != ignoreIndex {
			total += losses[i]
			count++
		}
	}
	out.Value.Data()[0] = 0
	if count > 0 {
		out.Value.Data()[0] = float32(total / float64(count))
	}
	g.record(node{op: opCrossEntropy, out: out, in: [4]*Var{logits}, ids: targets, probs: probs,
		rows: r, cols: vocab, counted: count, ignore: ignoreIndex, eps: eps})
	return out
}

// crossEntropyBackward: d loss / d logits = (softmax − ((1−eps)·onehot +
// eps/V)) / counted, and zero on ignored rows.
func (g *Graph) crossEntropyBackward(n *node) {
	if !n.needs(0) || n.counted == 0 {
		return
	}
	vocab, eps := n.cols, n.eps
	scale := n.out.Grad.Data()[0] / float32(n.counted)
	dl, fresh := g.gradFor(n.in[0])
	cpu.SoftmaxCrossEntropyBackward(dl, n.probs, n.ids, n.ignore, eps, scale, !fresh, n.rows, vocab)
}
