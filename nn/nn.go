// Package nn holds the layers Transformers are built from (Linear,
// Embedding, LayerNorm, ...) as small structs of named parameters with a
// Forward method that records onto an autograd.Graph. Forward methods
// return only their result: errors stay on the graph (autograd.Graph.Err),
// so a layer reads as its equations.
//
// Parameters are registered in a Params set under the names their Hugging
// Face twins use, so that optimizers can enumerate them and checkpoints can
// be read and written by name.
package nn

import (
	"fmt"
	"math"
	"sort"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// Params is an ordered set of named parameters.
type Params struct {
	list   []*autograd.Var
	byName map[string]*autograd.Var
}

// Add registers a parameter named name holding t and returns it. It panics
// if the name is taken (two layers built under one name is a bug).
func (p *Params) Add(name string, t *tensor.Tensor) *autograd.Var {
	if p.byName == nil {
		p.byName = map[string]*autograd.Var{}
	}
	if _, dup := p.byName[name]; dup {
		panic(fmt.Sprintf("nn: parameter %q registered twice", name))
	}
	v := autograd.NewParam(name, t)
	p.list = append(p.list, v)
	p.byName[name] = v
	return v
}

// List returns the parameters in registration order.
func (p *Params) List() []*autograd.Var { return p.list }

// Get returns the named parameter, or nil.
func (p *Params) Get(name string) *autograd.Var { return p.byName[name] }

// Names returns the parameters' names, sorted.
func (p *Params) Names() []string {
	names := make([]string, 0, len(p.list))
	for _, v := range p.list {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return names
}

// Count returns the number of scalars in all parameters.
func (p *Params) Count() int {
	n := 0
	for _, v := range p.list {
		n += v.Value.Len()
	}
	return n
}

// Quantize gives every 2-D parameter a compact copy ("int8" or "bf16";
// "fp32" drops them) that Linear uses for inference (autograd.Var.Quantize):
// decoding reads a quarter (int8) or half (bf16) of the bytes per token.
// It returns the bytes of the copies.
func (p *Params) Quantize(dtype string) (int, error) {
	n := 0
	for _, v := range p.list {
		if v.Value.Dims() != 2 {
			continue
		}
		if err := v.Quantize(dtype); err != nil {
			return 0, err
		}
		n += v.QuantizedBytes()
	}
	return n, nil
}

// ZeroGrad zeroes every parameter's gradient.
func (p *Params) ZeroGrad() {
	for _, v := range p.list {
		v.ZeroGrad()
	}
}

// Linear is y = x·Wᵀ + b with W [out, in] (PyTorch's layout) and b [out].
type Linear struct {
	W, B *autograd.Var // B is nil without bias
}

// NewLinear registers name.weight and (with bias) name.bias, initialised as
// PyTorch's nn.Linear: U(-1/√in, 1/√in).
func NewLinear(ps *Params, name string, in, out int, bias bool, rng *tensor.RNG) *Linear {
	bound := float32(1 / math.Sqrt(float64(in)))
	w := tensor.New(out, in)
	w.FillUniform(rng, -bound, bound)
	l := &Linear{W: ps.Add(name+".weight", w)}
	if bias {
		b := tensor.New(out)
		b.FillUniform(rng, -bound, bound)
		l.B = ps.Add(name+".bias", b)
	}
	return l
}

// Forward applies the layer to x [..., in].
func (l *Linear) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return g.Linear(x, l.W, l.B)
}

// Embedding maps token ids to rows of W [vocab, d], optionally scaled (by
// √d_model in the paper's encoder-decoder).
type Embedding struct {
	W     *autograd.Var
	Scale float32 // 0 means 1
}

// NewEmbedding registers name.weight [vocab, d] initialised N(0, std²).
func NewEmbedding(ps *Params, name string, vocab, d int, std float32, rng *tensor.RNG) *Embedding {
	w := tensor.New(vocab, d)
	w.FillNormal(rng, 0, std)
	return &Embedding{W: ps.Add(name+".weight", w)}
}

// Forward looks up ids, giving [shape..., d]; ids must stay unchanged until
// the graph's Backward.
func (e *Embedding) Forward(g *autograd.Graph, ids []int32, shape ...int) *autograd.Var {
	s := e.Scale
	if s == 0 {
		s = 1
	}
	return g.Embedding(e.W, ids, s, shape...)
}

// LayerNorm normalises the last dimension: (x-mean)/sqrt(var+eps)·W + B.
type LayerNorm struct {
	W, B *autograd.Var
	Eps  float32
}

// NewLayerNorm registers name.weight (ones) and name.bias (zeros) of size d.
func NewLayerNorm(ps *Params, name string, d int, eps float32) *LayerNorm {
	return &LayerNorm{W: ps.Add(name+".weight", tensor.Full(1, d)), B: ps.Add(name+".bias", tensor.New(d)), Eps: eps}
}

// Forward normalises x [..., d].
func (l *LayerNorm) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return g.LayerNorm(x, l.W, l.B, l.Eps)
}

// RMSNorm normalises the last dimension by its root mean square, without
// a mean or a bias: x/sqrt(mean(x²)+eps)·W (T5's T5LayerNorm).
type RMSNorm struct {
	W   *autograd.Var
	Eps float32
}

// NewRMSNorm registers name.weight (ones) of size d.
func NewRMSNorm(ps *Params, name string, d int, eps float32) *RMSNorm {
	return &RMSNorm{W: ps.Add(name+".weight", tensor.Full(1, d)), Eps: eps}
}

// Forward normalises x [..., d].
func (l *RMSNorm) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return g.RMSNorm(x, l.W, l.Eps)
}
