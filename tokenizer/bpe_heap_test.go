package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// referenceBPE is GPT-2's own loop (OpenAI's encoder.py): find the
// best-ranked adjacent pair, merge all its occurrences left to right,
// repeat. Quadratic, and the definition the heap must agree with.
func referenceBPE(t *ByteBPE, word string) []int32 {
	var symbols []string
	for i := 0; i < len(word); i++ {
		symbols = append(symbols, string(t.byteEnc[word[i]]))
	}
	for len(symbols) > 1 {
		best, at := -1, -1
		for i := 0; i+1 < len(symbols); i++ {
			if r, ok := t.ranks[[2]string{symbols[i], symbols[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		a, b := symbols[at], symbols[at+1]
		var merged []string
		for i := 0; i < len(symbols); i++ {
			if i+1 < len(symbols) && symbols[i] == a && symbols[i+1] == b {
				merged = append(merged, a+b)
				i++
			} else {
				merged = append(merged, symbols[i])
			}
		}
		symbols = merged
	}
	ids := make([]int32, len(symbols))
	for i, s := range symbols {
		ids[i] = t.vocab[s]
	}
	return ids
}

// TestBPEHeapMatchesGPT2Loop: the heap-ordered merges give GPT-2's loop's
// tokens on random words of GPT-2's vocabulary's pieces, repeated letters
// (overlapping pairs) and random bytes.
func TestBPEHeapMatchesGPT2Loop(t *testing.T) {
	tok, err := LoadGPT2("testdata/gpt2/vocab.json", "testdata/gpt2/merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	pieces := []string{"a", "aa", "the", "ing", "tion", "é", "ss", "xyz", "ab", "ba", "1", "00", "ü", "中", "🙂"}
	for trial := 0; trial < 2000; trial++ {
		var sb strings.Builder
		for range 1 + rng.IntN(12) {
			if rng.IntN(5) == 0 {
				sb.WriteByte(byte(rng.IntN(256)))
			} else {
				sb.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		w := sb.String()
		got, err := tok.bpe(nil, w)
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceBPE(tok, w); !slices.Equal(got, want) {
			t.Fatalf("%q: heap %v, GPT-2's loop %v", w, got, want)
		}
	}
}

// TestBPEHugeWordIsFast: one word of a megabyte (no spaces: one
// pre-tokenised word) encodes in well under the time the quadratic loop
// took for 100 KB (17 s), and decodes back.
func TestBPEHugeWordIsFast(t *testing.T) {
	tok, err := LoadGPT2("testdata/gpt2/vocab.json", "testdata/gpt2/merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{strings.Repeat("a", 1<<20), strings.Repeat("abracadabra", 1<<16)} {
		start := time.Now()
		ids, err := tok.Encode(w)
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Fatalf("a %d-byte word took %v", len(w), el)
		}
		if back, _ := tok.Decode(ids); back != w {
			t.Fatal("round trip of a huge word changed it")
		}
		t.Logf("%d bytes → %d tokens in %v", len(w), len(ids), time.Since(start))
	}
}
