package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/goformer/goformer/tensor"
)

// SaveHF writes the character vocabulary as a Hugging Face tokenizer.json
// in the format's own terms: a BPE model whose vocabulary is the characters
// and which has no merges (so every character is its own token), no
// normalizer or pre-tokenizer, and a Fuse decoder that joins the tokens
// without spaces. transformers' PreTrainedTokenizerFast loads it and gives
// the same ids.
func (c *Char) SaveHF(path string) error {
	vocab := map[string]int{}
	for i, r := range c.chars {
		vocab[string(r)] = i
	}
	f := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": []any{},
		"normalizer": nil, "pre_tokenizer": nil, "post_processor": nil,
		"decoder": map[string]any{"type": "Fuse"},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": []any{}},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return err
	}
	return tensor.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
}

// loadHFChar reads the tokenizer.json SaveHF writes: a BPE model without
// merges or pre-tokenizer, each vocabulary entry one character.
func loadHFChar(f *hfFile) (*Char, error) {
	if len(f.AddedTokens) > 0 {
		return nil, fmt.Errorf("a character-level BPE with added tokens is not supported")
	}
	chars := make([]rune, len(f.Model.Vocab))
	seen := make([]bool, len(f.Model.Vocab))
	for s, id := range f.Model.Vocab {
		r := []rune(s)
		if len(r) != 1 {
			return nil, fmt.Errorf("model.vocab: %q is not one character (a BPE without merges or pre-tokenizer is read as characters)", s)
		}
		if id < 0 || int(id) >= len(chars) || seen[id] {
			return nil, fmt.Errorf("model.vocab: %q has id %d; want each id of 0..%d once", s, id, len(chars)-1)
		}
		chars[id], seen[id] = r[0], true
	}
	if len(chars) == 0 {
		return nil, fmt.Errorf("model.vocab is empty")
	}
	return newChar(chars), nil
}

// Files a model directory may hold its tokenizer in.
const (
	HFFile     = "tokenizer.json" // Hugging Face's tokenizers format
	VocabFile  = "vocab.json"     // GPT-2's token → id map (with merges.txt), or an old goformer character vocabulary
	MergesFile = "merges.txt"
)

// SentencePieceFiles are the names under which the hub's slow tokenizers
// keep a SentencePiece model: T5's and Pegasus's, then mBART's and
// XLM-R's.
var SentencePieceFiles = []string{"spiece.model", "sentencepiece.bpe.model"}

// loadSentencePieceDir reads the SentencePiece model of a directory: as
// T5's tokenizer when its configs name T5 (with the extra_ids of
// tokenizer_config.json, 100 by default), as Pegasus's when they name
// Pegasus (ids shifted by the offset of tokenizer_config.json, 103 by
// default), as XLM-R's when they name XLM-RoBERTa (fairseq's ids), else
// as it is.
func loadSentencePieceDir(dir, path string) (Tokenizer, error) {
	sp, err := LoadSentencePiece(path)
	if err != nil {
		return nil, err
	}
	if t5, extra := isT5Dir(dir); t5 {
		return NewT5(sp, extra)
	}
	if isXLMRDir(dir) {
		return NewXLMRoberta(sp), nil
	}
	if !isPegasusDir(dir) {
		return sp, nil
	}
	offset := PegasusOffset
	if b, err := os.ReadFile(filepath.Join(dir, TokenizerConfig)); err == nil {
		var c struct {
			Offset *int `json:"offset"`
		}
		if json.Unmarshal(b, &c) == nil && c.Offset != nil {
			offset = *c.Offset
		}
	}
	return NewPegasus(sp, offset)
}

// LoadFile reads a tokenizer file, recognised by content: a Hugging Face
// tokenizer.json (a JSON object) or a SentencePiece model.
func LoadFile(path string) (Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		return LoadHF(path)
	}
	sp, err := ParseSentencePiece(b)
	if err != nil {
		return nil, fmt.Errorf("%s: neither a tokenizer.json nor a SentencePiece model: %w", path, err)
	}
	return sp, nil
}

// LoadDir reads the tokenizer of a model directory, recognised by content:
// tokenizer.json (byte-level BPE, WordPiece or characters), else a
// SentencePiece model (SentencePieceFiles), else an OPUS-MT tokenizer
// (source.spm, target.spm, vocab.json), else GPT-2's
// vocab.json + merges.txt (as transformers' save_pretrained writes them),
// else the character vocabulary of earlier goformer versions
// ({"type": "char", ...} in vocab.json).
func LoadDir(dir string) (Tokenizer, error) {
	spm := ""
	for _, name := range SentencePieceFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			spm = filepath.Join(dir, name)
			break
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, HFFile)); err == nil {
		// T5, Pegasus and mBART ship their SentencePiece model beside its
		// conversion to tokenizer.json (a Unigram model, not read here):
		// the model file is the original, and is what is read.
		var head struct {
			Model struct {
				Type string `json:"type"`
			} `json:"model"`
		}
		if spm != "" && json.Unmarshal(b, &head) == nil && head.Model.Type == "Unigram" {
			return loadSentencePieceDir(dir, spm)
		}
		return LoadHF(filepath.Join(dir, HFFile))
	}
	if spm != "" {
		return loadSentencePieceDir(dir, spm)
	}
	if _, err := os.Stat(filepath.Join(dir, MarianSourceSPM)); err == nil {
		return LoadMarian(dir)
	}
	vocabPath := filepath.Join(dir, VocabFile)
	b, err := os.ReadFile(vocabPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no tokenizer (want %s, or %s and %s)", dir, HFFile, VocabFile, MergesFile)
	}
	if err != nil {
		return nil, err
	}
	// GPT-2's map has a token "type" too, but its value is a number.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", vocabPath, err)
	}
	if string(raw["type"]) == `"char"` {
		return LoadChar(vocabPath)
	}
	mergesPath := filepath.Join(dir, MergesFile)
	if _, err := os.Stat(mergesPath); err != nil {
		return nil, fmt.Errorf("%s holds a token → id map but %s is missing (a GPT-2 tokenizer needs both)", vocabPath, mergesPath)
	}
	return LoadGPT2(vocabPath, mergesPath)
}
