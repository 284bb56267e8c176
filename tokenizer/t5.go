package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// T5 is the tokenizer of a T5 directory, as transformers' T5Tokenizer: the
// pieces of spiece.model (0 <pad>, 1 </s>, 2 <unk>) followed by extra_ids
// sentinels, <extra_id_0> the last (id = pieces + extra_ids − 1 − N).
// Encode splits the text at the sentinels (the spaces around them
// dropped, as their AddedToken's lstrip and rstrip say) and at </s>,
// <pad> and <unk>, and encodes the text between with SentencePiece; it
// adds no </s> (the pipelines do, as T5Tokenizer's
// build_inputs_with_special_tokens does).
// Decode gives the text of the pieces with the special tokens spelled out,
// then applies transformers' clean_up_tokenization (" ." → ".", " n't" →
// "n't", …), T5Tokenizer's default.
type T5 struct {
	SP       *SentencePiece
	ExtraIDs int
}

// T5ExtraIDs is T5Tokenizer's default number of sentinels.
const T5ExtraIDs = 100

// NewT5 wraps a SentencePiece model with extra sentinel ids.
func NewT5(sp *SentencePiece, extraIDs int) (*T5, error) {
	if extraIDs < 0 || extraIDs > 1<<16 {
		return nil, fmt.Errorf("tokenizer: %d extra_ids (want 0 to 65536; T5Tokenizer's default is 100)", extraIDs)
	}
	return &T5{SP: sp, ExtraIDs: extraIDs}, nil
}

// isT5Dir reports whether dir's configs name T5 (its tokenizer class, or
// the model type), and returns tokenizer_config.json's extra_ids.
func isT5Dir(dir string) (bool, int) {
	var c struct {
		TokenizerClass string `json:"tokenizer_class"`
		ModelType      string `json:"model_type"`
		ExtraIDs       *int   `json:"extra_ids"`
	}
	t5, extra := false, T5ExtraIDs
	for _, name := range []string{TokenizerConfig, "config.json"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && json.Unmarshal(b, &c) == nil {
			if strings.HasPrefix(c.TokenizerClass, "T5") || c.ModelType == "t5" || c.ModelType == "mt5" {
				t5 = true
			}
			if c.ExtraIDs != nil {
				extra = *c.ExtraIDs
			}
			c.ExtraIDs = nil
		}
	}
	return t5, extra
}

// VocabSize returns the pieces plus the sentinels.
func (t *T5) VocabSize() int { return t.SP.VocabSize() + t.ExtraIDs }

// EOS returns the id of </s>.
func (t *T5) EOS() int32 { return t.SP.EOS() }

// Sentinel returns the id of <extra_id_n>.
func (t *T5) Sentinel(n int) (int32, error) {
	if n < 0 || n >= t.ExtraIDs {
		return 0, fmt.Errorf("tokenizer: <extra_id_%d> does not exist (%d extra ids)", n, t.ExtraIDs)
	}
	return int32(t.SP.VocabSize() + t.ExtraIDs - 1 - n), nil
}

// IsSpecial reports whether id is one that decoding with
// skip_special_tokens drops: <pad>, </s>, <unk>, a sentinel, or an id past
// them (a model's vocabulary is padded beyond the tokenizer's: t5-small
// has 32,128 rows for 32,100 tokens).
func (t *T5) IsSpecial(id int32) bool {
	return id == t.SP.Pad() || id == t.SP.EOS() || id == t.SP.Unk() || int(id) >= t.SP.VocabSize()
}

// special returns the id of a special token at the start of s and its
// length in bytes, or -1.
func (t *T5) special(s string) (int32, int) {
	if !strings.HasPrefix(s, "<") {
		return -1, 0
	}
	for _, id := range []int32{t.SP.EOS(), t.SP.Pad(), t.SP.Unk()} {
		if p := t.SP.Piece(id); id >= 0 && p != "" && strings.HasPrefix(s, p) {
			return id, len(p)
		}
	}
	if rest, ok := strings.CutPrefix(s, "<extra_id_"); ok {
		end := strings.IndexByte(rest, '>')
		if end > 0 && end <= 5 {
			if n, err := strconv.Atoi(rest[:end]); err == nil && rest[0] != '+' && rest[0] != '-' {
				if id, err := t.Sentinel(n); err == nil && strconv.Itoa(n) == rest[:end] {
					return id, len("<extra_id_") + end + 1
				}
			}
		}
	}
	return -1, 0
}

// Encode returns the ids of text (without the final </s>).
func (t *T5) Encode(text string) ([]int32, error) {
	var ids []int32
	seg, stripNext := 0, false
	flush := func(end int, stripRight bool) {
		s := text[seg:end]
		if stripNext {
			s = strings.TrimLeft(s, " \t\n\r")
		}
		if stripRight {
			s = strings.TrimRight(s, " \t\n\r")
		}
		if s != "" {
			_, x := t.SP.EncodePieces(s)
			ids = append(ids, x...)
		}
	}
	for i := 0; i < len(text); i++ {
		if text[i] != '<' {
			continue
		}
		id, n := t.special(text[i:])
		if id < 0 {
			continue
		}
		sentinel := int(id) >= t.SP.VocabSize()
		flush(i, sentinel)
		ids = append(ids, id)
		i += n - 1
		seg, stripNext = i+1, sentinel
	}
	flush(len(text), false)
	return ids, nil
}

// Decode returns the text of ids as PreTrainedTokenizer's decode does:
// the runs of pieces between special tokens decoded by SentencePiece, the
// special tokens spelled out (drop them first with IsSpecial to decode as
// skip_special_tokens does), joined by spaces
// (spaces_between_special_tokens), then clean_up_tokenization.
func (t *T5) Decode(ids []int32) (string, error) {
	var parts []string
	var run []int32
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		s, err := t.SP.Decode(run)
		parts, run = append(parts, s), run[:0]
		return err
	}
	for i, id := range ids {
		if id < 0 || int(id) >= t.VocabSize() {
			return "", fmt.Errorf("tokenizer: id %d at position %d is outside the vocabulary [0, %d)", id, i, t.VocabSize())
		}
		if !t.IsSpecial(id) {
			run = append(run, id)
			continue
		}
		if err := flush(); err != nil {
			return "", err
		}
		if int(id) >= t.SP.VocabSize() {
			parts = append(parts, fmt.Sprintf("<extra_id_%d>", t.SP.VocabSize()+t.ExtraIDs-1-int(id)))
		} else {
			parts = append(parts, t.SP.Piece(id))
		}
	}
	if err := flush(); err != nil {
		return "", err
	}
	return CleanUpTokenization(strings.Join(parts, " ")), nil
}

// CleanUpTokenization is transformers' clean_up_tokenization: the spaces
// an English tokenizer puts before punctuation and contractions removed.
func CleanUpTokenization(s string) string {
	return cleanUp.Replace(s)
}

var cleanUp = strings.NewReplacer(" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'", " n't", "n't",
	" 'm", "'m", " 's", "'s", " 've", "'ve", " 're", "'re")
