package pipelines

import (
	"fmt"
	"sync"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/tensor"
)

// MBROptions make a Summarizer choose each summary by minimum Bayes risk
// (Kumar and Byrne 2004; with sampled evidence, Eikema and Aziz 2020 and
// Freitag et al. 2023): Samples summaries drawn from the model are the
// evidence, and the candidate with the highest mean ROUGE-L F1 (stemmed)
// against the evidence is the summary. The candidates are beam search's
// NumBeams finished hypotheses and the samples themselves, each sample
// scored against the others (MinimumBayesRiskPooled); BeamsOnly keeps
// only the beams' hypotheses (MinimumBayesRisk). The sampled summaries
// estimate what the model expects the reference to be; the choice favours
// the summary that agrees with most of them over the single most probable
// one.
type MBROptions struct {
	Samples int // summaries sampled per document; 0: off
	// BeamsOnly makes only beam search's hypotheses candidates; by
	// default the samples are candidates too.
	BeamsOnly bool
	// TopP, EpsilonCutoff and Temperature draw the samples
	// (generate.Sampler; Temperature 0 means 1).
	TopP, EpsilonCutoff, Temperature float64
	Seed                             uint64
}

// mbr returns, for each source, the summary of minimum Bayes risk among
// its beam hypotheses and (unless BeamsOnly) its samples (MBROptions).
func (s *Summarizer) mbr(src [][]int32) ([]string, error) {
	o, m := s.Options.Generation, s.Options.MBR
	if o.NumBeams < 2 || o.Sampler != nil {
		return nil, fmt.Errorf("minimum Bayes risk chooses among beam search's hypotheses: it needs num_beams above 1 and no sampling (num_beams %d)", o.NumBeams)
	}
	var mu sync.Mutex
	cands := make([][]generate.Hypothesis, len(src))
	o.NBest = func(i int, h []generate.Hypothesis) {
		mu.Lock()
		cands[i] = h
		mu.Unlock()
	}
	// Progress counts documents through both passes, weighting each by
	// its rows (NumBeams beams, then Samples draws per document), so the
	// bar moves during beam search and its rate holds into the sampling.
	progress := func(base, rows int) func(int) {
		if s.Options.Progress == nil {
			return nil
		}
		return func(done int) { s.Options.Progress((base + done*rows) / (o.NumBeams + m.Samples)) }
	}
	if _, err := s.Model.Generate(src, o, s.Options.BatchRows, progress(0, o.NumBeams)); err != nil {
		return nil, err
	}
	temp := m.Temperature
	if temp == 0 {
		temp = 1
	}
	so := s.Options.Generation
	so.NumBeams, so.NBest, so.NumReturnSequences = 1, nil, m.Samples
	so.Sampler = &generate.Sampler{Temperature: temp, TopP: m.TopP, EpsilonCutoff: m.EpsilonCutoff, RNG: tensor.NewRNG(m.Seed)}
	ids, err := s.Model.Generate(src, so, s.Options.BatchRows, progress(len(src)*o.NumBeams, m.Samples))
	if err != nil {
		return nil, err
	}
	samples, err := decodeAll(s.Tokenizer, ids)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(src))
	for i, hyps := range cands {
		if len(hyps) == 0 {
			return nil, fmt.Errorf("minimum Bayes risk: beam search finished no hypothesis for document %d", i+1)
		}
		hypIDs := make([][]int32, len(hyps))
		for j, h := range hyps {
			hypIDs[j] = h.Tokens
		}
		texts, err := decodeAll(s.Tokenizer, hypIDs)
		if err != nil {
			return nil, err
		}
		ev := samples[i*m.Samples : (i+1)*m.Samples]
		if m.BeamsOnly {
			out[i] = texts[MinimumBayesRisk(texts, ev)]
		} else if j := MinimumBayesRiskPooled(texts, ev); j < len(texts) {
			out[i] = texts[j]
		} else {
			out[i] = ev[j-len(texts)]
		}
	}
	return out, nil
}

// MinimumBayesRisk returns the index of the candidate of the highest
// mean ROUGE-L F1 against the evidence (tokenised as rouge-score does
// with stemming), the first on a tie.
func MinimumBayesRisk(candidates, evidence []string) int {
	return chooseMBR(rougeTokensAll(candidates), rougeTokensAll(evidence), false)
}

// MinimumBayesRiskPooled chooses among beam search's hypotheses and the
// samples together: a hypothesis is scored by its mean ROUGE-L F1
// (stemmed) against the samples, a sample by its mean against the other
// samples, not itself (a perfect match no hypothesis could have). It
// returns an index into the beams followed by the samples, the first on a
// tie; with fewer than two samples no sample can be scored, and the first
// beam hypothesis is chosen if all else is equal.
func MinimumBayesRiskPooled(beams, samples []string) int {
	ev := rougeTokensAll(samples)
	return chooseMBR(append(rougeTokensAll(beams), ev...), ev, true)
}

func rougeTokensAll(texts []string) [][]string {
	out := make([][]string, len(texts))
	for i, t := range texts {
		out[i] = metrics.RougeTokens(t, true)
	}
	return out
}

// chooseMBR returns the candidate of the highest mean ROUGE-L F1 against
// the evidence; with pooled, the last len(ev) candidates are the evidence
// and each skips itself.
func chooseMBR(cands, ev [][]string, pooled bool) int {
	self := len(cands) // the first candidate that is evidence
	if pooled {
		self = len(cands) - len(ev)
	}
	best, bestU := 0, -1.0
	for i, c := range cands {
		u, n := 0.0, 0
		for j, e := range ev {
			if i-self == j {
				continue
			}
			u += metrics.RougeL(c, e).F1
			n++
		}
		if n == 0 {
			if i >= self {
				continue // a lone sample: nothing to score it by
			}
		} else {
			u /= float64(n)
		}
		if u > bestU {
			best, bestU = i, u
		}
	}
	return best
}
