package tokenizer

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Encoding is a text's tokens with where each came from: Offsets[i] is
// the byte span [start, end) of token i in the original text, Words[i]
// the index of the pre-tokenizer word it belongs to (transformers'
// offset_mapping and word_ids).
type Encoding struct {
	IDs     []int32
	Offsets [][2]int
	Words   []int
}

// Len returns the number of tokens.
func (e *Encoding) Len() int { return len(e.IDs) }

// WordSpan returns the byte span of word w: from the start of its first
// token to the end of its last; -1, -1 if no token belongs to it. (Words
// never decrease along an encoding, so this is a binary search.)
func (e *Encoding) WordSpan(w int) (start, end int) {
	i := sort.SearchInts(e.Words, w)
	j := sort.SearchInts(e.Words, w+1)
	if i == j {
		return -1, -1
	}
	return e.Offsets[i][0], e.Offsets[j-1][1]
}

// EncodeOffsets encodes text without the [CLS]/[SEP] template, keeping
// each token's byte span in the original text (before lower-casing and
// accent stripping) and its word, as a fast BERT tokenizer's offsets do.
func (w *WordPiece) EncodeOffsets(text string) (Encoding, error) {
	if !utf8.ValidString(text) {
		return Encoding{}, fmt.Errorf("tokenizer: text is not valid UTF-8")
	}
	var enc Encoding
	var word []byte  // the normalised word being read
	var src [][2]int // for each byte of word, the original rune's span
	flush := func() {
		if len(word) > 0 {
			w.piecesOffsets(&enc, string(word), src)
			word, src = word[:0], src[:0]
		}
	}
	add := func(s string, at [2]int) {
		for range len(s) {
			src = append(src, at)
		}
		word = append(word, s...)
	}
	for i, r := range text {
		at := [2]int{i, i + utf8.RuneLen(r)}
		switch {
		case r == 0 || r == 0xFFFD || r != '\t' && r != '\n' && r != '\r' && unicode.IsControl(r):
			continue
		case unicode.IsSpace(r):
			flush()
			continue
		case w.chinese && isCJK(r):
			flush()
			add(string(r), at)
			flush()
			continue
		}
		s := string(r)
		if w.stripAccents {
			var sb strings.Builder
			for _, c := range norm.NFD.String(s) {
				if !unicode.Is(unicode.Mn, c) {
					sb.WriteRune(c)
				}
			}
			s = sb.String()
		}
		if w.lowercase {
			s = strings.ToLower(s)
		}
		for _, c := range s {
			if isBertPunct(c) {
				flush()
				add(string(c), at)
				flush()
			} else {
				add(string(c), at)
			}
		}
	}
	flush()
	return enc, nil
}

// piecesOffsets appends the word pieces of one normalised word, each with
// the original span of its bytes (src), as word number len(words so far).
func (w *WordPiece) piecesOffsets(enc *Encoding, word string, src [][2]int) {
	wordID := 0
	if n := len(enc.Words); n > 0 {
		wordID = enc.Words[n-1] + 1
	}
	whole := [2]int{src[0][0], src[len(src)-1][1]}
	if utf8.RuneCountInString(word) > w.maxChars {
		enc.IDs, enc.Offsets, enc.Words = append(enc.IDs, w.unk), append(enc.Offsets, whole), append(enc.Words, wordID)
		return
	}
	n := len(enc.IDs)
	for start := 0; start < len(word); {
		end, found := len(word), int32(-1)
		for end > start {
			sub := word[start:end]
			if start > 0 {
				sub = w.prefix + sub
			}
			if id, ok := w.vocab[sub]; ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			enc.IDs, enc.Offsets, enc.Words = append(enc.IDs[:n], w.unk), append(enc.Offsets[:n], whole), append(enc.Words[:n], wordID)
			return
		}
		enc.IDs = append(enc.IDs, found)
		enc.Offsets = append(enc.Offsets, [2]int{src[start][0], src[end-1][1]})
		enc.Words = append(enc.Words, wordID)
		start = end
	}
}

// CLS, SEP and Pad return the ids of [CLS], [SEP] and [PAD] (-1 if the
// vocabulary lacks one).
func (w *WordPiece) CLS() int32 { return w.idOf("[CLS]") }

// SEP returns the id of [SEP], or -1.
func (w *WordPiece) SEP() int32 { return w.idOf("[SEP]") }

// Pad returns the id of [PAD], or -1.
func (w *WordPiece) Pad() int32 { return w.idOf("[PAD]") }

func (w *WordPiece) idOf(tok string) int32 {
	if id, ok := w.vocab[tok]; ok {
		return id
	}
	return -1
}

// EncodeOffsets encodes text (no special tokens are recognised in it)
// keeping each token's byte span in text and its word (a piece of GPT-2's
// split), with RoBERTa's trim_offsets: a token's span leaves out the
// spaces it starts with.
func (t *ByteBPE) EncodeOffsets(text string) (Encoding, error) {
	if !utf8.ValidString(text) {
		return Encoding{}, fmt.Errorf("tokenizer: text is not valid UTF-8")
	}
	var enc Encoding
	at := 0
	for word, w := range SplitGPT2(text) {
		start := len(enc.IDs)
		var err error
		if enc.IDs, err = t.bpe(enc.IDs, w); err != nil {
			return Encoding{}, err
		}
		pos := at
		for _, id := range enc.IDs[start:] {
			n := utf8.RuneCountInString(t.tokens[id]) // one character per byte
			s, e := pos, pos+n
			for s < e-1 && text[s] == ' ' {
				s++
			}
			enc.Offsets = append(enc.Offsets, [2]int{s, e})
			enc.Words = append(enc.Words, word)
			pos = e
		}
		at += len(w)
	}
	return enc, nil
}

// ID returns the id of a token (special or not) and whether it exists.
func (w *WordPiece) ID(token string) (int32, bool) {
	id, ok := w.vocab[token]
	return id, ok
}

// Token returns the string of token id ("" outside the vocabulary), as
// transformers' convert_ids_to_tokens gives it ("##ing" for a
// continuation).
func (w *WordPiece) Token(id int32) string {
	if id < 0 || int(id) >= len(w.tokens) {
		return ""
	}
	return w.tokens[id]
}

// JoinTokens is transformers' convert_tokens_to_string for a WordPiece
// (its decoder): a token other than the first loses its continuation
// prefix or gains a space, and the clean-up joins punctuation and
// contractions to the word before.
func (w *WordPiece) JoinTokens(tokens []string) string {
	var sb strings.Builder
	for i, tok := range tokens {
		if i > 0 {
			if rest, ok := strings.CutPrefix(tok, w.prefix); ok {
				tok = rest
			} else {
				tok = " " + tok
			}
		}
		for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
			{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
			tok = strings.ReplaceAll(tok, r[0], r[1])
		}
		sb.WriteString(tok)
	}
	return sb.String()
}

// ContinuationPrefix is the prefix of a word's later pieces ("##").
func (w *WordPiece) ContinuationPrefix() string { return w.prefix }

// Token returns the string of token id in the byte alphabet ("Ġword"), as
// convert_ids_to_tokens gives it; "" outside the vocabulary.
func (t *ByteBPE) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// JoinTokens is convert_tokens_to_string for a byte-level BPE, as the
// ByteLevel decoder does it: a token's characters mapped back to bytes, or,
// when one of them is outside the byte alphabet (a text already decoded,
// " Paris"), the token's own bytes; invalid UTF-8 becomes U+FFFD.
func (t *ByteBPE) JoinTokens(tokens []string) string {
	var buf []byte
	for _, tok := range tokens {
		start := len(buf)
		for _, r := range tok {
			b, ok := t.byteDec[r]
			if !ok {
				buf = append(buf[:start], tok...)
				break
			}
			buf = append(buf, b)
		}
	}
	return strings.ToValidUTF8(string(buf), "\uFFFD")
}

// Unk returns the id of the unknown token.
func (w *WordPiece) Unk() int32 { return w.unk }
