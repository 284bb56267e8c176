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
// (cross-attention). The projections are separate (Q, K, V: Hugging Face's
// q_proj, k_proj, v_proj, out_proj in the BART family) or fused into one
// (QKV: GPT-2's c_attn, q, k and v side by side in each output row).
type MultiHeadAttention struct {
	Q, K, V *Linear
	QKV     *Linear // fused alternative to Q, K, V (self-attention only)
	O       *Linear
	Heads   int
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
// self-attention) with the given masks. With a cache (incremental
// decoding, like transformers' past_key_values), self-attention appends
// x's keys and values to the cache and attends to all of them (opt.KeyPad
// then marks x's own padded positions, [batch × Tq]); cross-attention
// computes memory's keys and values on the first call only.
func (m *MultiHeadAttention) Forward(g *autograd.Graph, x, memory *autograd.Var, opt autograd.AttentionOptions, cache *KVCache) *autograd.Var {
	if m.QKV != nil {
		if memory != nil {
			return g.Fail(fmt.Errorf("nn.MultiHeadAttention: a fused QKV projection cannot attend to a memory"))
		}
		qkv := m.QKV.Forward(g, x)
		if cache == nil { // the heads are read in place, without splitting qkv
			return m.O.Forward(g, g.AttentionQKV(qkv, m.Heads, opt))
		}
		d := lastDim(qkv) / 3
		q, k, v := g.Narrow(qkv, 0, d), g.Narrow(qkv, d, d), g.Narrow(qkv, 2*d, d)
		k, v, opt.KeyPad = cache.Append(g, k, v, opt.KeyPad)
		opt.KeyLen = cache.Len()
		return m.O.Forward(g, g.Attention(q, k, v, m.Heads, opt))
	}
	q := m.Q.Forward(g, x)
	var k, v *autograd.Var
	switch {
	case cache != nil && cache.cross:
		// The keys and values of the memory, and its padding mask, are
		// computed once and kept by the cache (which rows may since have
		// joined and left: the cache's mask is the one that fits).
		if cache.Len() == 0 {
			if memory == nil {
				return g.Fail(fmt.Errorf("nn.MultiHeadAttention: cross-attention with an empty cache needs the memory"))
			}
			cache.Append(g, m.K.Forward(g, memory), m.V.Forward(g, memory), opt.KeyPad)
		}
		k, v = g.Input(cache.kt), g.Input(cache.vt)
		opt.KeyLen, opt.KeyPad = cache.Len(), cache.mask()
	case memory == nil:
		k, v = m.K.Forward(g, x), m.V.Forward(g, x)
		if cache != nil {
			k, v, opt.KeyPad = cache.Append(g, k, v, opt.KeyPad)
			opt.KeyLen = cache.Len()
		}
	case cache == nil:
		k, v = m.K.Forward(g, memory), m.V.Forward(g, memory)
	default:
		return g.Fail(fmt.Errorf("nn.MultiHeadAttention: a memory with a self-attention cache"))
	}
	return m.O.Forward(g, g.Attention(q, k, v, m.Heads, opt))
}

func lastDim(v *autograd.Var) int {
	if v.Value.Dims() == 0 {
		return 0
	}
	return v.Value.Dim(-1)
}

// KVCache keeps one attention layer's keys and values between decoding
// steps as [rows, maxLen, d]: each row at its capacity, the first Len()
// positions filled, so that a step writes its new positions in place and
// the flash attention kernel reads the rows where they are
// (AttentionOptions.KeyLen). Beam search's reordering (row r continues
// the history of row parents[r]) gathers the rows into a second buffer
// (ping-pong); nothing else copies the cache.
type KVCache struct {
	rows, n, d, maxLen int
	k, v               [2][]float32 // rows × maxLen × d each
	pad                [2][]bool    // rows × maxLen: padded cached positions; nil while there are none
	padOut             []bool       // rows × n: the padding mask Append returns
	cross              bool         // holds an encoder memory's keys and values (LayerCache.Cross)
	cur                int
	parents            []int
	kt, vt             *tensor.Tensor
}

// NewKVCache returns an empty cache for rows rows of up to maxLen
// positions of width d.
// The buffers are allocated as the first Append needs them; maxLen 0 sizes
// the cache to the first Append (cross-attention's keys and values, which
// are appended once).
func NewKVCache(rows, maxLen, d int) *KVCache {
	return &KVCache{rows: rows, d: d, maxLen: maxLen, kt: new(tensor.Tensor), vt: new(tensor.Tensor)}
}

// NewCrossKVCache returns an empty cache for a cross-attention's keys and
// values of an encoder memory and its padding mask: computed by the first
// Forward that passes the memory, sized by it (Grow before a Merge with a
// longer one), then read by every later step.
func NewCrossKVCache(rows, d int) *KVCache {
	c := NewKVCache(rows, 0, d)
	c.cross = true
	return c
}

// Len returns the number of positions cached.
func (c *KVCache) Len() int { return c.n }

// Reorder makes row r continue the history of row parents[r] from the
// next Append on (beam search); nil keeps every row's own history.
func (c *KVCache) Reorder(parents []int) { c.parents = parents }

// rebind points the tensors Append returns at the current buffers.
func (c *KVCache) rebind() {
	size := c.rows * c.maxLen * c.d
	c.kt.Rebind(c.k[c.cur][:size], c.rows, c.maxLen, c.d)
	c.vt.Rebind(c.v[c.cur][:size], c.rows, c.maxLen, c.d)
}

// Keep keeps the given rows (increasing indices) as rows 0, 1, … and
// drops the others, in place: a batch of decoding whose finished rows stop
// costing work. Keeping no rows empties the cache but keeps its buffers,
// for the rows that Merge adds next.
func (c *KVCache) Keep(rows []int) error {
	for i, r := range rows {
		if r < 0 || r >= c.rows || i > 0 && r <= rows[i-1] {
			return fmt.Errorf("nn.KVCache: Keep needs increasing rows in 0..%d, got %v", c.rows-1, rows)
		}
	}
	if c.parents != nil {
		return fmt.Errorf("nn.KVCache: Keep after Reorder and before Append")
	}
	n, d, l, cur := c.n, c.d, c.maxLen, c.cur
	if n > 0 {
		for i, r := range rows {
			if i != r {
				copy(c.k[cur][i*l*d:(i*l+n)*d], c.k[cur][r*l*d:(r*l+n)*d])
				copy(c.v[cur][i*l*d:(i*l+n)*d], c.v[cur][r*l*d:(r*l+n)*d])
				if c.pad[cur] != nil {
					copy(c.pad[cur][i*l:i*l+n], c.pad[cur][r*l:r*l+n])
				}
			}
		}
	}
	c.rows = len(rows)
	if c.rows == 0 {
		// Empty: the next Merge starts from no positions, in the
		// buffers this cache already has.
		c.n = 0
	}
	if n > 0 {
		c.rebind()
	}
	return nil
}

// Merge appends the rows of o after those of c: both then hold
// max(c.Len(), o.Len()) positions, the rows of the shorter side
// left-padded with masked positions (a request joining a running batch of
// decoding, whose positions are each row's own). c keeps its capacity,
// which must hold the result; its rows move only when o is longer (to the
// right, within their place). Neither may have a pending Reorder.
func (c *KVCache) Merge(o *KVCache) error {
	if o.d != c.d || c.parents != nil || o.parents != nil {
		return fmt.Errorf("nn.KVCache: Merge needs caches of one width (%d, %d) without a pending Reorder", c.d, o.d)
	}
	n, rows, d := max(c.n, o.n), c.rows+o.rows, c.d
	if c.maxLen == 0 {
		c.maxLen = n
	}
	if n > c.maxLen {
		return fmt.Errorf("nn.KVCache: Merge of %d positions into a cache of %d", n, c.maxLen)
	}
	l, cur := c.maxLen, c.cur
	keep := c.rows * l // the entries of c's rows that hold data
	if c.n == 0 {
		keep = 0
	}
	// Rows come and go (continuous batching): a buffer that must grow gets
	// half as much again to spare, so that the joins that follow seldom
	// reallocate and copy the whole cache.
	size := rows * l * d
	c.k[cur], c.v[cur] = growKeep(c.k[cur], size, keep*d, size/2), growKeep(c.v[cur], size, keep*d, size/2)
	if c.pad[cur] == nil {
		c.pad[cur] = make([]bool, rows*l, rows*l*3/2)
	} else {
		c.pad[cur] = growKeep(c.pad[cur], rows*l, keep, rows*l/2)
	}
	k, v, pad := c.k[cur], c.v[cur], c.pad[cur]
	// c's rows shift right by n − c.n (a row's positions move within its
	// place, so copy's overlapping move is safe), then o's rows follow.
	if skip := n - c.n; skip > 0 {
		for r := 0; r < c.rows; r++ {
			base := r * l
			copy(k[(base+skip)*d:(base+n)*d], k[base*d:(base+c.n)*d])
			copy(v[(base+skip)*d:(base+n)*d], v[base*d:(base+c.n)*d])
			copy(pad[base+skip:base+n], pad[base:base+c.n])
			clear(k[base*d : (base+skip)*d]) // masked, but finite
			clear(v[base*d : (base+skip)*d])
			for j := range skip {
				pad[base+j] = true
			}
		}
	}
	skip, ol := n-o.n, o.maxLen
	for r := 0; r < o.rows; r++ {
		base := (c.rows + r) * l
		clear(k[base*d : (base+skip)*d])
		clear(v[base*d : (base+skip)*d])
		for j := range skip {
			pad[base+j] = true
		}
		if o.n == 0 {
			clear(pad[base+skip : base+n])
			continue
		}
		copy(k[(base+skip)*d:(base+n)*d], o.k[o.cur][r*ol*d:(r*ol+o.n)*d])
		copy(v[(base+skip)*d:(base+n)*d], o.v[o.cur][r*ol*d:(r*ol+o.n)*d])
		if o.pad[o.cur] != nil {
			copy(pad[base+skip:base+n], o.pad[o.cur][r*ol:r*ol+o.n])
		} else {
			clear(pad[base+skip : base+n])
		}
	}
	c.rows, c.n = rows, n
	c.rebind()
	return nil
}

// TrimLeft drops the leading positions that every row has padded (left
// by rows that have left the batch) and returns how many it dropped.
func (c *KVCache) TrimLeft() int {
	p := c.pad[c.cur]
	if p == nil || c.n == 0 || c.rows == 0 {
		return 0
	}
	n, d, l := c.n, c.d, c.maxLen
	drop := n
	for r := 0; r < c.rows && drop > 0; r++ {
		j := 0
		for j < drop && p[r*l+j] {
			j++
		}
		drop = j
	}
	if drop == 0 {
		return 0
	}
	m := n - drop
	k, v := c.k[c.cur], c.v[c.cur]
	for r := 0; r < c.rows; r++ {
		base := r * l
		copy(k[base*d:(base+m)*d], k[(base+drop)*d:(base+n)*d])
		copy(v[base*d:(base+m)*d], v[(base+drop)*d:(base+n)*d])
		copy(p[base:base+m], p[base+drop:base+n])
	}
	c.n = m
	return drop
}

// growFloats returns b with length n, reallocated (zeroed) if its capacity
// is short.
func growFloats(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func growBools(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	return b[:n]
}

// growKeep returns b with length n, keeping its first keep elements when it
// has to reallocate; spare is the capacity then allocated beyond n.
func growKeep[T any](b []T, n, keep, spare int) []T {
	if cap(b) >= n {
		return b[:n]
	}
	out := make([]T, n, n+spare)
	copy(out, b[:min(keep, len(b))])
	return out
}

// mask returns the padding mask of the cached positions, [rows × Len()],
// or nil when none is padded.
func (c *KVCache) mask() []bool {
	p := c.pad[c.cur]
	if p == nil {
		return nil
	}
	c.padOut = growBools(c.padOut, c.rows*c.n)
	for r := 0; r < c.rows; r++ {
		copy(c.padOut[r*c.n:(r+1)*c.n], p[r*c.maxLen:r*c.maxLen+c.n])
	}
	return c.padOut
}

// Grow raises the cache's capacity to maxLen positions per row, keeping
// what it holds (a cross-attention cache that a longer source is about to
// join through Merge). A smaller maxLen does nothing.
func (c *KVCache) Grow(maxLen int) {
	if maxLen <= c.maxLen {
		return
	}
	l, n, d := c.maxLen, c.n, c.d
	if n == 0 || c.rows == 0 {
		c.maxLen = maxLen
		c.k, c.v, c.pad = [2][]float32{}, [2][]float32{}, [2][]bool{}
		return
	}
	k, v := make([]float32, c.rows*maxLen*d), make([]float32, c.rows*maxLen*d)
	var pad []bool
	if old := c.pad[c.cur]; old != nil {
		pad = make([]bool, c.rows*maxLen)
		for r := 0; r < c.rows; r++ {
			copy(pad[r*maxLen:r*maxLen+n], old[r*l:r*l+n])
		}
	}
	for r := 0; r < c.rows; r++ {
		copy(k[r*maxLen*d:(r*maxLen+n)*d], c.k[c.cur][r*l*d:(r*l+n)*d])
		copy(v[r*maxLen*d:(r*maxLen+n)*d], c.v[c.cur][r*l*d:(r*l+n)*d])
	}
	c.k, c.v, c.pad = [2][]float32{k}, [2][]float32{v}, [2][]bool{pad}
	c.cur, c.maxLen = 0, maxLen
	c.rebind()
}

// Cap returns the number of positions the cache can hold.
func (c *KVCache) Cap() int { return c.maxLen }

// Bytes returns the memory the cache holds (keys, values and their second
// buffers).
func (c *KVCache) Bytes() int {
	n := 0
	for i := range 2 {
		n += 4 * (len(c.k[i]) + len(c.v[i]))
		n += len(c.pad[i])
	}
	return n
}

// Append adds the keys and values of t new positions per row (k, v [rows,
// t, d]; pad marks padded new positions, [rows × t], or nil) and returns
// the cache's keys and values, [rows, Cap(), d] of which the first Len()
// positions of each row are filled (pass AttentionOptions.KeyLen =
// Len()), and their padding mask, [rows × Len()] (nil when nothing is
// padded).
func (c *KVCache) Append(g *autograd.Graph, k, v *autograd.Var, pad []bool) (keys, values *autograd.Var, keyPad []bool) {
	if err := g.Err(); err != nil {
		p := g.Fail(err)
		return p, p, nil
	}
	if k.Value.Dims() != 3 || !k.Value.SameShape(v.Value) || k.Value.Dim(0) != c.rows || k.Value.Dim(2) != c.d {
		p := g.Fail(fmt.Errorf("nn.KVCache: keys %v and values %v, want [%d, t, %d]", k.Shape(), v.Shape(), c.rows, c.d))
		return p, p, nil
	}
	t := k.Value.Dim(1)
	if c.maxLen == 0 {
		c.maxLen = t
	}
	if c.n+t > c.maxLen {
		p := g.Fail(fmt.Errorf("nn.KVCache: full: %d cached positions and %d new exceed its %d", c.n, t, c.maxLen))
		return p, p, nil
	}
	if pad != nil && len(pad) != c.rows*t {
		p := g.Fail(fmt.Errorf("nn.KVCache: padding mask of %d entries for %d rows × %d positions", len(pad), c.rows, t))
		return p, p, nil
	}
	n, d, l, size := c.n, c.d, c.maxLen, c.rows*c.maxLen*c.d
	if pad != nil && c.pad[c.cur] == nil {
		c.pad[c.cur] = make([]bool, c.rows*l) // earlier positions: none padded
	}
	if c.parents != nil && n > 0 {
		// Gather each row's history from its parent into the other buffer.
		next := 1 - c.cur
		c.k[next], c.v[next] = growFloats(c.k[next], size), growFloats(c.v[next], size)
		if c.pad[c.cur] != nil {
			c.pad[next] = growBools(c.pad[next], c.rows*l)
		}
		for r, p := range c.parents {
			copy(c.k[next][r*l*d:(r*l+n)*d], c.k[c.cur][p*l*d:(p*l+n)*d])
			copy(c.v[next][r*l*d:(r*l+n)*d], c.v[c.cur][p*l*d:(p*l+n)*d])
			if c.pad[c.cur] != nil {
				copy(c.pad[next][r*l:r*l+n], c.pad[c.cur][p*l:p*l+n])
			}
		}
		c.cur = next
	}
	if len(c.k[c.cur]) < size {
		c.k[c.cur], c.v[c.cur] = growKeep(c.k[c.cur], size, size, 0), growKeep(c.v[c.cur], size, size, 0)
	}
	kd, vd := k.Value.Data(), v.Value.Data()
	kb, vb := c.k[c.cur], c.v[c.cur]
	for r := 0; r < c.rows; r++ {
		copy(kb[(r*l+n)*d:(r*l+n+t)*d], kd[r*t*d:(r+1)*t*d])
		copy(vb[(r*l+n)*d:(r*l+n+t)*d], vd[r*t*d:(r+1)*t*d])
	}
	c.n, c.parents = n+t, nil
	if p := c.pad[c.cur]; p != nil {
		c.padOut = growBools(c.padOut, c.rows*c.n)
		for r := 0; r < c.rows; r++ {
			if pad != nil {
				copy(p[r*l+n:r*l+n+t], pad[r*t:(r+1)*t])
			} else {
				clear(p[r*l+n : r*l+n+t])
			}
			copy(c.padOut[r*c.n:(r+1)*c.n], p[r*l:r*l+c.n])
		}
		keyPad = c.padOut
	}
	c.rebind()
	return g.Input(c.kt), g.Input(c.vt), keyPad
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
func (a Activation) Apply(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	switch a {
	case ReLU:
		return g.ReLU(x)
	case GELUTanh, "gelu_pytorch_tanh":
		return g.GELU(x)
	case GELU:
		return g.GELUErf(x)
	case Swish, "silu":
		return g.SiLU(x)
	}
	return g.Fail(a.Validate())
}

// Validate reports whether the activation is one Apply knows.
func (a Activation) Validate() error {
	switch a {
	case ReLU, GELUTanh, "gelu_pytorch_tanh", GELU, Swish, "silu":
		return nil
	}
	return fmt.Errorf("nn: activation %q is not supported (want relu, gelu, gelu_new or swish)", string(a))
}

// FeedForward is the position-wise network Linear → activation → Linear
// (fc1, fc2), with dropout on the hidden activations.
type FeedForward struct {
	FC1, FC2   *Linear
	Activation Activation
	Dropout    float32 // on the hidden layer (activation_dropout)
}

// Forward applies the network to x [..., d].
func (f *FeedForward) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	h := f.Activation.Apply(g, f.FC1.Forward(g, x))
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

// normIn is what a sub-layer reads: norm(x) before it (pre-LN), or x
// itself (post-LN).
func (c *LayerConfig) normIn(g *autograd.Graph, norm *LayerNorm, x *autograd.Var) *autograd.Var {
	if c.PreLN {
		return norm.Forward(g, x)
	}
	return x
}

// residual adds a sub-layer's output y to its input x, after dropout:
// x + y (pre-LN), or norm(x + y) (post-LN).
func (c *LayerConfig) residual(g *autograd.Graph, norm *LayerNorm, x, y *autograd.Var) *autograd.Var {
	x = g.Add(x, g.Dropout(y, c.Dropout))
	if c.PreLN {
		return x
	}
	return norm.Forward(g, x)
}

// EncoderLayer is self-attention then a feed-forward network, each with a
// residual connection and layer norm. Parameter names are those of Hugging
// Face's Marian and Pegasus encoder layers (self_attn, self_attn_layer_norm,
// fc1, fc2, final_layer_norm); other families (BERT) build the same struct
// from their own names.
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

// Forward runs the layer on x [batch, T, d]; keyPad marks padded
// positions ([batch × T], or nil).
func (l *EncoderLayer) Forward(g *autograd.Graph, x *autograd.Var, keyPad []bool) *autograd.Var {
	c := &l.Cfg
	h := c.normIn(g, l.Norm1, x)
	x = c.residual(g, l.Norm1, x, l.SelfAttn.Forward(g, h, nil, autograd.AttentionOptions{KeyPad: keyPad}, nil))
	h = c.normIn(g, l.Norm2, x)
	return c.residual(g, l.Norm2, x, l.FF.Forward(g, h))
}

// DecoderLayer is causal self-attention, cross-attention to the encoder's
// output, then a feed-forward network, each with a residual connection and
// layer norm. Without CrossAttn it is the block of a decoder-only model
// (GPT-2's, whose model builds it from its own names). Names here:
// self_attn, self_attn_layer_norm, encoder_attn, encoder_attn_layer_norm,
// fc1, fc2, final_layer_norm.
type DecoderLayer struct {
	Cfg       LayerConfig
	SelfAttn  *MultiHeadAttention
	CrossAttn *MultiHeadAttention // nil in a decoder-only model
	FF        *FeedForward
	Norm1     *LayerNorm // self_attn_layer_norm
	Norm2     *LayerNorm // encoder_attn_layer_norm
	Norm3     *LayerNorm // final_layer_norm
}

// NewDecoderLayer registers a decoder layer (with cross-attention) under
// prefix.
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

// LayerCache is one decoder layer's state between decoding steps: the
// self-attention keys and values of the positions decoded so far and the
// cross-attention keys and values of the encoder output (computed once).
type LayerCache struct {
	Self, Cross *KVCache
}

// NewCache returns an empty cache for rows rows of up to maxLen positions.
func (l *DecoderLayer) NewCache(rows, maxLen int) *LayerCache {
	c := &LayerCache{Self: NewKVCache(rows, maxLen, l.Cfg.D)}
	if l.CrossAttn != nil {
		c.Cross = NewCrossKVCache(rows, l.Cfg.D)
	}
	return c
}

// self and cross return the caches, or nil for no cache (training).
func (c *LayerCache) self() *KVCache {
	if c == nil {
		return nil
	}
	return c.Self
}

func (c *LayerCache) cross() *KVCache {
	if c == nil {
		return nil
	}
	return c.Cross
}

// Reorder makes row r continue the history of row parents[r] (beam
// search); the cross-attention cache is the same for all rows of a
// sentence and stays.
func (c *LayerCache) Reorder(parents []int) { c.Self.Reorder(parents) }

// Keep keeps the given rows (increasing) of both caches and drops the
// others.
func (c *LayerCache) Keep(rows []int) error {
	if err := c.Self.Keep(rows); err != nil {
		return err
	}
	if c.Cross != nil {
		return c.Cross.Keep(rows)
	}
	return nil
}

// Forward runs the layer on x [batch, Tt, d] against the encoder output
// memory [batch, Ts, d] (nil in a decoder-only model); tgtPad and srcPad
// mark padded target and source positions (or nil). Self-attention is
// causal. With a cache, x holds the new positions only (for each row, the
// Tt positions after those cached) and the result equals the last Tt
// positions of Forward over the whole sequence.
func (l *DecoderLayer) Forward(g *autograd.Graph, x, memory *autograd.Var, tgtPad, srcPad []bool, cache *LayerCache) *autograd.Var {
	c := &l.Cfg
	h := c.normIn(g, l.Norm1, x)
	x = c.residual(g, l.Norm1, x, l.SelfAttn.Forward(g, h, nil, autograd.AttentionOptions{Causal: true, KeyPad: tgtPad}, cache.self()))
	if l.CrossAttn != nil {
		h = c.normIn(g, l.Norm2, x)
		x = c.residual(g, l.Norm2, x, l.CrossAttn.Forward(g, h, memory, autograd.AttentionOptions{KeyPad: srcPad}, cache.cross()))
	}
	h = c.normIn(g, l.Norm3, x)
	return c.residual(g, l.Norm3, x, l.FF.Forward(g, h))
}

// FillCross computes the keys and values of memory [rows, srcLen, d] into
// the cross-attention cache c, with srcPad (or nil) as their mask, as
// Forward does on its first call with c. A filled cache is left as it is.
func (m *MultiHeadAttention) FillCross(g *autograd.Graph, memory *autograd.Var, srcPad []bool, c *KVCache) error {
	if !c.cross || m.K == nil {
		return fmt.Errorf("nn.MultiHeadAttention: FillCross needs a cross-attention cache and separate key and value projections")
	}
	if c.Len() == 0 {
		c.Append(g, m.K.Forward(g, memory), m.V.Forward(g, memory), srcPad)
	}
	return g.Err()
}

// InitMimetic adds scale × identity to the attention's query and key
// weights (mimetic initialisation, Trockman and Kolter 2023: trained
// attention layers have W_Q W_Kᵀ close to a multiple of the identity).
// From its first step such a head attends most to the tokens most like
// its own — the same word elsewhere, and with sinusoidal positions its
// neighbours — rather than uniformly. For a model trained from scratch.
func (a *MultiHeadAttention) InitMimetic(scale float32) {
	for _, w := range []*tensor.Tensor{a.Q.W.Value, a.K.W.Value} {
		d, cols := w.Data(), w.Dim(1)
		for i := 0; i < min(w.Dim(0), cols); i++ {
			d[i*cols+i] += scale
		}
	}
}

// InitSinusoidal overwrites a learned position table [positions, d] with
// the paper's sinusoidal encoding (interleaved), scaled so that each
// element's root mean square is std (the size the embeddings beside it
// were drawn with). The table stays a parameter: this only chooses where
// training starts, with attention to a fixed offset easy to express.
func (e *Embedding) InitSinusoidal(std float32) error {
	w := e.W.Value
	pe, err := Sinusoidal(w.Dim(0), w.Dim(1), Interleaved)
	if err != nil {
		return err
	}
	scale := std * float32(math.Sqrt2)
	dst := w.Data()
	for i, v := range pe.Data() {
		dst[i] = v * scale
	}
	return nil
}
