// Package t5 is the Transformer of T5 ("Exploring the Limits of Transfer
// Learning with a Unified Text-to-Text Transformer") as Hugging Face's
// T5ForConditionalGeneration defines it: an encoder-decoder whose
// positions are a learned relative bias added to the attention scores
// (bucketed key−query offsets, bidirectional in the encoder, causal in
// the decoder, one table per stack held by its first layer), whose layer
// norm is an RMS norm without mean or bias (T5LayerNorm), placed before
// each sub-layer, with no biases anywhere and no scaling of q·k.
//
// Two variants: T5 v1.0 (t5-small, t5-base: ReLU feed-forward, the output
// projection tied to the shared embedding and its input scaled by
// d_model^-0.5) and T5 v1.1 / FLAN-T5 (a gated-GELU feed-forward wi_0,
// wi_1, wo, and an untied lm_head). Parameter names, config.json fields
// and the checkpoint layout are transformers', so Save writes a directory
// that T5ForConditionalGeneration loads and Load reads the hub's.
package t5

import (
	"fmt"
	"math"
	"strings"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/nn"
	"github.com/goformer/goformer/tensor"
)

// Config holds a model's sizes with the field names of transformers'
// T5Config.
type Config struct {
	ModelType     string   `json:"model_type"` // "t5"
	Architectures []string `json:"architectures,omitempty"`
	VocabSize     int      `json:"vocab_size"`
	DModel        int      `json:"d_model"`
	DKV           int      `json:"d_kv"` // width of one head (num_heads·d_kv need not be d_model)
	DFF           int      `json:"d_ff"`
	NumLayers     int      `json:"num_layers"`
	// NumDecoderLayers defaults to NumLayers.
	NumDecoderLayers             *int    `json:"num_decoder_layers,omitempty"`
	NumHeads                     int     `json:"num_heads"`
	RelativeAttentionNumBuckets  int     `json:"relative_attention_num_buckets"`
	RelativeAttentionMaxDistance int     `json:"relative_attention_max_distance"`
	DropoutRate                  float32 `json:"dropout_rate"`
	LayerNormEpsilon             float32 `json:"layer_norm_epsilon"`
	InitializerFactor            float32 `json:"initializer_factor"`
	// FeedForwardProj is "relu" (v1.0) or "gated-gelu" (v1.1, FLAN-T5);
	// "gelu", "gated-relu", "silu" and "gated-silu" work too.
	FeedForwardProj string `json:"feed_forward_proj"`
	// TieWordEmbeddings (default true) makes lm_head the shared embedding
	// and scales the decoder output by d_model^-0.5 before it.
	TieWordEmbeddings   *bool `json:"tie_word_embeddings,omitempty"`
	IsEncoderDecoder    bool  `json:"is_encoder_decoder"`
	PadTokenID          int   `json:"pad_token_id"`
	EOSTokenID          int   `json:"eos_token_id"`
	DecoderStartTokenID int   `json:"decoder_start_token_id"`
	// NPositions is the input length the model was trained for (512);
	// relative positions allow more, and goformer takes it as the source
	// limit of its pipelines.
	NPositions int `json:"n_positions,omitempty"`
	// TaskSpecificParams are transformers' per-task generation settings
	// and input prefixes ("summarize: "), kept as written.
	TaskSpecificParams map[string]map[string]any `json:"task_specific_params,omitempty"`
}

// Small returns t5-small's shape (6 layers each side, d_model 512, 8
// heads of 64, d_ff 2048, ReLU, tied embeddings) for a vocabulary of the
// given size.
func Small(vocab int) Config {
	return Config{ModelType: "t5", VocabSize: vocab, DModel: 512, DKV: 64, DFF: 2048, NumLayers: 6, NumHeads: 8,
		RelativeAttentionNumBuckets: 32, RelativeAttentionMaxDistance: 128, DropoutRate: 0.1, LayerNormEpsilon: 1e-6,
		InitializerFactor: 1, FeedForwardProj: "relu", IsEncoderDecoder: true, PadTokenID: 0, EOSTokenID: 1, DecoderStartTokenID: 0,
		NPositions: 512}
}

func (c Config) withDefaults() Config {
	if c.ModelType == "" {
		c.ModelType = "t5"
	}
	if c.NumDecoderLayers == nil {
		n := c.NumLayers
		c.NumDecoderLayers = &n
	}
	if c.RelativeAttentionNumBuckets == 0 {
		c.RelativeAttentionNumBuckets = 32
	}
	if c.RelativeAttentionMaxDistance == 0 {
		c.RelativeAttentionMaxDistance = 128
	}
	if c.LayerNormEpsilon == 0 {
		c.LayerNormEpsilon = 1e-6
	}
	if c.InitializerFactor == 0 {
		c.InitializerFactor = 1
	}
	if c.FeedForwardProj == "" {
		c.FeedForwardProj = "relu"
	}
	if c.TieWordEmbeddings == nil {
		t := true
		c.TieWordEmbeddings = &t
	}
	if c.Architectures == nil {
		c.Architectures = []string{"T5ForConditionalGeneration"}
	}
	c.IsEncoderDecoder = true
	return c
}

// Gated reports whether the feed-forward network is gated (wi_0, wi_1).
func (c *Config) Gated() bool { return strings.HasPrefix(c.FeedForwardProj, "gated-") }

// Tied reports whether lm_head is the shared embedding (T5 v1.0).
func (c *Config) Tied() bool { return c.TieWordEmbeddings == nil || *c.TieWordEmbeddings }

// Variant names the model's kind as people know it: "T5 v1.0" (ReLU,
// tied) or "T5 v1.1 / FLAN-T5" (gated GELU, untied), or the two settings.
func (c *Config) Variant() string {
	switch {
	case c.FeedForwardProj == "relu" && c.Tied():
		return "T5 v1.0 (relu feed-forward, tied lm_head)"
	case c.FeedForwardProj == "gated-gelu" && !c.Tied():
		return "T5 v1.1 / FLAN-T5 (gated-gelu feed-forward, untied lm_head)"
	}
	tie := "untied"
	if c.Tied() {
		tie = "tied"
	}
	return fmt.Sprintf("T5 (%s feed-forward, %s lm_head)", c.FeedForwardProj, tie)
}

// activation returns the feed-forward non-linearity, as T5Config maps
// feed_forward_proj ("gated-gelu" uses the tanh GELU, gelu_new).
func (c *Config) activation() nn.Activation {
	act := strings.TrimPrefix(c.FeedForwardProj, "gated-")
	if c.FeedForwardProj == "gated-gelu" {
		return nn.GELUTanh
	}
	return nn.Activation(act)
}

// DecoderLayers returns the number of decoder layers.
func (c *Config) DecoderLayers() int {
	if c.NumDecoderLayers == nil {
		return c.NumLayers
	}
	return *c.NumDecoderLayers
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	act := strings.TrimPrefix(c.FeedForwardProj, "gated-")
	switch {
	case c.ModelType != "t5":
		return fmt.Errorf("t5 config: model_type %q (want t5)", c.ModelType)
	case c.VocabSize < 1 || c.DModel < 1 || c.DKV < 1 || c.DFF < 1 || c.NumHeads < 1:
		return fmt.Errorf("t5 config: vocab_size %d, d_model %d, d_kv %d, d_ff %d and num_heads %d must be positive", c.VocabSize, c.DModel, c.DKV, c.DFF, c.NumHeads)
	case c.VocabSize > hfdir.MaxSize || c.DModel > hfdir.MaxSize || c.DFF > hfdir.MaxSize || c.NumHeads*c.DKV > hfdir.MaxSize:
		return fmt.Errorf("t5 config: vocab_size %d, d_model %d, d_ff %d and num_heads×d_kv %d must each be at most %d", c.VocabSize, c.DModel, c.DFF, c.NumHeads*c.DKV, hfdir.MaxSize)
	case c.NumLayers < 0 || c.DecoderLayers() < 0 || c.NumLayers > hfdir.MaxLayers || c.DecoderLayers() > hfdir.MaxLayers:
		return fmt.Errorf("t5 config: num_layers %d and num_decoder_layers %d must be in 0..%d", c.NumLayers, c.DecoderLayers(), hfdir.MaxLayers)
	case c.RelativeAttentionNumBuckets < 2 || c.RelativeAttentionNumBuckets > 1<<16:
		return fmt.Errorf("t5 config: relative_attention_num_buckets %d must be in 2..65536", c.RelativeAttentionNumBuckets)
	case c.RelativeAttentionMaxDistance <= c.RelativeAttentionNumBuckets/2 || c.RelativeAttentionMaxDistance > 1<<24:
		return fmt.Errorf("t5 config: relative_attention_max_distance %d must exceed half the buckets (%d)", c.RelativeAttentionMaxDistance, c.RelativeAttentionNumBuckets/2)
	case nn.Activation(act).Validate() != nil || strings.Count(c.FeedForwardProj, "-") > 1 || strings.Contains(c.FeedForwardProj, "-") && !c.Gated():
		return fmt.Errorf("t5 config: feed_forward_proj %q (want relu, gated-gelu, gelu, gated-relu, silu or gated-silu)", c.FeedForwardProj)
	case !(c.DropoutRate >= 0 && c.DropoutRate < 1):
		return fmt.Errorf("t5 config: dropout_rate must be in [0, 1), got %g", c.DropoutRate)
	case !(c.LayerNormEpsilon > 0):
		return fmt.Errorf("t5 config: layer_norm_epsilon must be positive, got %g", c.LayerNormEpsilon)
	case c.NPositions < 0 || c.NPositions > hfdir.MaxSize:
		return fmt.Errorf("t5 config: n_positions %d must be in 0..%d", c.NPositions, hfdir.MaxSize)
	}
	for name, id := range map[string]int{"pad_token_id": c.PadTokenID, "eos_token_id": c.EOSTokenID, "decoder_start_token_id": c.DecoderStartTokenID} {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("t5 config: %s %d is outside the vocabulary [0, %d)", name, id, c.VocabSize)
		}
	}
	return nil
}

// paramsLowerBound is the number of values in the model's matrices: a
// weights file for this config holds at least this many.
func (c *Config) paramsLowerBound() float64 {
	v, d, in, ff := float64(c.VocabSize), float64(c.DModel), float64(c.NumHeads*c.DKV), float64(c.DFF)
	ffn := 2 * d * ff
	if c.Gated() {
		ffn = 3 * d * ff
	}
	tables := 0.0 // each stack's relative bias table, when it has layers
	for _, n := range []int{c.NumLayers, c.DecoderLayers()} {
		if n > 0 {
			tables += float64(c.RelativeAttentionNumBuckets) * float64(c.NumHeads)
		}
	}
	return v*d + float64(c.NumLayers)*(4*d*in+ffn) + float64(c.DecoderLayers())*(8*d*in+ffn) + tables
}

// MaxSourceLen is the longest input the pipelines give the model:
// n_positions, or 512 when the config has none.
func (c *Config) MaxSourceLen() int {
	if c.NPositions > 0 {
		return c.NPositions
	}
	return 512
}

// Bucket is T5's _relative_position_bucket: the bucket of the offset
// rel = key position − query position. Bidirectional (the encoder) gives
// half the buckets to keys after the query; otherwise (the decoder) keys
// after the query share bucket 0. Half of the remaining buckets hold
// exact distances, the other half distances growing logarithmically up to
// maxDistance, beyond which all share the last bucket. The logarithm is
// computed in float32, as PyTorch computes it.
func Bucket(rel int, bidirectional bool, buckets, maxDistance int) int32 {
	b := 0
	if bidirectional {
		buckets /= 2
		if rel > 0 {
			b = buckets
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		rel = -min(rel, 0)
	}
	exact := buckets / 2
	if rel < exact {
		return int32(b + rel)
	}
	lg := float32(math.Log(float64(float32(rel) / float32(exact))))
	scale := float32(math.Log(float64(maxDistance) / float64(exact)))
	large := exact + int(lg/scale*float32(buckets-exact))
	return int32(b + min(large, buckets-1))
}

// Model is a T5 encoder-decoder.
type Model struct {
	Config Config
	Params nn.Params

	shared  *nn.Embedding
	lmHead  *autograd.Var // v1.1: lm_head.weight; nil when tied
	encRel  *autograd.Var // encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight [buckets, heads]
	decRel  *autograd.Var
	encoder []*block
	decoder []*block
	encNorm *nn.RMSNorm // encoder.final_layer_norm
	decNorm *nn.RMSNorm
	buckets map[[4]int][]int32 // by {Tq, Tk, past, decoder}: kept while a graph may read them
	// graphs keeps decoders' graphs, with their arenas, between decoders
	// (Decoder.Release): a server starts one per join.
	graphs autograd.GraphPool
}

// block is one T5Block: self-attention, cross-attention (decoder only)
// and the feed-forward network, each after its RMS norm, each added to
// its input.
type block struct {
	self, cross         *nn.MultiHeadAttention
	selfNorm, crossNorm *nn.RMSNorm
	ff                  feedForward
	ffNorm              *nn.RMSNorm
}

// feedForward is T5's DenseReluDense (wi → act → wo) or
// DenseGatedActDense (act(wi_0·x) ∘ wi_1·x → wo).
type feedForward struct {
	wi, wi0, wi1, wo *nn.Linear
	act              nn.Activation
	dropout          float32
}

func (f *feedForward) forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	var h *autograd.Var
	if f.wi != nil {
		h = f.act.Apply(g, f.wi.Forward(g, x))
	} else {
		h = g.Mul(f.act.Apply(g, f.wi0.Forward(g, x)), f.wi1.Forward(g, x))
	}
	return f.wo.Forward(g, g.Dropout(h, f.dropout))
}

// New returns a model with the given configuration, initialised as
// transformers' T5PreTrainedModel._init_weights does (factor f =
// initializer_factor): the shared embedding (and lm_head) N(0, f²), q
// N(0, f²/(d_model·d_kv)), k and v N(0, f²/d_model), o N(0,
// f²/(heads·d_kv)), wi N(0, f²/d_model), wo N(0, f²/d_ff), the relative
// bias tables N(0, f²/d_model), norms f.
func New(cfg Config, seed uint64) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(seed)
	f := float64(cfg.InitializerFactor)
	d, inner := cfg.DModel, cfg.NumHeads*cfg.DKV
	m := &Model{Config: cfg, buckets: map[[4]int][]int32{}}
	ps := &m.Params
	m.shared = nn.NewEmbedding(ps, "shared", cfg.VocabSize, d, float32(f), rng)
	normal := func(v *autograd.Var, std float64) { v.Value.FillNormal(rng, 0, float32(std)) }
	attn := func(prefix string) *nn.MultiHeadAttention {
		a := &nn.MultiHeadAttention{
			Q:     nn.NewLinear(ps, prefix+".q", d, inner, false, rng),
			K:     nn.NewLinear(ps, prefix+".k", d, inner, false, rng),
			V:     nn.NewLinear(ps, prefix+".v", d, inner, false, rng),
			O:     nn.NewLinear(ps, prefix+".o", inner, d, false, rng),
			Heads: cfg.NumHeads,
		}
		normal(a.Q.W, f*math.Pow(float64(d*cfg.DKV), -0.5))
		normal(a.K.W, f*math.Pow(float64(d), -0.5))
		normal(a.V.W, f*math.Pow(float64(d), -0.5))
		normal(a.O.W, f*math.Pow(float64(inner), -0.5))
		return a
	}
	norm := func(name string) *nn.RMSNorm {
		n := nn.NewRMSNorm(ps, name, d, cfg.LayerNormEpsilon)
		n.W.Value.Fill(float32(f))
		return n
	}
	ff := func(prefix string) feedForward {
		lin := func(name string, in, out int) *nn.Linear {
			l := nn.NewLinear(ps, prefix+name, in, out, false, rng)
			normal(l.W, f*math.Pow(float64(in), -0.5))
			return l
		}
		x := feedForward{act: cfg.activation(), dropout: cfg.DropoutRate}
		if cfg.Gated() {
			x.wi0, x.wi1 = lin(".wi_0", d, cfg.DFF), lin(".wi_1", d, cfg.DFF)
		} else {
			x.wi = lin(".wi", d, cfg.DFF)
		}
		x.wo = lin(".wo", cfg.DFF, d)
		return x
	}
	relTable := func(name string) *autograd.Var {
		t := tensor.New(cfg.RelativeAttentionNumBuckets, cfg.NumHeads)
		t.FillNormal(rng, 0, float32(f*math.Pow(float64(d), -0.5)))
		return ps.Add(name, t)
	}
	for i := 0; i < cfg.NumLayers; i++ {
		p := fmt.Sprintf("encoder.block.%d.layer", i)
		b := &block{self: attn(p + ".0.SelfAttention")}
		if i == 0 {
			m.encRel = relTable(p + ".0.SelfAttention.relative_attention_bias.weight")
		}
		b.selfNorm = norm(p + ".0.layer_norm")
		b.ff = ff(p + ".1.DenseReluDense")
		b.ffNorm = norm(p + ".1.layer_norm")
		m.encoder = append(m.encoder, b)
	}
	m.encNorm = norm("encoder.final_layer_norm")
	for i := 0; i < cfg.DecoderLayers(); i++ {
		p := fmt.Sprintf("decoder.block.%d.layer", i)
		b := &block{self: attn(p + ".0.SelfAttention")}
		if i == 0 {
			m.decRel = relTable(p + ".0.SelfAttention.relative_attention_bias.weight")
		}
		b.selfNorm = norm(p + ".0.layer_norm")
		b.cross = attn(p + ".1.EncDecAttention")
		b.crossNorm = norm(p + ".1.layer_norm")
		b.ff = ff(p + ".2.DenseReluDense")
		b.ffNorm = norm(p + ".2.layer_norm")
		m.decoder = append(m.decoder, b)
	}
	m.decNorm = norm("decoder.final_layer_norm")
	if !cfg.Tied() {
		w := tensor.New(cfg.VocabSize, d)
		w.FillNormal(rng, 0, float32(f))
		m.lmHead = ps.Add("lm_head.weight", w)
	}
	return m, nil
}

// relBias returns the relative bias [heads, Tq+Tk−1] of a stack for tq
// queries at positions past..past+tq−1 and tk keys at 0..tk−1. The buckets
// are kept for the graph's backward pass when it records (training) and
// rebuilt into buf otherwise.
func (m *Model) relBias(g *autograd.Graph, table *autograd.Var, tq, tk, past int, decoder bool, buf *[]int32) *autograd.Var {
	if table == nil { // a stack without layers
		return nil
	}
	key := [4]int{tq, tk, past, 0}
	if decoder {
		key[3] = 1
	}
	ids, ok := m.buckets[key]
	if !ok {
		n := tq + tk - 1
		if g.NoGrad && buf != nil {
			if cap(*buf) < n {
				*buf = make([]int32, n)
			}
			ids = (*buf)[:n]
		} else {
			ids = make([]int32, n)
			m.buckets[key] = ids
		}
		c := &m.Config
		for o := range ids { // offset o is key − query = o − (tq−1), the query at past + its row
			ids[o] = Bucket(o-(tq-1)-past, !decoder, c.RelativeAttentionNumBuckets, c.RelativeAttentionMaxDistance)
		}
	}
	return g.RelativeBias(table, ids)
}

// Encode runs the encoder on src ([batch, srcLen] token ids, row-major)
// and returns its output [batch, srcLen, d_model]; srcPad marks padding
// ([batch × srcLen], or nil).
func (m *Model) Encode(g *autograd.Graph, src []int32, batch, srcLen int, srcPad []bool) (*autograd.Var, error) {
	if len(src) != batch*srcLen {
		return nil, fmt.Errorf("t5: %d source ids for batch %d × length %d", len(src), batch, srcLen)
	}
	p := m.Config.DropoutRate
	x := g.Dropout(m.shared.Forward(g, src, batch, srcLen), p)
	bias := m.relBias(g, m.encRel, srcLen, srcLen, 0, false, nil)
	for _, b := range m.encoder {
		h := b.selfNorm.Forward(g, x)
		x = g.Add(x, g.Dropout(b.self.Forward(g, h, nil, autograd.AttentionOptions{KeyPad: srcPad, Bias: bias, Scale: 1}, nil), p))
		x = g.Add(x, g.Dropout(b.ff.forward(g, b.ffNorm.Forward(g, x)), p))
	}
	x = g.Dropout(m.encNorm.Forward(g, x), p)
	return x, g.Err()
}

// Decode runs the decoder on tgt ([batch, tgtLen] ids: the labels shifted
// right, starting with decoder_start_token_id) against the encoder output
// and returns the logits [batch, tgtLen, vocab].
func (m *Model) Decode(g *autograd.Graph, memory *autograd.Var, tgt []int32, batch, tgtLen int, tgtPad, srcPad []bool) (*autograd.Var, error) {
	if len(tgt) != batch*tgtLen {
		return nil, fmt.Errorf("t5: %d target ids for batch %d × length %d", len(tgt), batch, tgtLen)
	}
	logits := m.decode(g, memory, tgt, batch, 0, tgtLen, tgtPad, srcPad, nil, nil)
	return logits, g.Err()
}

// decode is the decoder over target positions from..from+t−1, with the
// layers' caches when decoding incrementally (nil otherwise).
func (m *Model) decode(g *autograd.Graph, memory *autograd.Var, tgt []int32, batch, from, t int, tgtPad, srcPad []bool, caches []*nn.LayerCache, buf *[]int32) *autograd.Var {
	return m.head(g, m.decodeHidden(g, memory, tgt, batch, from, t, tgtPad, srcPad, caches, buf))
}

// head is the language-model head: its own weights, or the shared
// embedding with its input rescaled by d_model^-0.5 when tied.
func (m *Model) head(g *autograd.Graph, y *autograd.Var) *autograd.Var {
	if m.lmHead != nil {
		return g.Linear(y, m.lmHead, nil)
	}
	return g.Linear(g.Scale(y, float32(math.Pow(float64(m.Config.DModel), -0.5))), m.shared.W, nil)
}

// decodeHidden is decode's stack up to the head (the final norm and its
// dropout included).
func (m *Model) decodeHidden(g *autograd.Graph, memory *autograd.Var, tgt []int32, batch, from, t int, tgtPad, srcPad []bool, caches []*nn.LayerCache, buf *[]int32) *autograd.Var {
	p := m.Config.DropoutRate
	y := g.Dropout(m.shared.Forward(g, tgt, batch, t), p)
	bias := m.relBias(g, m.decRel, t, from+t, from, true, buf)
	for i, b := range m.decoder {
		var self, cross *nn.KVCache
		if caches != nil {
			self, cross = caches[i].Self, caches[i].Cross
		}
		h := b.selfNorm.Forward(g, y)
		y = g.Add(y, g.Dropout(b.self.Forward(g, h, nil, autograd.AttentionOptions{Causal: true, KeyPad: tgtPad, Bias: bias, Scale: 1}, self), p))
		h = b.crossNorm.Forward(g, y)
		y = g.Add(y, g.Dropout(b.cross.Forward(g, h, memory, autograd.AttentionOptions{KeyPad: srcPad, Scale: 1}, cross), p))
		y = g.Add(y, g.Dropout(b.ff.forward(g, b.ffNorm.Forward(g, y)), p))
	}
	return g.Dropout(m.decNorm.Forward(g, y), p)
}

// Loss runs the whole model and returns the logits and the mean
// cross-entropy of predicting labels ([batch × tgtLen]; pad_token_id is
// ignored) with label smoothing eps.
func (m *Model) Loss(g *autograd.Graph, src []int32, srcLen int, tgtIn, labels []int32, tgtLen, batch int, srcPad, tgtPad []bool, eps float32) (logits, loss *autograd.Var, err error) {
	memory, err := m.Encode(g, src, batch, srcLen, srcPad)
	if err != nil {
		return nil, nil, err
	}
	if logits, err = m.Decode(g, memory, tgtIn, batch, tgtLen, tgtPad, srcPad); err != nil {
		return nil, nil, err
	}
	loss = g.CrossEntropy(logits, labels, int32(m.Config.PadTokenID), eps)
	return logits, loss, g.Err()
}

// LabelledLoss is Loss without the logits: the head and the softmax run
// only on the positions that have a label (not pad_token_id), with the
// same loss and gradients (seq2seq.Model.LabelledLoss). rows is scratch
// for the labelled positions (nil is fine); labels must stay unchanged
// until Backward.
func (m *Model) LabelledLoss(g *autograd.Graph, src []int32, srcLen int, tgtIn, labels []int32, tgtLen, batch int, srcPad, tgtPad []bool, eps float32, rows *[]int32) (*autograd.Var, error) {
	if len(tgtIn) != batch*tgtLen || len(labels) != batch*tgtLen {
		return nil, fmt.Errorf("t5: %d target ids and %d labels for batch %d × length %d", len(tgtIn), len(labels), batch, tgtLen)
	}
	memory, err := m.Encode(g, src, batch, srcLen, srcPad)
	if err != nil {
		return nil, err
	}
	y := m.decodeHidden(g, memory, tgtIn, batch, 0, tgtLen, tgtPad, srcPad, nil, nil)
	idx, kept := nn.LabelledRows(labels, int32(m.Config.PadTokenID), rows)
	logits := m.head(g, g.GatherRows(y, idx))
	return g.CrossEntropy(logits, kept, int32(m.Config.PadTokenID), eps), g.Err()
}

// ForgetBuckets drops the bucket tables kept for training graphs; call it
// after a graph that recorded them is reset, when the model will see other
// lengths (a long training run with many lengths keeps one table per
// length pair otherwise).
func (m *Model) ForgetBuckets() { clear(m.buckets) }

// Quantize keeps the weights of every projection in a compact format for
// inference ("bf16", "int8"; "fp32" drops it), as nn.Params.Quantize
// does: decoding then reads half or a quarter of the bytes per token.
// Training and saving still use the float32 weights. It returns the bytes
// of the compact copies.
func (m *Model) Quantize(dtype string) (int, error) { return m.Params.Quantize(dtype) }

// crossAttention returns each decoder block's cross-attention.
func (m *Model) crossAttention() []*nn.MultiHeadAttention {
	out := make([]*nn.MultiHeadAttention, len(m.decoder))
	for i, b := range m.decoder {
		out[i] = b.cross
	}
	return out
}
