package metrics

import (
	"fmt"
	"strings"
)

// ChrF is a corpus chrF score (character n-gram F-score, Popović 2015).
type ChrF struct {
	Score float64 // 0..100
	Beta  int
	// stats[n-1] = hypothesis n-grams, reference n-grams, matches.
	stats [6][3]int
}

// String formats the score as sacreBLEU does.
func (c *ChrF) String() string { return fmt.Sprintf("chrF%d = %.2f", c.Beta, c.Score) }

// ChrFSignature describes chrF2's settings in sacreBLEU's signature format.
const ChrFSignature = "nrefs:%d|case:mixed|eff:yes|nc:6|nw:0|space:no"

func charNgrams(s string, n int) map[string]int {
	r := []rune(s)
	out := map[string]int{}
	for i := 0; i+n <= len(r); i++ {
		out[string(r[i:i+n])]++
	}
	return out
}

// CorpusChrF scores hypotheses against references (one stream) with
// character n-grams up to 6 and β = 2, whitespace removed: statistics are
// summed over the corpus, then precision and recall are averaged over the
// orders that occur and combined into the F-score.
func CorpusChrF(hyps, refs []string) (*ChrF, error) {
	if len(refs) != len(hyps) {
		return nil, fmt.Errorf("metrics: %d hypotheses but %d references", len(hyps), len(refs))
	}
	c := &ChrF{Beta: 2}
	for i, h := range hyps {
		hs := strings.Join(strings.Fields(h), "")
		rs := strings.Join(strings.Fields(refs[i]), "")
		for n := 1; n <= 6; n++ {
			hg, rg := charNgrams(hs, n), charNgrams(rs, n)
			for g, k := range hg {
				c.stats[n-1][0] += k
				c.stats[n-1][2] += min(k, rg[g])
			}
			for _, k := range rg {
				c.stats[n-1][1] += k
			}
		}
	}
	var prec, rec float64
	orders := 0
	for _, s := range c.stats {
		if s[0] > 0 && s[1] > 0 {
			prec += float64(s[2]) / float64(s[0])
			rec += float64(s[2]) / float64(s[1])
			orders++
		}
	}
	if orders > 0 {
		prec /= float64(orders)
		rec /= float64(orders)
	}
	beta2 := float64(c.Beta * c.Beta)
	if prec+rec > 0 {
		c.Score = 100 * (1 + beta2) * prec * rec / (beta2*prec + rec)
	}
	return c, nil
}
