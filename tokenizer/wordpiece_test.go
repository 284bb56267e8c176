package tokenizer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// bertJSON is a tokenizer.json in the layout transformers writes for
// bert-base-uncased, with a vocabulary small enough to check by hand.
const bertJSON = `{
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [], "special_tokens": {}},
  "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
    "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5, "##able": 6, "hello": 7, ",": 8,
      "world": 9, "!": 10, "cafe": 11, "'": 12, "s": 13, "日": 14, "本": 15, "the": 16, "##s": 17, ".": 18}}
}`

func TestWordPieceBERT(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, []byte(bertJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadHF(path)
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]int32{
		// Lowercased, punctuation split off, [CLS] … [SEP] around.
		"Hello, World!": {2, 7, 8, 9, 10, 3},
		// Greedy longest match: un ##aff ##able.
		"unaffable": {2, 4, 5, 6, 3},
		// Accents stripped (NFD, marks dropped): café → cafe; "'" is punctuation.
		"Café's": {2, 11, 12, 13, 3},
		// A word that cannot be cut is one [UNK]; control characters vanish.
		"unknownword the\u0007s": {2, 1, 16, 17, 3},
		// CJK characters are words of their own.
		"日本": {2, 14, 15, 3},
		"":   {2, 3},
	} {
		got, err := tok.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Encode(%q) = %v, want %v", text, got, want)
		}
	}
	text, err := tok.Decode([]int32{2, 7, 8, 9, 10, 4, 5, 6, 16, 17, 18, 3})
	if err != nil {
		t.Fatal(err)
	}
	if text != "hello, world! unaffable thes." {
		t.Errorf("Decode = %q", text)
	}
	// Saved and read back, it encodes the same.
	saved := filepath.Join(t.TempDir(), "saved.json")
	if err := tok.(*WordPiece).SaveHF(saved); err != nil {
		t.Fatal(err)
	}
	again, err := LoadHF(saved)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Hello, World! unaffable Café's 日本", "the s"} {
		a, _ := tok.Encode(s)
		b, _ := again.Encode(s)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%q: %v before saving, %v after", s, a, b)
		}
	}
	if _, err := tok.Decode([]int32{99}); err == nil {
		t.Error("an id outside the vocabulary decoded")
	}
	if _, err := tok.Encode("\xff"); err == nil {
		t.Error("invalid UTF-8 encoded")
	}
}

func TestWordPieceRefusesWhatItCannotDo(t *testing.T) {
	dir := t.TempDir()
	for name, edit := range map[string][2]string{
		"pretokenizer": {`{"type": "BertPreTokenizer"}`, `{"type": "Metaspace"}`},
		"unk":          {`"unk_token": "[UNK]"`, `"unk_token": "<unk>"`},
		"normalizer":   {`"type": "BertNormalizer"`, `"type": "NFKC"`},
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(strings.Replace(bertJSON, edit[0], edit[1], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadHF(p)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming %s", name, err, p)
		}
	}
}
