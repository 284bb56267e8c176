package pipelines

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/tokenizer"
)

// Summarizer summarises documents with an encoder-decoder model (BART,
// Pegasus, Marian, T5) and its tokenizer, as transformers' summarization
// pipeline does: the document, after the task's prefix (T5's
// "summarize: "), encoded with the model's special tokens (BART: <s> X
// </s>; others: X </s>) and cut to the tokenizer's model_max_length (at
// most the model's positions), generation with
// the model's settings (generation_config.json or config.json, then
// task_specific_params.summarization), the summary decoded without
// special tokens.
type Summarizer struct {
	Model     Seq2SeqModel
	Tokenizer Seq2SeqTokenizer
	Options   SummarizeOptions
	// Prefix is put before each document (task_specific_params'
	// summarization prefix, or the config's prefix).
	Prefix string
}

// SummarizeOptions control Summarize.
type SummarizeOptions struct {
	Generation generate.Options
	// MaxSourceLen cuts documents to this many tokens, special tokens
	// included (0: the model's max_position_embeddings). LoadSummarizer
	// sets it to the tokenizer's model_max_length (tokenizer_config.json),
	// as transformers' tokenizer truncates: a model trained on documents
	// cut shorter than its positions is given documents cut as in training.
	MaxSourceLen int
	BatchRows    int // rows decoded together (documents × beams); default 256
	// Progress, if set, is called with the number of documents done.
	Progress func(done int)
	// Truncated, if set, is called once per call of Summarize with the
	// number of documents that were cut.
	Truncated func(n int)
	// MBR, if its Samples are positive, chooses each summary among beam
	// search's hypotheses by minimum Bayes risk (MBROptions).
	MBR MBROptions
}

// LoadSummarizer reads an encoder-decoder model directory with its
// tokenizer (a byte-level BPE as tokenizer.json or vocab.json and
// merges.txt, or SentencePiece: Pegasus's, T5's) and its generation
// settings and input prefix for summarisation.
func LoadSummarizer(dir string) (*Summarizer, error) {
	m, err := LoadSeq2Seq(dir)
	if err != nil {
		return nil, err
	}
	tok, err := loadSeq2SeqTokenizer(dir, "summarisation")
	if err != nil {
		return nil, err
	}
	if err := checkVocab(dir, tok, m); err != nil {
		return nil, err
	}
	maxLen, err := tokenizer.ModelMaxLength(dir)
	if err != nil {
		return nil, err
	}
	task, err := chooseTask(dir, "summarization", false)
	if err != nil {
		return nil, err
	}
	o, err := generationFor(dir, "summarization", m)
	if err != nil {
		return nil, err
	}
	return &Summarizer{Model: m, Tokenizer: tok, Options: SummarizeOptions{Generation: o, MaxSourceLen: maxLen}, Prefix: task.Prefix}, nil
}

// SourceLimit is the most tokens of a document the model is given,
// special tokens included: MaxSourceLen, at most the model's positions.
func (s *Summarizer) SourceLimit() int {
	_, _, limit := s.Model.SourceFormat()
	if s.Options.MaxSourceLen > 0 {
		limit = min(limit, s.Options.MaxSourceLen)
	}
	return limit
}

// Encode returns the model's input for a document: its tokens cut to
// MaxSourceLen with the special tokens around them, and whether it was cut.
func (s *Summarizer) Encode(doc string) ([]int32, bool, error) {
	if !utf8.ValidString(doc) {
		return nil, false, fmt.Errorf("not valid UTF-8")
	}
	if strings.TrimSpace(doc) == "" {
		return nil, false, fmt.Errorf("empty document")
	}
	bos, _, _ := s.Model.SourceFormat()
	limit := s.SourceLimit()
	specials := 1
	if bos >= 0 {
		specials = 2
	}
	if limit <= specials {
		return nil, false, fmt.Errorf("a source length of %d leaves no room for the document", limit)
	}
	// Encode at most a generous prefix: no tokenizer makes fewer tokens
	// than bytes/64, so a huge document is not tokenized whole.
	text, cut := s.Prefix+doc, false
	if n := 64 * limit; len(text) > n {
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
	ids, err := s.Tokenizer.Encode(text)
	if err != nil {
		return nil, false, err
	}
	if len(ids) > limit-specials {
		ids, cut = ids[:limit-specials], true
	}
	return frame(s.Model, ids), cut, nil
}

// Summarize summarises each document; an error names the first bad
// document (1-based), found before any decoding.
func (s *Summarizer) Summarize(docs []string) ([]string, error) {
	src := make([][]int32, len(docs))
	cut := 0
	for i, d := range docs {
		ids, c, err := s.Encode(d)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if c {
			cut++
		}
		src[i] = ids
	}
	if cut > 0 && s.Options.Truncated != nil {
		s.Options.Truncated(cut)
	}
	return s.SummarizeIDs(src)
}

// SummarizeIDs summarises documents given as model inputs (Encode's).
func (s *Summarizer) SummarizeIDs(src [][]int32) ([]string, error) {
	if s.Options.MBR.Samples > 0 {
		return s.mbr(src)
	}
	out, err := s.Model.Generate(src, s.Options.Generation, s.Options.BatchRows, s.Options.Progress)
	if err != nil {
		return nil, err
	}
	return decodeAll(s.Tokenizer, out)
}
