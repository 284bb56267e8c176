package main

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

// TestSavePretrainedGPT2: a GPT-2 directory laid out as transformers'
// save_pretrained writes it (config.json with every GPT2Config field,
// "transformer." tensor names and mask buffers, vocab.json as a token → id
// map with merges.txt) works with info, tokenizer encode, eval and
// generate; eval gives PyTorch's cross-entropy and greedy generation
// PyTorch's tokens (fixture: scripts/reference/gpt2_pretrained.py).
func TestSavePretrainedGPT2(t *testing.T) {
	const dir = "testdata/gpt2-pretrained"
	var ref struct {
		CrossEntropy float64 `json:"cross_entropy"`
		Tokens       int     `json:"tokens"`
		Prompt       string  `json:"prompt"`
		NewTokens    int     `json:"new_tokens"`
		GreedyText   string  `json:"greedy_text"`
	}
	b, err := os.ReadFile("testdata/gpt2-pretrained-ref.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("eval", "--model", dir, "--data", "testdata/gpt2-eval.txt", "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errs)
	}
	var got evalResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Tokens != ref.Tokens || math.Abs(got.CrossEntropy-ref.CrossEntropy) > 1e-5*ref.CrossEntropy {
		t.Fatalf("eval: cross-entropy %.7f over %d tokens, PyTorch %.7f over %d", got.CrossEntropy, got.Tokens, ref.CrossEntropy, ref.Tokens)
	}
	code, out, errs = runCLI("generate", "--model", dir, "--prompt", ref.Prompt, "--max-tokens", "12", "--temperature", "0")
	if code != 0 || out != ref.Prompt+ref.GreedyText+"\n" {
		t.Fatalf("generate: exit %d, %q (stderr %q), want %q", code, out, errs, ref.Prompt+ref.GreedyText)
	}
	if code, out, errs := runCLI("info", "--model", dir); code != 0 || !strings.Contains(out, "gpt2") {
		t.Fatalf("info: exit %d, %q %q", code, out, errs)
	}
}
