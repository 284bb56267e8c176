package autograd

import (
	"fmt"
	"math"
)

// MeanPool averages x [batch, seqLen, width] over each row's positions that
// pad (batch × seqLen, true at padding; nil for none) leaves, as
// sentence-transformers' mean pooling does, giving [batch, width]. A row
// that is all padding pools to zeros.
func (g *Graph) MeanPool(x *Var, pad []bool) *Var {
	b, t, w, bad := g.poolDims("MeanPool", x, pad)
	if bad != nil {
		return bad
	}
	weights := g.arena.alloc(b * t)
	for r := range b {
		n := 0
		for j := range t {
			if pad == nil || !pad[r*t+j] {
				n++
			}
		}
		for j := range t {
			weights[r*t+j] = 0
			if n > 0 && (pad == nil || !pad[r*t+j]) {
				weights[r*t+j] = 1 / float32(n)
			}
		}
	}
	out := g.newVar([]*Var{x}, b, w)
	od, xd := out.Value.Data(), x.Value.Data()
	for r := range b {
		o := od[r*w : (r+1)*w]
		clear(o)
		for j := range t {
			if a := weights[r*t+j]; a != 0 {
				for i, v := range xd[(r*t+j)*w : (r*t+j+1)*w] {
					o[i] += a * v
				}
			}
		}
	}
	g.record(node{op: opMeanPool, out: out, in: [4]*Var{x}, mask: weights, rows: t, cols: w})
	return out
}

func (g *Graph) meanPoolBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout := n.out.Grad.Data()
	t, w := n.rows, n.cols
	dx := g.arena.alloc(len(n.mask) * w)
	for k, a := range n.mask {
		d, r := dx[k*w:(k+1)*w], k/t
		for i, v := range dout[r*w : (r+1)*w] {
			d[i] = a * v
		}
	}
	g.accumulate(n.in[0], 1, dx)
}

// normalizeEps is the smallest norm Normalize divides by (PyTorch's
// F.normalize default).
const normalizeEps = 1e-12

// Normalize scales each row of x's last dimension to unit Euclidean norm,
// x / max(‖x‖, 1e-12), as torch.nn.functional.normalize (and
// sentence-transformers' Normalize module) does.
func (g *Graph) Normalize(x *Var) *Var {
	if g.failed("Normalize", x) {
		return g.poison
	}
	s := x.Shape()
	w := s[len(s)-1]
	rows := x.Value.Len() / max(w, 1)
	out := g.newVar([]*Var{x}, s...)
	inv := g.arena.alloc(rows)
	od, xd := out.Value.Data(), x.Value.Data()
	for r := range rows {
		var ss float64
		for _, v := range xd[r*w : (r+1)*w] {
			ss += float64(v) * float64(v)
		}
		inv[r] = float32(1 / math.Max(math.Sqrt(ss), normalizeEps))
		for i, v := range xd[r*w : (r+1)*w] {
			od[r*w+i] = v * inv[r]
		}
	}
	g.record(node{op: opNormalize, out: out, in: [4]*Var{x}, rstd: inv, cols: w})
	return out
}

// normalizeBackward: with y = x/‖x‖, dx = (dy − y·(y·dy))/‖x‖; below the
// clamp the norm is a constant and dx = dy/eps.
func (g *Graph) normalizeBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout, y, w := n.out.Grad.Data(), n.out.Value.Data(), n.cols
	dx := g.arena.alloc(len(dout))
	for r, inv := range n.rstd {
		dy, yr, d := dout[r*w:(r+1)*w], y[r*w:(r+1)*w], dx[r*w:(r+1)*w]
		var dot float64
		if inv < 1/normalizeEps {
			for i := range yr {
				dot += float64(yr[i]) * float64(dy[i])
			}
		}
		for i := range d {
			d[i] = (dy[i] - yr[i]*float32(dot)) * inv
		}
	}
	g.accumulate(n.in[0], 1, dx)
}

// poolDims checks a pooling op's input, x [batch, seqLen, width] with pad
// nil or batch × seqLen, and returns its sizes, or the poisoned output.
func (g *Graph) poolDims(op string, x *Var, pad []bool) (b, t, w int, poisoned *Var) {
	if g.failed(op, x) {
		return 0, 0, 0, g.poison
	}
	s := x.Shape()
	if len(s) != 3 || pad != nil && len(pad) != s[0]*s[1] {
		return 0, 0, 0, g.Fail(fmt.Errorf("%s: input %v with a mask of %d; want [batch, seqLen, width] and batch × seqLen", op, s, len(pad)))
	}
	return s[0], s[1], s[2], nil
}

// MaxPool is sentence-transformers' max pooling: x [batch, seqLen, width]
// → [batch, width], each feature's largest value over the positions, the
// padded positions (pad[b*seqLen+j]) counting as −1e9 as that library
// sets them. The gradient goes to the position that gave each maximum
// (the first of equal ones); to none where it was padding.
func (g *Graph) MaxPool(x *Var, pad []bool) *Var {
	b, t, w, bad := g.poolDims("MaxPool", x, pad)
	if bad != nil {
		return bad
	}
	out := g.newVar([]*Var{x}, b, w)
	od, xd := out.Value.Data(), x.Value.Data()
	// from[r*w+i]: the position the maximum came from, −1 when padding
	// (exact in float32 for any sequence length a model reads)
	from := g.arena.alloc(b * w)
	if t == 0 {
		clear(od)
		for i := range from {
			from[i] = -1
		}
	}
	for r := range b {
		o, f := od[r*w:(r+1)*w], from[r*w:(r+1)*w]
		for j := range t { // a position's features in a row, running maxima
			padded := pad != nil && pad[r*t+j]
			for i, v := range xd[(r*t+j)*w : (r*t+j+1)*w] {
				if padded {
					v = -1e9
				}
				if j == 0 || v > o[i] {
					o[i], f[i] = v, float32(j)
					if padded {
						f[i] = -1
					}
				}
			}
		}
	}
	g.record(node{op: opMaxPool, out: out, in: [4]*Var{x}, mask: from, rows: t, cols: w})
	return out
}

func (g *Graph) maxPoolBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout := n.out.Grad.Data()
	t, w := n.rows, n.cols
	dx := g.arena.alloc(n.in[0].Value.Len())
	clear(dx)
	for k, at := range n.mask {
		if at >= 0 {
			r, i := k/w, k%w
			dx[(r*t+int(at))*w+i] = dout[k]
		}
	}
	g.accumulate(n.in[0], 1, dx)
}
