package tokenizer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestTrainBPEHandComputed trains on a corpus small enough to follow by
// hand: "aaab aaab ab" merges (a, a) first (4 times: twice in each aaab),
// then (aa, a)… the test checks the first merges and the vocabulary layout.
func TestTrainBPEHandComputed(t *testing.T) {
	tr := &BPETrainer{VocabSize: 2 + 256 + 3, Special: []string{"<pad>", "</s>"}}
	if err := tr.Add("aaab aaab ab"); err != nil {
		t.Fatal(err)
	}
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 261 {
		t.Fatalf("vocabulary %d, want 261", tok.VocabSize())
	}
	// Words: "aaab" ×1, " aaab" ×1 (Ġaaab), " ab" ×1 (Ġab).
	// Pair counts: (a,a) 4, (a,b) 3, (Ġ,a) 2 → first merge a a.
	// Then: aa a ×2, a b ×3 (aab: "aa","a","b" → (a,b) 2 + Ġab 1), (Ġ,aa) 1, (Ġ,a) 1 → a b.
	// Then: (aa, ab) 2, (Ġ, aa) 1, (Ġ, ab) 1 → aa ab.
	want := [][2]string{{"a", "a"}, {"a", "b"}, {"aa", "ab"}}
	if !reflect.DeepEqual(tok.merges, want) {
		t.Fatalf("merges %v, want %v", tok.merges, want)
	}
	if id, _ := tok.ID("<pad>"); id != 0 {
		t.Errorf("<pad> id %d, want 0", id)
	}
	if id, _ := tok.ID("</s>"); id != 1 {
		t.Errorf("</s> id %d, want 1", id)
	}
	ids, err := tok.Encode("aaab</s>")
	if err != nil {
		t.Fatal(err)
	}
	aaab, _ := tok.ID("aaab")
	if !reflect.DeepEqual(ids, []int32{aaab, 1}) {
		t.Errorf("Encode = %v, want [%d 1]", ids, aaab)
	}
}

// TestTrainBPERoundTripAndHFFile trains on real text, checks that any
// UTF-8 text round-trips, and that the tokenizer.json written reads back
// to a tokenizer giving the same ids.
func TestTrainBPERoundTripAndHFFile(t *testing.T) {
	tr := &BPETrainer{VocabSize: 600, Special: []string{"<pad>", "</s>"}}
	text := strings.Repeat("Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche. Two young, White males are outside near many bushes.\n", 3) +
		"Ein kleines Mädchen klettert in ein Spielhaus aus Holz. A little girl climbing into a wooden playhouse.\n"
	if err := tr.Add(text); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add("\xff\xfe"); err == nil {
		t.Error("invalid UTF-8 training text accepted")
	}
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{text, "日本語 and emoji 🙂, tabs\tand  spaces ", "", "Ünïcödé — «quotes»"} {
		ids, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := tok.Decode(ids)
		if err != nil {
			t.Fatal(err)
		}
		if back != s {
			t.Errorf("round trip of %q gave %q", s, back)
		}
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.SaveHF(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadHF(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tok.Encode(text + "</s>")
	b, _ := loaded.Encode(text + "</s>")
	if !reflect.DeepEqual(a, b) || loaded.VocabSize() != tok.VocabSize() {
		t.Errorf("reloaded tokenizer differs: %d vs %d tokens", loaded.VocabSize(), tok.VocabSize())
	}
	// Fewer merges than asked when the text runs out of pairs.
	if tok.VocabSize() > 600 {
		t.Errorf("vocabulary %d exceeds the 600 asked", tok.VocabSize())
	}
}

func TestLoadHFErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notjson":  "{",
		"unigram":  `{"model": {"type": "Unigram"}}`,
		"nomodel":  `{"version": "1.0"}`,
		"badmerge": `{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}}`,
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadHF(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
}

func BenchmarkTrainBPE(b *testing.B) {
	text := strings.Repeat("Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche. ", 2000)
	for b.Loop() {
		tr := &BPETrainer{VocabSize: 2000}
		_ = tr.Add(text)
		if _, err := tr.Train(); err != nil {
			b.Fatal(err)
		}
	}
}
