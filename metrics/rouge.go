package metrics

import (
	"fmt"
	"strings"
)

// RougeScore is one ROUGE measure of one summary: precision, recall and
// their harmonic mean F1, each in [0, 1].
type RougeScore struct {
	Precision, Recall, F1 float64
}

func rougeScore(hits, predicted, reference int) RougeScore {
	p := float64(hits) / float64(max(predicted, 1))
	r := float64(hits) / float64(max(reference, 1))
	s := RougeScore{Precision: p, Recall: r}
	if p+r > 0 {
		s.F1 = 2 * p * r / (p + r)
	}
	return s
}

// Rouge holds ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum of a summary, or
// (from CorpusRouge) their F1 averaged over summaries, × 100.
type Rouge struct {
	Rouge1    float64 `json:"rouge1"`
	Rouge2    float64 `json:"rouge2"`
	RougeL    float64 `json:"rougeL"`
	RougeLsum float64 `json:"rougeLsum"`
}

// RougeTokens splits text into ROUGE's tokens as Google's rouge-score
// package does: lower-case, every run of characters other than a-z and
// 0-9 becomes a space (so letters outside ASCII separate words and vanish),
// tokens longer than 3 characters are Porter-stemmed when stem is set.
func RougeTokens(text string, stem bool) []string {
	// Python's str.lower maps U+0130 (İ) to "i" plus a combining dot,
	// which the next step turns into a word break; Go maps it to "i".
	text = strings.ToLower(strings.ReplaceAll(text, "\u0130", "i\u0307"))
	var tokens []string
	start := -1
	for i := 0; i <= len(text); i++ {
		alnum := i < len(text) && (text[i] >= 'a' && text[i] <= 'z' || text[i] >= '0' && text[i] <= '9')
		switch {
		case alnum && start < 0:
			start = i
		case !alnum && start >= 0:
			w := text[start:i]
			if stem && len(w) > 3 {
				w = PorterStem(w)
			}
			if w != "" {
				tokens = append(tokens, w)
			}
			start = -1
		}
	}
	return tokens
}

// ngramKey joins n tokens into one map key (tokens hold no spaces).
func ngramCounts(tokens []string, n int) (map[string]int, int) {
	counts := map[string]int{}
	total := 0
	for i := 0; i+n <= len(tokens); i++ {
		counts[strings.Join(tokens[i:i+n], " ")]++
		total++
	}
	return counts, total
}

// RougeN is ROUGE-N of a predicted token list against a reference: the
// clipped count of shared n-grams over the prediction's (precision) and
// the reference's (recall) n-gram counts.
func RougeN(pred, ref []string, n int) RougeScore {
	pc, pt := ngramCounts(pred, n)
	rc, rt := ngramCounts(ref, n)
	hits := 0
	for g, c := range rc {
		hits += min(c, pc[g])
	}
	return rougeScore(hits, pt, rt)
}

// lcsTable is the longest-common-subsequence table of a and b:
// t[i][j] is the LCS length of a[:i] and b[:j].
func lcsTable(a, b []string) [][]int {
	t := make([][]int, len(a)+1)
	for i := range t {
		t[i] = make([]int, len(b)+1)
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				t[i][j] = t[i-1][j-1] + 1
			} else {
				t[i][j] = max(t[i-1][j], t[i][j-1])
			}
		}
	}
	return t
}

// RougeL is ROUGE-L: the longest common subsequence over the prediction's
// and the reference's lengths (all zero if either is empty).
func RougeL(pred, ref []string) RougeScore {
	if len(pred) == 0 || len(ref) == 0 {
		return RougeScore{}
	}
	lcs := lcsTable(ref, pred)[len(ref)][len(pred)]
	return rougeScore(lcs, len(pred), len(ref))
}

// lcsIndices returns the positions in ref of one longest common
// subsequence with can, read back from the table as rouge-score does.
func lcsIndices(ref, can []string) []int {
	t := lcsTable(ref, can)
	var out []int
	i, j := len(ref), len(can)
	for i > 0 && j > 0 {
		switch {
		case ref[i-1] == can[j-1]:
			out = append(out, i-1)
			i--
			j--
		case t[i][j-1] > t[i-1][j]:
			j--
		default:
			i--
		}
	}
	return out // in decreasing order; only the set matters
}

// RougeLsum is summary-level ROUGE-L over sentences: for each reference
// sentence, the union of its LCS positions with every predicted sentence;
// each token counts at most as often as it occurs in both summaries.
func RougeLsum(pred, ref [][]string) RougeScore {
	m, n := 0, 0
	refCounts, predCounts := map[string]int{}, map[string]int{}
	for _, s := range ref {
		m += len(s)
		for _, w := range s {
			refCounts[w]++
		}
	}
	for _, s := range pred {
		n += len(s)
		for _, w := range s {
			predCounts[w]++
		}
	}
	if m == 0 || n == 0 {
		return RougeScore{}
	}
	hits := 0
	for _, r := range ref {
		union := make([]bool, len(r))
		for _, c := range pred {
			for _, i := range lcsIndices(r, c) {
				union[i] = true
			}
		}
		for i, in := range union {
			if w := r[i]; in && predCounts[w] > 0 && refCounts[w] > 0 {
				hits++
				predCounts[w]--
				refCounts[w]--
			}
		}
	}
	return rougeScore(hits, n, m)
}

// sentences splits a summary into its non-empty lines (rouge-score's
// sentence split for ROUGE-Lsum).
func sentences(text string) []string {
	var out []string
	for _, s := range strings.Split(text, "\n") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// RougeScores returns the four ROUGE F1 scores (× 100) of a predicted
// summary against its reference, as rouge-score's RougeScorer with
// rouge_types rouge1, rouge2, rougeL, rougeLsum computes them. ROUGE-Lsum
// takes sentences to be the lines of each text.
func RougeScores(pred, ref string, stem bool) Rouge {
	p, r := RougeTokens(pred, stem), RougeTokens(ref, stem)
	var ps, rs [][]string
	for _, s := range sentences(pred) {
		ps = append(ps, RougeTokens(s, stem))
	}
	for _, s := range sentences(ref) {
		rs = append(rs, RougeTokens(s, stem))
	}
	return Rouge{Rouge1: 100 * RougeN(p, r, 1).F1, Rouge2: 100 * RougeN(p, r, 2).F1,
		RougeL: 100 * RougeL(p, r).F1, RougeLsum: 100 * RougeLsum(ps, rs).F1}
}

// CorpusRouge averages each ROUGE F1 over the summaries (× 100), as the
// papers and transformers' examples report it.
func CorpusRouge(preds, refs []string, stem bool) (Rouge, error) {
	if len(preds) != len(refs) {
		return Rouge{}, fmt.Errorf("rouge: %d predictions but %d references", len(preds), len(refs))
	}
	if len(preds) == 0 {
		return Rouge{}, fmt.Errorf("rouge: no summaries")
	}
	var sum Rouge
	for i := range preds {
		s := RougeScores(preds[i], refs[i], stem)
		sum.Rouge1 += s.Rouge1
		sum.Rouge2 += s.Rouge2
		sum.RougeL += s.RougeL
		sum.RougeLsum += s.RougeLsum
	}
	n := float64(len(preds))
	return Rouge{Rouge1: sum.Rouge1 / n, Rouge2: sum.Rouge2 / n, RougeL: sum.RougeL / n, RougeLsum: sum.RougeLsum / n}, nil
}

// Lead returns the first sentence of a document, the lead baseline of
// summarisation: white space collapsed, up to the first '.', '!' or '?'
// followed by a space or the end (the whole text when there is none).
func Lead(doc string) string {
	text := strings.Join(strings.Fields(doc), " ")
	for i := 0; i < len(text); i++ {
		if c := text[i]; (c == '.' || c == '!' || c == '?') && (i+1 == len(text) || text[i+1] == ' ') {
			return text[:i+1]
		}
	}
	return text
}
