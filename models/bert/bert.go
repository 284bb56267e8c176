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
	"math"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/hfdir"
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
	// ClassifierDropout is the dropout of the classification heads
	// (classifier_dropout; nil: hidden_dropout_prob, as transformers does;
	// DistilBERT's seq_classif_dropout).
	ClassifierDropout *float32 `json:"classifier_dropout,omitempty"`
	Labels
	// QADropout is DistilBERT's dropout before its QA head (qa_dropout).
	QADropout float32 `json:"-"`
}

func (c *Config) classifierDropout() float32 {
	if c.ClassifierDropout != nil {
		return *c.ClassifierDropout
	}
	return c.HiddenDropoutProb
}

// Head selects the task head a model carries.
type Head int

const (
	MaskedLM          Head = iota // BertForMaskedLM: cls.predictions
	QuestionAnswering             // BertForQuestionAnswering: qa_outputs
	// Base is the encoder alone (BertModel, with BERT's pooler): hidden
	// states for feature extraction and sentence embeddings. It is saved
	// with the bare model's names (embeddings.…, encoder.…).
	Base
	// SequenceClassification classifies a whole text from its first
	// token (BertForSequenceClassification: the pooler and classifier;
	// DistilBERT's pre_classifier and classifier; RoBERTa's
	// classifier.dense and classifier.out_proj), one logit per label.
	SequenceClassification
	// TokenClassification labels every token (…ForTokenClassification:
	// classifier), one logit per label.
	TokenClassification
	numHeads
)

// String names the head as transformers' architecture suffix does.
func (h Head) String() string {
	if h >= 0 && h < numHeads {
		return []string{"MaskedLM", "QuestionAnswering", "Model", "SequenceClassification", "TokenClassification"}[h]
	}
	return fmt.Sprintf("Head(%d)", int(h))
}

// HeadOf returns the head an architecture name (config.json's
// "architectures") carries: BertForMaskedLM → MaskedLM, XLMRobertaModel →
// Base, and so on; ok is false for a name none of the families uses.
func HeadOf(arch string) (h Head, ok bool) {
	for _, n := range familyNames {
		for h, a := range n.arch {
			if a == arch {
				return Head(h), true
			}
		}
	}
	return 0, false
}

func (c Config) withDefaults(head Head) Config {
	if c.ModelType == "" {
		c.ModelType = FamilyBERT
	}
	if c.robertaPositions() && c.TypeVocabSize == 0 {
		c.TypeVocabSize = 1
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "gelu"
	}
	if c.TypeVocabSize == 0 && c.ModelType == FamilyBERT {
		c.TypeVocabSize = 2
	}
	if c.InitializerRange == 0 {
		c.InitializerRange = 0.02
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-12
	}
	if c.Architectures == nil {
		if n, ok := familyNames[c.ModelType]; ok && head >= 0 && head < numHeads {
			c.Architectures = []string{n.arch[head]}
		}
	}
	return c
}

// robertaPositions reports whether positions count from pad_token_id + 1
// over the non-padding tokens (RoBERTa and XLM-RoBERTa).
func (c *Config) robertaPositions() bool {
	return c.ModelType == FamilyRoBERTa || c.ModelType == FamilyXLMRoBERTa
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	switch {
	case familyNames[c.ModelType].layer == "":
		return fmt.Errorf("bert config: model_type %q is not bert, roberta, xlm-roberta or distilbert", c.ModelType)
	case c.VocabSize < 1 || c.MaxPositionEmbeddings < 1 || c.TypeVocabSize < 0 || c.TypeVocabSize < 1 && c.ModelType != FamilyDistilBERT:
		return fmt.Errorf("bert config: vocab_size, max_position_embeddings and type_vocab_size must be positive")
	case c.robertaPositions() && c.MaxPositionEmbeddings <= c.PadTokenID+1:
		return fmt.Errorf("bert config: RoBERTa's positions start after pad_token_id %d; max_position_embeddings %d leaves none", c.PadTokenID, c.MaxPositionEmbeddings)
	case c.HiddenSize < 1 || c.NumAttentionHeads < 1 || c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("bert config: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case c.IntermediateSize < 1 || c.NumHiddenLayers < 0:
		return fmt.Errorf("bert config: intermediate_size and num_hidden_layers must be positive")
	case c.HiddenAct != "gelu" && c.HiddenAct != "gelu_new" && c.HiddenAct != "relu":
		return fmt.Errorf("bert config: hidden_act %q is not supported (want gelu, gelu_new or relu)", c.HiddenAct)
	case !(c.HiddenDropoutProb >= 0 && c.HiddenDropoutProb < 1) || !(c.AttentionProbsDropoutProb >= 0 && c.AttentionProbsDropoutProb < 1):
		return fmt.Errorf("bert config: hidden_dropout_prob and attention_probs_dropout_prob must be in [0, 1), got %g and %g", c.HiddenDropoutProb, c.AttentionProbsDropoutProb)
	case c.VocabSize > hfdir.MaxSize || c.HiddenSize > hfdir.MaxSize || c.IntermediateSize > hfdir.MaxSize || c.MaxPositionEmbeddings > hfdir.MaxSize || c.TypeVocabSize > hfdir.MaxSize:
		return fmt.Errorf("bert config: vocab_size %d, hidden_size %d, intermediate_size %d, max_position_embeddings %d and type_vocab_size %d must each be at most %d",
			c.VocabSize, c.HiddenSize, c.IntermediateSize, c.MaxPositionEmbeddings, c.TypeVocabSize, hfdir.MaxSize)
	case c.NumHiddenLayers > hfdir.MaxLayers:
		return fmt.Errorf("bert config: num_hidden_layers %d is more than %d", c.NumHiddenLayers, hfdir.MaxLayers)
	case !(c.LayerNormEps > 0) || math.IsInf(float64(c.LayerNormEps), 0):
		return fmt.Errorf("bert config: layer_norm_eps must be a positive number, got %g", c.LayerNormEps)
	case c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize:
		return fmt.Errorf("bert config: pad_token_id %d is outside the vocabulary [0, %d)", c.PadTokenID, c.VocabSize)
	case c.ClassifierDropout != nil && !(*c.ClassifierDropout >= 0 && *c.ClassifierDropout < 1):
		return fmt.Errorf("bert config: classifier_dropout must be in [0, 1), got %g", *c.ClassifierDropout)
	}
	if err := c.Labels.Validate(); err != nil {
		return fmt.Errorf("bert config: %w", err)
	}
	return nil
}

// Model is a BERT encoder with a task head.
type Model struct {
	Config Config
	Head   Head
	Params nn.Params

	word, pos, typ *nn.Embedding
	embNorm        *nn.LayerNorm
	// layers are post-LN encoder layers: attention.self.{query,key,value},
	// attention.output.dense, attention.output.LayerNorm,
	// intermediate.dense, output.dense, output.LayerNorm.
	layers []*nn.EncoderLayer
	// Masked-LM head: cls.predictions.transform.{dense,LayerNorm}, bias.
	mlmDense *nn.Linear
	mlmNorm  *nn.LayerNorm
	mlmBias  *autograd.Var
	// QA head: qa_outputs [2, hidden].
	qa *nn.Linear
	// Sequence classification: seqDense (BERT's pooler, DistilBERT's
	// pre_classifier, RoBERTa's classifier.dense) and the output layer;
	// token classification: the output layer alone.
	seqDense, classifier *nn.Linear

	names             names
	posIDs, zeroTypes []int32
}

// New returns a model initialised as transformers initialises BERT
// (weights N(0, initializer_range²), biases zero, layer norms one and zero).
func New(cfg Config, head Head, seed uint64) (*Model, error) {
	cfg = cfg.withDefaults(head)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if head < 0 || head >= numHeads {
		return nil, fmt.Errorf("bert: unknown head %d", head)
	}
	return newModel(cfg, head, tensor.NewRNG(seed))
}

// newModel builds the model, its weights drawn from rng, or left zero when
// rng is nil (a checkpoint is about to fill them).
func newModel(cfg Config, head Head, rng *tensor.RNG) (*Model, error) {
	m := &Model{Config: cfg, Head: head}
	ps := &m.Params
	std := cfg.InitializerRange
	h := cfg.HiddenSize
	linear := func(name string, in, out int) *nn.Linear {
		w := tensor.New(out, in)
		w.FillNormal(rng, 0, std)
		return &nn.Linear{W: ps.Add(name+".weight", w), B: ps.Add(name+".bias", tensor.New(out))}
	}
	n := familyNames[cfg.ModelType]
	m.names = n
	m.word = nn.NewEmbedding(ps, n.word, cfg.VocabSize, h, std, rng)
	m.pos = nn.NewEmbedding(ps, n.pos, cfg.MaxPositionEmbeddings, h, std, rng)
	if n.typ != "" {
		m.typ = nn.NewEmbedding(ps, n.typ, cfg.TypeVocabSize, h, std, rng)
	}
	m.embNorm = nn.NewLayerNorm(ps, n.embNorm, h, cfg.LayerNormEps)
	lc := nn.LayerConfig{D: h, Heads: cfg.NumAttentionHeads, FFN: cfg.IntermediateSize, Activation: nn.Activation(cfg.HiddenAct),
		Eps: cfg.LayerNormEps, Dropout: cfg.HiddenDropoutProb, Bias: true}
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		p := fmt.Sprintf(n.layer, i)
		l := &nn.EncoderLayer{Cfg: lc}
		l.SelfAttn = &nn.MultiHeadAttention{Q: linear(p+n.q, h, h), K: linear(p+n.k, h, h),
			V: linear(p+n.v, h, h), O: linear(p+n.o, h, h), Heads: cfg.NumAttentionHeads}
		l.Norm1 = nn.NewLayerNorm(ps, p+n.norm1, h, cfg.LayerNormEps)
		l.FF = &nn.FeedForward{FC1: linear(p+n.fc1, h, cfg.IntermediateSize),
			FC2: linear(p+n.fc2, cfg.IntermediateSize, h), Activation: lc.Activation}
		l.Norm2 = nn.NewLayerNorm(ps, p+n.n2, h, cfg.LayerNormEps)
		m.layers = append(m.layers, l)
	}
	switch head {
	case MaskedLM:
		m.mlmDense = linear(n.mlmDense, h, h)
		m.mlmNorm = nn.NewLayerNorm(ps, n.mlmNorm, h, cfg.LayerNormEps)
		m.mlmBias = ps.Add(n.mlmBias, tensor.New(cfg.VocabSize))
	case QuestionAnswering:
		m.qa = linear("qa_outputs", h, 2)
	case Base:
		if cfg.ModelType == FamilyBERT {
			m.seqDense = linear(n.seqDense, h, h) // BertModel's pooler
		}
	case SequenceClassification:
		m.seqDense = linear(n.seqDense, h, h)
		m.classifier = linear(n.seqOut, h, cfg.NumLabels())
	case TokenClassification:
		m.classifier = linear("classifier", h, cfg.NumLabels())
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
	first := 0 // the position of the first token
	if cfg.robertaPositions() {
		first = cfg.PadTokenID + 1
	}
	if first+seqLen > cfg.MaxPositionEmbeddings {
		return nil, fmt.Errorf("bert: sequence length %d exceeds the %d positions of max_position_embeddings %d", seqLen, cfg.MaxPositionEmbeddings-first, cfg.MaxPositionEmbeddings)
	}
	if g.Training && cfg.AttentionProbsDropoutProb > 0 {
		return nil, fmt.Errorf("bert: attention_probs_dropout_prob %g: dropout on attention probabilities is not implemented; set it to 0", cfg.AttentionProbsDropoutProb)
	}
	if cap(m.posIDs) < len(ids) || !g.NoGrad {
		// A graph that records keeps the ids of its lookups until its
		// backward pass, and may encode more than once (queries and
		// documents): the positions are its own.
		m.posIDs = make([]int32, len(ids))
	}
	pos := m.posIDs[:len(ids)]
	if cfg.robertaPositions() {
		// RoBERTa counts positions over the non-padding tokens, from
		// padding_idx + 1; padding sits at padding_idx.
		pad := int32(cfg.PadTokenID)
		for r := 0; r < batch; r++ {
			n := int32(0)
			for j := r * seqLen; j < (r+1)*seqLen; j++ {
				if ids[j] != pad {
					n++
					pos[j] = pad + n
				} else {
					pos[j] = pad
				}
			}
		}
	} else {
		for i := range pos {
			pos[i] = int32(i % seqLen)
		}
	}
	x := g.Add(m.word.Forward(g, ids, batch, seqLen), m.pos.Forward(g, pos, batch, seqLen))
	if m.typ != nil {
		if types == nil { // all segment A
			if len(m.zeroTypes) < len(ids) {
				m.zeroTypes = make([]int32, len(ids))
			}
			types = m.zeroTypes[:len(ids)]
		}
		for _, t := range types {
			if t < 0 || int(t) >= cfg.TypeVocabSize {
				return nil, fmt.Errorf("bert: token type %d outside type_vocab_size %d", t, cfg.TypeVocabSize)
			}
		}
		x = g.Add(x, m.typ.Forward(g, types, batch, seqLen))
	}
	x = g.Dropout(m.embNorm.Forward(g, x), cfg.HiddenDropoutProb)
	for _, l := range m.layers {
		x = l.Forward(g, x, pad)
	}
	return x, g.Err()
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
	x = m.mlmNorm.Forward(g, nn.Activation(m.Config.HiddenAct).Apply(g, m.mlmDense.Forward(g, x)))
	logits = g.Linear(x, m.word.W, m.mlmBias)
	if labels != nil {
		loss = g.CrossEntropy(logits, labels, -100, 0)
	}
	return logits, loss, g.Err()
}

// MaskedTokensLoss is MaskedLMLoss's loss, with the head run on the
// labelled positions alone (labels other than -100): the same loss and
// gradients without the vocabulary-wide logits of every other position,
// which in pretraining (15% of tokens labelled) are most of the head's
// work. It is what training uses; labels must name at least one position.
func (m *Model) MaskedTokensLoss(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool, labels []int32) (*autograd.Var, error) {
	if m.Head != MaskedLM {
		return nil, fmt.Errorf("bert: the model has no masked-LM head")
	}
	if len(labels) != batch*seqLen {
		return nil, fmt.Errorf("bert: %d labels for batch %d × %d tokens", len(labels), batch, seqLen)
	}
	var rows, targets []int32
	for i, l := range labels {
		if l != -100 {
			rows, targets = append(rows, int32(i)), append(targets, l)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("bert: no labelled position in the batch")
	}
	x, err := m.Encode(g, ids, types, batch, seqLen, pad)
	if err != nil {
		return nil, err
	}
	x = g.Embedding(g.Reshape(x, batch*seqLen, m.Config.HiddenSize), rows, 1, len(rows))
	x = m.mlmNorm.Forward(g, nn.Activation(m.Config.HiddenAct).Apply(g, m.mlmDense.Forward(g, x)))
	loss := g.CrossEntropy(g.Linear(x, m.word.W, m.mlmBias), targets, -100, 0)
	return loss, g.Err()
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
	x = g.Dropout(x, m.Config.QADropout)
	logits = m.qa.Forward(g, x)
	if starts == nil {
		return logits, nil, g.Err()
	}
	if len(starts) != batch || len(ends) != batch {
		return nil, nil, fmt.Errorf("bert: %d starts and %d ends for batch %d", len(starts), len(ends), batch)
	}
	for i := range batch {
		if starts[i] < 0 || int(starts[i]) >= seqLen || ends[i] < 0 || int(ends[i]) >= seqLen {
			return nil, nil, fmt.Errorf("bert: answer span [%d, %d] of row %d is outside [0, %d)", starts[i], ends[i], i, seqLen)
		}
	}
	// The start and end logits are the two columns of the last dimension,
	// [batch, seqLen] each once the trailing 1 is dropped.
	startCE := g.CrossEntropy(g.Reshape(g.Narrow(logits, 0, 1), batch, seqLen), starts, -1, 0)
	endCE := g.CrossEntropy(g.Reshape(g.Narrow(logits, 1, 1), batch, seqLen), ends, -1, 0)
	return logits, g.Scale(g.Add(startCE, endCE), 0.5), g.Err()
}

// SpanLogits runs the question-answering head without gradients and
// returns the start and end logits, [batch × seqLen] each.
func (m *Model) SpanLogits(ids, types []int32, batch, seqLen int, pad []bool) (start, end []float32, err error) {
	g := autograd.NewGraph(0)
	g.NoGrad = true
	logits, _, err := m.QALoss(g, ids, types, batch, seqLen, pad, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	d := logits.Value.Data()
	start, end = make([]float32, batch*seqLen), make([]float32, batch*seqLen)
	for i := range start {
		start[i], end[i] = d[2*i], d[2*i+1]
	}
	return start, end, nil
}

// Logits runs a classification head: [batch, labels] for
// SequenceClassification (from the first token, [CLS] or <s>) and
// [batch, seqLen, labels] for TokenClassification.
func (m *Model) Logits(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error) {
	if m.Head != SequenceClassification && m.Head != TokenClassification {
		return nil, fmt.Errorf("bert: the model has no classification head (it is a %s)", m.Head)
	}
	x, err := m.Encode(g, ids, types, batch, seqLen, pad)
	if err != nil {
		return nil, err
	}
	p := m.Config.classifierDropout()
	if m.Head == TokenClassification {
		if m.Config.ModelType == FamilyDistilBERT {
			p = m.Config.HiddenDropoutProb // DistilBERT's token head drops out by its dropout
		}
		return m.classifier.Forward(g, g.Dropout(x, p)), g.Err()
	}
	x = m.First(g, x)
	if m.Config.ModelType != FamilyDistilBERT && m.Config.ModelType != FamilyBERT {
		x = g.Dropout(x, p) // RoBERTa's head drops out before its dense layer too
	}
	x = m.seqDense.Forward(g, x)
	if m.names.seqAct == "relu" {
		x = g.ReLU(x)
	} else {
		x = g.Tanh(x)
	}
	if m.Config.ModelType == FamilyBERT {
		p = m.Config.HiddenDropoutProb // after BERT's pooler, before the classifier
	}
	return m.classifier.Forward(g, g.Dropout(x, p)), g.Err()
}

// First returns the first token's hidden state of each row of x [batch,
// seqLen, hidden]: [batch, hidden].
func (m *Model) First(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	s := x.Shape()
	if len(s) != 3 {
		return g.Fail(fmt.Errorf("bert: First wants [batch, seqLen, hidden], got %v", s))
	}
	rows := make([]int32, s[0])
	for i := range rows {
		rows[i] = int32(i * s[1])
	}
	return g.Embedding(g.Reshape(x, s[0]*s[1], s[2]), rows, 1, s[0])
}

// Hidden runs the encoder without gradients and returns the last hidden
// states, [batch × seqLen × hidden].
func (m *Model) Hidden(ids, types []int32, batch, seqLen int, pad []bool) ([]float32, error) {
	g := autograd.NewGraph(0)
	g.NoGrad = true
	x, err := m.Encode(g, ids, types, batch, seqLen, pad)
	if err != nil {
		return nil, err
	}
	return x.Value.Data(), nil
}

// InitSinusoidalPositions overwrites the learned position embeddings with
// the paper's sinusoidal encoding (nn.Embedding.InitSinusoidal), scaled
// to initializer_range like the word embeddings. They stay parameters
// that training updates and the checkpoint keeps (the model is still a
// BERT): only where training starts changes. For a model from scratch.
func (m *Model) InitSinusoidalPositions() error {
	if err := m.pos.InitSinusoidal(m.Config.InitializerRange); err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	return nil
}

// InitMimeticAttention adds scale × identity to every layer's query and
// key weights (nn.MultiHeadAttention.InitMimetic), so that attention
// starts by matching like tokens — what a reader of the cloze questions
// needs, and took a model from random weights many steps to find. For a
// model from scratch.
func (m *Model) InitMimeticAttention(scale float32) {
	for _, l := range m.layers {
		l.SelfAttn.InitMimetic(scale)
	}
}
