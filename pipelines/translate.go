// Package pipelines turns text into answers with a model and its
// tokenizer, the way transformers' pipelines do: the tokenizer, the
// model's special tokens, batching and decoding options behind one call.
package pipelines

import (
	"fmt"
	"strings"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/models/t5"
	"github.com/goformer/goformer/tokenizer"
)

// Seq2SeqTokenizer is what the encoder-decoder pipelines (Translator,
// Summarizer) need of a tokenizer: source text to ids, target ids to
// text, and which ids are special (dropped before decoding).
// tokenizer.ByteBPE, tokenizer.Marian (OPUS-MT) and tokenizer.Pegasus are
// ones.
type Seq2SeqTokenizer interface {
	tokenizer.Tokenizer
	IsSpecial(id int32) bool
}

// Translator translates sentences with an encoder-decoder model and its
// tokenizer: text in, text out, special tokens handled.
type Translator struct {
	Model     Seq2SeqModel
	Tokenizer Seq2SeqTokenizer
	// Prefix is put before each sentence (T5's "translate English to
	// German: ", from its config's task_specific_params).
	Prefix string
	// Options are the decoding settings (greedy, beam, sampling, length
	// limits) of a seq2seq.Model trained here; Progress, if set, is called
	// as sentences finish.
	Options seq2seq.TranslateOptions
	// Generation, when set, decodes with transformers' generate instead
	// (generate.Search: its beam scoring, length limits and logits
	// processors), Options giving only BatchRows and Progress. An OPUS-MT
	// directory gets its generation_config.json here (4 beams, <pad>
	// never generated), a T5 directory that and its translation task's
	// settings, so that they translate as transformers does.
	Generation *generate.Options
}

// LoadTranslator reads an encoder-decoder model directory (config.json,
// model.safetensors, tokenizer.json), as goformer train writes it and as a
// Marian or Pegasus model saved by transformers with a byte-level BPE
// tokenizer.json is laid out, an OPUS-MT directory as the hub serves it
// (source.spm, target.spm, vocab.json; weights as safetensors or
// pytorch_model.bin), or a T5 directory (spiece.model), which translates
// with the first translation_* task of its config (as transformers'
// "translation" pipeline picks it).
func LoadTranslator(dir string) (*Translator, error) {
	return LoadTranslatorTask(dir, "")
}

// LoadTranslatorTask is LoadTranslator with a named task of the config's
// task_specific_params ("translation_en_to_fr" for T5); "" picks the
// first translation_* one, if any.
func LoadTranslatorTask(dir, task string) (*Translator, error) {
	m, err := LoadSeq2Seq(dir)
	if err != nil {
		return nil, err
	}
	tok, err := loadSeq2SeqTokenizer(dir, "translation")
	if err != nil {
		return nil, err
	}
	if err := checkVocab(dir, tok, m); err != nil {
		return nil, err
	}
	tr := &Translator{Model: m, Tokenizer: tok, Options: seq2seq.TranslateOptions{Beam: 1}}
	_, hub := tok.(*tokenizer.Marian)
	_, isT5 := m.(*t5.Model)
	if task != "" && !isT5 {
		return nil, fmt.Errorf("%s: a translation task (%q) is chosen for T5 models; this one translates one way", dir, task)
	}
	if hub || isT5 {
		name, explicit := task, task != ""
		if name == "" {
			name = "translation"
		}
		t, err := chooseTask(dir, name, explicit)
		if err != nil {
			return nil, err
		}
		if t.Name == "translation" { // no translation entry: the directory's own settings
			t.Name = ""
		}
		o, err := generationFor(dir, t.Name, m)
		if err != nil {
			return nil, err
		}
		tr.Generation, tr.Prefix = &o, t.Prefix
	}
	return tr, nil
}

// loadSeq2SeqTokenizer reads a directory's tokenizer and checks that it
// can serve an encoder-decoder pipeline.
func loadSeq2SeqTokenizer(dir, what string) (Seq2SeqTokenizer, error) {
	t, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	tok, ok := t.(Seq2SeqTokenizer)
	if !ok {
		return nil, fmt.Errorf("%s: %s needs a byte-level BPE, SentencePiece (T5, Pegasus) or OPUS-MT tokenizer, not a %T", dir, what, t)
	}
	return tok, nil
}

// checkVocab refuses a tokenizer with more tokens than the model has rows.
func checkVocab(dir string, tok Seq2SeqTokenizer, m Seq2SeqModel) error {
	if tok.VocabSize() > m.VocabSize() {
		return fmt.Errorf("%s: the tokenizer has %d tokens but the model's vocabulary is %d", dir, tok.VocabSize(), m.VocabSize())
	}
	return nil
}

// Translate translates lines; an empty (or all-space) line gives an empty
// translation. A line too long for the model is an error naming it, found
// before any decoding starts.
func (t *Translator) Translate(lines []string) ([]string, error) {
	src, at, err := t.encodeLines(lines)
	if err != nil {
		return nil, err
	}
	text, err := t.TranslateIDs(src)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(lines))
	for j, i := range at {
		out[i] = text[j]
	}
	return out, nil
}

// encodeLines tokenizes the lines that are not empty (their indices in
// at), refusing one too long for the model.
func (t *Translator) encodeLines(lines []string) (src [][]int32, at []int, err error) {
	bos, _, maxLen := t.Model.SourceFormat()
	limit := maxLen - 1 // room for EOS
	if bos >= 0 {
		limit--
	}
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if len(l) > 64*limit { // no tokenizer makes fewer tokens than bytes/64: refuse before encoding
			return nil, nil, fmt.Errorf("line %d has %d bytes; the model reads at most %d tokens", i+1, len(l), limit)
		}
		ids, err := t.Tokenizer.Encode(t.Prefix + l)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if len(ids) > limit {
			return nil, nil, fmt.Errorf("line %d has %d tokens; the model reads at most %d", i+1, len(ids), limit)
		}
		src, at = append(src, ids), append(at, i)
	}
	return src, at, nil
}

// TranslateIDs translates tokenized sentences (without EOS) and returns
// their text, special tokens dropped and whitespace trimmed.
func (t *Translator) TranslateIDs(src [][]int32) ([]string, error) {
	if len(src) == 0 {
		return nil, nil
	}
	var out [][]int32
	var err error
	fairseq, isSeq2seq := t.Model.(*seq2seq.Model)
	switch {
	case t.Generation != nil || !isSeq2seq:
		o := t.Model.GenerationOptions()
		if t.Generation != nil {
			o = *t.Generation
		}
		framed := make([][]int32, len(src))
		for i, s := range src {
			framed[i] = frame(t.Model, s)
		}
		out, err = t.Model.Generate(framed, o, t.Options.BatchRows, t.Options.Progress)
	default:
		out, err = fairseq.Translate(src, t.Options)
	}
	if err != nil {
		return nil, err
	}
	text, err := decodeAll(t.Tokenizer, out)
	for i := range text {
		text[i] = strings.TrimSpace(strings.ReplaceAll(text[i], "\n", " "))
	}
	return text, err
}
