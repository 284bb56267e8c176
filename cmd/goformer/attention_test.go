package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttentionCommand draws the attention of an encoder-decoder (a tiny
// Pegasus trained here and the t5-small-shaped hub directory), a GPT-2 and
// a BERT, checks the PNGs decode and the JSON holds every layer's maps
// with rows summing to 1, and that bad requests are refused.
func TestAttentionCommand(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		maps int // in the JSON: every layer, each kind
	}{
		{"pegasus", []string{"--model", tinyTranslator(t), "--src", "ein hund läuft", "--tgt", "a dog runs"}, 3},
		{"t5", []string{"--model", "../../models/t5/testdata/t5-small", "--src", "A dog runs.", "--tgt", "Ein Hund läuft."}, 6},
		{"t5 translated", []string{"--model", "../../models/t5/testdata/flan-t5-small", "--src", "A dog runs."}, 8},
		{"gpt2", []string{"--model", "testdata/gpt2-pretrained", "--text", "Hello world, says the model."}, 2},
		{"bert", []string{"--model", tinyQA(t), "--text", "the tool converts files"}, 1},
	} {
		out := t.TempDir()
		code, stdout, stderr := runCLI(append([]string{"attention", "--out", out}, c.args...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.name, code, stderr)
		}
		pngs, _ := filepath.Glob(filepath.Join(out, "*.png"))
		if len(pngs) != c.maps+1 {
			t.Errorf("%s: %d PNGs, want %d heatmaps and the grid: %s", c.name, len(pngs), c.maps, stdout)
		}
		for _, p := range pngs {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := png.Decode(f); err != nil {
				t.Errorf("%s: %s: %v", c.name, p, err)
			}
			f.Close()
		}
		if strings.Contains(c.name, "pegasus") || strings.Contains(c.name, "t5") {
			if !strings.Contains(stdout, "alignment (layer ") {
				t.Errorf("%s: no alignment in %q", c.name, stdout)
			}
		}
		code, stdout, stderr = runCLI(append([]string{"attention", "--json"}, c.args...)...)
		if code != 0 {
			t.Fatalf("%s --json: exit %d: %s", c.name, code, stderr)
		}
		var res struct {
			Source []string `json:"source"`
			Maps   []struct {
				Heads   int       `json:"heads"`
				Queries []string  `json:"queries"`
				Keys    []string  `json:"keys"`
				Probs   []float32 `json:"probs"`
			} `json:"maps"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(res.Maps) != c.maps || len(res.Source) == 0 {
			t.Fatalf("%s: %d maps, %d source tokens", c.name, len(res.Maps), len(res.Source))
		}
		for _, m := range res.Maps {
			if len(m.Probs) != m.Heads*len(m.Queries)*len(m.Keys) {
				t.Fatalf("%s: %d probabilities for %d×%d×%d", c.name, len(m.Probs), m.Heads, len(m.Queries), len(m.Keys))
			}
			for r := 0; r < m.Heads*len(m.Queries); r++ {
				var s float32
				for _, p := range m.Probs[r*len(m.Keys) : (r+1)*len(m.Keys)] {
					s += p
				}
				if s < 0.9999 || s > 1.0001 {
					t.Fatalf("%s: a row sums to %g", c.name, s)
				}
			}
		}
	}
	t5 := "../../models/t5/testdata/t5-small"
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", t5, "--text", "x"}, "reads --src"},
		{[]string{"--model", "testdata/gpt2-pretrained", "--src", "x"}, "reads --text"},
		{[]string{"--model", t5, "--src", "x", "--layer", "7", "--json"}, "no layer 7"},
		{[]string{"--model", t5, "--src", "x", "--head", "9", "--json"}, "--head 9"},
		{[]string{"--model", t5, "--src", "x", "--align-layer", "5", "--json"}, "align layer 5, but the decoder has 2 layers"},
	} {
		code, _, stderr := runCLI(append([]string{"attention"}, bad.args...)...)
		if code != exitBadInput || !strings.Contains(stderr, bad.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", bad.args, code, stderr, bad.want)
		}
	}
}
