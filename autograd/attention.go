package autograd

import (
	"fmt"

	"github.com/goformer/goformer/internal/cpu"
)

// AttentionOptions are the masks of Attention.
type AttentionOptions struct {
	// Causal lets query i see key j only when j ≤ i + (Tk − Tq): the usual
	// mask when Tq = Tk, aligned to the end when the queries are the last
	// Tq of Tk positions (decoding with a KV cache).
	Causal bool
	// KeyPad, if not nil, marks padded keys: [batch × Tk], true = ignore.
	KeyPad []bool
	// Bias, if not nil, is a relative attention bias [heads, Tq+Tk−1]
	// added to the scores (cpu.Attention.RelBias: query i and key j of
	// head h get Bias[h][j − i + Tq − 1]; RelativeBias builds it). Its
	// gradient is summed over the batch. Attention only.
	Bias *Var
	// Scale multiplies q·kᵀ; 0 means 1/√d (T5 uses 1). Attention only.
	Scale float32
	// KeyLen, if not 0, is the number of keys: the first KeyLen positions
	// of each row of k and v, which hold more (a KV cache laid out at its
	// capacity, so that a step appends in place). Tk is then KeyLen, and
	// KeyPad has batch × KeyLen entries. Inference only: k and v must not
	// need gradients. Attention only.
	KeyLen int
}

// Attention is multi-head scaled dot-product attention (flash attention)
// on q [batch, Tq, heads·d] and k, v [batch, Tk, heads·d], the layout the
// projections produce; the result is [batch, Tq, heads·d], heads
// concatenated.
func (g *Graph) Attention(q, k, v *Var, heads int, opt AttentionOptions) *Var {
	if g.failed("Attention", q, k, v) {
		return g.poison
	}
	if q.Value.Dims() != 3 || k.Value.Dims() != 3 || !k.Value.SameShape(v.Value) ||
		q.Value.Dim(0) != k.Value.Dim(0) || q.Value.Dim(2) != k.Value.Dim(2) || heads < 1 || q.Value.Dim(2)%heads != 0 {
		return g.Fail(shapeErr("Attention", fmt.Sprintf("want q [batch, Tq, heads·d] and k, v [batch, Tk, heads·d] with %d heads", heads), q, k, v))
	}
	b, tq, tk, hd := q.Value.Dim(0), q.Value.Dim(1), k.Value.Dim(1), q.Value.Dim(2)
	kvStride := 0
	if opt.KeyLen != 0 {
		if opt.KeyLen < 0 || opt.KeyLen > tk {
			return g.Fail(shapeErr("Attention", fmt.Sprintf("KeyLen %d: want 1..Tk", opt.KeyLen), q, k, v))
		}
		kvStride, tk = tk*hd, opt.KeyLen
	}
	if opt.KeyPad != nil && len(opt.KeyPad) != b*tk {
		return g.Fail(fmt.Errorf("autograd.Attention: key padding mask has %d entries, want batch×Tk = %d", len(opt.KeyPad), b*tk))
	}
	a := cpu.Attention{Batch: b, Heads: heads, Tq: tq, Tk: tk, Dim: hd / heads, Causal: opt.Causal, KeyPad: opt.KeyPad, SeqMajor: true, Scale: opt.Scale, KVStride: kvStride}
	if opt.Bias != nil {
		if g.failed("Attention", opt.Bias) {
			return g.poison
		}
		if opt.Bias.Value.Len() != heads*(tq+tk-1) {
			return g.Fail(shapeErr("Attention", fmt.Sprintf("want a bias [heads, Tq+Tk−1] = [%d, %d]", heads, tq+tk-1), q, k, opt.Bias))
		}
		a.RelBias = opt.Bias.Value.Data()
	}
	out := g.newVar([]*Var{q, k, v, opt.Bias}, b, tq, hd)
	kd, vd := k.Value.Data(), v.Value.Data()
	if kvStride != 0 {
		if out.RequiresGrad {
			return g.Fail(fmt.Errorf("autograd.Attention: KeyLen is for inference (a graph with NoGrad, or inputs without gradients)"))
		}
		if g.KeepAttention { // the plain path reads contiguous keys
			kd, vd = packRows(kd, b, tk*hd, kvStride), packRows(vd, b, tk*hd, kvStride)
			a.KVStride = 0
		}
	}
	if g.KeepAttention {
		return g.keepAttention(out, a, q.Value.Data(), kd, vd)
	}
	lse := g.arena.alloc(b * heads * tq)
	a.Forward(out.Value.Data(), lse, q.Value.Data(), kd, vd)
	g.record(node{op: opAttention, out: out, in: [4]*Var{q, k, v, opt.Bias}, lse: lse, attn: a})
	return out
}

// packRows copies the first n elements of each of rows rows stride apart
// into a contiguous slice.
func packRows(x []float32, rows, n, stride int) []float32 {
	out := make([]float32, rows*n)
	for r := range rows {
		copy(out[r*n:(r+1)*n], x[r*stride:r*stride+n])
	}
	return out
}

// keepAttention computes out with the plain attention that forms the
// probabilities, and keeps them (KeepAttention). q, k and v must be
// contiguous [batch, T, heads·d].
func (g *Graph) keepAttention(out *Var, a cpu.Attention, q, k, v []float32) *Var {
	if out.RequiresGrad {
		return g.Fail(fmt.Errorf("autograd.Attention: KeepAttention is for inference; set NoGrad"))
	}
	probs := make([]float32, a.Batch*a.Heads*a.Tq*a.Tk)
	a.ForwardPlain(out.Value.Data(), probs, q, k, v)
	g.maps = append(g.maps, AttentionMap{Batch: a.Batch, Heads: a.Heads, Tq: a.Tq, Tk: a.Tk, Probs: probs})
	return out
}

func (g *Graph) attentionBackward(n *node) {
	q, k, v := n.in[0], n.in[1], n.in[2]
	dq, dk, dv := g.arena.alloc(q.Value.Len()), g.arena.alloc(k.Value.Len()), g.arena.alloc(v.Value.Len())
	var dbias []float32
	if n.needs(3) {
		dbias = g.arena.alloc(n.attn.Batch * n.in[3].Value.Len())
	}
	n.attn.BackwardBias(dq, dk, dv, dbias, q.Value.Data(), k.Value.Data(), v.Value.Data(), n.out.Value.Data(), n.lse, n.out.Grad.Data())
	for i, d := range [3][]float32{dq, dk, dv} {
		if n.needs(i) {
			g.accumulate(n.in[i], 1, d)
		}
	}
	if dbias != nil { // sum the batch rows
		per := n.in[3].Value.Len()
		for b := 0; b < n.attn.Batch; b++ {
			g.accumulate(n.in[3], 1, dbias[b*per:(b+1)*per])
		}
	}
}

// AttentionQKV is causal or masked self-attention on a fused projection
// qkv [batch, T, 3·heads·d] holding q, k and v side by side in each row (as
// GPT-2's c_attn produces); the result is [batch, T, heads·d]. The heads
// are read in place, without splitting qkv.
func (g *Graph) AttentionQKV(qkv *Var, heads int, opt AttentionOptions) *Var {
	if g.failed("AttentionQKV", qkv) {
		return g.poison
	}
	if qkv.Value.Dims() != 3 || heads < 1 || qkv.Value.Dim(2)%(3*heads) != 0 {
		return g.Fail(shapeErr("AttentionQKV", fmt.Sprintf("want qkv [batch, T, 3·heads·d] with %d heads", heads), qkv))
	}
	b, t, c3 := qkv.Value.Dim(0), qkv.Value.Dim(1), qkv.Value.Dim(2)
	c := c3 / 3
	if opt.KeyPad != nil && len(opt.KeyPad) != b*t {
		return g.Fail(fmt.Errorf("autograd.AttentionQKV: key padding mask has %d entries, want batch×T = %d", len(opt.KeyPad), b*t))
	}
	a := cpu.Attention{Batch: b, Heads: heads, Tq: t, Tk: t, Dim: c / heads, Causal: opt.Causal, KeyPad: opt.KeyPad, SeqMajor: true, InStride: c3}
	out := g.newVar([]*Var{qkv}, b, t, c)
	d := qkv.Value.Data()
	if g.KeepAttention { // the plain path reads contiguous q, k, v
		q, k, v := make([]float32, b*t*c), make([]float32, b*t*c), make([]float32, b*t*c)
		for r := 0; r < b*t; r++ {
			copy(q[r*c:(r+1)*c], d[r*c3:])
			copy(k[r*c:(r+1)*c], d[r*c3+c:])
			copy(v[r*c:(r+1)*c], d[r*c3+2*c:])
		}
		a.InStride = 0
		return g.keepAttention(out, a, q, k, v)
	}
	lse := g.arena.alloc(b * heads * t)
	a.Forward(out.Value.Data(), lse, d, d[c:], d[2*c:])
	g.record(node{op: opAttentionQKV, out: out, in: [4]*Var{qkv}, lse: lse, attn: a})
	return out
}

func (g *Graph) attentionQKVBackward(n *node) {
	if !n.needs(0) {
		return
	}
	qkv := n.in[0].Value.Data()
	c := n.attn.Heads * n.attn.Dim
	d := g.arena.alloc(len(qkv)) // every element is written
	n.attn.Backward(d, d[c:], d[2*c:], qkv, qkv[c:], qkv[2*c:], n.out.Value.Data(), n.lse, n.out.Grad.Data())
	g.accumulate(n.in[0], 1, d)
}
