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
// Freitag et al. 2023): beam search gives the candidates (its NumBeams
// finished hypotheses), Samples summaries drawn from the model give the
// evidence, and the candidate with the highest mean ROUGE-L F1 (stemmed)
// against the evidence is the summary, the better-ranked beam on a tie.
// The sampled summaries estimate what the model expects the reference
// to be; the choice favours the hypothesis that agrees with most of them
// over the single most probable one.
type MBROptions struct {
	Samples int // summaries sampled per document; 0: off
	// TopP, EpsilonCutoff and Temperature draw the samples
	// (generate.Sampler; Temperature 0 means 1).
	TopP, EpsilonCutoff, Temperature float64
	Seed                             uint64
}

// mbr returns, for each source, the beam hypothesis of minimum Bayes risk
// (MBROptions).
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
	if _, err := s.Model.Generate(src, o, s.Options.BatchRows, nil); err != nil {
		return nil, err
	}
	rep := make([][]int32, 0, len(src)*m.Samples)
	for _, x := range src {
		for range m.Samples {
			rep = append(rep, x)
		}
	}
	temp := m.Temperature
	if temp == 0 {
		temp = 1
	}
	so := s.Options.Generation
	so.NumBeams, so.NBest = 1, nil
	so.Sampler = &generate.Sampler{Temperature: temp, TopP: m.TopP, EpsilonCutoff: m.EpsilonCutoff, RNG: tensor.NewRNG(m.Seed)}
	var progress func(int)
	if p := s.Options.Progress; p != nil {
		progress = func(done int) { p(done / m.Samples) }
	}
	ids, err := s.Model.Generate(rep, so, s.Options.BatchRows, progress)
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
		out[i] = texts[MinimumBayesRisk(texts, samples[i*m.Samples:(i+1)*m.Samples])]
	}
	return out, nil
}

// MinimumBayesRisk returns the index of the candidate of the highest
// summed ROUGE-L F1 against the evidence (tokenised as rouge-score does
// with stemming), the first on a tie.
func MinimumBayesRisk(candidates, evidence []string) int {
	ev := make([][]string, len(evidence))
	for j, e := range evidence {
		ev[j] = metrics.RougeTokens(e, true)
	}
	best, bestU := 0, -1.0
	for i, c := range candidates {
		toks := metrics.RougeTokens(c, true)
		u := 0.0
		for _, e := range ev {
			u += metrics.RougeL(toks, e).F1
		}
		if u > bestU {
			best, bestU = i, u
		}
	}
	return best
}
