package pipelines

import (
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/tensor"
)

func TestMinimumBayesRisk(t *testing.T) {
	// "a b c" scores 1 + 2/3 + 4/7 against the evidence, "a b d" 2/3 +
	// 2/3 + 6/7, "x y" nothing.
	ev := []string{"A b c.", "a b e", "a b d f"}
	if got := MinimumBayesRisk([]string{"x y", "a b d", "a b c"}, ev); got != 2 {
		t.Errorf("chose %d, want 2 (a b c)", got)
	}
	// Ties go to the earlier (better-ranked) candidate; stemming and case
	// as rouge-score's: "Running tools" and "run tool" are the evidence's
	// tokens in its order, "tool runs" in the other.
	if got := MinimumBayesRisk([]string{"tool runs", "Running tools", "run tool"}, []string{"running tools"}); got != 1 {
		t.Errorf("tie: chose %d, want 1", got)
	}
	if got := MinimumBayesRisk([]string{"", "a"}, nil); got != 0 {
		t.Errorf("no evidence: chose %d, want 0", got)
	}
}

func TestMinimumBayesRiskPooled(t *testing.T) {
	// The beam "a c" scores (1/2 + 1/2 + 0)/3 = 1/3 against the samples;
	// each "a b" scores (1 + 0)/2 against the other two samples, "x y" 0:
	// the first "a b" wins.
	samples := []string{"a b", "a b", "x y"}
	if got := MinimumBayesRiskPooled([]string{"a c"}, samples); got != 1 {
		t.Errorf("chose %d, want 1 (the first sample a b)", got)
	}
	// A beam hypothesis "a b" scores 2/3, above the samples' 1/2.
	if got := MinimumBayesRiskPooled([]string{"x", "a b"}, samples); got != 1 {
		t.Errorf("chose %d, want 1 (the beam a b)", got)
	}
	// Self-agreement does not count: the beam scores (0 + 1/2 + 1/2)/3 =
	// 1/3, "b c" and "b d" (0 + 1/2)/2 = 1/4 against the others (counted
	// against itself "b c" would score 1/2 and win).
	if got := MinimumBayesRiskPooled([]string{"b q"}, []string{"z", "b c", "b d"}); got != 0 {
		t.Errorf("chose %d, want 0 (the beam)", got)
	}
	// One sample cannot be scored (no other sample): a beam is chosen.
	if got := MinimumBayesRiskPooled([]string{"x", "y"}, []string{"a"}); got != 0 {
		t.Errorf("one sample: chose %d, want 0", got)
	}
	if got := MinimumBayesRiskPooled([]string{"x"}, nil); got != 0 {
		t.Errorf("no samples: chose %d, want 0", got)
	}
}

// TestSummarizerMBR: with MBR the summary of each document is one of its
// beam hypotheses or, unless BeamsOnly, one of its samples, the same on
// every call; without beams it is refused.
func TestSummarizerMBR(t *testing.T) {
	s, err := LoadSummarizer(pegasusDir(t))
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{"A tool to convert files between formats.", "Another package.", "Library for parsing files, development files."}
	s.Options.Generation.MaxLength, s.Options.Generation.NumBeams = 8, 4
	src := make([][]int32, len(docs))
	for i, d := range docs {
		if src[i], _, err = s.Encode(d); err != nil {
			t.Fatal(err)
		}
	}
	hyps := make([][]string, len(docs))
	o := s.Options.Generation
	o.NBest = func(i int, h []generate.Hypothesis) {
		ids := make([][]int32, len(h))
		for j := range h {
			ids[j] = h[j].Tokens
		}
		if hyps[i], err = decodeAll(s.Tokenizer, ids); err != nil {
			t.Error(err)
		}
		if len(h) != 4 || h[0].Score < h[len(h)-1].Score {
			t.Errorf("document %d: %d hypotheses, scores %v", i+1, len(h), h)
		}
	}
	if _, err := s.Model.Generate(src, o, 0, nil); err != nil {
		t.Fatal(err)
	}
	// The samples MBR draws: 6 rows a document, in order, from the seed.
	var rep [][]int32
	for _, x := range src {
		for range 6 {
			rep = append(rep, x)
		}
	}
	so := s.Options.Generation
	so.NumBeams, so.Sampler = 1, &generate.Sampler{Temperature: 1, EpsilonCutoff: 0.02, RNG: tensor.NewRNG(3)}
	ids, err := s.Model.Generate(rep, so, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := decodeAll(s.Tokenizer, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, beamsOnly := range []bool{true, false} {
		s.Options.MBR = MBROptions{Samples: 6, EpsilonCutoff: 0.02, Seed: 3, BeamsOnly: beamsOnly}
		var progress []int
		s.Options.Progress = func(done int) { progress = append(progress, done) }
		out, err := s.Summarize(docs)
		if err != nil {
			t.Fatal(err)
		}
		// One batch a pass. Beam search (4 rows a document) is 4/10 of
		// the work, the 6 samples the rest: 3 documents' beams are worth
		// 1.2 documents.
		if want := []int{1, 3}; !slices.Equal(progress, want) {
			t.Errorf("progress %v, want %v", progress, want)
		}
		s.Options.Progress = nil
		for i, sum := range out {
			ev := samples[6*i : 6*i+6]
			want := slices.Clone(hyps[i])
			if !beamsOnly {
				want = append(want, ev...)
			}
			if !slices.Contains(want, sum) {
				t.Errorf("beams only %v, document %d: %q is not one of the candidates %q", beamsOnly, i+1, sum, want)
			}
			if beamsOnly && sum != hyps[i][MinimumBayesRisk(hyps[i], ev)] {
				t.Errorf("document %d: %q is not the beam of minimum risk against %q", i+1, sum, ev)
			}
		}
		again, err := s.Summarize(docs)
		if err != nil || !slices.Equal(out, again) {
			t.Errorf("a second call gave %q (%v), the first %q", again, err, out)
		}
	}
	s.Options.Generation.NumBeams = 1
	if _, err := s.Summarize(docs); err == nil || !strings.Contains(err.Error(), "num_beams") {
		t.Errorf("MBR with greedy search: %v", err)
	}
}
