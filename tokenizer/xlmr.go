package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// XLMRoberta is the tokenizer of an XLM-RoBERTa directory, as
// transformers' XLMRobertaTokenizer: fairseq's dictionary over the pieces
// of sentencepiece.bpe.model — 0 <s>, 1 <pad>, 2 </s>, 3 <unk>, then piece
// i at id i + 1 (the model's own <unk>, <s> and </s> pieces never come out
// of encoding), and <mask> last. Encode adds no specials (the pipelines
// put <s> … </s> around texts); Decode spells specials out.
type XLMRoberta struct {
	SP *SentencePiece
}

// The fairseq ids of XLM-R's special tokens.
const (
	XLMRCLS int32 = 0 // <s>
	XLMRPad int32 = 1 // <pad>
	XLMRSEP int32 = 2 // </s>
	XLMRUnk int32 = 3 // <unk>
)

var xlmrSpecials = []string{"<s>", "<pad>", "</s>", "<unk>"}

// NewXLMRoberta wraps a SentencePiece model with fairseq's ids.
func NewXLMRoberta(sp *SentencePiece) *XLMRoberta { return &XLMRoberta{SP: sp} }

// isXLMRDir reports whether dir's configs name XLM-RoBERTa (its tokenizer
// class, or the model type).
func isXLMRDir(dir string) bool {
	var c struct {
		TokenizerClass string `json:"tokenizer_class"`
		ModelType      string `json:"model_type"`
	}
	for _, name := range []string{TokenizerConfig, "config.json"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && json.Unmarshal(b, &c) == nil {
			if strings.HasPrefix(c.TokenizerClass, "XLMRoberta") || c.ModelType == "xlm-roberta" {
				return true
			}
		}
	}
	return false
}

// VocabSize is the pieces, the offset of one and <mask>.
func (t *XLMRoberta) VocabSize() int { return t.SP.VocabSize() + 2 }

// Mask returns the id of <mask>, the last.
func (t *XLMRoberta) Mask() int32 { return int32(t.SP.VocabSize() + 1) }

// ID returns the id of a token: a special, <mask>, or a piece.
func (t *XLMRoberta) ID(token string) (int32, bool) {
	for i, s := range xlmrSpecials {
		if token == s {
			return int32(i), true
		}
	}
	if token == "<mask>" {
		return t.Mask(), true
	}
	id, ok := t.SP.ID(token)
	if !ok || id == t.SP.Unk() {
		return XLMRUnk, ok
	}
	return id + 1, true
}

// Encode returns the ids of text's pieces.
func (t *XLMRoberta) Encode(text string) ([]int32, error) {
	_, spIDs := t.SP.EncodePieces(text)
	ids := make([]int32, len(spIDs))
	for i, id := range spIDs {
		if id == t.SP.Unk() {
			ids[i] = XLMRUnk
		} else {
			ids[i] = id + 1
		}
	}
	return ids, nil
}

// Token returns the string of id: a special's name or the piece ("▁word").
func (t *XLMRoberta) Token(id int32) string {
	switch {
	case id >= 0 && int(id) < len(xlmrSpecials):
		return xlmrSpecials[id]
	case id == t.Mask():
		return "<mask>"
	}
	return t.SP.Piece(id - 1)
}

// Decode returns the text of ids as XLMRobertaTokenizer's decode does:
// the tokens joined, ▁ read as a space, the ends trimmed; specials are
// spelled out.
func (t *XLMRoberta) Decode(ids []int32) (string, error) {
	var sb strings.Builder
	for i, id := range ids {
		tok := t.Token(id)
		if tok == "" {
			return "", fmt.Errorf("tokenizer: id %d at position %d is outside the vocabulary [0, %d)", id, i, t.VocabSize())
		}
		sb.WriteString(tok)
	}
	return strings.TrimSpace(strings.ReplaceAll(sb.String(), "▁", " ")), nil
}
