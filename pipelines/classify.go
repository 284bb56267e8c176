package pipelines

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/tokenizer"
)

// LabelScore is one label and its score.
type LabelScore struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// Score functions: how logits become scores.
const (
	Softmax = "softmax"
	Sigmoid = "sigmoid"
	NoScore = "none" // the logits themselves (regression)
)

// Classifier runs a sequence-classification model (bert.Model with its
// SequenceClassification head) as transformers' text-classification
// pipeline does: the text (or a pair of texts) cut to the model's
// positions, the logits turned into scores by softmax, sigmoid
// (multi_label_classification, or a single label) or nothing
// (regression). It also reranks (a cross-encoder's one logit) and
// classifies zero-shot (an NLI model's entailment).
type Classifier struct {
	Model  *bert.Model
	Labels []string
	// Function is Softmax, Sigmoid or NoScore; NewClassifier chooses it
	// from problem_type and the number of labels.
	Function  string
	BatchSize int // inputs run together (32 when 0)
	// Truncated counts the inputs cut to the model's length so far.
	Truncated int

	in *encoderInput
}

// NewClassifier pairs a sequence-classification model with its tokenizer.
func NewClassifier(m *bert.Model, t tokenizer.Tokenizer) (*Classifier, error) {
	if m.Head != bert.SequenceClassification {
		return nil, fmt.Errorf("the model has no sequence-classification head (it is a %s)", m.Head)
	}
	in, err := newEncoderInput(m, t)
	if err != nil {
		return nil, err
	}
	c := &Classifier{Model: m, Labels: m.Config.Names(), in: in}
	switch pt := m.Config.ProblemType; {
	case pt == "regression":
		c.Function = NoScore
	case pt == "multi_label_classification" || len(c.Labels) == 1:
		c.Function = Sigmoid
	default:
		c.Function = Softmax
	}
	return c, nil
}

// LoadClassifier reads a BERT, RoBERTa or DistilBERT directory with a
// sequence-classification head (…ForSequenceClassification) and its
// tokenizer.
func LoadClassifier(dir string) (*Classifier, error) {
	m, err := bert.Load(dir, bert.SequenceClassification)
	if err != nil {
		return nil, err
	}
	t, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	c, err := NewClassifier(m, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return c, nil
}

// logits runs the model on inputs in batches, returning one row of logits
// per input.
func (c *Classifier) logits(xs []encoded) ([][]float32, error) {
	for _, x := range xs {
		if x.truncated {
			c.Truncated++
		}
	}
	return c.in.runBatches(xs, c.BatchSize, len(c.Labels), func(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error) {
		if c.Model.Config.TypeVocabSize <= 1 {
			types = nil
		}
		return c.Model.Logits(g, ids, types, batch, seqLen, pad)
	})
}

// scores applies the score function to one row of logits.
func scores(function string, logits []float32) []float64 {
	out := make([]float64, len(logits))
	switch function {
	case Sigmoid:
		for i, v := range logits {
			out[i] = 1 / (1 + math.Exp(-float64(v)))
		}
	case Softmax:
		m := math.Inf(-1)
		for _, v := range logits {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for i, v := range logits {
			out[i] = math.Exp(float64(v) - m)
			sum += out[i]
		}
		for i := range out {
			out[i] /= sum
		}
	default:
		for i, v := range logits {
			out[i] = float64(v)
		}
	}
	return out
}

// ranked pairs labels with scores, best first (ties in label order).
func ranked(labels []string, s []float64) []LabelScore {
	out := make([]LabelScore, len(labels))
	for i := range labels {
		out[i] = LabelScore{labels[i], s[i]}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// checkText refuses an empty text, naming it.
func checkText(what string, i int, text string) error {
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("%s %d is empty", what, i)
	}
	return nil
}

// Classify returns every label of each text with its score, best first.
func (c *Classifier) Classify(texts []string) ([][]LabelScore, error) {
	xs := make([]encoded, len(texts))
	for i, text := range texts {
		if err := checkText("text", i, text); err != nil {
			return nil, err
		}
		x, err := c.in.single(text)
		if err != nil {
			return nil, fmt.Errorf("text %d: %w", i, err)
		}
		xs[i] = x
	}
	return c.rank(xs)
}

// ClassifyPairs classifies pairs of texts (a[i], b[i]): sentence-pair
// tasks such as NLI or paraphrase detection.
func (c *Classifier) ClassifyPairs(a, b []string) ([][]LabelScore, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("%d first texts for %d second texts", len(a), len(b))
	}
	xs := make([]encoded, len(a))
	for i := range a {
		if err := errorsJoin(checkText("first text", i, a[i]), checkText("second text", i, b[i])); err != nil {
			return nil, err
		}
		x, err := c.in.pair(a[i], b[i], longestFirst)
		if err != nil {
			return nil, fmt.Errorf("pair %d: %w", i, err)
		}
		xs[i] = x
	}
	return c.rank(xs)
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (c *Classifier) rank(xs []encoded) ([][]LabelScore, error) {
	logits, err := c.logits(xs)
	if err != nil {
		return nil, err
	}
	out := make([][]LabelScore, len(xs))
	for i, l := range logits {
		out[i] = ranked(c.Labels, scores(c.Function, l))
	}
	return out, nil
}

// Ranked is one document of a reranking: its index in the input, its
// text and its relevance score.
type Ranked struct {
	Index    int     `json:"index"`
	Document string  `json:"document"`
	Score    float64 `json:"score"`
}

// Rerank scores each document against the query with a cross-encoder
// (one logit: relevance, through a sigmoid, as sentence-transformers'
// CrossEncoder does) on the pair (query, document), and returns the
// documents best first.
func (c *Classifier) Rerank(query string, docs []string) ([]Ranked, error) {
	if len(c.Labels) != 1 {
		return nil, fmt.Errorf("a reranker has one output, this classifier has %d labels (%v)", len(c.Labels), c.Labels)
	}
	if err := checkText("query", 0, query); err != nil {
		return nil, fmt.Errorf("the query is empty")
	}
	xs := make([]encoded, len(docs))
	for i, d := range docs {
		if err := checkText("document", i, d); err != nil {
			return nil, err
		}
		x, err := c.in.pair(query, d, longestFirst)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		xs[i] = x
	}
	logits, err := c.logits(xs)
	if err != nil {
		return nil, err
	}
	out := make([]Ranked, len(docs))
	for i, l := range logits {
		out[i] = Ranked{Index: i, Document: docs[i], Score: scores(Sigmoid, l)[0]}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out, nil
}

// DefaultHypothesis is the zero-shot pipeline's hypothesis template.
const DefaultHypothesis = "This example is {}."

// EntailmentID is the index of the label whose name starts with
// "entail" (any case), as transformers' zero-shot pipeline finds it; -1
// when there is none.
func (c *Classifier) EntailmentID() int {
	for i, l := range c.Labels {
		if strings.HasPrefix(strings.ToLower(l), "entail") {
			return i
		}
	}
	return -1
}

// ZeroShot scores candidate labels for a text with an NLI model, as
// transformers' zero-shot-classification pipeline does: each label put in
// the hypothesis template ("{}" replaced), the pair (text, hypothesis) run
// through the model with the text cut first; the entailment logits
// softmaxed across the labels, or with multiLabel each label's entailment
// against contradiction on its own. Labels are returned best first.
func (c *Classifier) ZeroShot(text string, labels []string, template string, multiLabel bool) ([]LabelScore, error) {
	if len(labels) == 0 {
		return nil, fmt.Errorf("no candidate labels")
	}
	if err := checkText("text", 0, text); err != nil {
		return nil, fmt.Errorf("the text is empty")
	}
	if template == "" {
		template = DefaultHypothesis
	}
	if !strings.Contains(template, "{}") {
		return nil, fmt.Errorf("the hypothesis template %q has no {} for the label", template)
	}
	if len(c.Labels) < 2 {
		return nil, fmt.Errorf("zero-shot classification needs an NLI model (entailment and contradiction labels), this one has %v", c.Labels)
	}
	ent := c.EntailmentID()
	if ent < 0 {
		ent = len(c.Labels) - 1 // transformers indexes with -1: the last label
	}
	xs := make([]encoded, len(labels))
	for i, l := range labels {
		if err := checkText("label", i, l); err != nil {
			return nil, err
		}
		x, err := c.in.pair(text, strings.Replace(template, "{}", l, 1), onlyFirst)
		if err != nil {
			return nil, fmt.Errorf("label %q: %w", l, err)
		}
		xs[i] = x
	}
	logits, err := c.logits(xs)
	if err != nil {
		return nil, err
	}
	s := make([]float64, len(labels))
	if multiLabel || len(labels) == 1 {
		contra := 0
		if ent == 0 {
			contra = len(c.Labels) - 1
		}
		for i, l := range logits {
			s[i] = scores(Softmax, []float32{l[contra], l[ent]})[1]
		}
	} else {
		e := make([]float32, len(labels))
		for i, l := range logits {
			e[i] = l[ent]
		}
		s = scores(Softmax, e)
	}
	return ranked(labels, s), nil
}
