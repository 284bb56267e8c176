package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLoadDirRecognisesEveryLayout: the same loader reads a character
// tokenizer.json, an old goformer character vocab.json, and GPT-2's
// vocab.json + merges.txt, each by its content, and says what is missing.
func TestLoadDirRecognisesEveryLayout(t *testing.T) {
	text := "First Citizen:\nBefore we proceed, hear me speak. Ünïcödé ✓"
	c, err := NewChar(text)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c.Encode(text)

	hf := t.TempDir()
	if err := c.SaveHF(filepath.Join(hf, HFFile)); err != nil {
		t.Fatal(err)
	}
	old := t.TempDir()
	if err := c.Save(filepath.Join(old, VocabFile)); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{hf, old} {
		tok, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tok.Encode(text)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%s: ids %v, %v; want %v", dir, got, err, want)
		}
		if back, _ := tok.Decode(got); back != text {
			t.Fatalf("%s: round trip gave %q", dir, back)
		}
	}
	b, _ := os.ReadFile(filepath.Join(hf, HFFile))
	for _, s := range []string{`"type": "BPE"`, `"merges": []`, `"type": "Fuse"`, `"pre_tokenizer": null`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("the character tokenizer.json lacks %s", s)
		}
	}

	gpt2 := t.TempDir()
	for _, f := range []string{VocabFile, MergesFile} {
		b, err := os.ReadFile(filepath.Join("testdata", "gpt2", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(gpt2, f), b, 0o644)
	}
	tok, err := LoadDir(gpt2)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := tok.Encode("Hello world!"); !slices.Equal(ids, []int32{15496, 995, 0}) {
		t.Fatalf("GPT-2 directory: %v", ids)
	}
	os.Remove(filepath.Join(gpt2, MergesFile))
	if _, err := LoadDir(gpt2); err == nil || !strings.Contains(err.Error(), "merges.txt is missing") {
		t.Fatalf("GPT-2 vocab without merges: %v", err)
	}
	if _, err := LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no tokenizer") {
		t.Fatalf("empty directory: %v", err)
	}
}
