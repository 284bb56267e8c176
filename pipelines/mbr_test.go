package pipelines

import (
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/generate"
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

// TestSummarizerMBR: with MBR the summary of each document is one of its
// beam hypotheses, the same on every call; without beams it is refused.
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
	s.Options.MBR = MBROptions{Samples: 6, EpsilonCutoff: 0.02, Seed: 3}
	out, err := s.Summarize(docs)
	if err != nil {
		t.Fatal(err)
	}
	for i, sum := range out {
		if !slices.Contains(hyps[i], sum) {
			t.Errorf("document %d: %q is not one of the beams' hypotheses %q", i+1, sum, hyps[i])
		}
	}
	again, err := s.Summarize(docs)
	if err != nil || !slices.Equal(out, again) {
		t.Errorf("a second call gave %q (%v), the first %q", again, err, out)
	}
	s.Options.Generation.NumBeams = 1
	if _, err := s.Summarize(docs); err == nil || !strings.Contains(err.Error(), "num_beams") {
		t.Errorf("MBR with greedy search: %v", err)
	}
}
