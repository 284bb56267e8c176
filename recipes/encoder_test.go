package recipes

import (
	"slices"
	"testing"

	"github.com/goformer/goformer/metrics"
)

// TestHardNegatives: each query's negatives are BM25's best other texts,
// best first, never its own text nor a copy of it, and only texts that
// share a term with it.
func TestHardNegatives(t *testing.T) {
	texts := []string{
		"A library for parsing JSON documents.",
		"A library for parsing JSON documents.", // a sibling package's copy
		"Development files for the JSON parsing library.",
		"A fast web server.",
		"Documentation of the JSON library.",
		"A game of ancient warfare.",
	}
	queries := []string{"JSON parsing library", "JSON parser (copy)", "JSON library headers", "web server", "JSON docs", "strategy game"}
	got := hardNegatives(queries, texts, 2)
	bm := metrics.NewBM25(texts)
	for i, negs := range got {
		scores := bm.Scores(queries[i])
		if len(negs) > 2 {
			t.Fatalf("query %d: %d negatives, want at most 2", i, len(negs))
		}
		for r, j := range negs {
			if j == i || texts[j] == texts[i] || scores[j] <= 0 {
				t.Errorf("query %d: negative %d (%q, score %g)", i, j, texts[j], scores[j])
			}
			if r > 0 && scores[j] > scores[negs[r-1]] {
				t.Errorf("query %d: negatives %v not best first", i, negs)
			}
		}
		// nothing left out scores better than the last negative taken
		for j, s := range scores {
			if j != i && texts[j] != texts[i] && !slices.Contains(negs, j) && s > 0 && (len(negs) < 2 || s > scores[negs[len(negs)-1]]) {
				t.Errorf("query %d: text %d (score %g) left out of %v", i, j, s, negs)
			}
		}
	}
	if !slices.Equal(got[0], []int{2, 4}) || len(got[3]) != 0 || !slices.Equal(got[1], []int{4, 2}) {
		t.Errorf("negatives %v", got)
	}
}
