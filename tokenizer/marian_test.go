package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestMarianMatchesMarianTokenizer: an OPUS-MT tokenizer directory
// (scripts/reference/marian_tokenizer.py) gives MarianTokenizer's pieces
// and ids (a language code kept whole, pieces missing from vocab.json as
// <unk>) and its decoded text for arbitrary id sequences.
func TestMarianMatchesMarianTokenizer(t *testing.T) {
	tok, err := LoadDir("testdata/marian")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := tok.(*Marian)
	if !ok {
		t.Fatalf("LoadDir gave a %T", tok)
	}
	want := readWrapperFixture(t, "testdata/marian/expected.json")
	unks := 0
	for _, w := range want.Encode {
		pieces, ids := m.EncodePieces(w.Text)
		ids = append(ids, m.EOS()) // MarianTokenizer's template; seq2seq.Translate appends it
		if !slices.Equal(pieces, w.Pieces) || !slices.Equal(ids, w.IDs) {
			t.Errorf("%q:\n got %q %v\nwant %q %v", w.Text, pieces, ids, w.Pieces, w.IDs)
		}
		for _, id := range ids {
			if id == 1 {
				unks++
			}
		}
	}
	if unks == 0 {
		t.Errorf("no text met an unknown piece: the fixture does not test <unk>")
	}
	for _, w := range want.Decode {
		got, err := m.Decode(w.IDs)
		if err != nil || got != w.Text {
			t.Errorf("decode %v = %q (%v), want %q", w.IDs, got, err, w.Text)
		}
	}
	if m.Pad() != int32(m.VocabSize()-1) || !m.IsSpecial(m.Pad()) || !m.IsSpecial(m.EOS()) || m.IsSpecial(5) {
		t.Errorf("pad %d of %d; special pad/eos/5: %v %v %v", m.Pad(), m.VocabSize(), m.IsSpecial(m.Pad()), m.IsSpecial(m.EOS()), m.IsSpecial(5))
	}
}

// wrapperFixture is what the scripts that render transformers' Marian and
// Pegasus tokenizers record: pieces and ids of texts, text of id sequences.
type wrapperFixture struct {
	Encode []struct {
		Text   string   `json:"text"`
		Pieces []string `json:"pieces"`
		IDs    []int32  `json:"ids"`
	} `json:"encode"`
	Decode []struct {
		IDs  []int32 `json:"ids"`
		Text string  `json:"text"`
	} `json:"decode"`
}

func readWrapperFixture(t *testing.T, path string) wrapperFixture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f wrapperFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}
