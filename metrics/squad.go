package metrics

import (
	"strings"
	"unicode"
)

// SQuADNormalize normalises an answer as the official SQuAD v1.1
// evaluation script does: lower-case, drop ASCII punctuation, drop the
// words a, an and the, collapse white space.
func SQuADNormalize(s string) string {
	// Python's str.lower, with its one multi-character case that matters
	// here (İ → i + combining dot).
	s = strings.ToLower(strings.ReplaceAll(s, "\u0130", "i\u0307"))
	s = strings.Map(func(r rune) rune {
		if r < 128 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r) {
			return -1
		}
		return r
	}, s)
	// Remove the articles where they are whole words, with Python's
	// Unicode \b: a word is a run of letters, digits and underscores.
	var b strings.Builder
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' }
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if !isWord(rs[i]) {
			b.WriteRune(rs[i])
			i++
			continue
		}
		j := i
		for j < len(rs) && isWord(rs[j]) {
			j++
		}
		if w := string(rs[i:j]); w == "a" || w == "an" || w == "the" {
			b.WriteByte(' ')
		} else {
			b.WriteString(w)
		}
		i = j
	}
	return strings.Join(pythonFields(b.String()), " ")
}

// pythonFields splits on white space as Python's str.split() does: Go's
// unicode.IsSpace plus the separators U+001C to U+001F.
func pythonFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f })
}

// SQuADExact reports whether prediction and truth normalise to the same
// text.
func SQuADExact(prediction, truth string) bool {
	return SQuADNormalize(prediction) == SQuADNormalize(truth)
}

// SQuADF1 is the token-level F1 of prediction against truth after
// normalisation (0 when they share no token).
func SQuADF1(prediction, truth string) float64 {
	p := strings.Fields(SQuADNormalize(prediction))
	t := strings.Fields(SQuADNormalize(truth))
	counts := map[string]int{}
	for _, w := range t {
		counts[w]++
	}
	same := 0
	for _, w := range p {
		if counts[w] > 0 {
			counts[w]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	precision := float64(same) / float64(len(p))
	recall := float64(same) / float64(len(t))
	return 2 * precision * recall / (precision + recall)
}

// SQuADResult is the official script's output: exact match and F1, × 100,
// averaged over every question (unanswered ones score 0).
type SQuADResult struct {
	ExactMatch float64 `json:"exact_match"`
	F1         float64 `json:"f1"`
	Total      int     `json:"total"`
	Missing    int     `json:"missing"` // questions without a prediction
}

// SQuADQuestion is what the metric needs of a question: its id and the
// texts of its answers.
type SQuADQuestion struct {
	ID      string
	Answers []string
}

// SQuADScore scores predictions (id → answer text) over questions as
// evaluate-v1.1.py does: each question takes its best exact match and F1
// over its answers.
func SQuADScore(questions []SQuADQuestion, predictions map[string]string) SQuADResult {
	var r SQuADResult
	var em, f1 float64
	for _, q := range questions {
		r.Total++
		p, ok := predictions[q.ID]
		if !ok {
			r.Missing++
			continue
		}
		bestEM, bestF1 := 0.0, 0.0
		for _, a := range q.Answers {
			if SQuADExact(p, a) {
				bestEM = 1
			}
			bestF1 = max(bestF1, SQuADF1(p, a))
		}
		em += bestEM
		f1 += bestF1
	}
	if r.Total > 0 {
		r.ExactMatch, r.F1 = 100*em/float64(r.Total), 100*f1/float64(r.Total)
	}
	return r
}
