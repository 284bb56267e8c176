package pipelines

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
)

// The files of a sentence-transformers directory.
const (
	ModulesFile        = "modules.json"
	SentenceBertConfig = "sentence_bert_config.json"
	PoolingConfig      = "config.json" // in the Pooling module's folder, 1_Pooling
)

// Pooling is sentence-transformers' Pooling module (1_Pooling/config.json):
// how token vectors become one sentence vector. Several modes
// concatenate, in the module's order: CLS, max, mean, mean·√length, last
// token.
type Pooling struct {
	Dimension     int  `json:"word_embedding_dimension"`
	CLS           bool `json:"pooling_mode_cls_token"`
	Mean          bool `json:"pooling_mode_mean_tokens"`
	Max           bool `json:"pooling_mode_max_tokens"`
	MeanSqrtLen   bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMean  bool `json:"pooling_mode_weightedmean_tokens"`
	LastToken     bool `json:"pooling_mode_lasttoken"`
	IncludePrompt bool `json:"include_prompt"`
}

// modes counts the pooling modes in use.
func (p Pooling) modes() int {
	n := 0
	for _, on := range []bool{p.CLS, p.Mean, p.Max, p.MeanSqrtLen, p.WeightedMean, p.LastToken} {
		if on {
			n++
		}
	}
	return n
}

// describe names the pooling modes in use, for messages.
func (p Pooling) describe() string {
	var names []string
	for _, m := range []struct {
		on   bool
		name string
	}{{p.CLS, "cls"}, {p.Max, "max"}, {p.Mean, "mean"}, {p.MeanSqrtLen, "mean-sqrt-len"}, {p.WeightedMean, "weighted-mean"}, {p.LastToken, "last-token"}} {
		if m.on {
			names = append(names, m.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " + ")
}

// module is one entry of modules.json.
type module struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// EmbedOptions control Embedder.
type EmbedOptions struct {
	BatchSize int // texts run through the model together (32, as encode's default)
}

// Embedder turns texts into sentence vectors as sentence-transformers'
// SentenceTransformer.encode does: the Transformer module (the text cut to
// max_seq_length tokens, lower-cased first if do_lower_case), the Pooling
// module, and Normalize when the directory has it.
type Embedder struct {
	Model     *bert.Model
	Pooling   Pooling
	Normalize bool
	MaxSeqLen int  // max_seq_length: tokens with the specials
	Lowercase bool // do_lower_case
	Options   EmbedOptions
	// Truncated counts the texts cut to MaxSeqLen so far.
	Truncated int

	in  *encoderInput
	tok tokenizer.Tokenizer
}

// NewEmbedder pairs an encoder (bert.Base head) and its tokenizer with
// mean pooling and normalisation, cutting texts to maxSeqLen tokens (0:
// the model's positions).
func NewEmbedder(m *bert.Model, t tokenizer.Tokenizer, maxSeqLen int) (*Embedder, error) {
	in, err := newEncoderInput(m, t)
	if err != nil {
		return nil, err
	}
	e := &Embedder{Model: m, Pooling: Pooling{Dimension: m.Config.HiddenSize, Mean: true, IncludePrompt: true}, Normalize: true, in: in, tok: t}
	if err := e.SetMaxSeqLen(maxSeqLen); err != nil {
		return nil, err
	}
	return e, nil
}

// SetMaxSeqLen sets the tokens a text keeps (0: as many as the model has
// positions for).
func (e *Embedder) SetMaxSeqLen(n int) error {
	if n == 0 {
		n = e.in.maxPos
	}
	if n < 3 || n > e.in.maxPos {
		return fmt.Errorf("max_seq_length %d: want 3 to the model's %d positions", n, e.in.maxPos)
	}
	e.MaxSeqLen, e.in.maxLen = n, n
	return nil
}

// Dimension is the length of the vectors Embed returns.
func (e *Embedder) Dimension() int { return e.Pooling.modes() * e.Model.Config.HiddenSize }

// LoadEmbedder reads a sentence-transformers directory as the hub serves
// it (modules.json, the Transformer module at the root or in its folder,
// 1_Pooling/config.json, sentence_bert_config.json, an optional
// Normalize), or a bare BERT, RoBERTa or DistilBERT directory, which is
// mean-pooled as sentence-transformers does with a model it has no
// modules for.
func LoadEmbedder(dir string) (*Embedder, error) {
	var mods []module
	b, err := os.ReadFile(filepath.Join(dir, ModulesFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		mods = []module{{Path: "", Type: "sentence_transformers.models.Transformer"},
			{Path: "", Type: "sentence_transformers.models.Pooling"}}
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &mods); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ModulesFile), err)
		}
	}
	var e *Embedder
	pooled := false
	for i, mod := range mods {
		path := filepath.Join(dir, filepath.FromSlash(mod.Path))
		if !filepath.IsLocal(filepath.FromSlash(mod.Path)) && mod.Path != "" {
			return nil, fmt.Errorf("%s: module %d's path %q leaves the directory", filepath.Join(dir, ModulesFile), i, mod.Path)
		}
		kind := mod.Type[strings.LastIndex(mod.Type, ".")+1:]
		switch {
		case kind == "Transformer" && e == nil:
			m, err := bert.Load(path, bert.Base)
			if err != nil {
				return nil, err
			}
			t, err := tokenizer.LoadDir(path)
			if err != nil {
				return nil, err
			}
			if e, err = NewEmbedder(m, t, 0); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			var sb struct {
				MaxSeqLength int  `json:"max_seq_length"`
				DoLowerCase  bool `json:"do_lower_case"`
			}
			if err := readJSON(filepath.Join(path, SentenceBertConfig), &sb); err != nil {
				return nil, err
			}
			if sb.MaxSeqLength > 0 {
				if err := e.SetMaxSeqLen(min(sb.MaxSeqLength, e.in.maxPos)); err != nil {
					return nil, fmt.Errorf("%s: %w", filepath.Join(path, SentenceBertConfig), err)
				}
			}
			e.Lowercase, e.in.lower = sb.DoLowerCase, sb.DoLowerCase
			e.Normalize = false
		case e == nil:
			return nil, fmt.Errorf("%s: module %d (%s) comes before a Transformer module", filepath.Join(dir, ModulesFile), i, mod.Type)
		case kind == "Pooling" && !pooled:
			p := Pooling{Dimension: e.Model.Config.HiddenSize, Mean: true}
			if mod.Path != "" || len(b) > 0 {
				p = Pooling{}
				if err := readJSONRequired(filepath.Join(path, PoolingConfig), &p); err != nil {
					return nil, err
				}
			}
			switch {
			case p.Dimension != e.Model.Config.HiddenSize:
				return nil, fmt.Errorf("%s: word_embedding_dimension %d is not the model's hidden size %d", filepath.Join(path, PoolingConfig), p.Dimension, e.Model.Config.HiddenSize)
			case p.WeightedMean:
				return nil, fmt.Errorf("%s: pooling_mode_weightedmean_tokens is not supported", filepath.Join(path, PoolingConfig))
			case p.modes() == 0:
				return nil, fmt.Errorf("%s: no pooling mode is set", filepath.Join(path, PoolingConfig))
			}
			e.Pooling, pooled = p, true
		case kind == "Normalize":
			e.Normalize = true
		default:
			return nil, fmt.Errorf("%s: module %d (%s) is not supported (want Transformer, Pooling, Normalize)", filepath.Join(dir, ModulesFile), i, mod.Type)
		}
	}
	if e == nil || !pooled {
		return nil, fmt.Errorf("%s: want a Transformer and a Pooling module", filepath.Join(dir, ModulesFile))
	}
	return e, nil
}

// readJSON reads a JSON file into v; a missing file leaves v as it is.
func readJSON(path string, v any) error {
	err := readJSONRequired(path, v)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func readJSONRequired(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Save writes the embedder as a sentence-transformers directory that
// SentenceTransformer(dir) loads: the model and tokenizer at the root
// (config.json, model.safetensors, tokenizer.json), modules.json,
// sentence_bert_config.json, 1_Pooling/config.json and, when it
// normalises, 2_Normalize. Every file is written atomically.
func (e *Embedder) Save(dir string) error {
	if e.Model.Head != bert.Base {
		return fmt.Errorf("pipelines: an embedder saves a bare encoder (bert.Base), not a %s head", e.Model.Head)
	}
	if err := e.Model.Save(dir); err != nil {
		return err
	}
	saver, ok := e.tok.(interface{ SaveHF(string) error })
	if !ok {
		return fmt.Errorf("pipelines: a %T cannot be saved as tokenizer.json", e.tok)
	}
	if err := saver.SaveHF(filepath.Join(dir, tokenizer.HFFile)); err != nil {
		return err
	}
	// tokenizer_config.json and special_tokens_map.json, as
	// save_pretrained writes them beside tokenizer.json.
	tc, specials := map[string]any{"model_max_length": e.MaxSeqLen}, map[string]string{}
	switch e.tok.(type) {
	case *tokenizer.WordPiece:
		tc["tokenizer_class"], tc["do_lower_case"] = "BertTokenizer", e.Lowercase
		specials = map[string]string{"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}
	case *tokenizer.ByteBPE:
		tc["tokenizer_class"] = "RobertaTokenizer"
		specials = map[string]string{"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}
	}
	for k, v := range specials {
		tc[k] = v
	}
	mods := []module{{0, "0", "", "sentence_transformers.models.Transformer"}, {1, "1", "1_Pooling", "sentence_transformers.models.Pooling"}}
	if e.Normalize {
		mods = append(mods, module{2, "2", "2_Normalize", "sentence_transformers.models.Normalize"})
		if err := os.MkdirAll(filepath.Join(dir, "2_Normalize"), 0o755); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "1_Pooling"), 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		v    any
	}{
		{filepath.Join(dir, ModulesFile), mods},
		{filepath.Join(dir, SentenceBertConfig), map[string]any{"max_seq_length": e.MaxSeqLen, "do_lower_case": e.Lowercase}},
		{filepath.Join(dir, "1_Pooling", PoolingConfig), e.Pooling},
		{filepath.Join(dir, "config_sentence_transformers.json"), map[string]any{"__version__": map[string]string{"sentence_transformers": "2.2.2"}}},
		{filepath.Join(dir, tokenizer.TokenizerConfig), tc},
		{filepath.Join(dir, "special_tokens_map.json"), specials},
	} {
		b, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return err
		}
		if err := tensor.WriteFileAtomic(f.path, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
			return err
		}
	}
	return nil
}

// Forward embeds a batch of inputs on g: the encoder, the pooling and the
// normalisation, [batch, Dimension()]. Mean, max and CLS pooling, one of
// them, record their gradients (training); the other modes, and several
// modes at once, are for inference only.
func (e *Embedder) Forward(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error) {
	x, err := e.Model.Encode(g, ids, types, batch, seqLen, pad)
	if err != nil {
		return nil, err
	}
	p := e.Pooling
	var parts []*autograd.Var
	if p.CLS {
		parts = append(parts, e.Model.First(g, x))
	}
	if (p.MeanSqrtLen || p.LastToken || p.modes() > 1) && !g.NoGrad {
		return nil, fmt.Errorf("pipelines: training needs one pooling mode of mean, max or CLS, not %s", p.describe())
	}
	h := e.Model.Config.HiddenSize
	if p.Max {
		parts = append(parts, g.MaxPool(x, pad))
	}
	if p.Mean {
		parts = append(parts, g.MeanPool(x, pad))
	}
	if p.MeanSqrtLen {
		parts = append(parts, g.Input(poolMeanSqrt(x.Value.Data(), pad, batch, seqLen, h)))
	}
	if p.LastToken {
		parts = append(parts, g.Input(poolLast(x.Value.Data(), pad, batch, seqLen, h)))
	}
	out := parts[0]
	if len(parts) > 1 {
		t := tensor.New(batch, len(parts)*h)
		for r := range batch {
			for i, part := range parts {
				copy(t.Data()[(r*len(parts)+i)*h:], part.Value.Data()[r*h:(r+1)*h])
			}
		}
		out = g.Input(t)
	}
	if e.Normalize {
		out = g.Normalize(out)
	}
	return out, g.Err()
}

// poolMeanSqrt is the sum over the tokens divided by √(their number).
func poolMeanSqrt(x []float32, pad []bool, b, t, h int) *tensor.Tensor {
	out := tensor.New(b, h)
	o := out.Data()
	for r := range b {
		n := 0
		for j := range t {
			if pad == nil || !pad[r*t+j] {
				n++
				for i := range h {
					o[r*h+i] += x[(r*t+j)*h+i]
				}
			}
		}
		s := float32(1 / math.Sqrt(max(float64(n), 1e-9)))
		for i := range h {
			o[r*h+i] *= s
		}
	}
	return out
}

// poolLast takes the last token that is not padding (right padding).
func poolLast(x []float32, pad []bool, b, t, h int) *tensor.Tensor {
	out := tensor.New(b, h)
	for r := range b {
		last := t - 1
		for last > 0 && pad != nil && pad[r*t+last] {
			last--
		}
		copy(out.Data()[r*h:(r+1)*h], x[(r*t+last)*h:(r*t+last+1)*h])
	}
	return out
}

// Embed returns one vector per text, in order. Texts run in batches of
// similar length (longest first, as encode sorts them); a text longer than
// MaxSeqLen tokens is cut (and counted in Truncated); an empty text is an
// error naming its index.
func (e *Embedder) Embed(texts []string) ([][]float32, error) {
	inputs := make([]encoded, len(texts))
	for i, text := range texts {
		if strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("text %d is empty", i)
		}
		x, err := e.in.single(text)
		if err != nil {
			return nil, fmt.Errorf("text %d: %w", i, err)
		}
		if x.truncated {
			e.Truncated++
		}
		inputs[i] = x
	}
	return e.in.runBatches(inputs, e.Options.BatchSize, e.Dimension(), e.Forward)
}

// Cosine returns the cosine similarity of two vectors of the same length
// (0 when either is all zeros).
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Tokens returns the model input of one text: the template's specials
// around its tokens, cut to MaxSeqLen, and whether it was cut.
func (e *Embedder) Tokens(text string) (ids []int32, truncated bool, err error) {
	x, err := e.in.single(text)
	return x.ids, x.truncated, err
}

// Pad is the padding id of the model's inputs.
func (e *Embedder) Pad() int32 { return e.in.tpl.Pad }

// EvalRetrieval embeds queries and documents and ranks, for each query i,
// every document by cosine similarity, document i being the relevant one.
func EvalRetrieval(e *Embedder, queries, docs []string) (metrics.Retrieval, error) {
	if len(queries) != len(docs) {
		return metrics.Retrieval{}, fmt.Errorf("%d queries for %d documents", len(queries), len(docs))
	}
	qv, err := e.Embed(queries)
	if err != nil {
		return metrics.Retrieval{}, fmt.Errorf("query %w", err)
	}
	dv, err := e.Embed(docs)
	if err != nil {
		return metrics.Retrieval{}, fmt.Errorf("document %w", err)
	}
	relevant := make([]int, len(queries))
	for i := range relevant {
		relevant[i] = i
	}
	scores := make([]float64, len(docs))
	return metrics.ScoreRetrieval(len(queries), len(docs), func(q int) []float64 {
		for d := range dv {
			scores[d] = Cosine(qv[q], dv[d])
		}
		return scores
	}, relevant), nil
}
