package tokenizer

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/goformer/goformer/data"
)

func loadGPT2(t testing.TB) *ByteBPE {
	t.Helper()
	tok, err := LoadGPT2("testdata/gpt2/vocab.json", "testdata/gpt2/merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGPT2KnownIDs(t *testing.T) {
	tok := loadGPT2(t)
	if tok.VocabSize() != 50257 {
		t.Fatalf("vocabulary %d, want 50257", tok.VocabSize())
	}
	for text, want := range map[string]string{
		"Hello world!":    "[15496 995 0]",
		" Hello":          "[18435]",
		"<|endoftext|>":   "[50256]", // a special token, as Hugging Face's GPT-2 tokenizer reads it
		"a<|endoftext|>b": "[64 50256 65]",
		"don't":           "[9099 470]",
		"   spaced":       "[220 220 38980]", // "  " (no merge joins two Ġ), then "Ġspaced"
		"\n\nHi":          "[198 198 17250]",
	} {
		ids, err := tok.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(ids); got != want {
			t.Errorf("Encode(%q) = %s, want %s", text, got, want)
		}
	}
}

func TestSplitGPT2(t *testing.T) {
	for text, want := range map[string][]string{
		"Hello world!":        {"Hello", " world", "!"},
		"I'm here, it's 2024": {"I", "'m", " here", ",", " it", "'s", " 2024"},
		"a   b":               {"a", "  ", " b"},
		"end   ":              {"end", "   "},
		"x\n\ny":              {"x", "\n", "\n", "y"},
		"héllo wörld ?!":      {"héllo", " wörld", " ?!"},
	} {
		if got := SplitGPT2(text); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("SplitGPT2(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestByteBPERoundTrip(t *testing.T) {
	tok := loadGPT2(t)
	for _, text := range []string{"", "plain ascii", "Ünïcode – “quotes” 日本語 🙂 emoji", "tabs\tand\r\nnewlines  ", "ζ∑∫ 123,456.78"} {
		ids, err := tok.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		back, err := tok.Decode(ids)
		if err != nil || back != text {
			t.Errorf("round trip of %q gave %q (%v)", text, back, err)
		}
	}
	if _, err := tok.Encode("bad \xff byte"); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
	if _, err := tok.Decode([]int32{60000}); err == nil {
		t.Error("unknown id decoded")
	}
}

func TestByteBPESpeed(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	tok := loadGPT2(t)
	text := data.TinyShakespeare()[:300000]
	start := time.Now()
	ids, err := tok.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	mbps := float64(len(text)) / 1e6 / time.Since(start).Seconds()
	t.Logf("encoded %d bytes into %d tokens at %.1f MB/s", len(text), len(ids), mbps)
	if !utf8.ValidString(text) {
		t.Fatal("bad sample")
	}
}

// TestGPT2ThroughTokenizerJSON: GPT-2's files, saved as tokenizer.json and
// read back, give GPT-2's ids.
func TestGPT2ThroughTokenizerJSON(t *testing.T) {
	tok, err := LoadGPT2("testdata/gpt2/vocab.json", "testdata/gpt2/merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.SaveHF(path); err != nil {
		t.Fatal(err)
	}
	again, err := LoadHF(path)
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]int32{"Hello world!": {15496, 995, 0}, "<|endoftext|>": {50256}} {
		got, err := again.Encode(text)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
	if again.VocabSize() != 50257 {
		t.Errorf("vocabulary %d, want 50257", again.VocabSize())
	}
}

// BenchmarkEncodeGPT2 encodes Tiny Shakespeare (1.1 MB) with GPT-2's BPE,
// from a cold word cache each time: MB/s is bytes of text per second.
func BenchmarkEncodeGPT2(b *testing.B) {
	text := data.TinyShakespeare()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		b.StopTimer()
		tok, err := LoadGPT2("testdata/gpt2/vocab.json", "testdata/gpt2/merges.txt")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := tok.Encode(text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeGPT2 decodes the ids of Tiny Shakespeare.
func BenchmarkDecodeGPT2(b *testing.B) {
	text := data.TinyShakespeare()
	tok, err := LoadGPT2("testdata/gpt2/vocab.json", "testdata/gpt2/merges.txt")
	if err != nil {
		b.Fatal(err)
	}
	ids, _ := tok.Encode(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tok.Decode(ids); err != nil {
			b.Fatal(err)
		}
	}
}
