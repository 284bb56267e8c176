package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCharRoundTrip(t *testing.T) {
	c, err := NewChar("hello, wörld\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.VocabSize() != 11 { // h e l o , space w ö r d newline
		t.Fatalf("vocabulary %d, want 11", c.VocabSize())
	}
	ids, err := c.Encode("wörld, hello")
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := c.Decode(ids); back != "wörld, hello" {
		t.Fatalf("round trip gave %q", back)
	}
	if _, err := c.Encode("hex"); err == nil || !strings.Contains(err.Error(), `'x' at position 2`) {
		t.Fatalf("unknown character: %v", err)
	}
	if _, err := c.Decode([]int32{99}); err == nil {
		t.Fatal("unknown id decoded")
	}
	if _, err := NewChar("\xff"); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
	path := filepath.Join(t.TempDir(), "vocab.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	c2, err := LoadChar(path)
	if err != nil || c2.VocabSize() != 11 {
		t.Fatalf("LoadChar: %v", err)
	}
	if ids2, _ := c2.Encode("wörld, hello"); len(ids2) != len(ids) || ids2[1] != ids[1] {
		t.Fatal("loaded vocabulary encodes differently")
	}
}
