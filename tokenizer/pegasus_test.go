package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestPegasusMatchesPegasusTokenizer: a Pegasus tokenizer directory
// (scripts/reference/pegasus_tokenizer.py) loads as Pegasus and gives
// PegasusTokenizer's ids (offset 103, <mask_1>/<mask_2> by name) and its
// decoded text for arbitrary id sequences.
func TestPegasusMatchesPegasusTokenizer(t *testing.T) {
	tok, err := LoadDir("testdata/pegasus")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tok.(*Pegasus)
	if !ok {
		t.Fatalf("LoadDir gave a %T", tok)
	}
	b, err := os.ReadFile("testdata/pegasus/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
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
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for _, w := range want.Encode {
		pieces, ids := p.EncodePieces(w.Text)
		ids = append(ids, p.EOS())
		if !slices.Equal(pieces, w.Pieces) || !slices.Equal(ids, w.IDs) {
			t.Errorf("%q:\n got %q %v\nwant %q %v", w.Text, pieces, ids, w.Pieces, w.IDs)
		}
	}
	for _, w := range want.Decode {
		got, err := p.Decode(w.IDs)
		if err != nil || got != w.Text {
			t.Errorf("decode %v = %q (%v), want %q", w.IDs, got, err, w.Text)
		}
	}
	if p.Unk() != 105 || !p.IsSpecial(104) || !p.IsSpecial(105) || p.IsSpecial(106) || p.VocabSize() != 1003 {
		t.Errorf("unk %d, vocab %d, special 104/105/106: %v %v %v", p.Unk(), p.VocabSize(), p.IsSpecial(104), p.IsSpecial(105), p.IsSpecial(106))
	}
}
