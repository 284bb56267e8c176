package tokenizer

import (
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
	want := readWrapperFixture(t, "testdata/pegasus/expected.json")
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
