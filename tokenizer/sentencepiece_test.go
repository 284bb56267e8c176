package tokenizer

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// spExpected is what scripts/reference/sentencepiece_models.py recorded
// from the sentencepiece library for each model and text.
type spExpected struct {
	Texts  []string `json:"texts"`
	Models map[string][]struct {
		Pieces  []string `json:"pieces"`
		IDs     []int32  `json:"ids"`
		Decoded string   `json:"decoded"`
	} `json:"models"`
}

func readSPExpected(t *testing.T) spExpected {
	t.Helper()
	f, err := os.Open("testdata/sentencepiece/expected.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var e spExpected
	if err := json.NewDecoder(zr).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSentencePieceMatchesLibrary: eight models trained by the
// sentencepiece library (unigram and BPE; nmt_nfkc, nfkc_cf and identity
// normalisation; byte fallback; user-defined and control symbols; extra
// whitespace kept; no dummy prefix; whitespace as suffix; T5's ids) give
// the library's pieces, ids and decoded text on held-out text and hard
// cases (accents, CJK, emoji, control characters, whitespace runs), and
// decode random id sequences as it does.
func TestSentencePieceMatchesLibrary(t *testing.T) {
	e := readSPExpected(t)
	names := 0
	for name, rows := range e.Models {
		model, kind, random := strings.Cut(name, "/")
		sp, err := LoadSentencePiece(filepath.Join("testdata/sentencepiece", model+".model"))
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i, r := range rows {
			if random {
				_ = kind
				got, err := sp.Decode(r.IDs)
				if err != nil || got != r.Decoded {
					if bad++; bad <= 3 {
						t.Errorf("%s: decode %v = %q (%v), want %q", name, r.IDs, got, err, r.Decoded)
					}
				}
				continue
			}
			text := e.Texts[i]
			pieces, ids := sp.EncodePieces(text)
			if !slices.Equal(pieces, r.Pieces) || !slices.Equal(ids, r.IDs) {
				if bad++; bad <= 3 {
					t.Errorf("%s: %q\n got %q %v\nwant %q %v", name, text, pieces, ids, r.Pieces, r.IDs)
				}
				continue
			}
			if got, err := sp.Decode(ids); err != nil || got != r.Decoded {
				if bad++; bad <= 3 {
					t.Errorf("%s: decode of %q = %q (%v), want %q", name, text, got, err, r.Decoded)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d differ", name, bad, len(rows))
		}
		names++
	}
	if names != 16 {
		t.Errorf("%d model entries in the fixture, want 16", names)
	}
}

// TestLoadDirSentencePiece: a directory with spiece.model (T5's and
// Pegasus's layout) loads it, also beside a tokenizer.json whose Unigram
// model is not read here; a tokenizer file loads by content.
func TestLoadDirSentencePiece(t *testing.T) {
	b, err := os.ReadFile("testdata/sentencepiece/unigram_t5like.model")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spiece.model"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, withJSON := range []bool{false, true} {
		if withJSON {
			os.WriteFile(filepath.Join(dir, HFFile), []byte(`{"model": {"type": "Unigram", "vocab": [["<pad>", 0.0]], "unk_id": 0}}`), 0o644)
		}
		tok, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if sp, ok := tok.(*SentencePiece); !ok || sp.Pad() != 0 || sp.EOS() != 1 || sp.Unk() != 2 || sp.BOS() != -1 {
			t.Fatalf("with tokenizer.json %v: %T %+v", withJSON, tok, tok)
		}
	}
	tok, err := LoadFile("testdata/sentencepiece/bpe.model")
	if _, ok := tok.(*SentencePiece); err != nil || !ok {
		t.Errorf("LoadFile of a .model: %T %v", tok, err)
	}
	if _, err := LoadFile("testdata/marian/vocab.json"); err == nil {
		t.Errorf("LoadFile of a vocab.json read without error")
	}
}
