package generate

import (
	"fmt"
	"math"
	"sort"

	"github.com/goformer/goformer/internal/cpu"
)

// StepDecoder is a batched incremental decoder (seq2seq.Decoder): each Step
// feeds one token per row and returns rows × vocab logits; parents, when
// not nil, makes row r continue the history of row parents[r].
type StepDecoder interface {
	Step(tokens []int32, parents []int) ([]float32, error)
}

// SearchConfig controls greedy and beam search.
type SearchConfig struct {
	Vocab int   // logits per row
	Start int32 // the first input token (decoder_start_token_id)
	// Starts, if not nil, gives each sentence its own first input token
	// (a language model's last prompt token), instead of Start.
	Starts []int32
	EOS    int32 // ends a hypothesis; negative: none (a language model that runs to MaxLen)
	MaxLen int   // tokens generated at most (EOS not counted)
	// Beam is the number of hypotheses kept per sentence (1: greedy).
	Beam int
	// LengthPenalty is α of GNMT's length normalisation,
	// score / ((5+|Y|)/6)^α, which the paper uses with α = 0.6.
	LengthPenalty float64
	// EarlyStopping ends a sentence's search as soon as it has Beam
	// finished hypotheses (else: when no running hypothesis can still
	// beat the worst finished one).
	EarlyStopping bool
}

// filler is the token fed to rows whose hypothesis has ended: EOS, or 0
// for a model without one (EOS < 0).
func (cfg *SearchConfig) filler() int32 { return max(cfg.EOS, 0) }

// startTokens fills each row's first input: Start, or the row's sentence's
// entry of Starts (copies rows per sentence).
func (cfg *SearchConfig) startTokens(tokens []int32, copies int) error {
	if cfg.Starts == nil {
		for i := range tokens {
			tokens[i] = cfg.Start
		}
		return nil
	}
	if len(cfg.Starts)*copies != len(tokens) {
		return fmt.Errorf("generate: %d start tokens for %d rows of %d copies", len(cfg.Starts), len(tokens), copies)
	}
	for i := range tokens {
		tokens[i] = cfg.Starts[i/copies]
	}
	return nil
}

// Greedy decodes rows sentences by taking the most likely token at every
// step until each row has produced EOS or MaxLen tokens; the results
// exclude EOS.
func Greedy(dec StepDecoder, rows int, cfg SearchConfig) ([][]int32, error) {
	return Sample(dec, rows, cfg, nil)
}

// Sample decodes rows sentences by drawing each next token from s
// (temperature, top-k, top-p; nil: greedy), until each row has produced
// EOS or MaxLen tokens; the results exclude EOS.
func Sample(dec StepDecoder, rows int, cfg SearchConfig, s *Sampler) ([][]int32, error) {
	if s != nil {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	out := make([][]int32, rows)
	done := make([]bool, rows)
	tokens := make([]int32, rows)
	if err := cfg.startTokens(tokens, 1); err != nil {
		return nil, err
	}
	left := rows
	for step := 0; step <= cfg.MaxLen && left > 0; step++ {
		logits, err := dec.Step(tokens, nil)
		if err != nil {
			return nil, err
		}
		if len(logits) != rows*cfg.Vocab {
			return nil, fmt.Errorf("generate: decoder returned %d logits for %d rows × vocabulary %d", len(logits), rows, cfg.Vocab)
		}
		for r := 0; r < rows; r++ {
			if done[r] {
				tokens[r] = cfg.filler()
				continue
			}
			var best int32
			if s == nil {
				best = argmax(logits[r*cfg.Vocab : (r+1)*cfg.Vocab])
			} else {
				best = s.Next(logits[r*cfg.Vocab : (r+1)*cfg.Vocab])
			}
			if best == cfg.EOS || step == cfg.MaxLen {
				done[r] = true
				left--
			} else {
				out[r] = append(out[r], best)
			}
			tokens[r] = best
		}
	}
	return out, nil
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// lengthPenalty is GNMT's ((5+n)/6)^α.
func lengthPenalty(n int, alpha float64) float64 {
	return math.Pow((5+float64(n))/6, alpha)
}

type hypothesis struct {
	tokens []int32
	score  float64 // normalised
	logp   float64 // summed (transformers' beam search only)
}

type candidate struct {
	row   int // the row extended
	token int32
	logp  float64 // cumulative
}

// BeamSearch decodes sentences sentences with Beam rows each (dec must
// have sentences × Beam rows, sentence i in rows i·Beam … (i+1)·Beam-1)
// and returns the best finished hypothesis of each, by cumulative
// log-probability divided by the length penalty, without EOS.
func BeamSearch(dec StepDecoder, sentences int, cfg SearchConfig) ([][]int32, error) {
	k := cfg.Beam
	if k < 1 || k > cfg.Vocab {
		return nil, fmt.Errorf("generate: beam size %d must be between 1 and the vocabulary's %d", k, cfg.Vocab)
	}
	if math.IsNaN(cfg.LengthPenalty) || math.IsInf(cfg.LengthPenalty, 0) {
		return nil, fmt.Errorf("generate: length penalty %g is not a number", cfg.LengthPenalty)
	}
	V := cfg.Vocab
	states := make([]*gnmtSentence, sentences)
	for s := range states {
		states[s] = newGNMTSentence(k)
	}
	rows := sentences * k
	tokens := make([]int32, rows)
	if err := cfg.startTokens(tokens, k); err != nil {
		return nil, err
	}
	parents := make([]int, rows)
	var useParents []int
	scratch := make([]float32, V)
	for step := 0; step <= cfg.MaxLen; step++ {
		logits, err := dec.Step(tokens, useParents)
		if err != nil {
			return nil, err
		}
		if len(logits) != rows*V {
			return nil, fmt.Errorf("generate: decoder returned %d logits for %d rows × vocabulary %d", len(logits), rows, V)
		}
		allDone := true
		for s, st := range states {
			base := s * k
			if st.done {
				// A finished sentence's rows go on, fed the filler.
				for j := 0; j < k; j++ {
					parents[base+j], tokens[base+j] = base+j, cfg.filler()
				}
				continue
			}
			st.step(&cfg, logits[base*V:(base+k)*V], step, scratch, tokens[base:base+k], parents[base:base+k])
			for j := 0; j < k; j++ {
				parents[base+j] += base
			}
			if !st.done {
				allDone = false
			}
		}
		useParents = parents
		if allDone {
			break
		}
	}
	out := make([][]int32, sentences)
	for s, st := range states {
		out[s] = st.best()
	}
	return out, nil
}

// gnmtSentence is one sentence's beam search as BeamSearch runs it (GNMT's
// length penalty): its beams' histories and cumulative log-probabilities
// (−∞ for a beam that is not running) and its finished hypotheses.
type gnmtSentence struct {
	scores     []float64
	hist       [][]int32
	nextHist   [][]int32
	nextScores []float64
	finished   []hypothesis
	cands      []candidate
	done       bool
}

func newGNMTSentence(k int) *gnmtSentence {
	st := &gnmtSentence{scores: make([]float64, k), hist: make([][]int32, k), nextHist: make([][]int32, k), nextScores: make([]float64, k), cands: make([]candidate, 0, 2*k*k)}
	for j := 1; j < k; j++ {
		st.scores[j] = math.Inf(-1) // at the start every beam is the same: keep one
	}
	return st
}

// step takes the sentence's k rows of logits at the given step and sets
// the next token of each beam and the beam (0..k-1) whose history it
// continues; st.done says the sentence has ended.
func (st *gnmtSentence) step(cfg *SearchConfig, logits []float32, step int, scratch []float32, tokens []int32, parents []int) {
	k, V := cfg.Beam, cfg.Vocab
	if step == cfg.MaxLen { // out of room: every running beam ends with EOS
		for j := 0; j < k; j++ {
			parents[j], tokens[j] = j, cfg.filler()
			if math.IsInf(st.scores[j], -1) {
				continue
			}
			row := logits[j*V : (j+1)*V]
			h := st.hist[j]
			lp := 0.0 // a model without EOS ends its hypotheses at the limit as they are
			if cfg.EOS >= 0 {
				lp = float64(row[cfg.EOS]) - logSumExp(row, scratch)
			}
			st.finished = addHypothesis(st.finished, hypothesis{tokens: h, score: (st.scores[j] + lp) / lengthPenalty(len(h)+1, cfg.LengthPenalty)}, k)
		}
		st.done = true
		return
	}
	// The 2k best extensions over the sentence's k beams.
	cands := st.cands[:0]
	for j := 0; j < k; j++ {
		if math.IsInf(st.scores[j], -1) {
			continue
		}
		row := logits[j*V : (j+1)*V]
		lse := logSumExp(row, scratch)
		for _, c := range topK(row, 2*k) {
			cands = insertCandidate(cands, candidate{row: j, token: int32(c), logp: st.scores[j] + float64(row[c]) - lse}, 2*k)
		}
	}
	st.cands = cands
	next := 0
	for _, c := range cands {
		if next == k {
			break
		}
		if c.token == cfg.EOS {
			h := st.hist[c.row]
			st.finished = addHypothesis(st.finished, hypothesis{tokens: h, score: c.logp / lengthPenalty(len(h)+1, cfg.LengthPenalty)}, k)
			continue
		}
		parents[next], tokens[next] = c.row, c.token
		h := st.hist[c.row]
		st.nextHist[next] = append(h[:len(h):len(h)], c.token)
		st.nextScores[next] = c.logp
		next++
	}
	for ; next < k; next++ {
		parents[next], tokens[next] = 0, cfg.filler()
		st.nextHist[next], st.nextScores[next] = st.hist[0], math.Inf(-1)
	}
	// Is the sentence finished?
	switch {
	case len(st.finished) >= k && cfg.EarlyStopping:
		st.done = true
	case len(st.finished) >= k:
		// The best running beam, at its most favourable length penalty
		// (the longest possible), cannot beat the worst finished
		// hypothesis: stop.
		best := math.Inf(-1)
		for j := 0; j < k; j++ {
			best = math.Max(best, st.nextScores[j])
		}
		if best/lengthPenalty(cfg.MaxLen+1, cfg.LengthPenalty) <= st.finished[len(st.finished)-1].score {
			st.done = true
		}
	}
	st.hist, st.nextHist = st.nextHist, st.hist
	copy(st.scores, st.nextScores)
}

// best returns the best finished hypothesis (nil if none).
func (st *gnmtSentence) best() []int32 {
	if len(st.finished) > 0 {
		return st.finished[0].tokens
	}
	return nil
}

// logSumExp returns log Σ exp(x) (the log-softmax of x[i] is x[i] minus
// it), using scratch (len(x)) for the vectorised exponentials.
func logSumExp(x, scratch []float32) float64 {
	m := cpu.Max(x)
	copy(scratch, x)
	return float64(m) + math.Log(float64(cpu.ExpShiftSum(scratch, m)))
}

// topK returns the indices of the n largest values (n small), best first.
func topK(x []float32, n int) []int {
	idx := make([]int, 0, n+1)
	for i, v := range x {
		if len(idx) == n && v <= x[idx[n-1]] {
			continue
		}
		j := sort.Search(len(idx), func(j int) bool { return x[idx[j]] < v })
		idx = append(idx, 0)
		copy(idx[j+1:], idx[j:])
		idx[j] = i
		if len(idx) > n {
			idx = idx[:n]
		}
	}
	return idx
}

func insertCandidate(c []candidate, x candidate, n int) []candidate {
	return insertSorted(c, x, n, func(c candidate) float64 { return c.logp })
}

func addHypothesis(h []hypothesis, x hypothesis, n int) []hypothesis {
	return insertSorted(h, x, n, func(h hypothesis) float64 { return h.score })
}

// insertSorted inserts x into s, sorted by decreasing key, keeping the
// best n (x is dropped if it would come after them).
func insertSorted[T any](s []T, x T, n int, key func(T) float64) []T {
	k := key(x)
	j := sort.Search(len(s), func(j int) bool { return key(s[j]) < k })
	if j >= n {
		return s
	}
	var zero T
	s = append(s, zero)
	copy(s[j+1:], s[j:])
	s[j] = x
	if len(s) > n {
		s = s[:n]
	}
	return s
}
