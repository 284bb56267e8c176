package bert

import (
	"encoding/json"
	"fmt"
)

// The model families this package reads and writes: BERT, RoBERTa
// (positions counted from padding_idx + 1, byte-level BPE) and DistilBERT
// (no token types; its own parameter and config names). All three are the
// same post-LN encoder.
const (
	FamilyBERT       = "bert"
	FamilyRoBERTa    = "roberta"
	FamilyDistilBERT = "distilbert"
	// FamilyXLMRoBERTa is RoBERTa's architecture with a SentencePiece
	// vocabulary; its parameters carry RoBERTa's names.
	FamilyXLMRoBERTa = "xlm-roberta"
)

// names are one family's parameter names.
type names struct {
	prefix                          string // of the encoder's parameters
	word, pos, typ, embNorm         string
	layer                           string // fmt pattern with the layer index
	q, k, v, o, norm1, fc1, fc2, n2 string
	mlmDense, mlmNorm, mlmBias      string
	mlmTied                         []string // saved copies of tied MLM weights, ignored on load
	// The sequence-classification head: a dense layer on the first token
	// (with the activation seqAct) and the output layer.
	seqDense, seqAct, seqOut string
	// arch are the architectures' names, by Head.
	arch [numHeads]string
}

var familyNames = map[string]names{
	FamilyBERT: {prefix: "bert.", word: "bert.embeddings.word_embeddings", pos: "bert.embeddings.position_embeddings",
		typ: "bert.embeddings.token_type_embeddings", embNorm: "bert.embeddings.LayerNorm", layer: "bert.encoder.layer.%d.",
		q: "attention.self.query", k: "attention.self.key", v: "attention.self.value", o: "attention.output.dense",
		norm1: "attention.output.LayerNorm", fc1: "intermediate.dense", fc2: "output.dense", n2: "output.LayerNorm",
		mlmDense: "cls.predictions.transform.dense", mlmNorm: "cls.predictions.transform.LayerNorm", mlmBias: "cls.predictions.bias",
		mlmTied:  []string{"cls.predictions.decoder."},
		seqDense: "bert.pooler.dense", seqAct: "tanh", seqOut: "classifier",
		arch: [numHeads]string{"BertForMaskedLM", "BertForQuestionAnswering", "BertModel", "BertForSequenceClassification", "BertForTokenClassification"}},
	FamilyRoBERTa: {prefix: "roberta.", word: "roberta.embeddings.word_embeddings", pos: "roberta.embeddings.position_embeddings",
		typ: "roberta.embeddings.token_type_embeddings", embNorm: "roberta.embeddings.LayerNorm", layer: "roberta.encoder.layer.%d.",
		q: "attention.self.query", k: "attention.self.key", v: "attention.self.value", o: "attention.output.dense",
		norm1: "attention.output.LayerNorm", fc1: "intermediate.dense", fc2: "output.dense", n2: "output.LayerNorm",
		mlmDense: "lm_head.dense", mlmNorm: "lm_head.layer_norm", mlmBias: "lm_head.bias",
		mlmTied:  []string{"lm_head.decoder."},
		seqDense: "classifier.dense", seqAct: "tanh", seqOut: "classifier.out_proj",
		arch: [numHeads]string{"RobertaForMaskedLM", "RobertaForQuestionAnswering", "RobertaModel", "RobertaForSequenceClassification", "RobertaForTokenClassification"}},
	FamilyDistilBERT: {prefix: "distilbert.", word: "distilbert.embeddings.word_embeddings", pos: "distilbert.embeddings.position_embeddings",
		embNorm: "distilbert.embeddings.LayerNorm", layer: "distilbert.transformer.layer.%d.",
		q: "attention.q_lin", k: "attention.k_lin", v: "attention.v_lin", o: "attention.out_lin",
		norm1: "sa_layer_norm", fc1: "ffn.lin1", fc2: "ffn.lin2", n2: "output_layer_norm",
		mlmDense: "vocab_transform", mlmNorm: "vocab_layer_norm", mlmBias: "vocab_projector.bias",
		mlmTied:  []string{"vocab_projector.weight"},
		seqDense: "pre_classifier", seqAct: "relu", seqOut: "classifier",
		arch: [numHeads]string{"DistilBertForMaskedLM", "DistilBertForQuestionAnswering", "DistilBertModel", "DistilBertForSequenceClassification", "DistilBertForTokenClassification"}},
}

func init() {
	x := familyNames[FamilyRoBERTa]
	x.arch = [numHeads]string{"XLMRobertaForMaskedLM", "XLMRobertaForQuestionAnswering", "XLMRobertaModel", "XLMRobertaForSequenceClassification", "XLMRobertaForTokenClassification"}
	familyNames[FamilyXLMRoBERTa] = x
}

// distilConfig is DistilBertConfig's config.json.
type distilConfig struct {
	ModelType         string   `json:"model_type"`
	Architectures     []string `json:"architectures,omitempty"`
	VocabSize         int      `json:"vocab_size"`
	Dim               int      `json:"dim"`
	NLayers           int      `json:"n_layers"`
	NHeads            int      `json:"n_heads"`
	HiddenDim         int      `json:"hidden_dim"`
	Activation        string   `json:"activation"`
	Dropout           float32  `json:"dropout"`
	AttentionDropout  float32  `json:"attention_dropout"`
	QADropout         float32  `json:"qa_dropout"`
	SeqClassifDropout float32  `json:"seq_classif_dropout"`
	Labels
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	SinusoidalPosEmbds    bool    `json:"sinusoidal_pos_embds"`
	InitializerRange      float32 `json:"initializer_range"`
	PadTokenID            int     `json:"pad_token_id"`
}

// bertJSON is Config without its methods, for the default encoding.
type bertJSON Config

// UnmarshalJSON reads BertConfig and RobertaConfig fields, or
// DistilBertConfig's (dim, n_layers, ...) when model_type is distilbert.
func (c *Config) UnmarshalJSON(b []byte) error {
	var probe struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	if probe.ModelType != FamilyDistilBERT {
		return json.Unmarshal(b, (*bertJSON)(c))
	}
	d := distilConfig{Activation: "gelu", InitializerRange: 0.02, QADropout: 0.1, SeqClassifDropout: 0.2}
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	if d.SinusoidalPosEmbds {
		return fmt.Errorf("distilbert config: sinusoidal_pos_embds true is not supported")
	}
	*c = Config{ModelType: d.ModelType, Architectures: d.Architectures, VocabSize: d.VocabSize, HiddenSize: d.Dim,
		NumHiddenLayers: d.NLayers, NumAttentionHeads: d.NHeads, IntermediateSize: d.HiddenDim, HiddenAct: d.Activation,
		HiddenDropoutProb: d.Dropout, AttentionProbsDropoutProb: d.AttentionDropout, MaxPositionEmbeddings: d.MaxPositionEmbeddings,
		InitializerRange: d.InitializerRange, LayerNormEps: 1e-12, PadTokenID: d.PadTokenID, QADropout: d.QADropout,
		ClassifierDropout: &d.SeqClassifDropout, Labels: d.Labels}
	return nil
}

// MarshalJSON writes the family's own config.json fields.
func (c Config) MarshalJSON() ([]byte, error) {
	if c.ModelType != FamilyDistilBERT {
		return json.Marshal(bertJSON(c))
	}
	return json.Marshal(distilConfig{ModelType: c.ModelType, Architectures: c.Architectures, VocabSize: c.VocabSize,
		Dim: c.HiddenSize, NLayers: c.NumHiddenLayers, NHeads: c.NumAttentionHeads, HiddenDim: c.IntermediateSize,
		Activation: c.HiddenAct, Dropout: c.HiddenDropoutProb, AttentionDropout: c.AttentionProbsDropoutProb,
		QADropout: c.QADropout, MaxPositionEmbeddings: c.MaxPositionEmbeddings, InitializerRange: c.InitializerRange,
		PadTokenID: c.PadTokenID, SeqClassifDropout: c.classifierDropout(), Labels: c.Labels})
}
