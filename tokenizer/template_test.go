package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRobertaFilesAndTemplate: vocab.json + merges.txt with RoBERTa's
// special tokens (as BartTokenizer's save_pretrained writes them) load
// with those tokens special and the <s> X </s> template; the template
// survives tokenizer.json (RobertaProcessing) both ways.
func TestRobertaFilesAndTemplate(t *testing.T) {
	dir := t.TempDir()
	vocab := `{"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "h": 4, "i": 5, "hi": 6, "Ġ": 7, "Ġhi": 8, "<mask>": 9}`
	os.WriteFile(filepath.Join(dir, "vocab.json"), []byte(vocab), 0o644)
	os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\nh i\nĠ hi\n"), 0o644)
	tk, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := tk.(*ByteBPE)
	ids, err := b.EncodeWithSpecials("hi hi</s>")
	if err != nil || !slices.Equal(ids, []int32{0, 6, 8, 2, 2}) {
		t.Fatalf("EncodeWithSpecials = %v, %v", ids, err)
	}
	if !b.IsSpecial(9) || !b.IsSpecial(1) || b.IsSpecial(6) {
		t.Error("special tokens")
	}
	path := filepath.Join(dir, "tokenizer.json")
	if err := b.SaveHF(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]`) {
		t.Fatalf("tokenizer.json lacks RobertaProcessing:\n%s", raw)
	}
	back, err := LoadHF(path)
	if err != nil {
		t.Fatal(err)
	}
	if tp := back.(*ByteBPE).Template(); tp == nil || tp.CLSID != 0 || tp.SEPID != 2 {
		t.Fatalf("template after tokenizer.json: %+v", tp)
	}
	bad := []byte(`{"added_tokens": [{"id": 0, "content": "<s>", "special": true}], "pre_tokenizer": {"type": "ByteLevel"},
		"post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]},
		"model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1, "</s>": 2}, "merges": []}}`)
	if _, err := ParseHF(bad, "t.json"); err == nil || !strings.Contains(err.Error(), "post_processor") {
		t.Errorf("a template token that is not special: %v", err)
	}
}
