package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTranslationWorkflow trains the quick Multi30k preset (a few seconds),
// then translates, evaluates and tokenizes with what it wrote, and checks
// that bad input gets one clear line and exit code 2.
func TestTranslationWorkflow(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCLI("train", "--preset", "multi30k-de-en-quick", "--out", out, "--steps", "30")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	model := filepath.Join(out, "model")
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		if _, err := os.Stat(filepath.Join(model, f)); err != nil {
			t.Fatalf("the model directory lacks %s", f)
		}
	}
	for _, f := range []string{"metrics.jsonl", "loss.png", "bleu.png", "train_config.json", "checkpoint.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("the run directory lacks %s", f)
		}
	}
	b, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if !strings.Contains(string(b), `"score_name":"bleu"`) {
		t.Errorf("metrics.jsonl has no BLEU: %s", b)
	}

	stdinReader = strings.NewReader("Ein Hund läuft im Schnee.\n\nZwei Männer spielen Fußball.\n")
	defer func() { stdinReader = os.Stdin }()
	code, stdout, stderr = runCLI("translate", "--model", model, "--beam", "2", "--json")
	if code != 0 {
		t.Fatalf("translate: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("translate printed %d lines for 3 inputs: %q", len(lines), stdout)
	}
	var r struct{ Source, Translation string }
	if err := json.Unmarshal([]byte(lines[1]), &r); err != nil || r.Source != "" || r.Translation != "" {
		t.Errorf("the empty line should translate to an empty line: %q (%v)", lines[1], err)
	}

	dir := t.TempDir()
	src, ref := filepath.Join(dir, "s.de"), filepath.Join(dir, "r.en")
	os.WriteFile(src, []byte("Ein Hund.\nEine Katze.\n"), 0o644)
	os.WriteFile(ref, []byte("A dog.\nA cat.\n"), 0o644)
	code, stdout, stderr = runCLI("eval", "--model", model, "--src", src, "--ref", ref, "--beam", "1", "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(stdout), &e); err != nil || e["sentences"] != 2.0 {
		t.Errorf("eval output %q (%v)", stdout, err)
	}

	stdinReader = strings.NewReader("Ein Hund")
	code, stdout, _ = runCLI("tokenizer", "encode", "--model", model)
	if code != 0 || len(strings.Fields(stdout)) == 0 {
		t.Errorf("tokenizer encode with tokenizer.json: exit %d, %q", code, stdout)
	}

	os.WriteFile(filepath.Join(dir, "short.en"), []byte("one\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"d_model": 64, "bogus": 1}`), 0o644)
	os.WriteFile(filepath.Join(dir, "type.json"), []byte(`{"d_model": "wide"}`), 0o644)
	for _, tc := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"translate"}, "", "--model is required"},
		{[]string{"translate", "--model", dir}, "x", "is not a model directory"},
		{[]string{"translate", "--model", model, "--beam", "0"}, "x", "flag -beam: must be between 1 and 64"},
		{[]string{"translate", "--model", model, "--beam", "100000"}, "x", "flag -beam: must be between 1 and 64"},
		{[]string{"translate", "--model", model, "--alpha", "NaN"}, "x", "flag -alpha: must be a number between 0 and 10"},
		{[]string{"translate", "--model", model, "--top-k", "-5"}, "x", "flag -top-k: must be between 0"},
		{[]string{"translate", "--model", model, "--top-k", "5"}, "x", "[--top-k] only apply when sampling"},
		{[]string{"translate", "--model", model, "--threads", "10000000"}, "x", "flag -threads: must be between 0 and 1024"},
		{[]string{"translate", "--model", model, "--beam", "4", "--temperature", "0.8"}, "x", "does not combine"},
		{[]string{"translate", "--model", model, "--temperature", "0.8", "--top-p", "2"}, "x", "flag -top-p: must be a number between 0 and 1"},
		{[]string{"translate", "--model", model}, "bad \xff\n", "not valid UTF-8"},
		{[]string{"eval", "--model", model, "--src", src, "--ref", filepath.Join(dir, "short.en")}, "", "has 2 lines but"},
		{[]string{"eval", "--model", model, "--data", src}, "", "is a translation model"},
		{[]string{"train", "--preset", "multi30k-de-en-quick", "--batch", "3"}, "", "does not apply"},
		{[]string{"train", "--preset", "multi30k-de-en-quick", "--config", filepath.Join(dir, "bad.json")}, "", `unknown field "bogus"`},
		{[]string{"train", "--preset", "multi30k-de-en-quick", "--config", filepath.Join(dir, "type.json")}, "", `field "d_model" must be a int`},
		{[]string{"train", "--preset", "multi30k-de-en-quick", "--out", out}, "", "already holds a run"},
	} {
		stdinReader = strings.NewReader(tc.stdin)
		code, _, errs := runCLI(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("goformer %v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestTokenizerTrainCommand(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "c.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("the cat sat on the mat\nthe dog sat on the log\n", 20)), 0o644)
	code, stdout, stderr := runCLI("tokenizer", "train", "--vocab-size", "270", "--out", dir, corpus)
	if code != 0 || !strings.Contains(stdout, "tokenizer.json") {
		t.Fatalf("exit %d, %q %q", code, stdout, stderr)
	}
	stdinReader = strings.NewReader("the cat sat")
	defer func() { stdinReader = os.Stdin }()
	code, ids, _ := runCLI("tokenizer", "encode", "--model", dir)
	if code != 0 {
		t.Fatal("encode failed")
	}
	stdinReader = strings.NewReader(ids)
	code, text, _ := runCLI("tokenizer", "decode", "--model", dir)
	if code != 0 || text != "the cat sat" {
		t.Errorf("round trip through the trained tokenizer: %q → %q → %q", "the cat sat", ids, text)
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("ok\nnot \xff ok\n"), 0o644)
	code, _, errs := runCLI("tokenizer", "train", "--out", dir, bad)
	if code != 2 || !strings.Contains(errs, bad+":2") {
		t.Errorf("invalid UTF-8 corpus: exit %d, %q", code, errs)
	}
}
