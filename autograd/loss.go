package autograd

import (
	"fmt"
	"math"

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

// SoftCrossEntropy returns the mean over the rows of logits [..., V] of
// the cross-entropy −Σ_j p_j log softmax(logits)_j against the target
// distributions p, targets[r*V+j] (each row non-negative and summing to
// 1): distillation's loss, where a teacher's probabilities (or a mixture
// of them with the one-hot label) are the targets. It copies targets.
func (g *Graph) SoftCrossEntropy(logits *Var, targets []float32) *Var {
	if g.failed("SoftCrossEntropy", logits) {
		return g.poison
	}
	r, vocab := rows(logits), lastDim(logits)
	if len(targets) != r*vocab {
		return g.Fail(fmt.Errorf("autograd.SoftCrossEntropy: %d targets for logits %v (want %d)", len(targets), logits.Shape(), r*vocab))
	}
	for i := range r {
		var sum float64
		for j, p := range targets[i*vocab : (i+1)*vocab] {
			if !(p >= 0) {
				return g.Fail(fmt.Errorf("autograd.SoftCrossEntropy: target %g at row %d, class %d is not a probability", p, i, j))
			}
			sum += float64(p)
		}
		if math.Abs(sum-1) > 1e-3 {
			return g.Fail(fmt.Errorf("autograd.SoftCrossEntropy: the targets of row %d sum to %g, not 1", i, sum))
		}
	}
	out := g.newVar([]*Var{logits}, 1)
	probs := g.arena.alloc(r * vocab)
	kept := g.arena.alloc(r * vocab)
	copy(kept, targets)
	x := logits.Value.Data()
	var total float64
	for i := range r {
		row, pr, tr := x[i*vocab:(i+1)*vocab], probs[i*vocab:(i+1)*vocab], kept[i*vocab:(i+1)*vocab]
		top := row[0]
		for _, v := range row {
			top = max(top, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v - top))
		}
		lse := float64(top) + math.Log(z)
		for j, v := range row {
			pr[j] = float32(math.Exp(float64(v) - lse))
			total += float64(tr[j]) * (lse - float64(v))
		}
	}
	out.Value.Data()[0] = float32(total / float64(max(r, 1)))
	g.record(node{op: opSoftCrossEntropy, out: out, in: [4]*Var{logits}, probs: probs, mask: kept, rows: r, cols: vocab})
	return out
}

// softCrossEntropyBackward: d loss / d logits = (softmax − p) / rows.
func (g *Graph) softCrossEntropyBackward(n *node) {
	if !n.needs(0) || n.rows == 0 {
		return
	}
	scale := n.out.Grad.Data()[0] / float32(n.rows)
	dl := g.arena.alloc(n.rows * n.cols)
	for i, p := range n.probs {
		dl[i] = scale * (p - n.mask[i])
	}
	g.accumulate(n.in[0], 1, dl)
}
