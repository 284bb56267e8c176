// Package tokenizer turns text into token ids and back: a character-level
// tokenizer (Char, for the Shakespeare models) and GPT-2's byte-level BPE
// (ByteBPE, read from vocab.json and merges.txt, giving GPT-2's exact ids).
package tokenizer

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"unicode/utf8"

	"github.com/goformer/goformer/tensor"
)

// Char is a character-level tokenizer: one id per distinct character of
// its training text, in sorted order (nanoGPT's shakespeare_char).
type Char struct {
	chars []rune
	ids   map[rune]int32
}

// NewChar builds the vocabulary of text's distinct characters.
func NewChar(text string) (*Char, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("tokenizer: text is not valid UTF-8")
	}
	seen := map[rune]bool{}
	for _, r := range text {
		seen[r] = true
	}
	chars := make([]rune, 0, len(seen))
	for r := range seen {
		chars = append(chars, r)
	}
	sort.Slice(chars, func(i, j int) bool { return chars[i] < chars[j] })
	return newChar(chars), nil
}

func newChar(chars []rune) *Char {
	c := &Char{chars: chars, ids: map[rune]int32{}}
	for i, r := range chars {
		c.ids[r] = int32(i)
	}
	return c
}

// VocabSize returns the number of characters.
func (c *Char) VocabSize() int { return len(c.chars) }

// Encode returns the ids of text's characters; a character outside the
// vocabulary is an error naming it and its position.
func (c *Char) Encode(text string) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("tokenizer: text is not valid UTF-8")
	}
	out := make([]int32, 0, len(text))
	pos := 0
	for _, r := range text {
		id, ok := c.ids[r]
		if !ok {
			return nil, fmt.Errorf("tokenizer: character %q at position %d is not in the vocabulary", r, pos)
		}
		out = append(out, id)
		pos++
	}
	return out, nil
}

// Decode returns the text of ids; an unknown id is an error.
func (c *Char) Decode(ids []int32) (string, error) {
	out := make([]rune, len(ids))
	for i, id := range ids {
		if id < 0 || int(id) >= len(c.chars) {
			return "", fmt.Errorf("tokenizer: id %d at position %d is outside the vocabulary of %d", id, i, len(c.chars))
		}
		out[i] = c.chars[id]
	}
	return string(out), nil
}

// charFile is the saved form: {"type": "char", "chars": "..."}.
type charFile struct {
	Type  string `json:"type"`
	Chars string `json:"chars"`
}

// Save writes the vocabulary to path (JSON), atomically.
func (c *Char) Save(path string) error {
	b, err := json.Marshal(charFile{Type: "char", Chars: string(c.chars)})
	if err != nil {
		return err
	}
	return tensor.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// LoadChar reads a vocabulary written by Save.
func LoadChar(path string) (*Char, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f charFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Type != "char" || f.Chars == "" {
		return nil, fmt.Errorf("%s: not a character vocabulary", path)
	}
	return newChar([]rune(f.Chars)), nil
}
