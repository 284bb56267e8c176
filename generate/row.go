package generate

import (
	"fmt"
	"math"
)

// Row decodes one sentence greedily, or by sampling, one step at a time,
// for a scheduler that decodes many sentences in one batch which rows join
// and leave between steps (a server's continuous batching). At each step
// Next takes the row's logits and says which token to feed next, or that
// the sentence has ended; Out holds the tokens generated so far, without
// the start token and without EOS. A row gives the tokens that Search
// (transformers' semantics: NewRow) or Sample (fairseq's: NewSampleRow)
// give for its sentence decoded alone.
type Row struct {
	Out     []int32
	Start   int32 // the first token to feed (decoder_start_token_id)
	hf      *Options
	src     []int32 // the distinct tokens of its encoder input (for the penalty)
	maxNew  int
	eos     int32
	sampler *Sampler
}

// NewRow returns a row decoded with o's logits processors and length
// limits, greedily or with o.Sampler (shared by the rows given the same
// o), as Search decodes it. Beam search (NumBeams > 1) is refused: its
// rows are not independent.
func (o Options) NewRow(vocab int) (*Row, error) {
	if o.NumBeams < 1 {
		o.NumBeams = 1
	}
	if o.NumBeams > 1 {
		return nil, fmt.Errorf("generate: a Row decodes one hypothesis; num_beams is %d", o.NumBeams)
	}
	if err := o.Validate(vocab); err != nil {
		return nil, err
	}
	srcs, err := o.sources(1)
	if err != nil {
		return nil, err
	}
	return &Row{Start: o.Start, hf: &o, src: srcs[0], maxNew: o.maxNew(), eos: o.EOS, sampler: o.Sampler}, nil
}

// NewSampleRow returns a row decoded as Sample decodes it: the most likely
// token (or one drawn from s, if not nil) at each step, until EOS or
// maxLen tokens.
func NewSampleRow(start, eos int32, maxLen int, s *Sampler) (*Row, error) {
	if s != nil {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	return &Row{Start: start, maxNew: maxLen, eos: eos, sampler: s}, nil
}

// Next takes the row's logits for its latest step (the processors may
// change them) and returns the token to feed at the next step, with done
// when the sentence has ended instead: EOS (not kept in Out) or the length
// limit (the last token kept).
func (r *Row) Next(logits []float32) (tok int32, done bool) {
	if r.maxNew < 1 {
		return r.eos, true
	}
	if r.hf != nil {
		r.hf.process(logits, r.Out, r.src)
	}
	if r.sampler != nil {
		tok = r.sampler.Next(logits)
	} else {
		tok = argmax(logits)
	}
	if tok == r.eos {
		return tok, true
	}
	r.Out = append(r.Out, tok)
	return tok, len(r.Out) >= r.maxNew
}

// Remaining returns the most steps the row may still take.
func (r *Row) Remaining() int { return max(r.maxNew-len(r.Out), 0) }

// BeamRow is one sentence's beam search a step at a time (transformers'
// semantics, as Search runs it) for a scheduler whose batch sentences join
// and leave between steps: the sentence owns NumBeams consecutive rows of
// the batch. At each step Next takes those rows' logits and gives each
// row's next token and the row (0..Beams()-1) whose history it continues,
// or says that the sentence has ended; Out is then its best hypothesis.
type BeamRow struct {
	o       Options
	vocab   int
	gen     int
	st      *beamSentence // transformers' search, or
	gnmt    *gnmtSentence // BeamSearch's (cfg)
	cfg     SearchConfig
	scratch []float32
	ended   bool
}

// NewBeamRow returns a sentence's beam search with o's settings
// (NumBeams ≥ 2; early stopping, length penalty and processors as Search
// applies them).
func (o Options) NewBeamRow(vocab int) (*BeamRow, error) {
	if o.EarlyStopping == "" {
		o.EarlyStopping = StopHeuristic
	}
	if o.NumBeams < 2 {
		return nil, fmt.Errorf("generate: a BeamRow needs num_beams ≥ 2, got %d", o.NumBeams)
	}
	if o.Sampler != nil {
		return nil, fmt.Errorf("generate: sampling with beams (beam_sample) is not supported")
	}
	if err := o.Validate(vocab); err != nil {
		return nil, err
	}
	srcs, err := o.sources(1)
	if err != nil {
		return nil, err
	}
	st := newBeamSentence(o.NumBeams, o.LengthPenalty)
	st.src = srcs[0]
	return &BeamRow{o: o, vocab: vocab, st: st, scratch: make([]float32, vocab)}, nil
}

// NewBeamRow returns a sentence's beam search as BeamSearch runs it
// (GNMT's length penalty; cfg.Beam ≥ 2; cfg.Starts is not used).
func (cfg SearchConfig) NewBeamRow() (*BeamRow, error) {
	if cfg.Beam < 2 || cfg.Beam > cfg.Vocab {
		return nil, fmt.Errorf("generate: a BeamRow needs a beam between 2 and the vocabulary's %d, got %d", cfg.Vocab, cfg.Beam)
	}
	if math.IsNaN(cfg.LengthPenalty) || math.IsInf(cfg.LengthPenalty, 0) {
		return nil, fmt.Errorf("generate: length penalty %g is not a number", cfg.LengthPenalty)
	}
	return &BeamRow{cfg: cfg, vocab: cfg.Vocab, gnmt: newGNMTSentence(cfg.Beam), scratch: make([]float32, cfg.Vocab)}, nil
}

// Beams returns the number of rows the sentence takes.
func (b *BeamRow) Beams() int {
	if b.gnmt != nil {
		return b.cfg.Beam
	}
	return b.o.NumBeams
}

// Start returns the first token of every row (decoder_start_token_id).
func (b *BeamRow) Start() int32 {
	if b.gnmt != nil {
		return b.cfg.Start
	}
	return b.o.Start
}

// Next takes the logits of the sentence's rows (Beams() × vocab) and sets
// tokens and parents (Beams() each) for the next step, or returns done.
func (b *BeamRow) Next(logits []float32, tokens []int32, parents []int) (done bool, err error) {
	if b.ended {
		return true, nil
	}
	if b.gnmt != nil {
		b.gnmt.step(&b.cfg, logits, b.gen, b.scratch, tokens, parents)
		done = b.gnmt.done
	} else {
		done, err = b.st.step(&b.o, logits, b.vocab, b.gen, b.scratch, tokens, parents)
	}
	b.gen++
	b.ended = done || err != nil
	return done, err
}

// Out returns the best finished hypothesis, without the start token and
// EOS.
func (b *BeamRow) Out() []int32 {
	if b.gnmt != nil {
		return b.gnmt.best()
	}
	return b.st.best()
}

// Remaining returns the most steps the sentence may still take.
func (b *BeamRow) Remaining() int {
	if b.gnmt != nil {
		return max(b.cfg.MaxLen+1-b.gen, 0)
	}
	return max(b.o.maxNew()-b.gen, 0)
}
