package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseHF: any tokenizer.json either is refused with an error or gives
// a tokenizer that encodes and decodes text without a panic or a hang.
func FuzzParseHF(f *testing.F) {
	c, _ := NewChar("hello world")
	dir := f.TempDir()
	c.SaveHF(filepath.Join(dir, "char.json"))
	for _, p := range []string{filepath.Join(dir, "char.json"), "testdata/bert/tokenizer.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"added_tokens":[{"id":0,"content":"<pad>"}],"model":{"type":"BPE","merges":[]}}`))
	f.Add([]byte(`{"added_tokens":[{"id":2,"content":""}],"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}}`))
	f.Add([]byte(`{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]}}`))
	f.Add([]byte(`{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1,"##b":2},"unk_token":"[UNK]"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseHF(b, "fuzz.json")
		if err != nil {
			return
		}
		for _, s := range []string{"", "ab ab", "hello world", "Ünïcödé ✓ 中文", "a\x00b\n\t  x"} {
			ids, err := tok.Encode(s)
			if err != nil {
				continue
			}
			if _, err := tok.Decode(ids); err != nil {
				t.Fatalf("decoding the ids of %q: %v", s, err)
			}
		}
	})
}

// FuzzParseSentencePiece: any bytes parse to a SentencePiece model that
// encodes and decodes without panicking, or to an error.
func FuzzParseSentencePiece(f *testing.F) {
	if b, err := os.ReadFile("testdata/sentencepiece/unigram_identity.model"); err == nil {
		f.Add(b, "Grüße, 日本 👍  x")
	}
	if b, err := os.ReadFile("testdata/sentencepiece/bpe_bytes_user.model"); err == nil {
		f.Add(b[:4096], "C++ <sep>") // its pieces, cut (the whole file, 250 KB, slows fuzzing to a crawl)
	}
	f.Fuzz(func(t *testing.T, b []byte, text string) {
		sp, err := ParseSentencePiece(b)
		if err != nil {
			return
		}
		ids, _ := sp.Encode(text)
		if _, err := sp.Decode(ids); err != nil {
			t.Fatalf("decoding its own ids: %v", err)
		}
		_, _ = sp.Decode([]int32{0, int32(sp.VocabSize() - 1)})
	})
}
