package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files of an OPUS-MT (MarianMT) directory's tokenizer.
const (
	MarianSourceSPM   = "source.spm"
	MarianTargetSPM   = "target.spm"
	MarianTargetVocab = "target_vocab.json"
	TokenizerConfig   = "tokenizer_config.json"
)

// Marian is the tokenizer of an OPUS-MT directory, as transformers'
// MarianTokenizer: a leading language code (">>fra<<") is kept whole,
// source.spm cuts the rest into pieces, and vocab.json maps them to the
// model's ids (a piece it lacks is <unk>); target ids go back to pieces
// through the same map (or target_vocab.json when tokenizer_config.json
// says separate_vocabs) and to text through target.spm, special tokens
// spelled out between the decoded runs. Encode adds no </s>: the model
// appends it (seq2seq.Translate), as MarianTokenizer's template does.
type Marian struct {
	Source, Target *SentencePiece
	encoder        map[string]int32
	decoder        map[int32]string
	targetEncoder  map[string]int32
	unk, eos, pad  int32
	special        map[string]bool
	size           int
}

// LoadMarian reads source.spm, target.spm, vocab.json and
// tokenizer_config.json (if present) from dir.
func LoadMarian(dir string) (*Marian, error) {
	src, err := LoadSentencePiece(filepath.Join(dir, MarianSourceSPM))
	if err != nil {
		return nil, err
	}
	tgt, err := LoadSentencePiece(filepath.Join(dir, MarianTargetSPM))
	if err != nil {
		return nil, err
	}
	cfg := struct {
		SeparateVocabs bool     `json:"separate_vocabs"`
		Unk            string   `json:"unk_token"`
		EOS            string   `json:"eos_token"`
		Pad            string   `json:"pad_token"`
		Additional     []string `json:"additional_special_tokens"`
	}{Unk: "<unk>", EOS: "</s>", Pad: "<pad>"}
	if b, err := os.ReadFile(filepath.Join(dir, TokenizerConfig)); err == nil {
		// Special tokens may be strings or AddedToken objects; only the
		// strings are read.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, TokenizerConfig), err)
		}
		_ = json.Unmarshal(raw["separate_vocabs"], &cfg.SeparateVocabs)
		for key, dst := range map[string]*string{"unk_token": &cfg.Unk, "eos_token": &cfg.EOS, "pad_token": &cfg.Pad} {
			var s string
			if json.Unmarshal(raw[key], &s) == nil && s != "" {
				*dst = s
			}
		}
		_ = json.Unmarshal(raw["additional_special_tokens"], &cfg.Additional)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	m := &Marian{Source: src, Target: tgt, special: map[string]bool{}}
	if m.encoder, err = readMarianVocab(filepath.Join(dir, VocabFile)); err != nil {
		return nil, err
	}
	m.targetEncoder = m.encoder
	if cfg.SeparateVocabs {
		if m.targetEncoder, err = readMarianVocab(filepath.Join(dir, MarianTargetVocab)); err != nil {
			return nil, err
		}
	}
	m.decoder = map[int32]string{}
	for p, id := range m.targetEncoder {
		m.decoder[id] = p
		m.size = max(m.size, int(id)+1)
	}
	for _, id := range m.encoder {
		m.size = max(m.size, int(id)+1)
	}
	var ok bool
	path := filepath.Join(dir, VocabFile)
	if m.unk, ok = m.encoder[cfg.Unk]; !ok {
		return nil, fmt.Errorf("%s: the unknown token %q is not in the vocabulary", path, cfg.Unk)
	}
	if m.eos, ok = m.encoder[cfg.EOS]; !ok {
		return nil, fmt.Errorf("%s: the end token %q is not in the vocabulary", path, cfg.EOS)
	}
	if m.pad, ok = m.encoder[cfg.Pad]; !ok {
		return nil, fmt.Errorf("%s: the padding token %q is not in the vocabulary", path, cfg.Pad)
	}
	for _, s := range append([]string{cfg.Unk, cfg.EOS, cfg.Pad}, cfg.Additional...) {
		m.special[s] = true
	}
	return m, nil
}

// readMarianVocab reads a piece → id map, checking that no id repeats.
func readMarianVocab(path string) (map[string]int32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v map[string]int32
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: want a map of pieces to ids: %w", path, err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("%s: the vocabulary is empty", path)
	}
	seen := make(map[int32]string, len(v))
	for p, id := range v {
		if id < 0 || id >= 1<<24 {
			return nil, fmt.Errorf("%s: %q has id %d", path, p, id)
		}
		if q, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s: %q and %q both have id %d", path, min(p, q), max(p, q), id)
		}
		seen[id] = p
	}
	return v, nil
}

// VocabSize returns the size of the id space (one past the largest id).
func (m *Marian) VocabSize() int { return m.size }

// EOS returns the id of </s>.
func (m *Marian) EOS() int32 { return m.eos }

// Pad returns the id of <pad> (the decoder's start token in MarianMT).
func (m *Marian) Pad() int32 { return m.pad }

// IsSpecial reports whether id is </s>, <unk>, <pad> or an additional
// special token: what decoding with skip_special_tokens drops.
func (m *Marian) IsSpecial(id int32) bool { return m.special[m.decoder[id]] }

// EncodePieces returns the source pieces of text and their ids.
func (m *Marian) EncodePieces(text string) ([]string, []int32) {
	var pieces []string
	if strings.HasPrefix(text, ">>") {
		if end := strings.Index(text, "<<"); end >= 0 {
			pieces = append(pieces, text[:end+2])
			text = text[end+2:]
		}
	}
	p, _ := m.Source.EncodePieces(text)
	pieces = append(pieces, p...)
	ids := make([]int32, len(pieces))
	for i, p := range pieces {
		id, ok := m.encoder[p]
		if !ok {
			id = m.unk
		}
		ids[i] = id
	}
	return pieces, ids
}

// Encode returns the ids of text's source pieces.
func (m *Marian) Encode(text string) ([]int32, error) {
	_, ids := m.EncodePieces(text)
	return ids, nil
}

// Decode returns the text of target ids as MarianTokenizer's decode does
// (without skipping special tokens: drop them first with IsSpecial).
func (m *Marian) Decode(ids []int32) (string, error) {
	var out strings.Builder
	var run []string
	for i, id := range ids {
		p, ok := m.decoder[id]
		if !ok {
			if p = m.Target.Piece(id); p == "" {
				if id < 0 || int(id) >= m.size {
					return "", fmt.Errorf("tokenizer: id %d at position %d is outside the vocabulary [0, %d)", id, i, m.size)
				}
				p = m.decoder[m.unk]
			}
		}
		if m.special[p] {
			out.WriteString(m.Target.DecodePieces(run) + p + " ")
			run = run[:0]
			continue
		}
		run = append(run, p)
	}
	out.WriteString(m.Target.DecodePieces(run))
	return strings.TrimSpace(strings.ReplaceAll(out.String(), spaceSymbol, " ")), nil
}
