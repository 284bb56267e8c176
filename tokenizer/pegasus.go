package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Pegasus is the tokenizer of a Pegasus directory, as transformers'
// PegasusTokenizer: the pieces of spiece.model shifted up by an offset
// (103), the ids below it held by special tokens (0 <pad>, 1 </s>,
// 2 <mask_1>, 3 <mask_2>, then <unk_2> … <unk_102>, which also cover the
// model's own first pieces). Encode adds no </s> (the pipeline does);
// Decode spells special tokens out and decodes the runs between them.
type Pegasus struct {
	SP       *SentencePiece
	offset   int32
	specials map[int32]string // id → token below the offset (and the two above it that they cover)
	byToken  map[string]int32
}

// PegasusOffset is PegasusTokenizer's default offset.
const PegasusOffset = 103

// NewPegasus wraps a SentencePiece model with Pegasus's ids.
func NewPegasus(sp *SentencePiece, offset int) (*Pegasus, error) {
	if offset < 4 || offset > 1<<16 {
		return nil, fmt.Errorf("tokenizer: a Pegasus offset of %d (want 4 to 65536; PegasusTokenizer's is 103)", offset)
	}
	p := &Pegasus{SP: sp, offset: int32(offset), specials: map[int32]string{0: "<pad>", 1: "</s>", 2: "<mask_1>", 3: "<mask_2>"},
		byToken: map[string]int32{}}
	// additional_special_tokens = [<mask_1>, <unk_2>, …, <unk_{offset-1}>];
	// entry i (from 1) takes id i + 3.
	for i := 1; i < offset-1; i++ {
		p.specials[int32(i+3)] = fmt.Sprintf("<unk_%d>", i+1)
	}
	for id, t := range p.specials {
		p.byToken[t] = id
	}
	return p, nil
}

// isPegasusDir reports whether dir's configs name Pegasus (its tokenizer
// class, or the model type).
func isPegasusDir(dir string) bool {
	var c struct {
		TokenizerClass string `json:"tokenizer_class"`
		ModelType      string `json:"model_type"`
	}
	for _, name := range []string{TokenizerConfig, "config.json"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && json.Unmarshal(b, &c) == nil {
			if strings.HasPrefix(c.TokenizerClass, "Pegasus") || c.ModelType == "pegasus" {
				return true
			}
		}
	}
	return false
}

// VocabSize returns the model's pieces plus the offset.
func (p *Pegasus) VocabSize() int { return p.SP.VocabSize() + int(p.offset) }

// Unk returns the id of <unk> (the model's unknown piece, shifted).
func (p *Pegasus) Unk() int32 { return p.SP.Unk() + p.offset }

// EOS returns the id of </s> (1).
func (p *Pegasus) EOS() int32 { return 1 }

// IsSpecial reports whether id is a special token (what decoding with
// skip_special_tokens drops): those below the offset and the two above it
// they cover, and <unk>.
func (p *Pegasus) IsSpecial(id int32) bool {
	_, ok := p.specials[id]
	return ok || id == p.Unk()
}

// EncodePieces returns text's pieces and their Pegasus ids.
func (p *Pegasus) EncodePieces(text string) ([]string, []int32) {
	pieces, spIDs := p.SP.EncodePieces(text)
	ids := make([]int32, len(pieces))
	for i, piece := range pieces {
		if id, ok := p.byToken[piece]; ok {
			ids[i] = id
		} else {
			ids[i] = spIDs[i] + p.offset
		}
	}
	return pieces, ids
}

// Encode returns the ids of text's pieces.
func (p *Pegasus) Encode(text string) ([]int32, error) {
	_, ids := p.EncodePieces(text)
	return ids, nil
}

// Decode returns the text of ids as PegasusTokenizer's decode does
// (without skipping special tokens: drop them first with IsSpecial).
func (p *Pegasus) Decode(ids []int32) (string, error) {
	var out strings.Builder
	var run []string
	for i, id := range ids {
		t, ok := p.specials[id]
		if !ok {
			if t = p.SP.Piece(id - p.offset); t == "" {
				return "", fmt.Errorf("tokenizer: id %d at position %d is outside the vocabulary [0, %d)", id, i, p.VocabSize())
			}
		}
		// A special token, by its text (the model's own <mask_1> piece
		// too), is spelled out; the pieces between are decoded together.
		if _, special := p.byToken[t]; special || t == "<unk>" {
			out.WriteString(p.SP.DecodePieces(run) + t)
			run = run[:0]
			continue
		}
		run = append(run, t)
	}
	out.WriteString(p.SP.DecodePieces(run))
	return strings.TrimSpace(out.String()), nil
}
