package metrics

import (
	"math"
	"strings"
	"testing"
)

func TestTokenize13a(t *testing.T) {
	for in, want := range map[string]string{
		"Hello, world!":                "Hello , world !",
		"It costs $3,000.50 (approx.)": "It costs $ 3,000.50 ( approx . )",
		"A 1990-2000 range; e.g. x/y":  "A 1990 - 2000 range ; e . g . x / y",
		"&quot;Quoted&quot; &amp; co":  `" Quoted " & co`,
		"  spaced   out  ":             "spaced out",
		"Ünïcode – dash «quotes»":      "Ünïcode – dash «quotes»",
	} {
		if got := strings.Join(Tokenize13a(in), " "); got != want {
			t.Errorf("Tokenize13a(%q) = %q, want %q", in, got, want)
		}
	}
}

// sacreBLEU's README example (two reference streams).
func TestCorpusBLEUSacreBLEUExample(t *testing.T) {
	refs := [][]string{
		{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
		{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
	}
	sys := []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
	b, err := CorpusBLEU(sys, refs)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestCorpusBLEUEdgeCases(t *testing.T) {
	b, _ := CorpusBLEU([]string{"a b c d e"}, [][]string{{"a b c d e"}})
	if math.Abs(b.Score-100) > 1e-9 {
		t.Fatalf("identical: %v", b)
	}
	// An empty hypothesis line counts zero words; the corpus still scores.
	b, _ = CorpusBLEU([]string{"the cat sat on the mat", ""}, [][]string{{"the cat sat on the mat", "a dog"}})
	if b.HypLen != 6 || b.RefLen != 8 || math.Abs(b.BP-math.Exp(1-8.0/6)) > 1e-12 {
		t.Fatalf("empty line: %v", b)
	}
	// No 4-gram matches: exp smoothing gives 100/(2·total).
	b, _ = CorpusBLEU([]string{"a b c x d e"}, [][]string{{"a b c y d e"}})
	if b.Correct[3] != 0 || math.Abs(b.Precisions[3]-100/(2*3.0)) > 1e-12 {
		t.Fatalf("smoothing: %v %v", b.Correct, b.Precisions)
	}
	if _, err := CorpusBLEU([]string{"a"}, [][]string{{"a", "b"}}); err == nil || !strings.Contains(err.Error(), "1 hypotheses but reference stream 1 has 2 lines") {
		t.Fatalf("length mismatch: %v", err)
	}
	b, _ = CorpusBLEU([]string{""}, [][]string{{"x"}})
	if b.Score != 0 {
		t.Fatalf("empty hypothesis: %v", b)
	}
}

// Values from the Hugging Face metric card for sacreBLEU's chrF.
func TestCorpusChrF(t *testing.T) {
	c, _ := CorpusChrF([]string{"The relationship between Obama and Netanyahu is not exactly friendly."},
		[]string{"The ties between Obama and Netanyahu are not particularly friendly."})
	if math.Abs(c.Score-61.576379378113785) > 1e-9 {
		t.Fatalf("chrF = %.12f, want 61.576379378113785", c.Score)
	}
	c, _ = CorpusChrF([]string{"The relationship between cats and dogs is not exactly friendly.", "a good bookshop is just a genteel black hole that knows how to read."},
		[]string{"The relationship between dogs and cats is not exactly friendly.", "A good bookshop is just a genteel Black Hole that knows how to read."})
	if math.Abs(c.Score-84.64214891738334) > 1e-9 {
		t.Fatalf("chrF = %.12f, want 84.64214891738334", c.Score)
	}
	if c.String() != "chrF2 = 84.64" {
		t.Fatalf("String() = %q", c.String())
	}
}
