package generate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
)

// RowDecoder is a StepDecoder that can also drop rows between steps, so
// that finished sentences stop costing work (seq2seq.Decoder).
type RowDecoder interface {
	StepDecoder
	// Keep keeps the given rows (increasing) as rows 0, 1, … and drops
	// the others.
	Keep(rows []int) error
}

// EarlyStopping is transformers' early_stopping: "true" (a sentence's beam
// search ends as soon as it has num_beams finished hypotheses), "false"
// (the default: it ends when the best running beam, scored at the current
// length, cannot beat the worst finished one) or "never" (it ends when no
// running beam can beat it at any length up to the maximum).
type EarlyStopping string

// The values of EarlyStopping.
const (
	StopEarly     EarlyStopping = "true"
	StopHeuristic EarlyStopping = "false"
	StopNever     EarlyStopping = "never"
)

// UnmarshalJSON reads true, false or "never".
func (e *EarlyStopping) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v {
	case true:
		*e = StopEarly
	case false, nil:
		*e = StopHeuristic
	case "never":
		*e = StopNever
	default:
		return fmt.Errorf("early_stopping must be true, false or \"never\", not %s", b)
	}
	return nil
}

// Options are the controls of transformers' generate for an
// encoder-decoder model, with its semantics. Lengths count as
// transformers counts them: MaxLength and MinLength include the decoder
// start token, MaxNewTokens and MinNewTokens do not (and take precedence).
type Options struct {
	MaxLength    int // the output at most this long, start token included (default 20)
	MaxNewTokens int // tokens generated at most, EOS included; overrides MaxLength
	MinLength    int // EOS is forbidden while the output, start token included, is shorter
	MinNewTokens int // EOS is forbidden before this many tokens are generated
	NumBeams     int // 1: greedy (or sampling)
	// LengthPenalty α: a finished hypothesis scores its summed
	// log-probability divided by length^α, the length counting the start
	// token and not EOS (> 0 favours longer outputs). Default 1.
	LengthPenalty     float64
	EarlyStopping     EarlyStopping
	NoRepeatNgramSize int // no n-gram of this size occurs twice in the output (0: off)
	// BadWords are tokens never generated (bad_words_ids of one token
	// each: OPUS-MT's [[pad]]).
	BadWords  []int32
	Start     int32
	EOS       int32
	ForcedBOS int32 // the first generated token, or -1
	ForcedEOS int32 // the token forced when the maximum length is reached, or -1
	// Sampler, when set (and NumBeams is 1), draws each token from the
	// processed logits instead of taking the best (do_sample).
	Sampler *Sampler
	// EncoderRepetitionPenalty is transformers' encoder_repetition_penalty:
	// the score s of every token of the sentence's encoder input becomes
	// s·p if s < 0, else s/p (p > 1 favours tokens of the source, against
	// hallucination; 0 and 1: off). Greedy search applies it to the logits,
	// beam search to the log-probabilities, as transformers does.
	EncoderRepetitionPenalty float64
	// RepetitionPenalty is transformers' repetition_penalty (CTRL's): the
	// score s of every token the decoder has been fed so far (its start
	// token and the tokens generated) becomes s·p if s < 0, else s/p, once
	// per distinct token (p > 1 discourages repeats; 0 and 1: off). Like
	// EncoderRepetitionPenalty it applies to the logits in greedy search and
	// to the log-probabilities in beam search, after that penalty and
	// before no_repeat_ngram_size, as transformers orders its processors.
	// An encoder-decoder's start token is fed, so BART's (its EOS) is
	// penalised as transformers penalises it.
	RepetitionPenalty float64
	// EncoderInputs are the encoder input ids of each sentence (Search's
	// sentences in order; one for NewRow and NewBeamRow), which
	// EncoderRepetitionPenalty needs. Each sentence counts its own tokens
	// only (transformers also counts the padding of a padded batch).
	EncoderInputs [][]int32
	// NBest, if set, is called by beam search once per sentence (Search's
	// index) with its finished hypotheses, best first: the NumBeams that
	// transformers returns with num_return_sequences = num_beams. The
	// hypothesis Search returns is the first of them.
	NBest func(sentence int, hyps []Hypothesis)
	// NumReturnSequences is transformers' num_return_sequences: with a
	// Sampler, this many sequences drawn for each sentence, its source
	// encoded once; with beam search, the best this many of its finished
	// hypotheses (at most NumBeams). Search and SearchBatches then return
	// sentence i's in rows i·n … i·n+n−1. 0 and 1: one; greedy search has
	// only one to return.
	NumReturnSequences int
}

// returns is the number of sequences returned per sentence.
func (o *Options) returns() int { return max(o.NumReturnSequences, 1) }

// Hypothesis is one finished beam of beam search.
type Hypothesis struct {
	Tokens []int32 // as Search returns them (no start token, no EOS)
	// LogProb is the summed log-probability of the tokens and of the EOS
	// that ended them, if one did (after the logits processors); Score is
	// what beam search ranks by: LogProb / length^LengthPenalty, the start
	// token counted in the length.
	LogProb, Score float64
}

// maxNew returns the number of tokens that may be generated.
func (o *Options) maxNew() int {
	if o.MaxNewTokens > 0 {
		return o.MaxNewTokens
	}
	if o.MaxLength > 0 {
		return o.MaxLength - 1
	}
	return 19 // transformers' default max_length 20, less the start token
}

// Validate reports the first setting that makes no sense.
func (o *Options) Validate(vocab int) error {
	switch {
	case o.maxNew() < 1:
		return fmt.Errorf("generate: max_length %d leaves no room for a token after the start token", o.MaxLength)
	case o.NumBeams < 1 || o.NumBeams > vocab:
		return fmt.Errorf("generate: num_beams %d must be between 1 and the vocabulary's %d", o.NumBeams, vocab)
	case math.IsNaN(o.LengthPenalty) || math.IsInf(o.LengthPenalty, 0):
		return fmt.Errorf("generate: length_penalty %g is not a number", o.LengthPenalty)
	case o.MinLength < 0 || o.MinNewTokens < 0 || o.NoRepeatNgramSize < 0:
		return fmt.Errorf("generate: min_length, min_new_tokens and no_repeat_ngram_size must be ≥ 0")
	case o.EarlyStopping != "" && o.EarlyStopping != StopEarly && o.EarlyStopping != StopHeuristic && o.EarlyStopping != StopNever:
		return fmt.Errorf("generate: early_stopping %q (want true, false or never)", string(o.EarlyStopping))
	case o.Sampler != nil && o.NumBeams > 1:
		return fmt.Errorf("generate: sampling with beams (beam_sample) is not supported")
	case o.NumReturnSequences < 0:
		return fmt.Errorf("generate: num_return_sequences must be ≥ 0, got %d", o.NumReturnSequences)
	case o.NumReturnSequences > 1 && o.Sampler == nil && o.NumReturnSequences > max(o.NumBeams, 1):
		return fmt.Errorf("generate: num_return_sequences %d needs sampling, or at least as many beams (num_beams %d)", o.NumReturnSequences, max(o.NumBeams, 1))
	case !(o.EncoderRepetitionPenalty >= 0) || math.IsInf(o.EncoderRepetitionPenalty, 0):
		return fmt.Errorf("generate: encoder_repetition_penalty %g must be a positive number", o.EncoderRepetitionPenalty)
	case !(o.RepetitionPenalty >= 0) || math.IsInf(o.RepetitionPenalty, 0):
		return fmt.Errorf("generate: repetition_penalty %g must be a positive number", o.RepetitionPenalty)
	}
	for i, src := range o.EncoderInputs {
		if !o.encoderPenalty() {
			break // not read
		}
		for _, id := range src {
			if id < 0 || int(id) >= vocab {
				return fmt.Errorf("generate: encoder input %d: token %d is outside the vocabulary of %d", i, id, vocab)
			}
		}
	}
	for name, id := range map[string]int32{"decoder start": o.Start, "eos": o.EOS} {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("generate: %s token %d is outside the vocabulary of %d", name, id, vocab)
		}
	}
	for _, id := range o.BadWords {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("generate: bad_words_ids: token %d is outside the vocabulary of %d", id, vocab)
		}
	}
	for name, id := range map[string]int32{"forced_bos_token_id": o.ForcedBOS, "forced_eos_token_id": o.ForcedEOS} {
		if id >= int32(vocab) {
			return fmt.Errorf("generate: %s %d is outside the vocabulary of %d", name, id, vocab)
		}
	}
	if o.Sampler != nil {
		return o.Sampler.Validate()
	}
	return nil
}

// encoderPenalty reports whether EncoderRepetitionPenalty is on.
func (o *Options) encoderPenalty() bool {
	return o.EncoderRepetitionPenalty != 0 && o.EncoderRepetitionPenalty != 1
}

// sources returns, for each of n sentences, the distinct tokens of its
// encoder input when EncoderRepetitionPenalty is on (else nil), or an
// error when o.EncoderInputs does not hold n sentences.
func (o *Options) sources(n int) ([][]int32, error) {
	if !o.encoderPenalty() {
		return make([][]int32, n), nil
	}
	if len(o.EncoderInputs) != n {
		return nil, fmt.Errorf("generate: encoder_repetition_penalty needs the encoder inputs of the %d sentences, got %d", n, len(o.EncoderInputs))
	}
	out := make([][]int32, n)
	for i, src := range o.EncoderInputs {
		out[i] = distinct(src)
	}
	return out, nil
}

// distinct returns the tokens of ids, each once, in increasing order.
func distinct(ids []int32) []int32 {
	d := slices.Clone(ids)
	slices.Sort(d)
	return slices.Compact(d)
}

// penalise is CTRL's penalty as transformers' repetition processors apply
// it: token t's score s becomes s·p if s < 0, else s/p.
func penalise(scores []float32, t int32, p float32) {
	if s := scores[t]; s < 0 {
		scores[t] = s * p
	} else {
		scores[t] = s / p
	}
}

// process applies transformers' logits processors, in its order, to one
// row's scores given the tokens generated so far (gen of them) and the
// distinct tokens of its sentence's encoder input (src; nil when the
// penalty is off): the encoder repetition penalty, the repetition
// penalty, no repeated n-gram,
// bad words, the minimum length, forced BOS, forced EOS (min_length and
// no_repeat_ngram_size only set -inf, so their order does not matter).
func (o *Options) process(scores []float32, gen, src []int32) {
	inf := float32(math.Inf(-1))
	if len(src) > 0 {
		p := float32(1 / o.EncoderRepetitionPenalty)
		for _, t := range src {
			penalise(scores, t, p)
		}
	}
	if p := float32(o.RepetitionPenalty); p != 0 && p != 1 {
		penalise(scores, o.Start, p)
		for i, t := range gen { // each distinct token once: O(len(gen)²), a few thousand compares for a summary
			if t != o.Start && !slices.Contains(gen[:i], t) {
				penalise(scores, t, p)
			}
		}
	}
	curLen := 1 + len(gen) // the start token counts
	if curLen < o.MinLength || len(gen) < o.MinNewTokens {
		scores[o.EOS] = inf
	}
	if n := o.NoRepeatNgramSize; n > 0 && curLen+1 >= n {
		tok := func(i int) int32 {
			if i == 0 {
				return o.Start
			}
			return gen[i-1]
		}
		for i := 0; i+n <= curLen; i++ {
			same := true
			for j := 0; j < n-1 && same; j++ {
				same = tok(i+j) == tok(curLen-n+1+j)
			}
			if same {
				scores[tok(i+n-1)] = inf
			}
		}
	}
	for _, t := range o.BadWords {
		scores[t] = inf
	}
	force := int32(-1)
	if o.ForcedBOS >= 0 && len(gen) == 0 {
		force = o.ForcedBOS
	}
	if o.ForcedEOS >= 0 && len(gen) == o.maxNew()-1 {
		force = o.ForcedEOS
	}
	if force >= 0 {
		for i := range scores {
			scores[i] = inf
		}
		scores[force] = 0
	}
}

// Search decodes sentences as transformers' generate does for an
// encoder-decoder model: greedy, sampled (o.Sampler; dec must have
// sentences × NumReturnSequences rows, sentence i in rows
// i·NumReturnSequences …) or beam search (o.NumBeams > 1; dec must have
// sentences × NumBeams rows, sentence i in rows i·NumBeams …) with the
// logits processors of o. Finished sentences are dropped from the batch
// (dec.Keep). It returns each sentence's tokens after the start token,
// without the final EOS (NumReturnSequences of them, one after the other,
// if set).
// A zero LengthPenalty is α = 0 (no length normalisation): callers that
// want transformers' default set 1.
func Search(dec RowDecoder, sentences, vocab int, o Options) ([][]int32, error) {
	if o.EarlyStopping == "" {
		o.EarlyStopping = StopHeuristic
	}
	if o.NumBeams < 1 {
		o.NumBeams = 1
	}
	if err := o.Validate(vocab); err != nil {
		return nil, err
	}
	srcs, err := o.sources(sentences)
	if err != nil {
		return nil, err
	}
	if o.NumBeams == 1 {
		n, rows := o.returns(), srcs // n > 1 only when sampling (Validate)
		if n > 1 {
			rows = make([][]int32, 0, sentences*n)
			for _, src := range srcs {
				for range n {
					rows = append(rows, src)
				}
			}
		}
		return greedyHF(dec, sentences*n, vocab, &o, rows)
	}
	return beamHF(dec, sentences, vocab, &o, srcs)
}

// SearchBatches runs Search over many sources: sorted by length (so that
// a batch pads little), in batches of at most batchRows rows (sources ×
// beams, or × NumReturnSequences when sampling; default 256), each decoded
// by the decoder newDecoder returns for it (copies rows per source, up to
// maxNew steps). The results come back in the input order
// (NumReturnSequences per source, if set); progress, if set, is called
// with the number of sources done. The sources are the encoder inputs that
// EncoderRepetitionPenalty reads (o.EncoderInputs is set per batch);
// o.NBest is called with the sources' indices.
func SearchBatches(src [][]int32, vocab int, o Options, batchRows int, newDecoder func(batch [][]int32, copies, maxNew int) (RowDecoder, error), progress func(done int)) ([][]int32, error) {
	if batchRows < 1 {
		batchRows = 256
	}
	beams, n := max(o.NumBeams, 1), o.returns()
	if beams == 1 {
		beams = n // the rows each source's samples are drawn in
	}
	order := make([]int, len(src))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(src[order[a]]) < len(src[order[b]]) })
	out := make([][]int32, len(src)*n)
	per := max(1, batchRows/beams)
	nbest := o.NBest // called with the sources' own indices
	for start := 0; start < len(order); start += per {
		idx := order[start:min(start+per, len(order))]
		batch := make([][]int32, len(idx))
		for j, i := range idx {
			batch[j] = src[i]
		}
		dec, err := newDecoder(batch, beams, o.maxNew())
		if err != nil {
			return nil, err
		}
		o.EncoderInputs = batch
		if nbest != nil {
			o.NBest = func(j int, hyps []Hypothesis) { nbest(idx[j], hyps) }
		}
		res, err := Search(dec, len(batch), vocab, o)
		if r, ok := dec.(interface{ Release() }); ok {
			r.Release() // its memory serves the next batch's decoder
		}
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			copy(out[i*n:(i+1)*n], res[j*n:(j+1)*n])
		}
		if progress != nil {
			progress(start + len(idx))
		}
	}
	return out, nil
}

// MaxNew returns the number of tokens o lets generation produce
// (max_new_tokens, or max_length less the start token).
func (o *Options) MaxNew() int { return o.maxNew() }

func greedyHF(dec RowDecoder, sentences, vocab int, o *Options, srcs [][]int32) ([][]int32, error) {
	out := make([][]int32, sentences)
	active := make([]int, sentences) // the sentence of each decoder row
	tokens := make([]int32, sentences)
	for i := range active {
		active[i], tokens[i] = i, o.Start
	}
	maxNew := o.maxNew()
	for gen := 0; gen < maxNew && len(active) > 0; gen++ {
		logits, err := dec.Step(tokens[:len(active)], nil)
		if err != nil {
			return nil, err
		}
		if len(logits) != len(active)*vocab {
			return nil, fmt.Errorf("generate: decoder returned %d logits for %d rows × vocabulary %d", len(logits), len(active), vocab)
		}
		var keep []int
		for r, s := range active {
			row := logits[r*vocab : (r+1)*vocab]
			o.process(row, out[s], srcs[s])
			var t int32
			if o.Sampler != nil {
				t = o.Sampler.Next(row)
			} else {
				t = argmax(row)
			}
			if t == o.EOS {
				continue
			}
			out[s] = append(out[s], t)
			tokens[len(keep)] = t
			keep = append(keep, r)
		}
		if len(keep) < len(active) && len(keep) > 0 && gen+1 < maxNew {
			if err := dec.Keep(keep); err != nil {
				return nil, err
			}
		}
		next := active[:0]
		for _, r := range keep {
			next = append(next, active[r])
		}
		active = next
	}
	return out, nil
}

// hypotheses are one sentence's finished beams, as transformers'
// BeamHypotheses keeps them: the best NumBeams by normalised score.
type hypotheses struct {
	k     int
	alpha float64
	beams []hypothesis
	worst float64
}

func (h *hypotheses) add(tokens []int32, logp float64) {
	score := logp / math.Pow(float64(len(tokens)+1), h.alpha) // the start token counts
	if len(h.beams) < h.k || score > h.worst {
		h.beams = addHypothesis(h.beams, hypothesis{tokens: tokens, score: score, logp: logp}, h.k)
		h.worst = h.beams[len(h.beams)-1].score
	}
}

// done is BeamHypotheses.is_done: best is the best candidate's summed
// log-probability this step, curLen the length before this step's token.
func (h *hypotheses) done(best float64, curLen, maxLength int, e EarlyStopping) bool {
	if len(h.beams) < h.k {
		return false
	}
	switch e {
	case StopEarly:
		return true
	case StopNever:
		n := curLen
		if h.alpha > 0 {
			n = maxLength
		}
		return h.worst >= best/math.Pow(float64(n), h.alpha)
	}
	return h.worst >= best/math.Pow(float64(curLen), h.alpha)
}

// beamSentence is one sentence's beam search as transformers runs it: its
// beams' histories and summed log-probabilities, and its finished
// hypotheses.
type beamSentence struct {
	src    []int32 // the distinct tokens of its encoder input (for the penalty)
	scores []float64
	hist   [][]int32
	hyps   hypotheses
	cands  []candidate
}

func newBeamSentence(k int, alpha float64) *beamSentence {
	st := &beamSentence{scores: make([]float64, k), hist: make([][]int32, k), hyps: hypotheses{k: k, alpha: alpha}, cands: make([]candidate, 0, 2*k*k+1)}
	for j := 1; j < k; j++ {
		st.scores[j] = -1e9 // transformers: only the first beam is live at the start
	}
	return st
}

// step takes the sentence's k rows of logits at generation step gen and
// sets the next token of each beam and the beam (0..k-1) it continues, or
// reports that the sentence is done. scratch holds vocab values.
func (st *beamSentence) step(o *Options, logits []float32, vocab, gen int, scratch []float32, tokens []int32, parents []int) (done bool, err error) {
	k, maxNew := o.NumBeams, o.maxNew()
	cands := st.cands[:0]
	for j := 0; j < k; j++ {
		row := logits[j*vocab : (j+1)*vocab]
		lse := float32(logSumExp(row, scratch))
		for c, x := range row {
			scratch[c] = x - lse
		}
		o.process(scratch, st.hist[j], st.src)
		for _, c := range topK(scratch, 2*k) {
			cands = insertCandidate(cands, candidate{row: j, token: int32(c), logp: float64(scratch[c]) + st.scores[j]}, 2*k)
		}
	}
	st.cands = cands
	nextHist, nextScores := make([][]int32, 0, k), make([]float64, 0, k)
	for rank, c := range cands {
		if c.token == o.EOS {
			if rank < k {
				st.hyps.add(st.hist[c.row], c.logp)
			}
			continue
		}
		parents[len(nextHist)] = c.row
		tokens[len(nextHist)] = c.token
		h := st.hist[c.row]
		nextHist = append(nextHist, append(h[:len(h):len(h)], c.token))
		nextScores = append(nextScores, c.logp)
		if len(nextHist) == k {
			break
		}
	}
	if len(nextHist) < k {
		return false, fmt.Errorf("generate: fewer than %d live beams (the vocabulary is too small for the beam)", k)
	}
	done = st.hyps.done(cands[0].logp, 1+gen, maxNew+1, o.EarlyStopping)
	st.hist, st.scores = nextHist, nextScores
	if !done && gen+1 == maxNew { // out of room: the running beams end here
		for j := 0; j < k; j++ {
			st.hyps.add(st.hist[j], st.scores[j])
		}
		done = true
	}
	return done, nil
}

// best returns the best finished hypothesis (nil if none).
func (st *beamSentence) best() []int32 {
	if len(st.hyps.beams) > 0 {
		return st.hyps.beams[0].tokens
	}
	return nil
}

func beamHF(dec RowDecoder, sentences, vocab int, o *Options, srcs [][]int32) ([][]int32, error) {
	k, V, maxNew := o.NumBeams, vocab, o.maxNew()
	states := make([]*beamSentence, sentences)
	active := make([]int, sentences)
	for s := range states {
		states[s], active[s] = newBeamSentence(k, o.LengthPenalty), s
		states[s].src = srcs[s]
	}
	tokens := make([]int32, sentences*k)
	for i := range tokens {
		tokens[i] = o.Start
	}
	parents := make([]int, sentences*k)
	var useParents []int
	scratch := make([]float32, V)
	for gen := 0; gen < maxNew && len(active) > 0; gen++ {
		rows := len(active) * k
		logits, err := dec.Step(tokens[:rows], useParents)
		if err != nil {
			return nil, err
		}
		if len(logits) != rows*V {
			return nil, fmt.Errorf("generate: decoder returned %d logits for %d rows × vocabulary %d", len(logits), rows, V)
		}
		var keepSent []int // positions in active of the sentences still running
		for i, s := range active {
			base := len(keepSent) * k // the sentence's first row after dropping
			done, err := states[s].step(o, logits[i*k*V:(i+1)*k*V], V, gen, scratch, tokens[base:base+k], parents[base:base+k])
			if err != nil {
				return nil, err
			}
			for j := range k {
				parents[base+j] += i * k // the row it continues, before dropping
			}
			if !done {
				keepSent = append(keepSent, i)
			}
		}
		if len(keepSent) == 0 {
			break
		}
		if len(keepSent) < len(active) {
			// Drop the finished sentences' rows; parents pointed at the old
			// rows, so renumber them.
			var keep []int
			newRow := make(map[int]int, len(keepSent)*k)
			for _, i := range keepSent {
				for j := 0; j < k; j++ {
					newRow[i*k+j] = len(keep)
					keep = append(keep, i*k+j)
				}
			}
			if err := dec.Keep(keep); err != nil {
				return nil, err
			}
			for r := 0; r < len(keep); r++ {
				parents[r] = newRow[parents[r]]
			}
		}
		next := active[:0]
		for _, i := range keepSent {
			next = append(next, active[i])
		}
		active = next
		useParents = parents[:len(active)*k]
	}
	n := o.returns()
	out := make([][]int32, 0, sentences*n)
	for s, st := range states {
		if n == 1 {
			out = append(out, st.best())
		} else {
			if len(st.hyps.beams) < n {
				return nil, fmt.Errorf("generate: sentence %d finished %d hypotheses, fewer than num_return_sequences %d", s, len(st.hyps.beams), n)
			}
			for _, h := range st.hyps.beams[:n] {
				out = append(out, h.tokens)
			}
		}
		if o.NBest != nil {
			hyps := make([]Hypothesis, len(st.hyps.beams))
			for j, h := range st.hyps.beams {
				hyps[j] = Hypothesis{Tokens: h.tokens, LogProb: h.logp, Score: h.score}
			}
			o.NBest(s, hyps)
		}
	}
	return out, nil
}
