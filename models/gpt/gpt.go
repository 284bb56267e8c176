// Package gpt is the decoder-only Transformer of GPT-2: learned token and
// position embeddings, pre-LN blocks of causal self-attention and a GELU
// (tanh form) feed-forward network, a final layer norm, and an output
// projection tied to the token embedding.
//
// Parameters carry the names of Hugging Face's GPT2LMHeadModel
// (h.0.attn.c_attn.weight, ...), and Save and Load read and write its
// checkpoint directories (config.json and model.safetensors), so a model
// trained here loads in transformers and a published GPT-2 loads here.
package gpt

import (
	"fmt"
	"math"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/nn"
	"github.com/goformer/goformer/tensor"
)

// Config holds a model's sizes, with the JSON field names of Hugging Face's
// GPT2Config.
type Config struct {
	VocabSize        int     `json:"vocab_size"`
	NPositions       int     `json:"n_positions"` // longest context
	NEmbd            int     `json:"n_embd"`      // model width
	NLayer           int     `json:"n_layer"`
	NHead            int     `json:"n_head"`
	NInner           *int    `json:"n_inner"` // feed-forward width; nil means 4·n_embd
	LayerNormEpsilon float32 `json:"layer_norm_epsilon"`
	ResidPdrop       float32 `json:"resid_pdrop"`
	EmbdPdrop        float32 `json:"embd_pdrop"`
	AttnPdrop        float32 `json:"attn_pdrop"`
	InitializerRange float32 `json:"initializer_range"`
	// ActivationFunction must be "gelu_new" (GPT-2's tanh form), or
	// "gelu_pytorch_tanh", its twin.
	ActivationFunction string   `json:"activation_function"`
	ModelType          string   `json:"model_type"`
	Architectures      []string `json:"architectures,omitempty"`
	BosTokenID         *int     `json:"bos_token_id,omitempty"`
	EosTokenID         *int     `json:"eos_token_id,omitempty"`
	TieWordEmbeddings  *bool    `json:"tie_word_embeddings,omitempty"`
	// Bias false (a goformer extension; nanoGPT's default) leaves the
	// biases out of the linear layers and layer norms. Save writes them as
	// zeros, so that transformers still reads the directory as GPT-2.
	Bias *bool `json:"bias,omitempty"`
}

// HasBias reports whether the linear layers and layer norms have biases.
func (c *Config) HasBias() bool { return c.Bias == nil || *c.Bias }

// Inner returns the feed-forward width.
func (c *Config) Inner() int {
	if c.NInner != nil {
		return *c.NInner
	}
	return 4 * c.NEmbd
}

// withDefaults fills the fields Hugging Face defaults when absent.
func (c Config) withDefaults() Config {
	if c.LayerNormEpsilon == 0 {
		c.LayerNormEpsilon = 1e-5
	}
	if c.InitializerRange == 0 {
		c.InitializerRange = 0.02
	}
	if c.ActivationFunction == "" {
		c.ActivationFunction = "gelu_new"
	}
	if c.ModelType == "" {
		c.ModelType = "gpt2"
	}
	if c.Architectures == nil {
		c.Architectures = []string{"GPT2LMHeadModel"}
	}
	return c
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	switch {
	case c.VocabSize < 1:
		return fmt.Errorf("gpt config: vocab_size must be positive, got %d", c.VocabSize)
	case c.NPositions < 1:
		return fmt.Errorf("gpt config: n_positions must be positive, got %d", c.NPositions)
	case c.NEmbd < 1 || c.NHead < 1 || c.NEmbd%c.NHead != 0:
		return fmt.Errorf("gpt config: n_embd (%d) must be a positive multiple of n_head (%d)", c.NEmbd, c.NHead)
	case c.NLayer < 0:
		return fmt.Errorf("gpt config: n_layer must not be negative, got %d", c.NLayer)
	case c.Inner() < 1:
		return fmt.Errorf("gpt config: n_inner must be positive, got %d", c.Inner())
	case c.ModelType != "gpt2":
		return fmt.Errorf("gpt config: model_type %q is not gpt2", c.ModelType)
	case c.ActivationFunction != "gelu_new" && c.ActivationFunction != "gelu_pytorch_tanh":
		return fmt.Errorf("gpt config: activation_function %q is not supported (want gelu_new)", c.ActivationFunction)
	case c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings:
		return fmt.Errorf("gpt config: tie_word_embeddings false is not supported")
	case c.VocabSize > hfdir.MaxSize || c.NPositions > hfdir.MaxSize || c.NEmbd > hfdir.MaxSize || c.Inner() > hfdir.MaxSize:
		return fmt.Errorf("gpt config: vocab_size %d, n_positions %d, n_embd %d and n_inner %d must each be at most %d",
			c.VocabSize, c.NPositions, c.NEmbd, c.Inner(), hfdir.MaxSize)
	case c.NLayer > hfdir.MaxLayers:
		return fmt.Errorf("gpt config: n_layer %d is more than %d", c.NLayer, hfdir.MaxLayers)
	case !(c.LayerNormEpsilon > 0) || math.IsInf(float64(c.LayerNormEpsilon), 0):
		return fmt.Errorf("gpt config: layer_norm_epsilon must be a positive number, got %g", c.LayerNormEpsilon)
	}
	for name, id := range map[string]*int{"bos_token_id": c.BosTokenID, "eos_token_id": c.EosTokenID} {
		if id != nil && (*id < 0 || *id >= c.VocabSize) {
			return fmt.Errorf("gpt config: %s %d is outside the vocabulary [0, %d)", name, *id, c.VocabSize)
		}
	}
	for name, p := range map[string]float32{"resid_pdrop": c.ResidPdrop, "embd_pdrop": c.EmbdPdrop, "attn_pdrop": c.AttnPdrop} {
		if !(p >= 0 && p < 1) {
			return fmt.Errorf("gpt config: %s must be in [0, 1), got %g", name, p)
		}
	}
	return nil
}

// paramsLowerBound is the number of values in the model's matrices (the
// embeddings and each block's four projections): fewer than its
// parameters, which a weights file for this config must hold.
func (c *Config) paramsLowerBound() float64 {
	v, e, l, i := float64(c.VocabSize), float64(c.NEmbd), float64(c.NLayer), float64(c.Inner())
	return (v+float64(c.NPositions))*e + l*(4*e*e+2*e*i)
}

// Model is a GPT-2 language model.
type Model struct {
	Config Config
	Params nn.Params

	wte, wpe *nn.Embedding
	// blocks are pre-LN decoder layers without cross-attention: ln_1,
	// attn.c_attn (fused q, k, v), attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj.
	blocks []*nn.DecoderLayer
	lnF    *nn.LayerNorm
	pos    []int32 // position ids, reused between calls
	// zeroBiases names the biases a bias-free model leaves out (with their
	// sizes), which Save writes as zeros.
	zeroBiases map[string]int
	// graphs keeps decoders' graphs, with their arenas, between decoders
	// (Decoder.Release): a server starts one per admission.
	graphs autograd.GraphPool
}

// New returns a model with GPT-2's initialisation: weights N(0, 0.02²), the
// residual projections scaled by 1/√(2·n_layer), biases zero, layer norms
// one and zero; seed fixes the draw.
func New(cfg Config, seed uint64) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(seed)
	m := &Model{Config: cfg}
	ps := &m.Params
	std := cfg.InitializerRange
	c := cfg.NEmbd
	m.zeroBiases = map[string]int{}
	linear := func(name string, in, out int, std float32) *nn.Linear {
		w := tensor.New(out, in)
		w.FillNormal(rng, 0, std)
		l := &nn.Linear{W: ps.Add(name+".weight", w)}
		if cfg.HasBias() {
			l.B = ps.Add(name+".bias", tensor.New(out))
		} else {
			m.zeroBiases[name+".bias"] = out
		}
		return l
	}
	layerNorm := func(name string) *nn.LayerNorm {
		if cfg.HasBias() {
			return nn.NewLayerNorm(ps, name, c, cfg.LayerNormEpsilon)
		}
		m.zeroBiases[name+".bias"] = c
		return &nn.LayerNorm{W: ps.Add(name+".weight", tensor.Full(1, c)), B: autograd.Constant(tensor.New(c)), Eps: cfg.LayerNormEpsilon}
	}
	m.wte = nn.NewEmbedding(ps, "wte", cfg.VocabSize, c, std, rng)
	m.wpe = nn.NewEmbedding(ps, "wpe", cfg.NPositions, c, std, rng)
	projStd := std / float32(math.Sqrt(2*float64(cfg.NLayer)))
	lc := nn.LayerConfig{D: c, Heads: cfg.NHead, FFN: cfg.Inner(), Activation: nn.GELUTanh, PreLN: true,
		Eps: cfg.LayerNormEpsilon, Dropout: cfg.ResidPdrop, Bias: cfg.HasBias()}
	for i := 0; i < cfg.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		l := &nn.DecoderLayer{Cfg: lc}
		l.Norm1 = layerNorm(p + "ln_1")
		l.SelfAttn = &nn.MultiHeadAttention{QKV: linear(p+"attn.c_attn", c, 3*c, std), O: linear(p+"attn.c_proj", c, c, projStd), Heads: cfg.NHead}
		l.Norm3 = layerNorm(p + "ln_2")
		l.FF = &nn.FeedForward{FC1: linear(p+"mlp.c_fc", c, cfg.Inner(), std), FC2: linear(p+"mlp.c_proj", cfg.Inner(), c, projStd), Activation: nn.GELUTanh}
		m.blocks = append(m.blocks, l)
	}
	m.lnF = layerNorm("ln_f")
	return m, nil
}

// Forward runs the model on ids, batch rows of seqLen tokens each
// (row-major), and returns the logits [batch, seqLen, vocab_size]. With
// targets (one per token; -1 to ignore a position) it also returns the mean
// cross-entropy loss, else nil. ids and targets must stay unchanged until
// the graph's Backward.
func (m *Model) Forward(g *autograd.Graph, ids []int32, batch, seqLen int, targets []int32) (logits, loss *autograd.Var, err error) {
	cfg := &m.Config
	if batch < 1 || seqLen < 1 || len(ids) != batch*seqLen {
		return nil, nil, fmt.Errorf("gpt: %d ids for batch %d × sequence length %d", len(ids), batch, seqLen)
	}
	if g.Training && cfg.AttnPdrop > 0 {
		return nil, nil, fmt.Errorf("gpt: attn_pdrop %g: dropout on attention probabilities is not implemented (the fused attention never forms them); set attn_pdrop to 0", cfg.AttnPdrop)
	}
	if seqLen > cfg.NPositions {
		return nil, nil, fmt.Errorf("gpt: sequence length %d exceeds the model's context of %d positions", seqLen, cfg.NPositions)
	}
	if cap(m.pos) < batch*seqLen {
		m.pos = make([]int32, batch*seqLen)
	}
	pos := m.pos[:batch*seqLen]
	for i := range pos {
		pos[i] = int32(i % seqLen)
	}
	logits = m.forward(g, ids, pos, batch, seqLen, nil, nil, true)
	if targets != nil {
		if len(targets) != len(ids) {
			return nil, nil, fmt.Errorf("gpt: %d targets for %d ids", len(targets), len(ids))
		}
		loss = g.CrossEntropy(logits, targets, -1, 0)
	}
	return logits, loss, g.Err()
}

// forward is GPT-2 on ids [batch, t] at positions pos: token and position
// embeddings, the blocks, the final layer norm and (with head) the output
// projection tied to the token embedding. pad marks padded positions and
// caches hold the blocks' keys and values (both nil when training).
func (m *Model) forward(g *autograd.Graph, ids, pos []int32, batch, t int, pad []bool, caches []*nn.LayerCache, head bool) *autograd.Var {
	x := g.Add(m.wte.Forward(g, ids, batch, t), m.wpe.Forward(g, pos, batch, t))
	x = g.Dropout(x, m.Config.EmbdPdrop)
	for i, b := range m.blocks {
		var c *nn.LayerCache
		if caches != nil {
			c = caches[i]
		}
		x = b.Forward(g, x, nil, pad, nil, c)
	}
	if !head {
		return x
	}
	return g.Linear(m.lnF.Forward(g, x), m.wte.W, nil)
}

// Quantize keeps the weights of every projection in a compact format for
// inference ("bf16", "int8"; "fp32" drops it), as nn.Params.Quantize
// does: decoding then reads half or a quarter of the bytes per token.
// Training and saving still use the float32 weights. It returns the bytes
// of the compact copies.
func (m *Model) Quantize(dtype string) (int, error) { return m.Params.Quantize(dtype) }
