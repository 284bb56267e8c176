package metrics

import "strings"

// PorterStem returns the Porter stem of a lower-case ASCII word as NLTK's
// PorterStemmer does in its default mode (NLTK_EXTENSIONS): Porter's 1980
// algorithm with Martin Porter's later changes and NLTK's own (a few
// irregular forms, "ies"/"ied" on four-letter words, y → i only after a
// consonant that is not the whole stem, "alli", "fulli", "logi"). Words of
// one or two letters are returned as they are. This is the stemmer of
// Google's rouge-score package, which our ROUGE reproduces.
func PorterStem(word string) string {
	if s, ok := porterIrregular[word]; ok {
		return s
	}
	if len(word) <= 2 {
		return word
	}
	w := porterStep1a(word)
	w = porterStep1b(w)
	w = porterStep1c(w)
	w = porterStep2(w)
	w = porterStep3(w)
	w = porterStep4(w)
	w = porterStep5a(w)
	return porterStep5b(w)
}

// porterIrregular are NLTK's irregular forms, mapped to their stems.
var porterIrregular = map[string]string{
	"sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie", "news": "news",
	"innings": "inning", "inning": "inning", "outings": "outing", "outing": "outing",
	"cannings": "canning", "canning": "canning", "howe": "howe", "proceed": "proceed",
	"exceed": "exceed", "succeed": "succeed",
}

// consonant reports whether w[i] is a consonant: not a, e, i, o or u, and
// not a y that follows a consonant.
func consonant(w string, i int) bool {
	switch w[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		return i == 0 || !consonant(w, i-1)
	}
	return true
}

// measure is m of [C](VC)^m[V]: the number of vowel-consonant transitions.
func measure(stem string) int {
	m := 0
	for i := 1; i < len(stem); i++ {
		if !consonant(stem, i-1) && consonant(stem, i) {
			m++
		}
	}
	return m
}

func containsVowel(stem string) bool {
	for i := range len(stem) {
		if !consonant(stem, i) {
			return true
		}
	}
	return false
}

// endsDoubleConsonant is the paper's *d.
func endsDoubleConsonant(w string) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && consonant(w, n-1)
}

// endsCVC is the paper's *o (consonant, vowel, consonant not w, x or y),
// and, as NLTK extends it, a two-letter vowel-consonant word.
func endsCVC(w string) bool {
	n := len(w)
	if n >= 3 && consonant(w, n-3) && !consonant(w, n-2) && consonant(w, n-1) && !strings.ContainsRune("wxy", rune(w[n-1])) {
		return true
	}
	return n == 2 && !consonant(w, 0) && consonant(w, 1)
}

// porterRule replaces suffix by replacement when the rest of the word
// satisfies cond (nil: always).
type porterRule struct {
	suffix, replacement string
	cond                func(stem string) bool
}

// applyRules applies the first rule whose suffix the word has; if its
// condition fails the word is returned unchanged (later rules are not
// tried).
func applyRules(w string, rules []porterRule) string {
	for _, r := range rules {
		if strings.HasSuffix(w, r.suffix) {
			stem := w[:len(w)-len(r.suffix)]
			if r.cond == nil || r.cond(stem) {
				return stem + r.replacement
			}
			return w
		}
	}
	return w
}

func positiveMeasure(stem string) bool { return measure(stem) > 0 }
func measureAbove1(stem string) bool   { return measure(stem) > 1 }

func porterStep1a(w string) string {
	if strings.HasSuffix(w, "ies") && len(w) == 4 {
		return w[:1] + "ie"
	}
	return applyRules(w, []porterRule{{"sses", "ss", nil}, {"ies", "i", nil}, {"ss", "ss", nil}, {"s", "", nil}})
}

func porterStep1b(w string) string {
	if strings.HasSuffix(w, "ied") {
		if len(w) == 4 {
			return w[:1] + "ie"
		}
		return w[:len(w)-3] + "i"
	}
	if strings.HasSuffix(w, "eed") {
		if stem := w[:len(w)-3]; measure(stem) > 0 {
			return stem + "ee"
		}
		return w
	}
	var stem string
	found := false
	for _, suffix := range []string{"ed", "ing"} {
		if strings.HasSuffix(w, suffix) {
			if s := w[:len(w)-len(suffix)]; containsVowel(s) {
				stem, found = s, true
				break
			}
		}
	}
	if !found {
		return w
	}
	for _, r := range [][2]string{{"at", "ate"}, {"bl", "ble"}, {"iz", "ize"}} {
		if strings.HasSuffix(stem, r[0]) {
			return stem[:len(stem)-len(r[0])] + r[1]
		}
	}
	if endsDoubleConsonant(stem) {
		if last := stem[len(stem)-1]; last != 'l' && last != 's' && last != 'z' {
			return stem[:len(stem)-1]
		}
		return stem
	}
	if measure(stem) == 1 && endsCVC(stem) {
		return stem + "e"
	}
	return stem
}

func porterStep1c(w string) string {
	if strings.HasSuffix(w, "y") {
		if stem := w[:len(w)-1]; len(stem) > 1 && consonant(stem, len(stem)-1) {
			return stem + "i"
		}
	}
	return w
}

var step2Rules = []porterRule{
	{"ational", "ate", positiveMeasure}, {"tional", "tion", positiveMeasure}, {"enci", "ence", positiveMeasure},
	{"anci", "ance", positiveMeasure}, {"izer", "ize", positiveMeasure}, {"bli", "ble", positiveMeasure},
	{"alli", "al", positiveMeasure}, {"entli", "ent", positiveMeasure}, {"eli", "e", positiveMeasure},
	{"ousli", "ous", positiveMeasure}, {"ization", "ize", positiveMeasure}, {"ation", "ate", positiveMeasure},
	{"ator", "ate", positiveMeasure}, {"alism", "al", positiveMeasure}, {"iveness", "ive", positiveMeasure},
	{"fulness", "ful", positiveMeasure}, {"ousness", "ous", positiveMeasure}, {"aliti", "al", positiveMeasure},
	{"iviti", "ive", positiveMeasure}, {"biliti", "ble", positiveMeasure}, {"fulli", "ful", positiveMeasure},
	// NLTK's "logi" rule tests the measure of the word less its last
	// three letters ("ogi"), not of the stem before "logi".
	{"logi", "log", func(stem string) bool { return positiveMeasure(stem + "l") }},
}

func porterStep2(w string) string {
	if strings.HasSuffix(w, "alli") && positiveMeasure(w[:len(w)-4]) {
		return porterStep2(w[:len(w)-4] + "al")
	}
	return applyRules(w, step2Rules)
}

var step3Rules = []porterRule{
	{"icate", "ic", positiveMeasure}, {"ative", "", positiveMeasure}, {"alize", "al", positiveMeasure},
	{"iciti", "ic", positiveMeasure}, {"ical", "ic", positiveMeasure}, {"ful", "", positiveMeasure},
	{"ness", "", positiveMeasure},
}

func porterStep3(w string) string { return applyRules(w, step3Rules) }

var step4Rules = []porterRule{
	{"al", "", measureAbove1}, {"ance", "", measureAbove1}, {"ence", "", measureAbove1}, {"er", "", measureAbove1},
	{"ic", "", measureAbove1}, {"able", "", measureAbove1}, {"ible", "", measureAbove1}, {"ant", "", measureAbove1},
	{"ement", "", measureAbove1}, {"ment", "", measureAbove1}, {"ent", "", measureAbove1},
	{"ion", "", func(stem string) bool {
		return measure(stem) > 1 && len(stem) > 0 && (stem[len(stem)-1] == 's' || stem[len(stem)-1] == 't')
	}},
	{"ou", "", measureAbove1}, {"ism", "", measureAbove1}, {"ate", "", measureAbove1}, {"iti", "", measureAbove1},
	{"ous", "", measureAbove1}, {"ive", "", measureAbove1}, {"ize", "", measureAbove1},
}

func porterStep4(w string) string { return applyRules(w, step4Rules) }

func porterStep5a(w string) string {
	if strings.HasSuffix(w, "e") {
		stem := w[:len(w)-1]
		if m := measure(stem); m > 1 || m == 1 && !endsCVC(stem) {
			return stem
		}
	}
	return w
}

func porterStep5b(w string) string {
	if strings.HasSuffix(w, "ll") && measure(w[:len(w)-1]) > 1 {
		return w[:len(w)-1]
	}
	return w
}
