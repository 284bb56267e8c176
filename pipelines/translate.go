// Package pipelines turns text into answers with a model and its
// tokenizer, the way transformers' pipelines do: the tokenizer, the
// model's special tokens, batching and decoding options behind one call.
package pipelines

import (
	"fmt"
	"strings"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/models/seq2seq"
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
	Model     *seq2seq.Model
	Tokenizer Seq2SeqTokenizer
	// Options are the decoding settings (greedy, beam, sampling, length
	// limits); Progress, if set, is called as sentences finish.
	Options seq2seq.TranslateOptions
	// Generation, when set, decodes with transformers' generate instead
	// (generate.Search: its beam scoring, length limits and logits
	// processors), Options giving only BatchRows and Progress. An OPUS-MT
	// directory gets its generation_config.json here (4 beams, <pad>
	// never generated), so that it translates as transformers does.
	Generation *generate.Options
}

// LoadTranslator reads an encoder-decoder model directory (config.json,
// model.safetensors, tokenizer.json), as goformer train writes it and as a
// Marian or Pegasus model saved by transformers with a byte-level BPE
// tokenizer.json is laid out, or an OPUS-MT directory as the hub serves it
// (source.spm, target.spm, vocab.json; weights as safetensors or
// pytorch_model.bin).
func LoadTranslator(dir string) (*Translator, error) {
	m, err := seq2seq.Load(dir)
	if err != nil {
		return nil, err
	}
	t, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	tok, ok := t.(Seq2SeqTokenizer)
	if !ok {
		return nil, fmt.Errorf("%s: translation needs a byte-level BPE or an OPUS-MT tokenizer, not a %T", dir, t)
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("%s: the tokenizer has %d tokens but the model's vocabulary is %d", dir, tok.VocabSize(), m.Config.VocabSize)
	}
	tr := &Translator{Model: m, Tokenizer: tok, Options: seq2seq.TranslateOptions{Beam: 1}}
	if _, hub := tok.(*tokenizer.Marian); hub {
		o, err := generate.ReadOptions(dir, "", m.GenerationOptions())
		if err != nil {
			return nil, err
		}
		tr.Generation = &o
	}
	return tr, nil
}

// Translate translates lines; an empty (or all-space) line gives an empty
// translation. A line too long for the model is an error naming it, found
// before any decoding starts.
func (t *Translator) Translate(lines []string) ([]string, error) {
	var src [][]int32
	var at []int
	limit := t.Model.Config.MaxPositionEmbeddings - 1 // room for EOS
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if len(l) > 64*limit { // no tokenizer makes fewer tokens than bytes/64: refuse before encoding
			return nil, fmt.Errorf("line %d has %d bytes; the model reads at most %d tokens", i+1, len(l), limit)
		}
		ids, err := t.Tokenizer.Encode(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if len(ids) > limit {
			return nil, fmt.Errorf("line %d has %d tokens; the model reads at most %d", i+1, len(ids), limit)
		}
		src, at = append(src, ids), append(at, i)
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

// TranslateIDs translates tokenized sentences (without EOS) and returns
// their text, special tokens dropped and whitespace trimmed.
func (t *Translator) TranslateIDs(src [][]int32) ([]string, error) {
	if len(src) == 0 {
		return nil, nil
	}
	var out [][]int32
	var err error
	if t.Generation != nil {
		eos := int32(t.Model.Config.EOSTokenID)
		withEOS := make([][]int32, len(src))
		for i, s := range src {
			withEOS[i] = append(s[:len(s):len(s)], eos)
		}
		out, err = t.Model.Generate(withEOS, *t.Generation, t.Options.BatchRows, t.Options.Progress)
	} else {
		out, err = t.Model.Translate(src, t.Options)
	}
	if err != nil {
		return nil, err
	}
	text := make([]string, len(out))
	for i, ids := range out {
		kept := ids[:0:0]
		for _, id := range ids {
			if !t.Tokenizer.IsSpecial(id) {
				kept = append(kept, id)
			}
		}
		s, err := t.Tokenizer.Decode(kept)
		if err != nil {
			return nil, err
		}
		text[i] = strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	}
	return text, nil
}
