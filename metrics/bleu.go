// Package metrics scores translations as sacreBLEU 2.x does by default:
// corpus BLEU with its 13a tokenisation (case-sensitive, 4-grams, brevity
// penalty, 'exp' smoothing) and chrF2 (character 6-grams, β = 2).
package metrics

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// The 13a tokeniser's rules (mteval-v13a.pl, as sacreBLEU applies them):
// punctuation and symbols become tokens; periods and commas split off
// except between digits; a dash after a digit splits off.
var tok13a = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile("([\\{-\\~\\[-\\` -\\&\\(-\\+\\:-\\@\\/])"), " $1 "},
	{regexp.MustCompile(`([^0-9])([\.,])`), "$1 $2 "},
	{regexp.MustCompile(`([\.,])([^0-9])`), " $1 $2"},
	{regexp.MustCompile(`([0-9])(-)`), "$1 $2 "},
}

// Tokenize13a splits a line into tokens as sacreBLEU's default tokenizer.
func Tokenize13a(line string) []string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		line = strings.NewReplacer("&quot;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(line)
	}
	line = " " + line + " "
	for _, r := range tok13a {
		line = r.re.ReplaceAllString(line, r.repl)
	}
	return strings.Fields(line)
}

// BLEU is a corpus BLEU score and the statistics behind it.
type BLEU struct {
	Score      float64    // 0..100
	Precisions [4]float64 // n-gram precisions, percent (smoothed)
	BP         float64    // brevity penalty
	HypLen     int
	RefLen     int
	Correct    [4]int
	Total      [4]int
}

// Ratio is HypLen / RefLen.
// With no reference words it is 0 (not NaN, which JSON cannot carry).
func (b *BLEU) Ratio() float64 {
	if b.RefLen == 0 {
		return 0
	}
	return float64(b.HypLen) / float64(b.RefLen)
}

// String formats the score as sacreBLEU's text output does.
func (b *BLEU) String() string {
	return fmt.Sprintf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		b.Score, b.Precisions[0], b.Precisions[1], b.Precisions[2], b.Precisions[3], b.BP, b.Ratio(), b.HypLen, b.RefLen)
}

// BLEUSignature describes these settings in sacreBLEU's signature format
// (without its version field: this is goformer's implementation of them).
const BLEUSignature = "nrefs:%d|case:mixed|eff:no|tok:13a|smooth:exp"

func ngrams(toks []string, n int) map[string]int {
	out := map[string]int{}
	for i := 0; i+n <= len(toks); i++ {
		out[strings.Join(toks[i:i+n], "\x00")]++
	}
	return out
}

// CorpusBLEU scores hypotheses against one or more reference streams
// (refs[k][i] is the k-th reference of sentence i). Every stream must have
// as many lines as the hypotheses.
func CorpusBLEU(hyps []string, refs [][]string) (*BLEU, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("metrics: no references")
	}
	for k, r := range refs {
		if len(r) != len(hyps) {
			return nil, fmt.Errorf("metrics: %d hypotheses but reference stream %d has %d lines", len(hyps), k+1, len(r))
		}
	}
	b := &BLEU{}
	for i, h := range hyps {
		ht := Tokenize13a(h)
		b.HypLen += len(ht)
		// The closest reference length (the shorter on ties), and for each
		// n-gram its largest count in any reference.
		closest, best := -1, math.MaxInt
		maxRef := [4]map[string]int{{}, {}, {}, {}}
		for k := range refs {
			rt := Tokenize13a(refs[k][i])
			if d := abs(len(rt) - len(ht)); d < best || d == best && len(rt) < closest {
				closest, best = len(rt), d
			}
			for n := 1; n <= 4; n++ {
				for g, c := range ngrams(rt, n) {
					maxRef[n-1][g] = max(maxRef[n-1][g], c)
				}
			}
		}
		b.RefLen += closest
		for n := 1; n <= 4; n++ {
			for g, c := range ngrams(ht, n) {
				b.Correct[n-1] += min(c, maxRef[n-1][g])
			}
			b.Total[n-1] += max(0, len(ht)-n+1)
		}
	}
	b.finish()
	return b, nil
}

// finish computes precisions with 'exp' smoothing (each order with no
// match gets 1/2^k of a count, k counting such orders), the brevity
// penalty and the score.
func (b *BLEU) finish() {
	smooth := 1.0
	var logSum float64
	for n := 0; n < 4; n++ {
		switch {
		case b.Total[n] == 0:
			b.Precisions[n] = 0
		case b.Correct[n] == 0:
			smooth *= 2
			b.Precisions[n] = 100 / (smooth * float64(b.Total[n]))
		default:
			b.Precisions[n] = 100 * float64(b.Correct[n]) / float64(b.Total[n])
		}
	}
	for n := 0; n < 4; n++ {
		if b.Precisions[n] == 0 {
			logSum += -9999999999
		} else {
			logSum += math.Log(b.Precisions[n])
		}
	}
	switch {
	case b.HypLen >= b.RefLen:
		b.BP = 1
	case b.HypLen > 0:
		b.BP = math.Exp(1 - float64(b.RefLen)/float64(b.HypLen))
	default:
		b.BP = 0
	}
	b.Score = b.BP * math.Exp(logSum/4)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
