package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/goformer/goformer/tensor"
)

// WordPiece is BERT's tokenizer: the text is cleaned, optionally lowercased
// and stripped of accents, split on whitespace and punctuation, and each
// word is cut greedily into the longest vocabulary pieces, pieces after the
// first carrying the "##" prefix. A word that cannot be cut becomes [UNK].
// Encode adds the [CLS] ... [SEP] template when the tokenizer.json has one.
type WordPiece struct {
	vocab        map[string]int32
	tokens       []string
	unk          int32
	prefix       string
	maxChars     int
	lowercase    bool
	stripAccents bool
	chinese      bool
	cls, sep     int32 // -1: none
	special      map[int32]bool
}

// VocabSize returns the number of tokens.
func (w *WordPiece) VocabSize() int { return len(w.tokens) }

func loadHFWordPiece(f *hfFile) (*WordPiece, error) {
	w := &WordPiece{vocab: f.Model.Vocab, prefix: "##", maxChars: 100, cls: -1, sep: -1, special: map[int32]bool{}}
	if f.Model.ContinuingSubwordPrefix != nil {
		w.prefix = *f.Model.ContinuingSubwordPrefix
	}
	if f.Model.MaxInputCharsPerWord > 0 {
		w.maxChars = f.Model.MaxInputCharsPerWord
	}
	w.tokens = make([]string, len(w.vocab))
	for tok, id := range w.vocab {
		if id < 0 || int(id) >= len(w.vocab) || w.tokens[id] != "" {
			return nil, fmt.Errorf("model.vocab: token %q has id %d, outside 0..%d or taken twice", tok, id, len(w.vocab)-1)
		}
		w.tokens[id] = tok
	}
	unk := "[UNK]"
	if f.Model.UnkToken != nil {
		unk = *f.Model.UnkToken
	}
	id, ok := w.vocab[unk]
	if !ok {
		return nil, fmt.Errorf("model.unk_token %q is not in the vocabulary", unk)
	}
	w.unk = id
	for _, a := range f.AddedTokens {
		if a.Special {
			w.special[a.ID] = true
		}
	}
	normalizer, err := componentType(f.Normalizer)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch normalizer.Type {
	case "BertNormalizer":
		w.lowercase = normalizer.Lowercase == nil || *normalizer.Lowercase
		w.stripAccents = w.lowercase
		if normalizer.StripAccents != nil {
			w.stripAccents = *normalizer.StripAccents
		}
		w.chinese = normalizer.Chinese == nil || *normalizer.Chinese
	case "":
	default:
		return nil, fmt.Errorf("normalizer %q is not supported with WordPiece (want BertNormalizer)", normalizer.Type)
	}
	pre, err := componentType(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	if pre.Type != "BertPreTokenizer" {
		return nil, fmt.Errorf("pre_tokenizer %q is not supported with WordPiece (want BertPreTokenizer)", pre.Type)
	}
	post, err := componentType(f.PostProcessor)
	if err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	switch post.Type {
	case "BertProcessing":
		if w.cls, err = pairID(post.CLS, w.vocab); err != nil {
			return nil, fmt.Errorf("post_processor.cls: %w", err)
		}
		if w.sep, err = pairID(post.SEP, w.vocab); err != nil {
			return nil, fmt.Errorf("post_processor.sep: %w", err)
		}
	case "TemplateProcessing":
		// Only the BERT template: [CLS] $A [SEP].
		var pieces []string
		for _, raw := range post.Single {
			var p struct {
				SpecialToken *struct{ ID string } `json:"SpecialToken"`
				Sequence     *struct{ ID string } `json:"Sequence"`
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, fmt.Errorf("post_processor.single: %w", err)
			}
			switch {
			case p.SpecialToken != nil:
				pieces = append(pieces, p.SpecialToken.ID)
			case p.Sequence != nil:
				pieces = append(pieces, "$"+p.Sequence.ID)
			}
		}
		if len(pieces) != 3 || pieces[1] != "$A" {
			return nil, fmt.Errorf("post_processor: template %v is not supported (want [CLS] $A [SEP])", pieces)
		}
		var ok1, ok2 bool
		w.cls, ok1 = w.vocab[pieces[0]]
		w.sep, ok2 = w.vocab[pieces[2]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("post_processor: template tokens %q, %q are not in the vocabulary", pieces[0], pieces[2])
		}
	case "":
	default:
		return nil, fmt.Errorf("post_processor %q is not supported with WordPiece", post.Type)
	}
	return w, nil
}

// pairID reads BertProcessing's ["[CLS]", 101] and checks it.
func pairID(raw []json.RawMessage, vocab map[string]int32) (int32, error) {
	if len(raw) != 2 {
		return 0, fmt.Errorf("want [token, id]")
	}
	var s string
	var id int32
	if err := json.Unmarshal(raw[0], &s); err != nil {
		return 0, err
	}
	if err := json.Unmarshal(raw[1], &id); err != nil {
		return 0, err
	}
	if v, ok := vocab[s]; !ok || v != id {
		return 0, fmt.Errorf("token %q with id %d does not match the vocabulary", s, id)
	}
	return id, nil
}

// isBertPunct is BERT's punctuation: ASCII symbols and Unicode P*.
func isBertPunct(r rune) bool {
	if r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126 {
		return true
	}
	return unicode.IsPunct(r)
}

func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F || r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}

// normalize applies BertNormalizer: control characters dropped, whitespace
// made spaces, CJK characters padded with spaces, lowercase, accents
// stripped (NFD, then marks removed).
func (w *WordPiece) normalize(text string) string {
	var sb strings.Builder
	for _, r := range text {
		switch {
		case r == 0 || r == 0xFFFD || r != '\t' && r != '\n' && r != '\r' && unicode.IsControl(r):
			continue
		case unicode.IsSpace(r):
			sb.WriteByte(' ')
		case w.chinese && isCJK(r):
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	s := sb.String()
	if w.stripAccents {
		sb.Reset()
		for _, r := range norm.NFD.String(s) {
			if !unicode.Is(unicode.Mn, r) {
				sb.WriteRune(r)
			}
		}
		s = sb.String()
	}
	if w.lowercase {
		s = strings.ToLower(s)
	}
	return s
}

// Encode returns the ids of text: [CLS], the word pieces, [SEP].
func (w *WordPiece) Encode(text string) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("tokenizer: text is not valid UTF-8")
	}
	var out []int32
	if w.cls >= 0 {
		out = append(out, w.cls)
	}
	for _, field := range strings.Fields(w.normalize(text)) {
		// Split punctuation off as words of their own.
		start := 0
		for i, r := range field {
			if isBertPunct(r) {
				if i > start {
					out = w.pieces(out, field[start:i])
				}
				out = w.pieces(out, string(r))
				start = i + utf8.RuneLen(r)
			}
		}
		if start < len(field) {
			out = w.pieces(out, field[start:])
		}
	}
	if w.sep >= 0 {
		out = append(out, w.sep)
	}
	return out, nil
}

// pieces appends the greedy longest-match pieces of word, or [UNK].
func (w *WordPiece) pieces(out []int32, word string) []int32 {
	if utf8.RuneCountInString(word) > w.maxChars {
		return append(out, w.unk)
	}
	n := len(out)
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
			return append(out[:n], w.unk)
		}
		out = append(out, found)
		start = end
	}
	return out
}

// Decode joins the pieces as Hugging Face's WordPiece decoder does: special
// tokens dropped, "##" pieces glued to the previous one, spaces before
// punctuation and in contractions cleaned up.
func (w *WordPiece) Decode(ids []int32) (string, error) {
	var sb strings.Builder
	for i, id := range ids {
		if id < 0 || int(id) >= len(w.tokens) {
			return "", fmt.Errorf("tokenizer: id %d at position %d is outside the vocabulary of %d", id, i, len(w.tokens))
		}
		if w.special[id] {
			continue
		}
		tok := w.tokens[id]
		if rest, ok := strings.CutPrefix(tok, w.prefix); ok && sb.Len() > 0 {
			sb.WriteString(rest)
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(tok)
	}
	s := sb.String()
	for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s, nil
}

// SaveHF writes the tokenizer as a Hugging Face tokenizer.json (BERT's
// normalizer, pre-tokenizer, [CLS] $A [SEP] template and WordPiece
// decoder), atomically; LoadHF reads it back.
func (w *WordPiece) SaveHF(path string) error {
	type tok = hfAddedToken
	var added []tok
	for id := range w.tokens {
		if w.special[int32(id)] {
			added = append(added, tok{ID: int32(id), Content: w.tokens[id], Special: true})
		}
	}
	vocab := make(orderedVocab, len(w.tokens))
	copy(vocab, w.tokens)
	f := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer": map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": w.chinese,
			"strip_accents": w.stripAccents, "lowercase": w.lowercase},
		"pre_tokenizer": map[string]any{"type": "BertPreTokenizer"},
		"decoder":       map[string]any{"type": "WordPiece", "prefix": w.prefix, "cleanup": true},
		"model": map[string]any{"type": "WordPiece", "unk_token": w.tokens[w.unk], "continuing_subword_prefix": w.prefix,
			"max_input_chars_per_word": w.maxChars, "vocab": vocab},
	}
	if w.cls >= 0 && w.sep >= 0 {
		f["post_processor"] = map[string]any{"type": "BertProcessing",
			"cls": []any{w.tokens[w.cls], w.cls}, "sep": []any{w.tokens[w.sep], w.sep}}
	} else {
		f["post_processor"] = nil
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return tensor.WriteFileAtomic(path, func(wr io.Writer) error {
		_, err := wr.Write(append(b, '\n'))
		return err
	})
}

// orderedVocab marshals token → id in id order (a JSON object).
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for id, t := range v {
		if id > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		fmt.Fprintf(&buf, ":%d", id)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
