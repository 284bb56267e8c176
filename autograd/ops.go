package autograd

import (
	"fmt"
	"math"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/tensor"
)

type opKind uint8

const (
	opMatMul opKind = iota + 1
	opLinear
	opAdd
	opLayerNorm
	opGELU
	opReLU
	opDropout
	opEmbedding
	opSoftmax
	opAttention
	opCrossEntropy
	opReshape
	opScale
	opAttentionQKV
	opGELUErf
	opSiLU
)

// node is one recorded operation: which, its inputs and output, and what
// its backward pass needs. One concrete struct (not closures) keeps the tape
// free of allocations.
type node struct {
	op   opKind
	out  *Var
	in   [3]*Var
	ints [4]int
	f    [2]float32
	aux  [2][]float32
	ids  []int32
	attn cpu.Attention
}

func shapeErr(op string, reason string, vs ...*Var) error {
	shapes := make([][]int, len(vs))
	for i, v := range vs {
		shapes[i] = v.Shape()
	}
	return &tensor.ShapeError{Op: op, Shapes: shapes, Reason: reason}
}

// rows returns the product of all but the last dimension.
func rows(v *Var) int {
	if v.Value.Dims() == 0 {
		return 1
	}
	return v.Value.Len() / v.Value.Dim(-1)
}

func lastDim(v *Var) int {
	if v.Value.Dims() == 0 {
		return 1
	}
	return v.Value.Dim(-1)
}

// withLast returns v's shape with the last dimension replaced by n, in a
// small reused buffer.
func withLast(shape []int, n int, buf *[8]int) []int {
	s := append(buf[:0], shape...)
	s[len(s)-1] = n
	return s
}

// MatMul returns a·b for a [..., m, k] and b [k, n] (shared by all leading
// indices): [..., m, n].
func (g *Graph) MatMul(a, b *Var) (*Var, error) {
	if a.Value.Dims() < 2 || b.Value.Dims() != 2 || lastDim(a) != b.Value.Dim(0) {
		return nil, shapeErr("MatMul", "want a [..., m, k] and b [k, n]", a, b)
	}
	m, k, n := rows(a), lastDim(a), b.Value.Dim(1)
	var buf [8]int
	out := g.newVar([]*Var{a, b}, withLast(a.Shape(), n, &buf)...)
	cpu.Sgemm(false, false, m, n, k, 1, a.Value.Data(), k, b.Value.Data(), n, 0, out.Value.Data(), n)
	g.record(node{op: opMatMul, out: out, in: [3]*Var{a, b}, ints: [4]int{m, k, n}})
	return out, nil
}

// Linear returns x·wᵀ + b for x [..., in], w [out, in] (PyTorch's layout)
// and b [out] (or nil): [..., out].
func (g *Graph) Linear(x, w, b *Var) (*Var, error) {
	if w.Value.Dims() != 2 || x.Value.Dims() < 1 || lastDim(x) != w.Value.Dim(1) {
		return nil, shapeErr("Linear", "want x [..., in] and w [out, in]", x, w)
	}
	m, k, n := rows(x), lastDim(x), w.Value.Dim(0)
	if b != nil && (b.Value.Dims() != 1 || b.Value.Dim(0) != n) {
		return nil, shapeErr("Linear", fmt.Sprintf("bias must be [%d]", n), w, b)
	}
	var buf [8]int
	out := g.newVar([]*Var{x, w, b}, withLast(x.Shape(), n, &buf)...)
	od := out.Value.Data()
	if b != nil {
		bd := b.Value.Data()
		for r := 0; r < m; r++ {
			copy(od[r*n:(r+1)*n], bd)
		}
		cpu.Sgemm(false, true, m, n, k, 1, x.Value.Data(), k, w.Value.Data(), k, 1, od, n)
	} else {
		cpu.Sgemm(false, true, m, n, k, 1, x.Value.Data(), k, w.Value.Data(), k, 0, od, n)
	}
	g.record(node{op: opLinear, out: out, in: [3]*Var{x, w, b}, ints: [4]int{m, k, n}})
	return out, nil
}

// Add returns a + b, where b has a's shape or a's trailing dimensions (and
// is then added to every leading index: biases, position embeddings).
func (g *Graph) Add(a, b *Var) (*Var, error) {
	as, bs := a.Shape(), b.Shape()
	if len(bs) > len(as) || !tensor.EqualShapes(as[len(as)-len(bs):], bs) || b.Value.Len() == 0 {
		return nil, shapeErr("Add", "b must have a's shape or its trailing dimensions", a, b)
	}
	out := g.newVar([]*Var{a, b}, as...)
	od, ad, bd := out.Value.Data(), a.Value.Data(), b.Value.Data()
	for off := 0; off < len(ad); off += len(bd) {
		cpu.Add(od[off:off+len(bd)], ad[off:off+len(bd)], bd)
	}
	g.record(node{op: opAdd, out: out, in: [3]*Var{a, b}})
	return out, nil
}

// Scale returns s·x.
func (g *Graph) Scale(x *Var, s float32) *Var {
	out := g.newVar([]*Var{x}, x.Shape()...)
	od := out.Value.Data()
	for i, v := range x.Value.Data() {
		od[i] = s * v
	}
	g.record(node{op: opScale, out: out, in: [3]*Var{x}, f: [2]float32{s}})
	return out
}

// Reshape returns x with a new shape (one dimension may be -1). The value
// shares x's data.
func (g *Graph) Reshape(x *Var, shape ...int) (*Var, error) {
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
		return nil, err
	}
	out := g.newVarShell()
	out.Value = out.own
	out.Value.Rebind(x.Value.Data(), sh...)
	out.RequiresGrad = x.RequiresGrad && !g.NoGrad
	g.record(node{op: opReshape, out: out, in: [3]*Var{x}})
	return out, nil
}

// LayerNorm normalises the last dimension of x and applies gamma and beta
// ([d] each): (x - mean)/sqrt(var + eps)·gamma + beta.
func (g *Graph) LayerNorm(x, gamma, beta *Var, eps float32) (*Var, error) {
	d := lastDim(x)
	if gamma.Value.Len() != d || beta.Value.Len() != d {
		return nil, shapeErr("LayerNorm", fmt.Sprintf("gamma and beta must have %d elements", d), x, gamma, beta)
	}
	r := rows(x)
	out := g.newVar([]*Var{x, gamma, beta}, x.Shape()...)
	var mean, rstd []float32
	if out.RequiresGrad {
		mean, rstd = g.arena.alloc(r), g.arena.alloc(r)
	}
	cpu.LayerNorm(out.Value.Data(), x.Value.Data(), gamma.Value.Data(), beta.Value.Data(), mean, rstd, r, d, eps)
	g.record(node{op: opLayerNorm, out: out, in: [3]*Var{x, gamma, beta}, ints: [4]int{r, d}, aux: [2][]float32{mean, rstd}})
	return out, nil
}

// GELU applies the tanh approximation of GELU (GPT-2's) elementwise.
func (g *Graph) GELU(x *Var) *Var {
	out := g.newVar([]*Var{x}, x.Shape()...)
	cpu.GELU(out.Value.Data(), x.Value.Data())
	g.record(node{op: opGELU, out: out, in: [3]*Var{x}})
	return out
}

// GELUErf applies the exact GELU, 0.5·x·(1 + erf(x/√2)) (BERT's).
func (g *Graph) GELUErf(x *Var) *Var {
	out := g.newVar([]*Var{x}, x.Shape()...)
	cpu.GELUErf(out.Value.Data(), x.Value.Data())
	g.record(node{op: opGELUErf, out: out, in: [3]*Var{x}})
	return out
}

// SiLU applies x·sigmoid(x) (swish) elementwise.
func (g *Graph) SiLU(x *Var) *Var {
	out := g.newVar([]*Var{x}, x.Shape()...)
	cpu.SiLU(out.Value.Data(), x.Value.Data())
	g.record(node{op: opSiLU, out: out, in: [3]*Var{x}})
	return out
}

// ReLU applies max(x, 0) elementwise.
func (g *Graph) ReLU(x *Var) *Var {
	out := g.newVar([]*Var{x}, x.Shape()...)
	cpu.ReLU(out.Value.Data(), x.Value.Data())
	g.record(node{op: opReLU, out: out, in: [3]*Var{x}})
	return out
}

// Dropout zeroes each element with probability p and scales the rest by
// 1/(1-p) while the graph is Training; otherwise it returns x itself.
func (g *Graph) Dropout(x *Var, p float32) *Var {
	if !g.Training || p == 0 {
		return x
	}
	out := g.newVar([]*Var{x}, x.Shape()...)
	mask := g.arena.alloc(x.Value.Len())
	keep := 1 / (1 - p)
	od := out.Value.Data()
	for i, v := range x.Value.Data() {
		if g.rng.Float32() < p {
			mask[i], od[i] = 0, 0
		} else {
			mask[i], od[i] = keep, v*keep
		}
	}
	g.record(node{op: opDropout, out: out, in: [3]*Var{x}, aux: [2][]float32{mask}})
	return out
}

// Embedding returns the rows of table [vocab, d] for ids, times scale
// (√d_model in the paper; 1 for none), shaped [shape..., d] where shape is
// the ids' shape (its product must be len(ids)). ids must stay unchanged
// until Backward.
func (g *Graph) Embedding(table *Var, ids []int32, scale float32, shape ...int) (*Var, error) {
	if table.Value.Dims() != 2 {
		return nil, shapeErr("Embedding", "table must be [vocab, d]", table)
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	if n != len(ids) {
		return nil, fmt.Errorf("autograd.Embedding: %d ids for shape %v", len(ids), append([]int(nil), shape...))
	}
	vocab, d := table.Value.Dim(0), table.Value.Dim(1)
	var buf [8]int
	out := g.newVar([]*Var{table}, append(append(buf[:0], shape...), d)...)
	od, td := out.Value.Data(), table.Value.Data()
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return nil, fmt.Errorf("autograd.Embedding: id %d at position %d is outside the vocabulary [0, %d)", id, i, vocab)
		}
		row := od[i*d : (i+1)*d]
		copy(row, td[int(id)*d:(int(id)+1)*d])
		if scale != 1 {
			cpu.Scale(scale, row)
		}
	}
	g.record(node{op: opEmbedding, out: out, in: [3]*Var{table}, ids: ids, f: [2]float32{scale}, ints: [4]int{d}})
	return out, nil
}

// Softmax applies a stable softmax over the last dimension.
func (g *Graph) Softmax(x *Var) *Var {
	out := g.newVar([]*Var{x}, x.Shape()...)
	cpu.SoftmaxRows(out.Value.Data(), x.Value.Data(), rows(x), lastDim(x))
	g.record(node{op: opSoftmax, out: out, in: [3]*Var{x}, ints: [4]int{rows(x), lastDim(x)}})
	return out
}

// AttentionOptions are the masks of Attention.
type AttentionOptions struct {
	Causal bool
	// KeyPad, if not nil, marks padded keys: [batch × Tk], true = ignore.
	KeyPad []bool
}

// Attention is multi-head scaled dot-product attention (flash attention)
// on q [batch, Tq, heads·d] and k, v [batch, Tk, heads·d], the layout the
// projections produce; the result is [batch, Tq, heads·d], heads
// concatenated.
func (g *Graph) Attention(q, k, v *Var, heads int, opt AttentionOptions) (*Var, error) {
	if q.Value.Dims() != 3 || k.Value.Dims() != 3 || !k.Value.SameShape(v.Value) ||
		q.Value.Dim(0) != k.Value.Dim(0) || q.Value.Dim(2) != k.Value.Dim(2) || heads < 1 || q.Value.Dim(2)%heads != 0 {
		return nil, shapeErr("Attention", fmt.Sprintf("want q [batch, Tq, heads·d] and k, v [batch, Tk, heads·d] with %d heads", heads), q, k, v)
	}
	b, tq, tk, hd := q.Value.Dim(0), q.Value.Dim(1), k.Value.Dim(1), q.Value.Dim(2)
	if opt.KeyPad != nil && len(opt.KeyPad) != b*tk {
		return nil, fmt.Errorf("autograd.Attention: key padding mask has %d entries, want batch×Tk = %d", len(opt.KeyPad), b*tk)
	}
	a := cpu.Attention{Batch: b, Heads: heads, Tq: tq, Tk: tk, Dim: hd / heads, Causal: opt.Causal, KeyPad: opt.KeyPad, SeqMajor: true}
	out := g.newVar([]*Var{q, k, v}, b, tq, hd)
	lse := g.arena.alloc(b * heads * tq)
	a.Forward(out.Value.Data(), lse, q.Value.Data(), k.Value.Data(), v.Value.Data())
	g.record(node{op: opAttention, out: out, in: [3]*Var{q, k, v}, aux: [2][]float32{lse}, attn: a})
	return out, nil
}

// AttentionQKV is causal or masked self-attention on a fused projection
// qkv [batch, T, 3·heads·d] holding q, k and v side by side in each row (as
// GPT-2's c_attn produces); the result is [batch, T, heads·d]. The heads
// are read in place, without splitting qkv.
func (g *Graph) AttentionQKV(qkv *Var, heads int, opt AttentionOptions) (*Var, error) {
	if qkv.Value.Dims() != 3 || heads < 1 || qkv.Value.Dim(2)%(3*heads) != 0 {
		return nil, shapeErr("AttentionQKV", fmt.Sprintf("want qkv [batch, T, 3·heads·d] with %d heads", heads), qkv)
	}
	b, t, c3 := qkv.Value.Dim(0), qkv.Value.Dim(1), qkv.Value.Dim(2)
	c := c3 / 3
	if opt.KeyPad != nil && len(opt.KeyPad) != b*t {
		return nil, fmt.Errorf("autograd.AttentionQKV: key padding mask has %d entries, want batch×T = %d", len(opt.KeyPad), b*t)
	}
	a := cpu.Attention{Batch: b, Heads: heads, Tq: t, Tk: t, Dim: c / heads, Causal: opt.Causal, KeyPad: opt.KeyPad, SeqMajor: true, InStride: c3}
	out := g.newVar([]*Var{qkv}, b, t, c)
	lse := g.arena.alloc(b * heads * t)
	d := qkv.Value.Data()
	a.Forward(out.Value.Data(), lse, d, d[c:], d[2*c:])
	g.record(node{op: opAttentionQKV, out: out, in: [3]*Var{qkv}, aux: [2][]float32{lse}, attn: a})
	return out, nil
}

// CrossEntropy returns the mean over the rows of logits [..., V] of
// -log softmax(logits)[target], skipping rows whose target is ignoreIndex,
// with label smoothing eps (the target distribution puts 1-eps on the
// target and eps/V on every class, as PyTorch does). targets must stay
// unchanged until Backward.
func (g *Graph) CrossEntropy(logits *Var, targets []int32, ignoreIndex int32, eps float32) (*Var, error) {
	r, vocab := rows(logits), lastDim(logits)
	if len(targets) != r {
		return nil, fmt.Errorf("autograd.CrossEntropy: %d targets for %d rows of logits %v", len(targets), r, logits.Shape())
	}
	out := g.newVar([]*Var{logits}, 1)
	probs := g.arena.alloc(r * vocab)
	ld := logits.Value.Data()
	var total float64
	count := 0
	for i, t := range targets {
		if t == ignoreIndex {
			continue
		}
		if t < 0 || int(t) >= vocab {
			return nil, fmt.Errorf("autograd.CrossEntropy: target %d at row %d is outside [0, %d)", t, i, vocab)
		}
		row := ld[i*vocab : (i+1)*vocab]
		p := probs[i*vocab : (i+1)*vocab]
		copy(p, row)
		m := cpu.Max(p)
		sum := float64(cpu.ExpShiftSum(p, m))
		lse := float64(m) + math.Log(sum)
		inv := float32(1 / sum)
		cpu.Scale(inv, p)
		loss := lse - float64(row[t])
		if eps != 0 {
			var mean float64
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(vocab)
			loss = (1-float64(eps))*loss + float64(eps)*(lse-mean)
		}
		total += loss
		count++
	}
	if count > 0 {
		out.Value.Data()[0] = float32(total / float64(count))
	} else {
		out.Value.Data()[0] = 0
	}
	g.record(node{op: opCrossEntropy, out: out, in: [3]*Var{logits}, ids: targets, aux: [2][]float32{probs},
		ints: [4]int{r, vocab, count, int(ignoreIndex)}, f: [2]float32{eps}})
	return out, nil
}
