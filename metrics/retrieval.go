package metrics

import (
	"math"
	"slices"
	"strings"
	"unicode"
)

// Retrieval is how well a ranking finds each query's one relevant
// document: the share of queries whose document ranks first (Recall@1) or
// in the first ten (Recall@10), and the mean of 1/rank over the queries,
// counting 0 past rank ten (MRR@10). All are percentages.
type Retrieval struct {
	Queries    int     `json:"queries"`
	Documents  int     `json:"documents"`
	RecallAt1  float64 `json:"recall@1"`
	RecallAt10 float64 `json:"recall@10"`
	MRRAt10    float64 `json:"mrr@10"`
}

// Rank returns the 1-based rank of document rel among scores (higher is
// better); ties go to the lower index, as a stable sort orders them.
func Rank(scores []float64, rel int) int {
	s, r := scores[rel], 1
	for i, v := range scores {
		if v > s || v == s && i < rel {
			r++
		}
	}
	return r
}

// ScoreRetrieval ranks, for each query q, every document by scores(q) and
// scores the rank of its relevant document relevant[q].
func ScoreRetrieval(queries, documents int, scores func(q int) []float64, relevant []int) Retrieval {
	r := Retrieval{Queries: queries, Documents: documents}
	if queries == 0 {
		return r
	}
	for q := range queries {
		k := Rank(scores(q), relevant[q])
		if k == 1 {
			r.RecallAt1++
		}
		if k <= 10 {
			r.RecallAt10++
			r.MRRAt10 += 1 / float64(k)
		}
	}
	n := float64(queries) / 100
	r.RecallAt1, r.RecallAt10, r.MRRAt10 = r.RecallAt1/n, r.RecallAt10/n, r.MRRAt10/n
	return r
}

// BM25 is Okapi BM25 over a fixed set of documents, with Lucene's
// defaults: k1 = 1.2, b = 0.75, idf = ln(1 + (N − n + 0.5)/(n + 0.5)).
// Texts are lower-cased and split into runs of letters and digits (no
// stemming, no stop words); each occurrence of a term in the query counts.
type BM25 struct {
	K1, B float64

	postings map[string][]posting
	lengths  []float64
	avgLen   float64
}

type posting struct {
	doc int
	tf  float64
}

// Terms splits text as BM25 does: lower-cased runs of letters and digits.
func Terms(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// NewBM25 indexes the documents.
func NewBM25(docs []string) *BM25 {
	b := &BM25{K1: 1.2, B: 0.75, postings: map[string][]posting{}, lengths: make([]float64, len(docs))}
	var total float64
	for d, text := range docs {
		tf := map[string]float64{}
		terms := Terms(text)
		for _, t := range terms {
			tf[t]++
		}
		for t, n := range tf {
			b.postings[t] = append(b.postings[t], posting{d, n})
		}
		b.lengths[d] = float64(len(terms))
		total += float64(len(terms))
	}
	if len(docs) > 0 {
		b.avgLen = total / float64(len(docs))
	}
	return b
}

// Scores returns the query's BM25 score against every document, in order.
func (b *BM25) Scores(query string) []float64 {
	return b.ScoresTo(make([]float64, len(b.lengths)), query)
}

// ScoresTo is Scores into out (one element per document), which it
// returns.
func (b *BM25) ScoresTo(out []float64, query string) []float64 {
	out = out[:len(b.lengths)]
	clear(out)
	n := float64(len(b.lengths))
	for _, t := range Terms(query) {
		ps := b.postings[t]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			norm := b.K1 * (1 - b.B + b.B*b.lengths[p.doc]/max(b.avgLen, 1e-9))
			out[p.doc] += idf * p.tf * (b.K1 + 1) / (p.tf + norm)
		}
	}
	return out
}

// Best returns the indices of the k best scores (best first), among the
// positive ones that keep allows; fewer when fewer qualify. Ties go to the
// lower index.
func Best(scores []float64, k int, keep func(i int) bool) []int {
	if k < 1 {
		return nil
	}
	top := make([]int, 0, k+1)
	for d, s := range scores {
		if s <= 0 || len(top) == k && s <= scores[top[k-1]] || !keep(d) {
			continue
		}
		at := len(top)
		for at > 0 && s > scores[top[at-1]] {
			at--
		}
		top = slices.Insert(top, at, d)
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}
