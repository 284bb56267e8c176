package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// WordPieceTrainer learns a BERT WordPiece vocabulary the way Hugging
// Face's WordPieceTrainer does: text is normalised and split as an uncased
// BERT tokenizer does (lower-case, accents stripped, split on white space
// and punctuation), each word becomes its characters (all but the first
// prefixed "##"), and the most frequent adjacent pair is merged until the
// vocabulary has VocabSize tokens. The vocabulary holds the special tokens
// first, then the characters, then the merged pieces.
type WordPieceTrainer struct {
	VocabSize    int
	MinFrequency int      // pairs seen fewer times are never merged (0 or 1: no limit)
	Special      []string // default [PAD], [UNK], [CLS], [SEP], [MASK] (ids 0 to 4)

	words map[string]int
	norm  *WordPiece // the normaliser and pre-tokenizer
}

// Add counts the words of text, which must be valid UTF-8.
func (t *WordPieceTrainer) Add(text string) error {
	if !utf8.ValidString(text) {
		return fmt.Errorf("tokenizer: training text is not valid UTF-8")
	}
	if t.words == nil {
		t.words = map[string]int{}
		t.norm = &WordPiece{lowercase: true, stripAccents: true, chinese: true}
	}
	for _, field := range strings.Fields(t.norm.normalize(text)) {
		start := 0
		for i, r := range field {
			if isBertPunct(r) {
				if i > start {
					t.words[field[start:i]]++
				}
				t.words[string(r)]++
				start = i + utf8.RuneLen(r)
			}
		}
		if start < len(field) {
			t.words[field[start:]]++
		}
	}
	return nil
}

// Train returns the WordPiece tokenizer learned from the text added so
// far, with BERT's uncased normaliser and [CLS] X [SEP] template.
func (t *WordPieceTrainer) Train() (*WordPiece, error) {
	special := t.Special
	if special == nil {
		special = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	}
	for _, s := range []string{"[UNK]", "[CLS]", "[SEP]"} {
		if !slices.Contains(special, s) {
			return nil, fmt.Errorf("tokenizer: WordPiece needs the special token %s", s)
		}
	}
	if len(t.words) == 0 {
		return nil, fmt.Errorf("tokenizer: no training text")
	}
	vocab := map[string]int32{}
	var tokens []string
	add := func(s string) int32 {
		if id, ok := vocab[s]; ok {
			return id
		}
		id := int32(len(tokens))
		vocab[s] = id
		tokens = append(tokens, s)
		return id
	}
	for _, s := range special {
		add(s)
	}
	keys := make([]string, 0, len(t.words))
	alphabet := map[string]bool{}
	for w := range t.words {
		keys = append(keys, w)
		for i, r := range w {
			if i == 0 {
				alphabet[string(r)] = true
			} else {
				alphabet["##"+string(r)] = true
			}
		}
	}
	slices.Sort(keys)
	chars := make([]string, 0, len(alphabet))
	for c := range alphabet {
		chars = append(chars, c)
	}
	slices.Sort(chars)
	if len(tokens)+len(chars) > t.VocabSize {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d is below the %d special tokens + %d characters of the text", t.VocabSize, len(tokens), len(chars))
	}
	for _, c := range chars {
		add(c)
	}
	words := make([][]int32, len(keys))
	freq := make([]int, len(keys))
	for i, w := range keys {
		for j, r := range w {
			s := string(r)
			if j > 0 {
				s = "##" + s
			}
			words[i] = append(words[i], vocab[s])
		}
		freq[i] = t.words[w]
	}
	learnMerges(&tokens, vocab, words, freq, t.VocabSize, t.MinFrequency, func(a, b string) string { return a + strings.TrimPrefix(b, "##") })
	wp := &WordPiece{vocab: vocab, tokens: tokens, unk: vocab["[UNK]"], prefix: "##", maxChars: 100, lowercase: true,
		stripAccents: true, chinese: true, cls: vocab["[CLS]"], sep: vocab["[SEP]"], special: map[int32]bool{}}
	for _, s := range special {
		wp.special[vocab[s]] = true
	}
	return wp, nil
}
