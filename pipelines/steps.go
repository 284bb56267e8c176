package pipelines

import (
	"fmt"
	"strings"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/models/seq2seq"
)

// StepSource is one text made ready to be decoded a step at a time in a
// batch that rows join and leave (a server's continuous batching): the
// model's input and the row that picks its tokens. Input is nil for a text
// that needs no decoding (an empty line: an empty translation).
type StepSource struct {
	Input []int32
	Row   *generate.Row     // greedy or sampled decoding, or nil
	Beam  *generate.BeamRow // beam search (its Beams() rows), or nil
}

// Rows returns the rows the text takes in a batch (its beams, or one).
func (s StepSource) Rows() int {
	if s.Beam != nil {
		return s.Beam.Beams()
	}
	return 1
}

// Start returns the first token of its rows.
func (s StepSource) Start() int32 {
	if s.Beam != nil {
		return s.Beam.Start()
	}
	return s.Row.Start
}

// Remaining returns the most steps it may still take.
func (s StepSource) Remaining() int {
	if s.Beam != nil {
		return s.Beam.Remaining()
	}
	return s.Row.Remaining()
}

// Out returns its output so far: for a beam search that has ended, the
// best hypothesis.
func (s StepSource) Out() []int32 {
	if s.Beam != nil {
		return s.Beam.Out()
	}
	return s.Row.Out
}

// stepRow returns a text's greedy (or sampled) or beam decoding for o,
// its model input being input.
func stepRow(o generate.Options, vocab int, input []int32) (StepSource, error) {
	s := StepSource{Input: input}
	var err error
	o.EncoderInputs = [][]int32{input}
	if o.NumBeams > 1 {
		s.Beam, err = o.NewBeamRow(vocab)
	} else {
		s.Row, err = o.NewRow(vocab)
	}
	return s, err
}

// StepSources prepares lines as Translate decodes them (greedy, sampled or
// with beams), for a caller that steps the model itself (seq2seq.Decoder,
// JoinCopies); each gives the tokens that Translate gives its line alone.
// ok is always true.
func (t *Translator) StepSources(lines []string) (src []StepSource, ok bool, err error) {
	enc, at, err := t.encodeLines(lines)
	if err != nil {
		return nil, false, err
	}
	src = make([]StepSource, len(lines))
	vocab := t.Model.VocabSize()
	fairseq, isSeq2seq := t.Model.(*seq2seq.Model)
	for j, ids := range enc {
		var s StepSource
		if t.Generation != nil || !isSeq2seq {
			o := t.Model.GenerationOptions()
			if t.Generation != nil {
				o = *t.Generation
			}
			if s, err = stepRow(o, vocab, frame(t.Model, ids)); err != nil {
				return nil, false, err
			}
		} else {
			opt := t.Options
			// Translate's framing and length limit, for one sentence.
			c := fairseq.Config
			eos := int32(c.EOSTokenID)
			if len(ids) == 0 || ids[len(ids)-1] != eos {
				ids = append(ids[:len(ids):len(ids)], eos)
			}
			a, b := opt.MaxLenA, opt.MaxLenB
			if a == 0 && b == 0 {
				a, b = 1.5, 10
			}
			maxLen := min(int(a*float64(len(ids)))+b, c.MaxPositionEmbeddings-1)
			if opt.Beam > 1 {
				cfg := generate.SearchConfig{Vocab: vocab, Start: int32(c.DecoderStartTokenID), EOS: eos,
					MaxLen: maxLen, Beam: opt.Beam, LengthPenalty: opt.LengthPenalty, EarlyStopping: true}
				s.Beam, err = cfg.NewBeamRow()
			} else {
				s.Row, err = generate.NewSampleRow(int32(c.DecoderStartTokenID), eos, maxLen, opt.Sampler)
			}
			if err != nil {
				return nil, false, err
			}
			s.Input = ids
		}
		src[at[j]] = s
	}
	return src, true, nil
}

// Text returns the translation of a row's tokens, as Translate writes it.
func (t *Translator) Text(out []int32) (string, error) {
	text, err := decodeAll(t.Tokenizer, [][]int32{out})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.ReplaceAll(text[0], "\n", " ")), nil
}

// StepSources prepares documents as Summarize decodes them, greedily or
// with beams, for a caller that steps the model itself; truncated counts
// the documents cut to the model's source length. ok is always true.
func (s *Summarizer) StepSources(docs []string) (src []StepSource, truncated int, ok bool, err error) {
	o := s.Options.Generation
	src = make([]StepSource, len(docs))
	for i, d := range docs {
		ids, cut, err := s.Encode(d)
		if err != nil {
			return nil, 0, false, fmt.Errorf("document %d: %w", i+1, err)
		}
		if cut {
			truncated++
		}
		row, err := stepRow(o, s.Model.VocabSize(), ids)
		if err != nil {
			return nil, 0, false, err
		}
		src[i] = row
	}
	return src, truncated, true, nil
}

// Text returns the summary of a row's tokens, as Summarize writes it.
func (s *Summarizer) Text(out []int32) (string, error) {
	text, err := decodeAll(s.Tokenizer, [][]int32{out})
	if err != nil {
		return "", err
	}
	return text[0], nil
}
