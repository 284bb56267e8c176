package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBM25MatchesLucenesFormula scores a small corpus against the formula
// written out term by term: Σ over the query's terms (repeats counted) of
// idf · tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl)), with Lucene's
// idf = ln(1 + (N − n + 0.5)/(n + 0.5)), k1 = 1.2, b = 0.75.
func TestBM25MatchesLucenesFormula(t *testing.T) {
	docs := []string{
		"A fast web server for static files.",
		"Web browser: fast, small; a browser for the web.",
		"Library for parsing JSON files",
		"",
		"JSON JSON json tools",
	}
	bm := NewBM25(docs)
	terms := [][]string{
		{"a", "fast", "web", "server", "for", "static", "files"},
		{"web", "browser", "fast", "small", "a", "browser", "for", "the", "web"},
		{"library", "for", "parsing", "json", "files"},
		{},
		{"json", "json", "json", "tools"},
	}
	avg := 0.0
	for _, d := range terms {
		avg += float64(len(d))
	}
	avg /= float64(len(terms))
	for _, query := range []string{"fast web", "JSON files?", "the the browser", "nothing here", "Web-server"} {
		got := bm.Scores(query)
		for d, dt := range terms {
			want := 0.0
			for _, q := range Terms(query) {
				n, tf := 0.0, 0.0
				for _, other := range terms {
					if slices.Contains(other, q) {
						n++
					}
				}
				for _, w := range dt {
					if w == q {
						tf++
					}
				}
				idf := math.Log(1 + (float64(len(terms))-n+0.5)/(n+0.5))
				want += idf * tf * 2.2 / (tf + 1.2*(1-0.75+0.75*float64(len(dt))/avg))
			}
			if math.Abs(got[d]-want) > 1e-12 {
				t.Errorf("%q against document %d: BM25 %.12f, formula %.12f", query, d, got[d], want)
			}
		}
		into := bm.ScoresTo(make([]float64, len(docs)+3), "stale")
		if !slices.Equal(bm.ScoresTo(into, query), got) {
			t.Errorf("%q: ScoresTo differs from Scores", query)
		}
	}
}

// TestBest matches a full sort: the k highest positive scores that keep
// allows, best first, ties to the lower index.
func TestBest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for trial := range 200 {
		scores := make([]float64, 1+rng.IntN(40))
		for i := range scores {
			scores[i] = float64(rng.IntN(7) - 2) // ties and non-positive scores
		}
		k := rng.IntN(6)
		keep := func(i int) bool { return i%3 != trial%3 }
		var want []int
		for i, s := range scores {
			if s > 0 && keep(i) {
				want = append(want, i)
			}
		}
		slices.SortStableFunc(want, func(a, b int) int { return -cmpFloat(scores[a], scores[b]) })
		want = want[:min(k, len(want))]
		if got := Best(scores, k, keep); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("scores %v, k %d: Best %v, want %v", scores, k, got, want)
		}
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestScoreRetrieval: ranks 1, 3 and 12 (ties after the lower index) give
// Recall@1 1/3, Recall@10 2/3 and MRR@10 (1 + 1/3 + 0)/3.
func TestScoreRetrieval(t *testing.T) {
	scores := [][]float64{
		{9, 1, 1},
		{5, 5, 5, 1},
		{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
	}
	r := ScoreRetrieval(3, 12, func(q int) []float64 { return scores[q] }, []int{0, 2, 11})
	if math.Abs(r.RecallAt1-100.0/3) > 1e-9 || math.Abs(r.RecallAt10-200.0/3) > 1e-9 || math.Abs(r.MRRAt10-(1+1.0/3)/3*100) > 1e-9 {
		t.Errorf("got %+v", r)
	}
}
