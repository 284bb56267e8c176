package nn

import (
	"fmt"
	"math"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// MultiHeadAttention is Concat(head_1..head_h)·W^O with
// head_i = softmax(Q_i·K_iᵀ/√d_k + mask)·V_i, Q = x·W^Q, K = m·W^K,
// V = m·W^V, where m is x itself (self-attention) or the encoder's output
// (cross-attention). Parameters: prefix.q_proj, k_proj, v_proj, out_proj
// (Hugging Face's BART-family names).
type MultiHeadAttention struct {
	Q, K, V, O *Linear
	Heads      int
}

// NewMultiHeadAttention registers the four projections of a d-wide
// attention with heads heads.
func NewMultiHeadAttention(ps *Params, prefix string, d, heads int, bias bool, rng *tensor.RNG) (*MultiHeadAttention, error) {
	if heads < 1 || d%heads != 0 {
		return nil, fmt.Errorf("nn.MultiHeadAttention %s: width %d is not a multiple of %d heads", prefix, d, heads)
	}
	return &MultiHeadAttention{
		Q:     NewLinear(ps, prefix+".q_proj", d, d, bias, rng),
		K:     NewLinear(ps, prefix+".k_proj", d, d, bias, rng),
		V:     NewLinear(ps, prefix+".v_proj", d, d, bias, rng),
		O:     NewLinear(ps, prefix+".out_proj", d, d, bias, rng),
		Heads: heads,
	}, nil
}

// Forward attends from x [batch, Tq, d] to memory [batch, Tk, d] (nil for
// self-attention) with the given masks.
func (m *MultiHeadAttention) Forward(g *autograd.Graph, x, memory *autograd.Var, opt autograd.AttentionOptions) (*autograd.Var, error) {
	if memory == nil {
		memory = x
	}
	q, err := m.Q.Forward(g, x)
	if err != nil {
		return nil, err
	}
	k, err := m.K.Forward(g, memory)
	if err != nil {
		return nil, err
	}
	v, err := m.V.Forward(g, memory)
	if err != nil {
		return nil, err
	}
	a, err := g.Attention(q, k, v, m.Heads, opt)
	if err != nil {
		return nil, err
	}
	return m.O.Forward(g, a)
}

// Activation names a feed-forward non-linearity.
type Activation string

// The activations FeedForward knows, by their Hugging Face names.
const (
	ReLU     Activation = "relu"
	GELUTanh Activation = "gelu_new" // GPT-2's tanh approximation
	GELU     Activation = "gelu"     // the exact, erf form (BERT's)
	Swish    Activation = "swish"    // x·sigmoid(x), Marian's default; "silu" too
)

// Apply applies the activation.
func (a Activation) Apply(g *autograd.Graph, x *autograd.Var) (*autograd.Var, error) {
	switch a {
	case ReLU:
		return g.ReLU(x), nil
	case GELUTanh, "gelu_pytorch_tanh":
		return g.GELU(x), nil
	case GELU:
		return g.GELUErf(x), nil
	case Swish, "silu":
		return g.SiLU(x), nil
	}
	return nil, fmt.Errorf("nn: activation %q is not supported (want relu, gelu, gelu_new or swish)", string(a))
}

// FeedForward is the position-wise network Linear → activation → Linear
// (fc1, fc2), with dropout on the hidden activations.
type FeedForward struct {
	FC1, FC2   *Linear
	Activation Activation
	Dropout    float32 // on the hidden layer (activation_dropout)
}

// Forward applies the network to x [..., d].
func (f *FeedForward) Forward(g *autograd.Graph, x *autograd.Var) (*autograd.Var, error) {
	h, err := f.FC1.Forward(g, x)
	if err != nil {
		return nil, err
	}
	if h, err = f.Activation.Apply(g, h); err != nil {
		return nil, err
	}
	return f.FC2.Forward(g, g.Dropout(h, f.Dropout))
}

// PositionLayout chooses where the sines and cosines of a sinusoidal
// encoding go.
type PositionLayout int

const (
	// Interleaved is the paper's: PE(pos, 2i) = sin(pos/10000^(2i/d)),
	// PE(pos, 2i+1) = cos(pos/10000^(2i/d)).
	Interleaved PositionLayout = iota
	// Halves is Marian's (and Pegasus's): the sines in the first d/2
	// columns, the cosines of the same angles in the second d/2.
	Halves
)

// Sinusoidal returns the fixed positional encodings [maxLen, d] (d even).
func Sinusoidal(maxLen, d int, layout PositionLayout) (*tensor.Tensor, error) {
	if d%2 != 0 || d < 2 || maxLen < 0 {
		return nil, fmt.Errorf("nn.Sinusoidal: need an even width and a non-negative length, got d=%d maxLen=%d", d, maxLen)
	}
	t := tensor.New(maxLen, d)
	pe := t.Data()
	half := d / 2
	for pos := 0; pos < maxLen; pos++ {
		row := pe[pos*d : (pos+1)*d]
		for i := 0; i < half; i++ {
			angle := float64(pos) / math.Pow(10000, float64(2*i)/float64(d))
			s, c := float32(math.Sin(angle)), float32(math.Cos(angle))
			if layout == Halves {
				row[i], row[half+i] = s, c
			} else {
				row[2*i], row[2*i+1] = s, c
			}
		}
	}
	return t, nil
}

// LayerConfig is the shape of one encoder or decoder layer.
type LayerConfig struct {
	D, Heads, FFN int
	Activation    Activation
	PreLN         bool    // layer norm before each sub-layer (else after, as the paper)
	Eps           float32 // layer-norm epsilon
	Dropout       float32 // on each sub-layer's output, before the residual sum
	ActDropout    float32 // inside the feed-forward network
	Bias          bool    // biases in the projections
}

// sublayer wraps a sub-layer f with its residual connection and layer norm:
// pre-LN x + f(norm(x)), or post-LN norm(x + f(x)).
func sublayer(g *autograd.Graph, x *autograd.Var, norm *LayerNorm, preLN bool, dropout float32,
	f func(*autograd.Var) (*autograd.Var, error)) (*autograd.Var, error) {
	in := x
	var err error
	if preLN {
		if in, err = norm.Forward(g, x); err != nil {
			return nil, err
		}
	}
	y, err := f(in)
	if err != nil {
		return nil, err
	}
	if x, err = g.Add(x, g.Dropout(y, dropout)); err != nil {
		return nil, err
	}
	if !preLN {
		return norm.Forward(g, x)
	}
	return x, nil
}

// EncoderLayer is self-attention then a feed-forward network, each with a
// residual connection and layer norm. Parameter names are those of Hugging
// Face's Marian and Pegasus encoder layers: self_attn, self_attn_layer_norm,
// fc1, fc2, final_layer_norm.
type EncoderLayer struct {
	Cfg      LayerConfig
	SelfAttn *MultiHeadAttention
	FF       *FeedForward
	Norm1    *LayerNorm // self_attn_layer_norm
	Norm2    *LayerNorm // final_layer_norm
}

// NewEncoderLayer registers an encoder layer under prefix.
func NewEncoderLayer(ps *Params, prefix string, c LayerConfig, rng *tensor.RNG) (*EncoderLayer, error) {
	sa, err := NewMultiHeadAttention(ps, prefix+".self_attn", c.D, c.Heads, c.Bias, rng)
	if err != nil {
		return nil, err
	}
	l := &EncoderLayer{Cfg: c, SelfAttn: sa}
	l.Norm1 = NewLayerNorm(ps, prefix+".self_attn_layer_norm", c.D, c.Eps)
	l.FF = &FeedForward{FC1: NewLinear(ps, prefix+".fc1", c.D, c.FFN, c.Bias, rng),
		FC2: NewLinear(ps, prefix+".fc2", c.FFN, c.D, c.Bias, rng), Activation: c.Activation, Dropout: c.ActDropout}
	l.Norm2 = NewLayerNorm(ps, prefix+".final_layer_norm", c.D, c.Eps)
	return l, nil
}

// Forward runs the layer on x [batch, T, d]; keyPad marks padded source
// positions ([batch × T], or nil).
func (l *EncoderLayer) Forward(g *autograd.Graph, x *autograd.Var, keyPad []bool) (*autograd.Var, error) {
	x, err := sublayer(g, x, l.Norm1, l.Cfg.PreLN, l.Cfg.Dropout, func(h *autograd.Var) (*autograd.Var, error) {
		return l.SelfAttn.Forward(g, h, nil, autograd.AttentionOptions{KeyPad: keyPad})
	})
	if err != nil {
		return nil, err
	}
	return sublayer(g, x, l.Norm2, l.Cfg.PreLN, l.Cfg.Dropout, func(h *autograd.Var) (*autograd.Var, error) {
		return l.FF.Forward(g, h)
	})
}

// DecoderLayer is causal self-attention, cross-attention to the encoder's
// output, then a feed-forward network, each with a residual connection and
// layer norm. Names: self_attn, self_attn_layer_norm, encoder_attn,
// encoder_attn_layer_norm, fc1, fc2, final_layer_norm.
type DecoderLayer struct {
	Cfg       LayerConfig
	SelfAttn  *MultiHeadAttention
	CrossAttn *MultiHeadAttention
	FF        *FeedForward
	Norm1     *LayerNorm // self_attn_layer_norm
	Norm2     *LayerNorm // encoder_attn_layer_norm
	Norm3     *LayerNorm // final_layer_norm
}

// NewDecoderLayer registers a decoder layer under prefix.
func NewDecoderLayer(ps *Params, prefix string, c LayerConfig, rng *tensor.RNG) (*DecoderLayer, error) {
	sa, err := NewMultiHeadAttention(ps, prefix+".self_attn", c.D, c.Heads, c.Bias, rng)
	if err != nil {
		return nil, err
	}
	l := &DecoderLayer{Cfg: c, SelfAttn: sa}
	l.Norm1 = NewLayerNorm(ps, prefix+".self_attn_layer_norm", c.D, c.Eps)
	if l.CrossAttn, err = NewMultiHeadAttention(ps, prefix+".encoder_attn", c.D, c.Heads, c.Bias, rng); err != nil {
		return nil, err
	}
	l.Norm2 = NewLayerNorm(ps, prefix+".encoder_attn_layer_norm", c.D, c.Eps)
	l.FF = &FeedForward{FC1: NewLinear(ps, prefix+".fc1", c.D, c.FFN, c.Bias, rng),
		FC2: NewLinear(ps, prefix+".fc2", c.FFN, c.D, c.Bias, rng), Activation: c.Activation, Dropout: c.ActDropout}
	l.Norm3 = NewLayerNorm(ps, prefix+".final_layer_norm", c.D, c.Eps)
	return l, nil
}

// Forward runs the layer on x [batch, Tt, d] against the encoder output
// memory [batch, Ts, d]; tgtPad and srcPad mark padded target and source
// positions (or nil). Self-attention is causal.
func (l *DecoderLayer) Forward(g *autograd.Graph, x, memory *autograd.Var, tgtPad, srcPad []bool) (*autograd.Var, error) {
	x, err := sublayer(g, x, l.Norm1, l.Cfg.PreLN, l.Cfg.Dropout, func(h *autograd.Var) (*autograd.Var, error) {
		return l.SelfAttn.Forward(g, h, nil, autograd.AttentionOptions{Causal: true, KeyPad: tgtPad})
	})
	if err != nil {
		return nil, err
	}
	x, err = sublayer(g, x, l.Norm2, l.Cfg.PreLN, l.Cfg.Dropout, func(h *autograd.Var) (*autograd.Var, error) {
		return l.CrossAttn.Forward(g, h, memory, autograd.AttentionOptions{KeyPad: srcPad})
	})
	if err != nil {
		return nil, err
	}
	return sublayer(g, x, l.Norm3, l.Cfg.PreLN, l.Cfg.Dropout, func(h *autograd.Var) (*autograd.Var, error) {
		return l.FF.Forward(g, h)
	})
}

// DecoderCache holds what incremental decoding keeps between steps for one
// decoder layer: the self-attention keys and values of the positions
// decoded so far ([rows, n, d], compact) and the cross-attention keys and
// values of the encoder output, computed once.
type DecoderCache struct {
	rows, n, d int
	k, v       [2][]float32 // ping-pong buffers of rows × maxLen × d
	cur        int
	kt, vt     *tensor.Tensor
	CrossK     *autograd.Var // [rows, srcLen, d]
	CrossV     *autograd.Var
	SrcPad     []bool // [rows × srcLen] or nil
}

// NewCache computes the cross-attention keys and values of memory
// ([rows, srcLen, d]) on g (whose values must outlive the decoding) and
// returns a cache for up to maxLen decoded positions.
func (l *DecoderLayer) NewCache(g *autograd.Graph, memory *autograd.Var, srcPad []bool, maxLen int) (*DecoderCache, error) {
	if memory.Value.Dims() != 3 {
		return nil, fmt.Errorf("nn.DecoderLayer.NewCache: memory has shape %v, want [rows, srcLen, d]", memory.Shape())
	}
	rows, d := memory.Value.Dim(0), l.Cfg.D
	c := &DecoderCache{rows: rows, d: d, SrcPad: srcPad, kt: new(tensor.Tensor), vt: new(tensor.Tensor)}
	for i := range 2 {
		c.k[i] = make([]float32, rows*maxLen*d)
		c.v[i] = make([]float32, rows*maxLen*d)
	}
	var err error
	if c.CrossK, err = l.CrossAttn.K.Forward(g, memory); err != nil {
		return nil, err
	}
	if c.CrossV, err = l.CrossAttn.V.Forward(g, memory); err != nil {
		return nil, err
	}
	return c, nil
}

// Len returns the number of positions cached.
func (c *DecoderCache) Len() int { return c.n }

// push appends one position's keys and values ([rows, d] each) after
// reordering the cached rows: row r continues the history of parents[r]
// (beam search), or of itself when parents is nil.
func (c *DecoderCache) push(k, v []float32, parents []int) error {
	n, d := c.n, c.d
	if (n+1)*d*c.rows > len(c.k[0]) {
		return fmt.Errorf("nn.DecoderCache: full after %d positions", n)
	}
	next := 1 - c.cur
	// Row r of the next buffer: the n cached positions of row parents[r],
	// then the new position of row r.
	grow := func(dst, src, add []float32) {
		for r := 0; r < c.rows; r++ {
			p := r
			if parents != nil {
				p = parents[r]
			}
			row := dst[r*(n+1)*d : (r+1)*(n+1)*d]
			copy(row[:n*d], src[p*n*d:(p+1)*n*d])
			copy(row[n*d:], add[r*d:(r+1)*d])
		}
	}
	grow(c.k[next], c.k[c.cur], k)
	grow(c.v[next], c.v[c.cur], v)
	c.cur, c.n = next, n+1
	c.kt.Rebind(c.k[next][:c.rows*(n+1)*d], c.rows, n+1, d)
	c.vt.Rebind(c.v[next][:c.rows*(n+1)*d], c.rows, n+1, d)
	return nil
}

// Step runs the layer on one new position x [rows, 1, d], attending to the
// positions cached (after reordering them by parents, see push) and to the
// encoder output, and caches the new position. The result equals the last
// position of Forward over the whole prefix.
func (l *DecoderLayer) Step(g *autograd.Graph, x *autograd.Var, c *DecoderCache, parents []int) (*autograd.Var, error) {
	if x.Value.Dims() != 3 || x.Value.Dim(0) != c.rows || x.Value.Dim(1) != 1 {
		return nil, fmt.Errorf("nn.DecoderLayer.Step: x has shape %v, want [%d, 1, %d]", x.Shape(), c.rows, c.d)
	}
	sa := l.SelfAttn
	x, err := sublayer(g, x, l.Norm1, l.Cfg.PreLN, 0, func(h *autograd.Var) (*autograd.Var, error) {
		q, err := sa.Q.Forward(g, h)
		if err != nil {
			return nil, err
		}
		k, err := sa.K.Forward(g, h)
		if err != nil {
			return nil, err
		}
		v, err := sa.V.Forward(g, h)
		if err != nil {
			return nil, err
		}
		if err := c.push(k.Value.Data(), v.Value.Data(), parents); err != nil {
			return nil, err
		}
		// One query per row against all its cached keys: causal by construction.
		a, err := g.Attention(q, g.Input(c.kt), g.Input(c.vt), sa.Heads, autograd.AttentionOptions{})
		if err != nil {
			return nil, err
		}
		return sa.O.Forward(g, a)
	})
	if err != nil {
		return nil, err
	}
	x, err = sublayer(g, x, l.Norm2, l.Cfg.PreLN, 0, func(h *autograd.Var) (*autograd.Var, error) {
		q, err := l.CrossAttn.Q.Forward(g, h)
		if err != nil {
			return nil, err
		}
		a, err := g.Attention(q, c.CrossK, c.CrossV, l.CrossAttn.Heads, autograd.AttentionOptions{KeyPad: c.SrcPad})
		if err != nil {
			return nil, err
		}
		return l.CrossAttn.O.Forward(g, a)
	})
	if err != nil {
		return nil, err
	}
	return sublayer(g, x, l.Norm3, l.Cfg.PreLN, 0, func(h *autograd.Var) (*autograd.Var, error) {
		return l.FF.Forward(g, h)
	})
}
