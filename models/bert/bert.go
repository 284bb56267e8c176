// Package bert is the encoder-only Transformer of BERT: word, position and
// token-type embeddings with a layer norm, post-LN encoder layers
// (self-attention, GELU feed-forward), and two heads: masked-language
// modelling (predict hidden tokens; output tied to the word embeddings)
// and span extraction for question answering (start and end logits).
//
// Parameter names, config.json fields and checkpoint layout are those of
// Hugging Face's BertForMaskedLM and BertForQuestionAnswering.
package bert

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/nn"
	"github.com/goformer/goformer/tensor"
)

// Config holds a model's sizes with the JSON names of Hugging Face's
// BertConfig.
type Config struct {
	ModelType                 string   `json:"model_type"`
	Architectures             []string `json:"architectures,omitempty"`
	VocabSize                 int      `json:"vocab_size"`
	HiddenSize                int      `json:"hidden_size"`
	NumHiddenLayers           int      `json:"num_hidden_layers"`
	NumAttentionHeads         int      `json:"num_attention_heads"`
	IntermediateSize          int      `json:"intermediate_size"`
	HiddenAct                 string   `json:"hidden_act"` // "gelu" (exact) or "gelu_new"
	HiddenDropoutProb         float32  `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float32  `json:"attention_probs_dropout_prob"`
	MaxPositionEmbeddings     int      `json:"max_position_embeddings"`
	TypeVocabSize             int      `json:"type_vocab_size"`
	InitializerRange          float32  `json:"initializer_range"`
	LayerNormEps              float32  `json:"layer_norm_eps"`
	PadTokenID                int      `json:"pad_token_id"`
}

// Head selects the task head a model carries.
type Head int

const (
	MaskedLM          Head = iota // BertForMaskedLM: cls.predictions
	QuestionAnswering             // BertForQuestionAnswering: qa_outputs
)

func (c Config) withDefaults(head Head) Config {
	if c.ModelType == "" {
		c.ModelType = "bert"
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "gelu"
	}
	if c.TypeVocabSize == 0 {
		c.TypeVocabSize = 2
	}
	if c.InitializerRange == 0 {
		c.InitializerRange = 0.02
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-12
	}
	if c.Architectures == nil {
		c.Architectures = []string{[]string{"BertForMaskedLM", "BertForQuestionAnswering"}[head]}
	}
	return c
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	switch {
	case c.ModelType != "bert":
		return fmt.Errorf("bert config: model_type %q is not bert", c.ModelType)
	case c.VocabSize < 1 || c.MaxPositionEmbeddings < 1 || c.TypeVocabSize < 1:
		return fmt.Errorf("bert config: vocab_size, max_position_embeddings and type_vocab_size must be positive")
	case c.HiddenSize < 1 || c.NumAttentionHeads < 1 || c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("bert config: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case c.IntermediateSize < 1 || c.NumHiddenLayers < 0:
		return fmt.Errorf("bert config: intermediate_size and num_hidden_layers must be positive")
	case c.HiddenAct != "gelu" && c.HiddenAct != "gelu_new" && c.HiddenAct != "relu":
		return fmt.Errorf("bert config: hidden_act %q is not supported (want gelu, gelu_new or relu)", c.HiddenAct)
	case c.HiddenDropoutProb < 0 || c.HiddenDropoutProb >= 1:
		return fmt.Errorf("bert config: hidden_dropout_prob must be in [0, 1), got %g", c.HiddenDropoutProb)
	}
	return nil
}

type layer struct {
	attn         *nn.MultiHeadAttention // attention.self.{query,key,value}, attention.output.dense
	attnNorm     *nn.LayerNorm          // attention.output.LayerNorm
	inter, outFF *nn.Linear             // intermediate.dense, output.dense
	outNorm      *nn.LayerNorm          // output.LayerNorm
}

// Model is a BERT encoder with a task head.
type Model struct {
	Config Config
	Head   Head
	Params nn.Params

	word, pos, typ *nn.Embedding
	embNorm        *nn.LayerNorm
	layers         []layer
	// Masked-LM head: cls.predictions.transform.{dense,LayerNorm}, bias.
	mlmDense *nn.Linear
	mlmNorm  *nn.LayerNorm
	mlmBias  *autograd.Var
	// QA head: qa_outputs [2, hidden].
	qa *nn.Linear

	posIDs, zeroTypes []int32
	selectors         [2]*autograd.Var // constant [1, 2] weights picking the start or end logit
}

// New returns a model initialised as transformers initialises BERT
// (weights N(0, initializer_range²), biases zero, layer norms one and zero).
func New(cfg Config, head Head, seed uint64) (*Model, error) {
	cfg = cfg.withDefaults(head)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if head != MaskedLM && head != QuestionAnswering {
		return nil, fmt.Errorf("bert: unknown head %d", head)
	}
	rng := tensor.NewRNG(seed)
	m := &Model{Config: cfg, Head: head}
	ps := &m.Params
	std := cfg.InitializerRange
	h := cfg.HiddenSize
	linear := func(name string, in, out int) *nn.Linear {
		w := tensor.New(out, in)
		w.FillNormal(rng, 0, std)
		return &nn.Linear{W: ps.Add(name+".weight", w), B: ps.Add(name+".bias", tensor.New(out))}
	}
	m.word = nn.NewEmbedding(ps, "bert.embeddings.word_embeddings", cfg.VocabSize, h, std, rng)
	m.pos = nn.NewEmbedding(ps, "bert.embeddings.position_embeddings", cfg.MaxPositionEmbeddings, h, std, rng)
	m.typ = nn.NewEmbedding(ps, "bert.embeddings.token_type_embeddings", cfg.TypeVocabSize, h, std, rng)
	m.embNorm = nn.NewLayerNorm(ps, "bert.embeddings.LayerNorm", h, cfg.LayerNormEps)
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		p := fmt.Sprintf("bert.encoder.layer.%d.", i)
		m.layers = append(m.layers, layer{
			attn: &nn.MultiHeadAttention{Q: linear(p+"attention.self.query", h, h), K: linear(p+"attention.self.key", h, h),
				V: linear(p+"attention.self.value", h, h), O: linear(p+"attention.output.dense", h, h), Heads: cfg.NumAttentionHeads},
			attnNorm: nn.NewLayerNorm(ps, p+"attention.output.LayerNorm", h, cfg.LayerNormEps),
			inter:    linear(p+"intermediate.dense", h, cfg.IntermediateSize),
			outFF:    linear(p+"output.dense", cfg.IntermediateSize, h),
			outNorm:  nn.NewLayerNorm(ps, p+"output.LayerNorm", h, cfg.LayerNormEps),
		})
	}
	switch head {
	case MaskedLM:
		m.mlmDense = linear("cls.predictions.transform.dense", h, h)
		m.mlmNorm = nn.NewLayerNorm(ps, "cls.predictions.transform.LayerNorm", h, cfg.LayerNormEps)
		m.mlmBias = ps.Add("cls.predictions.bias", tensor.New(cfg.VocabSize))
	case QuestionAnswering:
		m.qa = linear("qa_outputs", h, 2)
		for col := range m.selectors {
			w := tensor.New(1, 2)
			w.Data()[col] = 1
			m.selectors[col] = autograd.Constant(w)
		}
	}
	return m, nil
}

// Encode runs the embeddings and the encoder on ids [batch, seqLen]
// (row-major) with token types (nil for all zeros) and a key padding mask
// (nil for none), returning the hidden states [batch, seqLen, hidden].
func (m *Model) Encode(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error) {
	cfg := &m.Config
	if len(ids) != batch*seqLen || types != nil && len(types) != len(ids) {
		return nil, fmt.Errorf("bert: %d ids and %d token types for batch %d × length %d", len(ids), len(types), batch, seqLen)
	}
	if seqLen > cfg.MaxPositionEmbeddings {
		return nil, fmt.Errorf("bert: sequence length %d exceeds max_position_embeddings %d", seqLen, cfg.MaxPositionEmbeddings)
	}
	if g.Training && cfg.AttentionProbsDropoutProb > 0 {
		return nil, fmt.Errorf("bert: attention_probs_dropout_prob %g: dropout on attention probabilities is not implemented; set it to 0", cfg.AttentionProbsDropoutProb)
	}
	if cap(m.posIDs) < len(ids) {
		m.posIDs = make([]int32, len(ids))
	}
	pos := m.posIDs[:len(ids)]
	for i := range pos {
		pos[i] = int32(i % seqLen)
	}
	if types == nil { // all segment A
		if len(m.zeroTypes) < len(ids) {
			m.zeroTypes = make([]int32, len(ids))
		}
		types = m.zeroTypes[:len(ids)]
	}
	x, err := m.word.Forward(g, ids, batch, seqLen)
	if err != nil {
		return nil, err
	}
	for _, e := range []struct {
		emb *nn.Embedding
		ids []int32
	}{{m.pos, pos}, {m.typ, types}} {
		y, err := e.emb.Forward(g, e.ids, batch, seqLen)
		if err != nil {
			return nil, err
		}
		if x, err = g.Add(x, y); err != nil {
			return nil, err
		}
	}
	if x, err = m.embNorm.Forward(g, x); err != nil {
		return nil, err
	}
	x = g.Dropout(x, cfg.HiddenDropoutProb)
	act := nn.Activation(cfg.HiddenAct)
	for i := range m.layers {
		l := &m.layers[i]
		a, err := l.attn.Forward(g, x, nil, autograd.AttentionOptions{KeyPad: pad})
		if err != nil {
			return nil, fmt.Errorf("bert: layer %d: %w", i, err)
		}
		if x, err = g.Add(x, g.Dropout(a, cfg.HiddenDropoutProb)); err != nil {
			return nil, err
		}
		if x, err = l.attnNorm.Forward(g, x); err != nil {
			return nil, err
		}
		h, err := l.inter.Forward(g, x)
		if err != nil {
			return nil, err
		}
		if h, err = act.Apply(g, h); err != nil {
			return nil, err
		}
		if h, err = l.outFF.Forward(g, h); err != nil {
			return nil, err
		}
		if x, err = g.Add(x, g.Dropout(h, cfg.HiddenDropoutProb)); err != nil {
			return nil, err
		}
		if x, err = l.outNorm.Forward(g, x); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// MaskedLMLoss returns the masked-LM logits [batch, seqLen, vocab] and the
// mean cross-entropy over positions whose label is not -100 (PyTorch's
// ignore index, as transformers uses).
func (m *Model) MaskedLMLoss(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool, labels []int32) (logits, loss *autograd.Var, err error) {
	if m.Head != MaskedLM {
		return nil, nil, fmt.Errorf("bert: the model has no masked-LM head")
	}
	x, err := m.Encode(g, ids, types, batch, seqLen, pad)
	if err != nil {
		return nil, nil, err
	}
	if x, err = m.mlmDense.Forward(g, x); err != nil {
		return nil, nil, err
	}
	if x, err = nn.Activation(m.Config.HiddenAct).Apply(g, x); err != nil {
		return nil, nil, err
	}
	if x, err = m.mlmNorm.Forward(g, x); err != nil {
		return nil, nil, err
	}
	if logits, err = g.Linear(x, m.word.W, m.mlmBias); err != nil {
		return nil, nil, err
	}
	if labels != nil {
		loss, err = g.CrossEntropy(logits, labels, -100, 0)
	}
	return logits, loss, err
}

// QALoss returns the start and end logits of answer spans ([batch, seqLen]
// each, as one [batch, seqLen, 2] tensor) and, given the answers' start and
// end positions (one per batch row), the loss (start CE + end CE)/2 as
// BertForQuestionAnswering computes it.
func (m *Model) QALoss(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool, starts, ends []int32) (logits, loss *autograd.Var, err error) {
	if m.Head != QuestionAnswering {
		return nil, nil, fmt.Errorf("bert: the model has no question-answering head")
	}
	x, err := m.Encode(g, ids, types, batch, seqLen, pad)
	if err != nil {
		return nil, nil, err
	}
	if logits, err = m.qa.Forward(g, x); err != nil {
		return nil, nil, err
	}
	if starts == nil {
		return logits, nil, nil
	}
	if len(starts) != batch || len(ends) != batch {
		return nil, nil, fmt.Errorf("bert: %d starts and %d ends for batch %d", len(starts), len(ends), batch)
	}
	// The start and end logits as [batch, seqLen] each: a Linear with a
	// constant one-hot weight picks a column of the last dimension (and
	// routes its gradient back there).
	var total *autograd.Var
	for col, pos := range [][]int32{starts, ends} {
		one, err := g.Linear(logits, m.selectors[col], nil) // [batch, seqLen, 1]
		if err != nil {
			return nil, nil, err
		}
		row, err := g.Reshape(one, batch, seqLen)
		if err != nil {
			return nil, nil, err
		}
		for i, p := range pos {
			if p < 0 || int(p) >= seqLen {
				return nil, nil, fmt.Errorf("bert: answer position %d of row %d is outside [0, %d)", p, i, seqLen)
			}
		}
		ce, err := g.CrossEntropy(row, pos, -1, 0)
		if err != nil {
			return nil, nil, err
		}
		if total == nil {
			total = ce
		} else if total, err = g.Add(total, ce); err != nil {
			return nil, nil, err
		}
	}
	return logits, g.Scale(total, 0.5), nil
}
