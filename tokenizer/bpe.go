package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ByteBPE is GPT-2's byte-level byte-pair encoding: text is split into
// words by GPT-2's pattern, each word's UTF-8 bytes are mapped to printable
// characters, and the merges are applied by rank. It encodes any UTF-8 text
// and decodes back to the same bytes. Encode and Decode are safe for concurrent use.
type ByteBPE struct {
	vocab   map[string]int32
	tokens  []string // id → token
	ranks   map[[2]string]int
	pairs   map[[2]int32]pairMerge // (left id, right id) → rank and merged id
	byteID  [256]int32             // each byte's token id; -1 if the vocabulary lacks it
	byteEnc [256]rune
	byteDec map[rune]byte
	cache   map[string][]int32 // words already encoded, guarded by cacheMu
	cacheMu sync.RWMutex
	merges  [][2]string // in rank order, for saving

	special    []string // special tokens, matched whole in the text
	specialIDs []int32
	template   *Template // RoBERTa's <s> X </s>, or nil
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
	// RoBERTa's and BART's files (RobertaTokenizer, BartTokenizer): the
	// same byte-level BPE with <s>, <pad>, </s>, <unk> and <mask> in the
	// vocabulary, and the template <s> X </s>.
	roberta := true
	for _, s := range robertaSpecials {
		if _, ok := vocab[s]; !ok {
			roberta = false
		}
	}
	if roberta {
		special = append(special, robertaSpecials...)
	}
	t, err := NewByteBPE(vocab, merges, special)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vocabPath, err)
	}
	if roberta {
		if err := t.SetTemplate("<s>", "</s>"); err != nil {
			return nil, fmt.Errorf("%s: %w", vocabPath, err)
		}
	}
	return t, nil
}

// robertaSpecials are the special tokens of RoBERTa's and BART's
// vocabularies.
var robertaSpecials = []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}

// NewByteBPE returns a byte-level BPE tokenizer with the given vocabulary
// (token → id, ids 0..n-1 each used once), merges in rank order, and
// special tokens (each in the vocabulary), which Encode recognises in the
// text and maps to their ids whole.
func NewByteBPE(vocab map[string]int32, merges [][2]string, special []string) (*ByteBPE, error) {
	t := &ByteBPE{vocab: vocab, ranks: map[[2]string]int{}, pairs: map[[2]int32]pairMerge{}, byteDec: map[rune]byte{}, cache: map[string][]int32{}}
	t.tokens = make([]string, len(vocab))
	for tok, id := range vocab {
		if id < 0 || int(id) >= len(vocab) || t.tokens[id] != "" {
			return nil, fmt.Errorf("tokenizer: token %q has id %d, outside 0..%d or taken twice", tok, id, len(vocab)-1)
		}
		t.tokens[id] = tok
	}
	for i, m := range merges {
		if _, dup := t.ranks[m]; dup {
			continue
		}
		a, okA := vocab[m[0]]
		b, okB := vocab[m[1]]
		ab, okAB := vocab[m[0]+m[1]]
		if !okA || !okB || !okAB {
			return nil, fmt.Errorf("tokenizer: merge %d (%q %q) uses or makes a token that is not in the vocabulary", i, m[0], m[1])
		}
		t.pairs[[2]int32{a, b}] = pairMerge{rank: int32(len(t.ranks)), id: ab}
		t.ranks[m] = len(t.ranks)
		t.merges = append(t.merges, m)
	}
	t.byteEnc = byteToRune()
	for b, r := range t.byteEnc {
		t.byteDec[r] = byte(b)
		t.byteID[b] = -1
		if id, ok := vocab[string(r)]; ok {
			t.byteID[b] = id
		}
	}
	for _, s := range special {
		if s == "" {
			return nil, fmt.Errorf("tokenizer: a special token is empty")
		}
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

// pairMerge is what merging an adjacent pair of tokens makes, and when.
type pairMerge struct{ rank, id int32 }

// candidate is a mergeable pair in a word: the left symbol's position, the
// two ids it was found with (a merge since may have made it stale) and the
// merge.
type candidate struct {
	pos, left, right int32
	pairMerge
}

// candidates is a min-heap by (rank, position): the best merge first and,
// among equal ones, the leftmost, which is GPT-2's order (all occurrences
// of the best pair, left to right).
type candidates []candidate

func (h candidates) less(i, j int) bool {
	return h[i].rank < h[j].rank || h[i].rank == h[j].rank && h[i].pos < h[j].pos
}

func (h *candidates) push(c candidate) {
	*h = append(*h, c)
	for i := len(*h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		(*h)[i], (*h)[p] = (*h)[p], (*h)[i]
		i = p
	}
}

func (h *candidates) pop() candidate {
	old := *h
	top := old[0]
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && h.less(l, small) {
			small = l
		}
		if l+1 < n && h.less(l+1, small) {
			small = l + 1
		}
		if small == i {
			break
		}
		(*h)[i], (*h)[small] = (*h)[small], (*h)[i]
		i = small
	}
	return top
}

// bpe appends the ids of one word (raw bytes): each byte's token, then the
// merges applied best-ranked first. The symbols are a linked list and the
// mergeable pairs a heap, so a word of n bytes costs O(n log n), not the
// O(n²) of rescanning after each merge: a megabyte without a space is as
// safe to encode as a sentence.
func (t *ByteBPE) bpe(out []int32, word string) ([]int32, error) {
	n := len(word)
	ids := make([]int32, n)
	next := make([]int32, n) // the following symbol's position; -1 at the end
	prev := make([]int32, n)
	for i := 0; i < n; i++ {
		if ids[i] = t.byteID[word[i]]; ids[i] < 0 {
			return nil, fmt.Errorf("tokenizer: byte 0x%02x of word %q has no token in the vocabulary", word[i], word)
		}
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	if n > 0 {
		next[n-1] = -1
	}
	var h candidates
	consider := func(i int32) {
		if j := next[i]; j >= 0 {
			if m, ok := t.pairs[[2]int32{ids[i], ids[j]}]; ok {
				h.push(candidate{pos: i, left: ids[i], right: ids[j], pairMerge: m})
			}
		}
	}
	for i := int32(0); i+1 < int32(n); i++ {
		consider(i)
	}
	for len(h) > 0 {
		c := h.pop()
		i := c.pos
		j := next[i]
		if ids[i] != c.left || j < 0 || ids[j] != c.right || prev[i] == -2 {
			continue // stale: a symbol of this pair was merged since
		}
		ids[i] = c.id
		next[i] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = i
		}
		prev[j] = -2 // removed
		if p := prev[i]; p >= 0 {
			consider(p)
		}
		consider(i)
	}
	for i := int32(0); n > 0 && i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out, nil
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
	for _, w := range SplitGPT2(text) {
		t.cacheMu.RLock()
		ids, ok := t.cache[w]
		t.cacheMu.RUnlock()
		if ok {
			out = append(out, ids...)
			continue
		}
		start := len(out)
		var err error
		if out, err = t.bpe(out, w); err != nil {
			return nil, err
		}
		if len(w) <= 256 { // short words only: the cache stays small
			t.cacheMu.Lock()
			if len(t.cache) < 1<<16 {
				t.cache[w] = append([]int32(nil), out[start:]...)
			}
			t.cacheMu.Unlock()
		}
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
