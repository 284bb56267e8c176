// Package seq2seq is the encoder-decoder Transformer of "Attention Is All
// You Need": token embeddings scaled by √d_model plus sinusoidal positions,
// N encoder layers (self-attention, feed-forward), N decoder layers (causal
// self-attention, cross-attention to the encoder, feed-forward), and an
// output projection tied to the shared embedding, plus a logits bias.
//
// With layer norm after each sub-layer (post-LN, the paper's) a model is a
// Hugging Face Marian model (model_type "marian", MarianMTModel); with layer
// norm before each sub-layer and a final layer norm after each stack (pre-LN)
// it is a Pegasus model (model_type "pegasus"). A BART model (model_type
// "bart", BartForConditionalGeneration) is post-LN too, with learned
// positions (offset by 2, as BART's table is) in place of the sinusoids and
// a layer norm on the embeddings of each stack (layernorm_embedding); an
// mBART model (model_type "mbart") is the same with pre-LN layers and a
// final layer norm after each stack.
// Parameter names, config.json fields and the checkpoint layout are those
// of transformers, so Save writes a directory that MarianMTModel,
// PegasusForConditionalGeneration or BartForConditionalGeneration loads.
// One addition is goformer's own: a pointer-generator's copy head
// (Config.PointerGenerator, pointer.go), saved as pointer.* tensors that
// transformers does not read.
package seq2seq

import (
	"fmt"
	"math"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/nn"
	"github.com/goformer/goformer/tensor"
)

// Config holds a model's sizes with the field names of Hugging Face's
// MarianConfig, PegasusConfig and BartConfig.
type Config struct {
	ModelType             string   `json:"model_type"` // "marian" (post-LN), "pegasus" (pre-LN), "bart" (post-LN, learned positions) or "mbart" (pre-LN, learned positions)
	Architectures         []string `json:"architectures,omitempty"`
	VocabSize             int      `json:"vocab_size"`
	DModel                int      `json:"d_model"`
	EncoderLayers         int      `json:"encoder_layers"`
	DecoderLayers         int      `json:"decoder_layers"`
	EncoderAttentionHeads int      `json:"encoder_attention_heads"`
	DecoderAttentionHeads int      `json:"decoder_attention_heads"`
	EncoderFFNDim         int      `json:"encoder_ffn_dim"`
	DecoderFFNDim         int      `json:"decoder_ffn_dim"`
	ActivationFunction    string   `json:"activation_function"` // "relu", "gelu", "gelu_new" or "swish"
	Dropout               float32  `json:"dropout"`
	AttentionDropout      float32  `json:"attention_dropout"`
	ActivationDropout     float32  `json:"activation_dropout"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	ScaleEmbedding        bool     `json:"scale_embedding"`
	InitStd               float32  `json:"init_std"`
	PadTokenID            int      `json:"pad_token_id"`
	EOSTokenID            int      `json:"eos_token_id"`
	DecoderStartTokenID   int      `json:"decoder_start_token_id"`
	BOSTokenID            int      `json:"bos_token_id"`
	// ForcedBOSTokenID and ForcedEOSTokenID, when set, are the first and
	// the last token generation must produce (BART: <s> and </s>).
	ForcedBOSTokenID *int `json:"forced_bos_token_id,omitempty"`
	ForcedEOSTokenID *int `json:"forced_eos_token_id,omitempty"`
	// SharedEmbeddings: one embedding for source, target and output (the
	// only layout supported; Marian's share_encoder_decoder_embeddings).
	SharedEmbeddings *bool `json:"share_encoder_decoder_embeddings,omitempty"`
	// PointerGenerator adds goformer's copy head (pointer.go): the
	// output mixes the vocabulary's distribution with a copy of the
	// source's tokens. transformers ignores this field and the head's
	// pointer.* tensors.
	PointerGenerator bool `json:"pointer_generator,omitempty"`
}

// Base returns the paper's base model (N=6, d_model=512, d_ff=2048, h=8,
// dropout 0.1), post-LN as in the paper (a Marian model), for a vocabulary
// of the given size.
func Base(vocab int) Config {
	return Config{ModelType: "marian", VocabSize: vocab, DModel: 512, EncoderLayers: 6, DecoderLayers: 6,
		EncoderAttentionHeads: 8, DecoderAttentionHeads: 8, EncoderFFNDim: 2048, DecoderFFNDim: 2048,
		ActivationFunction: "relu", Dropout: 0.1, MaxPositionEmbeddings: 512, ScaleEmbedding: true, InitStd: 0.02}
}

// PreLN reports whether the model puts layer norm before each sub-layer.
func (c *Config) PreLN() bool { return c.ModelType == "pegasus" || c.ModelType == "mbart" }

// Bart reports whether the model is of the BART family (BART, mBART):
// learned positions, layernorm_embedding, <s> X </s> inputs.
func (c *Config) Bart() bool { return c.ModelType == "bart" || c.ModelType == "mbart" }

// bartOffset is the number of rows BART's position tables have before
// position 0 (a relic of fairseq's padding-aware positions).
const bartOffset = 2

func (c Config) withDefaults() Config {
	if c.InitStd == 0 {
		c.InitStd = 0.02
	}
	if c.ActivationFunction == "" {
		c.ActivationFunction = "relu"
	}
	if c.Architectures == nil {
		switch c.ModelType {
		case "pegasus":
			c.Architectures = []string{"PegasusForConditionalGeneration"}
		case "bart":
			c.Architectures = []string{"BartForConditionalGeneration"}
		case "mbart":
			c.Architectures = []string{"MBartForConditionalGeneration"}
		default:
			c.Architectures = []string{"MarianMTModel"}
		}
	}
	return c
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	switch {
	case c.ModelType != "marian" && c.ModelType != "pegasus" && c.ModelType != "bart" && c.ModelType != "mbart":
		return fmt.Errorf("seq2seq config: model_type %q (want marian for post-LN, pegasus for pre-LN, bart or mbart)", c.ModelType)
	case c.VocabSize < 1:
		return fmt.Errorf("seq2seq config: vocab_size must be positive, got %d", c.VocabSize)
	case c.DModel < 2 || c.DModel%2 != 0:
		return fmt.Errorf("seq2seq config: d_model must be even and positive, got %d", c.DModel)
	case c.EncoderAttentionHeads < 1 || c.DModel%c.EncoderAttentionHeads != 0:
		return fmt.Errorf("seq2seq config: d_model %d is not a multiple of encoder_attention_heads %d", c.DModel, c.EncoderAttentionHeads)
	case c.DecoderAttentionHeads < 1 || c.DModel%c.DecoderAttentionHeads != 0:
		return fmt.Errorf("seq2seq config: d_model %d is not a multiple of decoder_attention_heads %d", c.DModel, c.DecoderAttentionHeads)
	case c.EncoderLayers < 0 || c.DecoderLayers < 0 || c.EncoderFFNDim < 1 || c.DecoderFFNDim < 1:
		return fmt.Errorf("seq2seq config: layer counts and ffn sizes must be positive")
	case c.MaxPositionEmbeddings < 1:
		return fmt.Errorf("seq2seq config: max_position_embeddings must be positive, got %d", c.MaxPositionEmbeddings)
	case !supportedActivation[c.ActivationFunction]:
		return fmt.Errorf("seq2seq config: activation_function %q is not supported (want relu, gelu, gelu_new or swish)", c.ActivationFunction)
	case c.SharedEmbeddings != nil && !*c.SharedEmbeddings:
		return fmt.Errorf("seq2seq config: separate source and target embeddings are not supported")
	case c.VocabSize > hfdir.MaxSize || c.DModel > hfdir.MaxSize || c.EncoderFFNDim > hfdir.MaxSize || c.DecoderFFNDim > hfdir.MaxSize || c.MaxPositionEmbeddings > hfdir.MaxSize:
		return fmt.Errorf("seq2seq config: vocab_size %d, d_model %d, encoder_ffn_dim %d, decoder_ffn_dim %d and max_position_embeddings %d must each be at most %d",
			c.VocabSize, c.DModel, c.EncoderFFNDim, c.DecoderFFNDim, c.MaxPositionEmbeddings, hfdir.MaxSize)
	case c.MaxPositionEmbeddings > maxPositions:
		return fmt.Errorf("seq2seq config: max_position_embeddings %d is more than %d (the sinusoidal table is built, not read)", c.MaxPositionEmbeddings, maxPositions)
	case c.EncoderLayers > hfdir.MaxLayers || c.DecoderLayers > hfdir.MaxLayers:
		return fmt.Errorf("seq2seq config: encoder_layers %d and decoder_layers %d must be at most %d", c.EncoderLayers, c.DecoderLayers, hfdir.MaxLayers)
	}
	ids := map[string]int{"pad_token_id": c.PadTokenID, "eos_token_id": c.EOSTokenID, "decoder_start_token_id": c.DecoderStartTokenID, "bos_token_id": c.BOSTokenID}
	if c.ForcedBOSTokenID != nil {
		ids["forced_bos_token_id"] = *c.ForcedBOSTokenID
	}
	if c.ForcedEOSTokenID != nil {
		ids["forced_eos_token_id"] = *c.ForcedEOSTokenID
	}
	for name, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("seq2seq config: %s %d is outside the vocabulary [0, %d)", name, id, c.VocabSize)
		}
	}
	for name, p := range map[string]float32{"dropout": c.Dropout, "attention_dropout": c.AttentionDropout, "activation_dropout": c.ActivationDropout} {
		if !(p >= 0 && p < 1) {
			return fmt.Errorf("seq2seq config: %s must be in [0, 1), got %g", name, p)
		}
	}
	return nil
}

// paramsLowerBound is the number of values in the model's matrices (the
// shared embedding and every projection): fewer than its parameters, which
// a weights file for this config must hold.
func (c *Config) paramsLowerBound() float64 {
	v, d := float64(c.VocabSize), float64(c.DModel)
	return v*d + float64(c.EncoderLayers)*(4*d*d+2*d*float64(c.EncoderFFNDim)) + float64(c.DecoderLayers)*(8*d*d+2*d*float64(c.DecoderFFNDim))
}

// maxPositions bounds max_position_embeddings: the sinusoidal table of
// that many rows is computed, not read from the weights (Marian uses 512,
// Pegasus 1,024).
const maxPositions = 1 << 16

var supportedActivation = map[string]bool{"relu": true, "gelu": true, "gelu_new": true, "gelu_pytorch_tanh": true, "swish": true, "silu": true}

// Model is an encoder-decoder Transformer.
type Model struct {
	Config Config
	Params nn.Params

	shared     *nn.Embedding
	positions  *tensor.Tensor // [max_position_embeddings, d_model], sinusoidal, halves layout (not BART)
	encPos     *nn.Embedding  // BART: learned positions [2 + max_position_embeddings, d_model]
	decPos     *nn.Embedding
	encEmbNorm *nn.LayerNorm // BART: layernorm_embedding
	decEmbNorm *nn.LayerNorm
	posIDs     [2][]int32     // BART: position ids of the encoder and the decoder, reused (backward reads them)
	groups     groupScratch   // LabelledLoss's decoder groups, reused (backward reads them)
	logitsBias *tensor.Tensor // final_logits_bias [1, vocab]
	encoder    []*nn.EncoderLayer
	decoder    []*nn.DecoderLayer
	encNorm    *nn.LayerNorm // pre-LN only
	decNorm    *nn.LayerNorm
	pointer    *pointerHead             // Config.PointerGenerator only
	owners     []int32                  // the labelled rows' batch rows, reused (the pointer head's backward reads them)
	posVars    map[[2]int]*autograd.Var // positions from..from+T-1, by {from, T}
	biasVar    *autograd.Var
	// graphs keeps decoders' graphs, with their arenas, between decoders
	// (Decoder.Release): a server starts one per join.
	graphs autograd.GraphPool
}

// New returns a model with the given configuration, initialised as
// transformers initialises Marian: linear and embedding weights
// N(0, init_std²), biases zero, the padding token's embedding zero.
func New(cfg Config, seed uint64) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(seed)
	m := &Model{Config: cfg, posVars: map[[2]int]*autograd.Var{}}
	ps := &m.Params
	m.shared = nn.NewEmbedding(ps, "model.shared", cfg.VocabSize, cfg.DModel, cfg.InitStd, rng)
	clear(m.shared.W.Value.Row(cfg.PadTokenID).Data())
	if cfg.ScaleEmbedding {
		m.shared.Scale = float32(math.Sqrt(float64(cfg.DModel)))
	}
	var err error
	if cfg.Bart() {
		rows := cfg.MaxPositionEmbeddings + bartOffset
		m.encPos = nn.NewEmbedding(ps, "model.encoder.embed_positions", rows, cfg.DModel, cfg.InitStd, rng)
		m.decPos = nn.NewEmbedding(ps, "model.decoder.embed_positions", rows, cfg.DModel, cfg.InitStd, rng)
		m.encEmbNorm = nn.NewLayerNorm(ps, "model.encoder.layernorm_embedding", cfg.DModel, 1e-5)
		m.decEmbNorm = nn.NewLayerNorm(ps, "model.decoder.layernorm_embedding", cfg.DModel, 1e-5)
	} else if m.positions, err = nn.Sinusoidal(cfg.MaxPositionEmbeddings, cfg.DModel, nn.Halves); err != nil {
		return nil, err
	}
	m.logitsBias = tensor.New(1, cfg.VocabSize)
	layer := func(heads, ffn int) nn.LayerConfig {
		return nn.LayerConfig{D: cfg.DModel, Heads: heads, FFN: ffn, Activation: nn.Activation(cfg.ActivationFunction),
			PreLN: cfg.PreLN(), Eps: 1e-5, Dropout: cfg.Dropout, ActDropout: cfg.ActivationDropout, Bias: true}
	}
	for i := 0; i < cfg.EncoderLayers; i++ {
		l, err := nn.NewEncoderLayer(ps, fmt.Sprintf("model.encoder.layers.%d", i), layer(cfg.EncoderAttentionHeads, cfg.EncoderFFNDim), rng)
		if err != nil {
			return nil, err
		}
		m.encoder = append(m.encoder, l)
	}
	for i := 0; i < cfg.DecoderLayers; i++ {
		l, err := nn.NewDecoderLayer(ps, fmt.Sprintf("model.decoder.layers.%d", i), layer(cfg.DecoderAttentionHeads, cfg.DecoderFFNDim), rng)
		if err != nil {
			return nil, err
		}
		m.decoder = append(m.decoder, l)
	}
	if cfg.PreLN() {
		m.encNorm = nn.NewLayerNorm(ps, "model.encoder.layer_norm", cfg.DModel, 1e-5)
		m.decNorm = nn.NewLayerNorm(ps, "model.decoder.layer_norm", cfg.DModel, 1e-5)
	}
	if cfg.PointerGenerator {
		m.pointer = newPointerHead(ps, cfg.DModel, rng)
	}
	// Linear and embedding weights N(0, init_std²), biases zero, as
	// transformers' _init_weights does for these models.
	for _, p := range ps.List() {
		name := p.Name
		switch {
		case hasSuffix(name, "layer_norm.weight"):
		case hasSuffix(name, ".bias"):
			p.Value.Zero()
		case hasSuffix(name, "proj.weight") || hasSuffix(name, "fc1.weight") || hasSuffix(name, "fc2.weight"):
			p.Value.FillNormal(rng, 0, cfg.InitStd)
		}
	}
	flat, err := tensor.FromSlice(m.logitsBias.Data(), cfg.VocabSize) // [vocab], added to every position
	if err != nil {
		return nil, err
	}
	m.biasVar = autograd.Constant(flat)
	return m, nil
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// embed returns the scaled embeddings of ids [batch, t] plus the
// positions from..from+t-1 of the encoder's or the decoder's table.
func (m *Model) embed(g *autograd.Graph, ids []int32, batch, from, t int, decoder bool) *autograd.Var {
	which := 0
	if decoder {
		which = 1
	}
	return m.embedPos(g, ids, batch, from, t, decoder, &m.posIDs[which])
}

// embedPos is embed with BART's position ids kept in *posIDs (grown when
// short), which must stay unchanged until Backward.
func (m *Model) embedPos(g *autograd.Graph, ids []int32, batch, from, t int, decoder bool, posIDs *[]int32) *autograd.Var {
	if from+t > m.Config.MaxPositionEmbeddings {
		return g.Fail(fmt.Errorf("seq2seq: positions up to %d exceed max_position_embeddings %d", from+t, m.Config.MaxPositionEmbeddings))
	}
	x := m.shared.Forward(g, ids, batch, t)
	if m.Config.Bart() {
		table, norm := m.encPos, m.encEmbNorm
		if decoder {
			table, norm = m.decPos, m.decEmbNorm
		}
		if cap(*posIDs) < batch*t {
			*posIDs = make([]int32, batch*t)
		}
		ids := (*posIDs)[:batch*t]
		for i := range ids {
			ids[i] = int32(from + i%t + bartOffset)
		}
		return g.Dropout(norm.Forward(g, g.Add(x, table.Forward(g, ids, batch, t))), m.Config.Dropout)
	}
	pos, ok := m.posVars[[2]int{from, t}]
	if !ok {
		view, err := m.positions.Slice(from, from+t)
		if err != nil {
			return g.Fail(err)
		}
		pos = autograd.Constant(view)
		m.posVars[[2]int{from, t}] = pos
	}
	return g.Dropout(g.Add(x, pos), m.Config.Dropout)
}

// Encode runs the encoder on src ([batch, srcLen] token ids, row-major) and
// returns its output [batch, srcLen, d_model]. srcPad marks padding
// ([batch × srcLen], or nil).
func (m *Model) Encode(g *autograd.Graph, src []int32, batch, srcLen int, srcPad []bool) (*autograd.Var, error) {
	if len(src) != batch*srcLen {
		return nil, fmt.Errorf("seq2seq: %d source ids for batch %d × length %d", len(src), batch, srcLen)
	}
	x := m.embed(g, src, batch, 0, srcLen, false)
	for _, l := range m.encoder {
		x = l.Forward(g, x, srcPad)
	}
	if m.encNorm != nil {
		x = m.encNorm.Forward(g, x)
	}
	return x, g.Err()
}

// Decode runs the decoder on tgt ([batch, tgtLen] ids: the target shifted
// right, starting with decoder_start_token_id) against the encoder output
// and returns the logits [batch, tgtLen, vocab].
func (m *Model) Decode(g *autograd.Graph, memory *autograd.Var, tgt []int32, batch, tgtLen int, tgtPad, srcPad []bool) (*autograd.Var, error) {
	if len(tgt) != batch*tgtLen {
		return nil, fmt.Errorf("seq2seq: %d target ids for batch %d × length %d", len(tgt), batch, tgtLen)
	}
	if m.Config.AttentionDropout > 0 && g.Training {
		return nil, fmt.Errorf("seq2seq: attention_dropout %g: dropout on attention probabilities is not implemented; set it to 0", m.Config.AttentionDropout)
	}
	if m.pointer != nil {
		return nil, errPointerDecode
	}
	logits := m.decode(g, memory, tgt, batch, 0, tgtLen, tgtPad, srcPad, nil)
	return logits, g.Err()
}

// decode is the decoder over target positions from..from+t-1, with the
// layers' caches when decoding incrementally (nil otherwise).
func (m *Model) decode(g *autograd.Graph, memory *autograd.Var, tgt []int32, batch, from, t int, tgtPad, srcPad []bool, caches []*nn.LayerCache) *autograd.Var {
	return m.decodeFrom(g, m.embed(g, tgt, batch, from, t, true), memory, tgtPad, srcPad, caches)
}

// embedAt is the decoder's embed for one new token per row, row r at
// position pos[r] (rows that joined a batch at different steps).
func (m *Model) embedAt(g *autograd.Graph, ids []int32, pos []int, posIDs *[]int32) *autograd.Var {
	batch := len(ids)
	for _, p := range pos {
		if p >= m.Config.MaxPositionEmbeddings {
			return g.Fail(fmt.Errorf("seq2seq: position %d exceeds max_position_embeddings %d", p, m.Config.MaxPositionEmbeddings))
		}
	}
	x := m.shared.Forward(g, ids, batch, 1)
	if m.Config.Bart() {
		ids := (*posIDs)[:0]
		for _, p := range pos {
			ids = append(ids, int32(p+bartOffset))
		}
		*posIDs = ids
		return g.Dropout(m.decEmbNorm.Forward(g, g.Add(x, m.decPos.Forward(g, ids, batch, 1))), m.Config.Dropout)
	}
	d := m.Config.DModel
	t := tensor.New(batch, 1, d)
	td, table := t.Data(), m.positions.Data()
	for r, p := range pos {
		copy(td[r*d:(r+1)*d], table[p*d:(p+1)*d])
	}
	return g.Dropout(g.Add(x, autograd.Constant(t)), m.Config.Dropout)
}

// crossAttention returns each decoder layer's cross-attention.
func (m *Model) crossAttention() []*nn.MultiHeadAttention {
	out := make([]*nn.MultiHeadAttention, len(m.decoder))
	for i, l := range m.decoder {
		out[i] = l.CrossAttn
	}
	return out
}

// decodeFrom runs the decoder's layers on embedded targets y and returns
// the logits.
func (m *Model) decodeFrom(g *autograd.Graph, y, memory *autograd.Var, tgtPad, srcPad []bool, caches []*nn.LayerCache) *autograd.Var {
	return m.project(g, m.decodeHidden(g, y, memory, tgtPad, srcPad, caches))
}

// project is the output projection, tied to the embedding, with
// final_logits_bias.
func (m *Model) project(g *autograd.Graph, y *autograd.Var) *autograd.Var {
	return g.Linear(y, m.shared.W, m.biasVar)
}

// decodeHidden runs the decoder's layers on embedded targets y and returns
// their output, before the projection.
func (m *Model) decodeHidden(g *autograd.Graph, y, memory *autograd.Var, tgtPad, srcPad []bool, caches []*nn.LayerCache) *autograd.Var {
	for i, l := range m.decoder {
		var c *nn.LayerCache
		if caches != nil {
			c = caches[i]
		}
		y = l.Forward(g, y, memory, tgtPad, srcPad, c)
	}
	if m.decNorm != nil {
		y = m.decNorm.Forward(g, y)
	}
	return y
}

// Loss runs the whole model and returns the logits and the mean
// cross-entropy of predicting labels ([batch × tgtLen]; pad_token_id is
// ignored) with label smoothing eps. A pointer-generator's "logits" are
// its mixture's log-probabilities.
func (m *Model) Loss(g *autograd.Graph, src []int32, srcLen int, tgtIn, labels []int32, tgtLen, batch int, srcPad, tgtPad []bool, eps float32) (logits, loss *autograd.Var, err error) {
	memory, err := m.Encode(g, src, batch, srcLen, srcPad)
	if err != nil {
		return nil, nil, err
	}
	if logits, err = m.DecodeWithSource(g, memory, src, srcLen, tgtIn, batch, tgtLen, tgtPad, srcPad); err != nil {
		return nil, nil, err
	}
	loss = g.CrossEntropy(logits, labels, int32(m.Config.PadTokenID), eps)
	return logits, loss, g.Err()
}

// LabelledLoss is Loss without the logits: the output projection and the
// softmax run only on the positions that have a label (not pad_token_id),
// with the same loss and gradients. A training batch padded to its longest
// target spends most of Loss's time projecting padding onto the
// vocabulary. rows is scratch for the labelled positions, reused when it
// has the room (nil is fine); labels must stay unchanged until Backward.
// A batch of 32 rows or more whose targets differ in length is decoded in
// groups of similar length, each padded only to its own longest (see
// groups.go): the same loss and gradients, for fewer positions; dropout then
// draws different masks. The model keeps the groups' buffers until the next
// call, so one model builds one such graph at a time.
func (m *Model) LabelledLoss(g *autograd.Graph, src []int32, srcLen int, tgtIn, labels []int32, tgtLen, batch int, srcPad, tgtPad []bool, eps float32, rows *[]int32) (*autograd.Var, error) {
	if len(tgtIn) != batch*tgtLen || len(labels) != batch*tgtLen {
		return nil, fmt.Errorf("seq2seq: %d target ids and %d labels for batch %d × length %d", len(tgtIn), len(labels), batch, tgtLen)
	}
	if m.Config.AttentionDropout > 0 && g.Training {
		return nil, fmt.Errorf("seq2seq: attention_dropout %g: dropout on attention probabilities is not implemented; set it to 0", m.Config.AttentionDropout)
	}
	memory, err := m.Encode(g, src, batch, srcLen, srcPad)
	if err != nil {
		return nil, err
	}
	if decodeInGroups {
		if groups := m.targetGroups(batch, tgtLen, tgtPad, labels); len(groups) > 1 {
			return m.groupedLoss(g, groups, memory, src, srcLen, tgtIn, labels, tgtLen, srcPad, tgtPad, eps)
		}
	}
	y := m.decodeHidden(g, m.embed(g, tgtIn, batch, 0, tgtLen, true), memory, tgtPad, srcPad, nil)
	idx, kept := nn.LabelledRows(labels, int32(m.Config.PadTokenID), rows)
	h := g.GatherRows(y, idx)
	logits := m.project(g, h)
	if m.pointer != nil {
		return m.pointer.loss(g, h, logits, m.pointer.keys(g, memory), src, srcPad, srcLen, pointerOwners(&m.owners, idx, tgtLen),
			kept, int32(m.Config.PadTokenID), eps), g.Err()
	}
	return g.CrossEntropy(logits, kept, int32(m.Config.PadTokenID), eps), g.Err()
}

// Greedy translates one source sentence (srcLen ids) by taking the most
// likely token at each step, starting from decoder_start_token_id, until
// eos_token_id or maxLen tokens. It recomputes the decoder over the whole
// prefix at each step (no KV cache yet).
func (m *Model) Greedy(src []int32, maxLen int) ([]int32, error) {
	g := autograd.NewGraph(0)
	g.NoGrad = true
	memory, err := m.Encode(g, src, 1, len(src), nil)
	if err != nil {
		return nil, err
	}
	prefix := []int32{int32(m.Config.DecoderStartTokenID)}
	for len(prefix) <= maxLen {
		logits, err := m.Decode(g, memory, prefix, 1, len(prefix), nil, nil)
		if err != nil {
			return nil, err
		}
		v := m.Config.VocabSize
		last := logits.Value.Data()[(len(prefix)-1)*v : len(prefix)*v]
		best := 0
		for i, x := range last {
			if x > last[best] {
				best = i
			}
		}
		if best == m.Config.EOSTokenID {
			break
		}
		prefix = append(prefix, int32(best))
	}
	return prefix[1:], nil
}

// Quantize keeps the weights of every projection in a compact format for
// inference ("bf16", "int8"; "fp32" drops it), as nn.Params.Quantize
// does: decoding then reads half or a quarter of the bytes per token.
// Training and saving still use the float32 weights. It returns the bytes
// of the compact copies.
func (m *Model) Quantize(dtype string) (int, error) { return m.Params.Quantize(dtype) }

// InitMimeticAttention adds scale × identity to the query and key weights
// of every attention of both stacks, the decoder's cross-attention
// included (nn.MultiHeadAttention.InitMimetic): a decoder position then
// starts out attending to the source tokens most like its own, the
// copying a summariser needs. For a model from scratch.
func (m *Model) InitMimeticAttention(scale float32) {
	for _, l := range m.encoder {
		l.SelfAttn.InitMimetic(scale)
	}
	for _, l := range m.decoder {
		l.SelfAttn.InitMimetic(scale)
		l.CrossAttn.InitMimetic(scale)
	}
	if m.pointer != nil {
		m.pointer.initMimetic(scale)
	}
}

// InitSinusoidalPositions sets a BART model's learned position tables
// (both stacks) to the sinusoidal encoding scaled to init_std
// (nn.Embedding.InitSinusoidal); they stay parameters. Models with fixed
// sinusoidal positions (Marian, Pegasus) have nothing to set.
func (m *Model) InitSinusoidalPositions() error {
	if !m.Config.Bart() {
		return fmt.Errorf("seq2seq: %s has no learned positions to set", m.Config.ModelType)
	}
	for _, e := range []*nn.Embedding{m.encPos, m.decPos} {
		if err := e.InitSinusoidal(m.Config.InitStd); err != nil {
			return fmt.Errorf("seq2seq: %w", err)
		}
	}
	return nil
}
