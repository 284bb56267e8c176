package pipelines

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/goformer/goformer/generate"
)

// Text2Text generates text from text with an encoder-decoder model, as
// transformers' text2text-generation pipeline does: each input, after the
// prefix, encoded with the model's special tokens, generation with the
// directory's settings, the output decoded without special tokens. With
// T5 it answers questions the way T5 was trained to (Answer: "question: …
// context: …").
type Text2Text struct {
	Model      Seq2SeqModel
	Tokenizer  Seq2SeqTokenizer
	Generation generate.Options
	Prefix     string // put before each input
	BatchRows  int    // rows decoded together (inputs × beams); default 256
}

// LoadText2Text reads an encoder-decoder model directory (T5, BART,
// Pegasus, Marian) with its tokenizer and generation settings
// (generation_config.json or config.json's).
func LoadText2Text(dir string) (*Text2Text, error) {
	m, err := LoadSeq2Seq(dir)
	if err != nil {
		return nil, err
	}
	tok, err := loadSeq2SeqTokenizer(dir, "text-to-text generation")
	if err != nil {
		return nil, err
	}
	if err := checkVocab(dir, tok, m); err != nil {
		return nil, err
	}
	o, err := generationFor(dir, "", m)
	if err != nil {
		return nil, err
	}
	return &Text2Text{Model: m, Tokenizer: tok, Generation: o}, nil
}

// Generate returns the output text of each input; an error names the
// first bad input (1-based): empty, not UTF-8, or longer than the model
// reads.
func (t *Text2Text) Generate(inputs []string) ([]string, error) {
	_, _, maxLen := t.Model.SourceFormat()
	src := make([][]int32, len(inputs))
	for i, in := range inputs {
		if !utf8.ValidString(in) {
			return nil, fmt.Errorf("input %d is not valid UTF-8", i+1)
		}
		if strings.TrimSpace(in) == "" {
			return nil, fmt.Errorf("input %d is empty", i+1)
		}
		if len(in) > 64*maxLen {
			return nil, fmt.Errorf("input %d has %d bytes; the model reads at most %d tokens", i+1, len(in), maxLen)
		}
		ids, err := t.Tokenizer.Encode(t.Prefix + in)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i+1, err)
		}
		src[i] = frame(t.Model, ids)
		if len(src[i]) > maxLen {
			return nil, fmt.Errorf("input %d has %d tokens; the model reads at most %d", i+1, len(src[i]), maxLen)
		}
	}
	out, err := t.Model.Generate(src, t.Generation, t.BatchRows, nil)
	if err != nil {
		return nil, err
	}
	return decodeAll(t.Tokenizer, out)
}

// Answer answers a question about a context by generating the answer from
// "question: {question} context: {context}", T5's input format for
// SQuAD.
func (t *Text2Text) Answer(question, context string) (string, error) {
	out, err := t.Generate([]string{"question: " + question + " context: " + context})
	if err != nil {
		return "", err
	}
	return out[0], nil
}

// decodeAll decodes generated ids without their special tokens, each text
// trimmed of surrounding space.
func decodeAll(tok Seq2SeqTokenizer, out [][]int32) ([]string, error) {
	texts := make([]string, len(out))
	for i, ids := range out {
		kept := ids[:0:0]
		for _, id := range ids {
			if !tok.IsSpecial(id) {
				kept = append(kept, id)
			}
		}
		s, err := tok.Decode(kept)
		if err != nil {
			return nil, err
		}
		texts[i] = strings.TrimSpace(s)
	}
	return texts, nil
}
