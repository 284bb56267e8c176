package autograd

import (
	"fmt"

	"github.com/goformer/goformer/internal/cpu"
)

// Embedding returns the rows of table [vocab, d] for ids, times scale
// (√d_model in the paper; 1 for none), shaped [shape..., d] where shape is
// the ids' shape (its product must be len(ids)). ids must stay unchanged
// until Backward.
func (g *Graph) Embedding(table *Var, ids []int32, scale float32, shape ...int) *Var {
	if g.failed("Embedding", table) {
		return g.poison
	}
	if table.Value.Dims() != 2 {
		return g.Fail(shapeErr("Embedding", "table must be [vocab, d]", table))
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	if n != len(ids) {
		return g.Fail(fmt.Errorf("autograd.Embedding: %d ids for shape %v", len(ids), append([]int(nil), shape...)))
	}
	vocab, d := table.Value.Dim(0), table.Value.Dim(1)
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return g.Fail(fmt.Errorf("autograd.Embedding: id %d at position %d is outside the vocabulary [0, %d)", id, i, vocab))
		}
	}
	var buf [8]int
	out := g.newVar([]*Var{table}, append(append(buf[:0], shape...), d)...)
	od, td := out.Value.Data(), table.Value.Data()
	for i, id := range ids {
		row := od[i*d : (i+1)*d]
		copy(row, td[int(id)*d:(int(id)+1)*d])
		if scale != 1 {
			cpu.Scale(scale, row)
		}
	}
	g.record(node{op: opEmbedding, out: out, in: [4]*Var{table}, ids: ids, scale: scale, cols: d})
	return out
}

func (g *Graph) embeddingBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout, d := n.out.Grad.Data(), n.cols
	dt := g.grad(n.in[0])
	for i, id := range n.ids {
		cpu.Axpy(n.scale, dout[i*d:(i+1)*d], dt[int(id)*d:(int(id)+1)*d])
	}
}

// RelativeBias gathers a relative attention bias for Attention's
// AttentionOptions.Bias from table [buckets, heads] (T5's
// relative_attention_bias): the result is [heads, len(buckets)] with
// out[h][i] = table[buckets[i]][h], buckets[i] being the bucket of the
// i-th key-query offset. buckets must stay unchanged until Backward.
func (g *Graph) RelativeBias(table *Var, buckets []int32) *Var {
	if g.failed("RelativeBias", table) {
		return g.poison
	}
	if table.Value.Dims() != 2 {
		return g.Fail(shapeErr("RelativeBias", "table must be [buckets, heads]", table))
	}
	nb, heads := table.Value.Dim(0), table.Value.Dim(1)
	for i, b := range buckets {
		if b < 0 || int(b) >= nb {
			return g.Fail(fmt.Errorf("autograd.RelativeBias: bucket %d at offset %d is outside [0, %d)", b, i, nb))
		}
	}
	n := len(buckets)
	out := g.newVar([]*Var{table}, heads, n)
	od, td := out.Value.Data(), table.Value.Data()
	for i, b := range buckets {
		for h := 0; h < heads; h++ {
			od[h*n+i] = td[int(b)*heads+h]
		}
	}
	g.record(node{op: opRelativeBias, out: out, in: [4]*Var{table}, ids: buckets, cols: heads})
	return out
}

func (g *Graph) relativeBiasBackward(n *node) {
	if !n.needs(0) {
		return
	}
	dout, heads, k := n.out.Grad.Data(), n.cols, len(n.ids)
	dt := g.grad(n.in[0])
	for i, b := range n.ids {
		for h := 0; h < heads; h++ {
			dt[int(b)*heads+h] += dout[h*k+i]
		}
	}
}
