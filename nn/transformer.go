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
