package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ByteBPE is GPT-2's byte-level byte-pair encoding: text is split into
// words by GPT-2's pattern, each word's UTF-8 bytes are mapped to printable
// characters, and the merges are applied by rank. It encodes any UTF-8 text
// and decodes back to the same bytes.
type ByteBPE struct {
	vocab   map[string]int32
	tokens  []string // id → token
	ranks   map[[2]string]int
	byteEnc [256]rune
	byteDec map[rune]byte
	cache   map[string][]int32
	merges  [][2]string // in rank order, for saving

	special    []string // special tokens, matched whole in the text
	specialIDs []int32
}

// byteToRune is GPT-2's reversible map from bytes to printable characters:
// printable Latin-1 bytes map to themselves, the others to 256 and up.
func byteToRune() [256]rune {
	var m [256]rune
	used := [256]bool{}
	for b := '!'; b <= '~'; b++ {
		used[b] = true
	}
	for b := '¡'; b <= '¬'; b++ {
		used[b] = true
	}
	for b := '®'; b <= 'ÿ'; b++ {
		used[b] = true
	}
	n := 0
	for b := 0; b < 256; b++ {
		if used[b] {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}

// LoadGPT2 reads GPT-2's vocab.json (token → id) and merges.txt (one
// "left right" pair per line, in rank order, after a "#version" line).
func LoadGPT2(vocabPath, mergesPath string) (*ByteBPE, error) {
	b, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, err
	}
	var vocab map[string]int32
	if err := json.Unmarshal(b, &vocab); err != nil {
		return nil, fmt.Errorf("%s: %w", vocabPath, err)
	}
	f, err := os.Open(mergesPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var merges [][2]string
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if line == 1 && strings.HasPrefix(s, "#version") || s == "" {
			continue
		}
		l, r, ok := strings.Cut(s, " ")
		if !ok || strings.Contains(r, " ") {
			return nil, fmt.Errorf("%s:%d: want two symbols separated by one space, got %q", mergesPath, line, s)
		}
		merges = append(merges, [2]string{l, r})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", mergesPath, err)
	}
	var special []string
	if _, ok := vocab["<|endoftext|>"]; ok {
		special = []string{"<|endoftext|>"}
	}
	t, err := NewByteBPE(vocab, merges, special)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vocabPath, err)
	}
	return t, nil
}

// NewByteBPE returns a byte-level BPE tokenizer with the given vocabulary
// (token → id, ids 0..n-1 each used once), merges in rank order, and
// special tokens (each in the vocabulary), which Encode recognises in the
// text and maps to their ids whole.
func NewByteBPE(vocab map[string]int32, merges [][2]string, special []string) (*ByteBPE, error) {
	t := &ByteBPE{vocab: vocab, ranks: map[[2]string]int{}, byteDec: map[rune]byte{}, cache: map[string][]int32{}}
	t.tokens = make([]string, len(vocab))
	for tok, id := range vocab {
		if id < 0 || int(id) >= len(vocab) || t.tokens[id] != "" {
			return nil, fmt.Errorf("tokenizer: token %q has id %d, outside 0..%d or taken twice", tok, id, len(vocab)-1)
		}
		t.tokens[id] = tok
	}
	for _, m := range merges {
		if _, dup := t.ranks[m]; !dup {
			t.ranks[m] = len(t.ranks)
			t.merges = append(t.merges, m)
		}
	}
	t.byteEnc = byteToRune()
	for b, r := range t.byteEnc {
		t.byteDec[r] = byte(b)
	}
	for _, s := range special {
		id, ok := vocab[s]
		if !ok {
			return nil, fmt.Errorf("tokenizer: special token %q is not in the vocabulary", s)
		}
		t.special = append(t.special, s)
		t.specialIDs = append(t.specialIDs, id)
	}
	return t, nil
}

// VocabSize returns the number of tokens.
func (t *ByteBPE) VocabSize() int { return len(t.tokens) }

// SplitGPT2 splits text into words as GPT-2's pattern does:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// written out by hand, since Go's regexp has no lookahead: a run of
// whitespace before a word leaves its last character to the word.
func SplitGPT2(text string) []string {
	var out []string
	for i := 0; i < len(text); {
		n := gpt2Word(text[i:])
		out = append(out, text[i:i+n])
		i += n
	}
	return out
}

func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
func isOther(r rune) bool  { return !unicode.IsSpace(r) && !isLetter(r) && !isNumber(r) }

// runOf returns the length in bytes of the longest prefix of s whose runes
// satisfy class.
func runOf(s string, class func(rune) bool) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !class(r) {
			break
		}
		n += size
	}
	return n
}

// gpt2Word returns the length of the word at the start of s (non-empty).
func gpt2Word(s string) int {
	for _, c := range []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"} {
		if strings.HasPrefix(s, c) {
			return len(c)
		}
	}
	start := 0
	if s[0] == ' ' && len(s) > 1 {
		start = 1
	}
	r, _ := utf8.DecodeRuneInString(s[start:])
	for _, class := range []func(rune) bool{isLetter, isNumber, isOther} {
		if class(r) {
			return start + runOf(s[start:], class)
		}
	}
	// Whitespace: the whole run at the end of the text or when one
	// character long; else all of it but the last character, which goes
	// with the following word (\s+(?!\S)).
	n := runOf(s, unicode.IsSpace)
	if n == 0 { // a lone space before nothing else (start was 0) or invalid UTF-8
		_, size := utf8.DecodeRuneInString(s)
		return size
	}
	if n == len(s) {
		return n
	}
	_, last := utf8.DecodeLastRuneInString(s[:n])
	if n-last > 0 {
		return n - last
	}
	return n
}

// bpe applies the merges to one word (already mapped to characters).
func (t *ByteBPE) bpe(word string) []string {
	symbols := make([]string, 0, len(word))
	for _, r := range word {
		symbols = append(symbols, string(r))
	}
	for len(symbols) > 1 {
		best, at := -1, -1
		for i := 0; i+1 < len(symbols); i++ {
			if r, ok := t.ranks[[2]string{symbols[i], symbols[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		// Merge every occurrence of the best pair, left to right.
		a, b := symbols[at], symbols[at+1]
		merged := symbols[:0:0]
		for i := 0; i < len(symbols); i++ {
			if i+1 < len(symbols) && symbols[i] == a && symbols[i+1] == b {
				merged = append(merged, a+b)
				i++
			} else {
				merged = append(merged, symbols[i])
			}
		}
		symbols = merged
	}
	return symbols
}

// Encode returns the token ids of text, which must be valid UTF-8 (GPT-2's
// ids for GPT-2's files). Special tokens in the text map to their ids.
func (t *ByteBPE) Encode(text string) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("tokenizer: text is not valid UTF-8")
	}
	var out []int32
	for len(t.special) > 0 {
		at, which := -1, 0
		for i, s := range t.special {
			if j := strings.Index(text, s); j >= 0 && (at < 0 || j < at || j == at && len(s) > len(t.special[which])) {
				at, which = j, i
			}
		}
		if at < 0 {
			break
		}
		var err error
		if out, err = t.encodeOrdinary(out, text[:at]); err != nil {
			return nil, err
		}
		out = append(out, t.specialIDs[which])
		text = text[at+len(t.special[which]):]
	}
	return t.encodeOrdinary(out, text)
}

// IsSpecial reports whether id is one of the special tokens.
func (t *ByteBPE) IsSpecial(id int32) bool {
	for _, s := range t.specialIDs {
		if s == id {
			return true
		}
	}
	return false
}

// ID returns the id of a token (special or not) and whether it exists.
func (t *ByteBPE) ID(token string) (int32, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// encodeOrdinary appends the ids of text, which holds no special tokens.
func (t *ByteBPE) encodeOrdinary(out []int32, text string) ([]int32, error) {
	var sb strings.Builder
	for _, w := range SplitGPT2(text) {
		if ids, ok := t.cache[w]; ok {
			out = append(out, ids...)
			continue
		}
		sb.Reset()
		for i := 0; i < len(w); i++ {
			sb.WriteRune(t.byteEnc[w[i]])
		}
		var ids []int32
		for _, sym := range t.bpe(sb.String()) {
			id, ok := t.vocab[sym]
			if !ok {
				return nil, fmt.Errorf("tokenizer: symbol %q of word %q is not in the vocabulary", sym, w)
			}
			ids = append(ids, id)
		}
		if len(t.cache) < 1<<16 {
			t.cache[w] = ids
		}
		out = append(out, ids...)
	}
	return out, nil
}

// Decode returns the text of ids; an unknown id is an error. Byte
// sequences that are not valid UTF-8 on their own (a token boundary inside
// a character) are joined before conversion, so a full sequence decodes to
// the original text exactly.
func (t *ByteBPE) Decode(ids []int32) (string, error) {
	var buf []byte
	for i, id := range ids {
		if id < 0 || int(id) >= len(t.tokens) {
			return "", fmt.Errorf("tokenizer: id %d at position %d is outside the vocabulary of %d", id, i, len(t.tokens))
		}
		for _, r := range t.tokens[id] {
			b, ok := t.byteDec[r]
			if !ok {
				return "", fmt.Errorf("tokenizer: token %d (%q) has a character outside the byte alphabet", id, t.tokens[id])
			}
			buf = append(buf, b)
		}
	}
	return string(buf), nil
}
