package tokenizer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var offsetTexts = []string{
	"Café Übersicht: the naïve résumé's 3D-graphics (OpenGL) engine!",
	"日本語 text, mixed\twith\ntabs and  double  spaces.",
	"libfoo-dev provides headers; see https://example.org/x?y=1 for more.",
	"ÉCOLE été — “quotes” and Straße",
	"un\u0301accented combining mark",
}

// trainedWordPiece trains a small vocabulary on the texts above and some
// repetition, and checks that it saves and loads.
func trainedWordPiece(t *testing.T) *WordPiece {
	t.Helper()
	tr := &WordPieceTrainer{VocabSize: 300}
	for i := 0; i < 5; i++ {
		for _, s := range offsetTexts {
			if err := tr.Add(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	wp, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := wp.SaveHF(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadHF(path)
	if err != nil {
		t.Fatal(err)
	}
	return back.(*WordPiece)
}

func TestWordPieceTrainer(t *testing.T) {
	wp := trainedWordPiece(t)
	for i, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		if id, ok := wp.vocab[s]; !ok || id != int32(i) {
			t.Errorf("%s has id %d", s, id)
		}
	}
	if _, ok := wp.vocab["engine"]; !ok {
		t.Error("a frequent word was not learned whole")
	}
	ids, err := wp.Encode("Café engine")
	if err != nil || ids[0] != wp.CLS() || ids[len(ids)-1] != wp.SEP() || slices.Contains(ids, wp.unk) {
		t.Errorf("Encode = %v, %v", ids, err)
	}
}

// TestEncodeOffsets: the ids are Encode's without the template; every
// token's span of the original text, normalised, spells the token (less
// its "##"); words cover their tokens.
func TestEncodeOffsets(t *testing.T) {
	wp := trainedWordPiece(t)
	for _, text := range offsetTexts {
		enc, err := wp.EncodeOffsets(text)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := wp.Encode(text)
		if !slices.Equal(enc.IDs, ids[1:len(ids)-1]) {
			t.Fatalf("%q: EncodeOffsets ids %v, Encode %v", text, enc.IDs, ids)
		}
		for i, id := range enc.IDs {
			o := enc.Offsets[i]
			if o[0] < 0 || o[1] > len(text) || o[0] >= o[1] || !utf8.ValidString(text[o[0]:o[1]]) {
				t.Fatalf("%q: token %d has span %v", text, i, o)
			}
			if id == wp.unk {
				continue
			}
			piece := strings.TrimPrefix(wp.tokens[id], "##")
			if got := strings.TrimSpace(wp.normalize(text[o[0]:o[1]])); got != piece {
				t.Errorf("%q: token %q has span %q, which normalises to %q", text, wp.tokens[id], text[o[0]:o[1]], got)
			}
			if i > 0 && enc.Words[i] < enc.Words[i-1] {
				t.Errorf("word ids go back")
			}
		}
		s, e := enc.WordSpan(enc.Words[len(enc.Words)-1])
		if s < 0 || e != enc.Offsets[len(enc.Offsets)-1][1] {
			t.Errorf("%q: last word span %d..%d", text, s, e)
		}
	}
}

// TestByteBPEEncodeOffsets: the ids are Encode's; the spans tile the text
// (less the leading spaces that trim_offsets leaves out) and each spells
// its token's bytes.
func TestByteBPEEncodeOffsets(t *testing.T) {
	bt := &BPETrainer{VocabSize: 400, Special: []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}}
	for _, s := range offsetTexts {
		bt.Add(s)
	}
	tok, err := bt.Train()
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range offsetTexts {
		enc, err := tok.EncodeOffsets(text)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := tok.Encode(text)
		if !slices.Equal(enc.IDs, ids) {
			t.Fatalf("%q: ids differ from Encode", text)
		}
		prevEnd := 0
		for i, id := range enc.IDs {
			o := enc.Offsets[i]
			raw, _ := tok.Decode([]int32{id})
			if strings.TrimLeft(text[prevEnd:o[1]], " ") != strings.TrimLeft(raw, " ") || text[o[0]:o[1]] != strings.TrimLeft(raw, " ") && strings.TrimSpace(raw) != "" {
				t.Fatalf("%q: token %d (%q) has span %v = %q", text, i, raw, o, text[o[0]:o[1]])
			}
			prevEnd = o[1]
		}
		if prevEnd != len(text) {
			t.Errorf("%q: the spans end at %d of %d", text, prevEnd, len(text))
		}
	}
}
