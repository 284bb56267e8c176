package data

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ClozeBlank is what replaces the chosen word of a cloze question.
const ClozeBlank = "_____"

// clozeStopWords are the English function words of four letters or more
// (NLTK's English list, those long enough to be chosen) that a cloze
// question never blanks.
var clozeStopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`about above after again against because been before being below
		between both couldn didn does doesn doing down during each from further hadn hasn have haven having
		here hers herself himself into isn itself just mightn more most mustn myself needn once only other
		ours ourselves over same shan should shouldn some such than that their theirs them themselves then
		there these they this those through under until very wasn were weren what when where which while
		whom will with wouldn your yours yourself yourselves also`) {
		clozeStopWords[w] = true
	}
}

// ClozeQuestions makes every cloze question the Debian cloze set's rule
// allows from documents with summaries (see the data README): the summary
// with one content word — a run of at least four letters and digits, not a stop
// word, not part of the document's ID (the package name) — replaced by
// ClozeBlank, asking for that word's first whole-word, case-insensitive
// occurrence in the document, answered as written there. The published
// set holds one such question per package; this holds them all (a word
// that occurs twice in a summary is asked once, at its first occurrence),
// so that a reader trained on them cannot answer by remembering one word
// per description. IDs are the document's ID, "#", and the word's index
// among the summary's words.
func ClozeQuestions(docs []Document) []SQuADQuestion {
	var out []SQuADQuestion
	for _, d := range docs {
		id := strings.ToLower(d.ID)
		seen := map[string]bool{}
		for i, w := range clozeWords(d.Summary) {
			word := d.Summary[w[0]:w[1]]
			low := strings.ToLower(word)
			if utf8.RuneCountInString(word) < 4 || clozeStopWords[low] || seen[low] || (id != "" && strings.Contains(id, low)) {
				continue
			}
			seen[low] = true
			at, end := wholeWordIndex(d.Text, low)
			if at < 0 {
				continue
			}
			out = append(out, SQuADQuestion{
				ID:       d.ID + "#" + strconv.Itoa(i),
				Question: d.Summary[:w[0]] + ClozeBlank + d.Summary[w[1]:],
				Context:  d.Text,
				Title:    d.ID,
				Answers:  []SQuADAnswer{{Text: d.Text[at:end], Start: utf8.RuneCountInString(d.Text[:at]), ByteStart: at}},
			})
		}
	}
	return out
}

// isWordRune is a rune of a regular expression's \w in Python 3 (letters,
// digits, underscore).
func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// clozeWords returns the byte spans of the summary's words: maximal runs
// of letters and digits with a letter among them ("CSS3", "amd64"; a run
// of digits is no word to blank).
func clozeWords(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isAlnum(r) {
			i += n
			continue
		}
		start, letter := i, false
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !isAlnum(r) {
				break
			}
			letter = letter || unicode.IsLetter(r)
			i += n
		}
		if letter {
			out = append(out, [2]int{start, i})
		}
	}
	return out
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// wholeWordIndex returns the byte span of the first case-insensitive
// occurrence of word (lower case) in text that is a whole word (no \w
// rune on either side), or -1, -1.
func wholeWordIndex(text, word string) (int, int) {
	n := utf8.RuneCountInString(word)
	for i := 0; i < len(text); {
		j, k := i, 0
		for k < n && j < len(text) {
			_, size := utf8.DecodeRuneInString(text[j:])
			j += size
			k++
		}
		if k == n && strings.EqualFold(text[i:j], word) {
			before, _ := utf8.DecodeLastRuneInString(text[:i])
			after, _ := utf8.DecodeRuneInString(text[j:])
			if (i == 0 || !isWordRune(before)) && (j == len(text) || !isWordRune(after)) {
				return i, j
			}
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	return -1, -1
}
