package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestBenchGemmJSON(t *testing.T) {
	code, out, errs := runCLI("bench", "gemm", "-m", "33", "-n", "17", "-k", "65", "-tb", "--threads", "2", "--seconds", "0.01", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output %q is not JSON: %v", out, err)
	}
	for _, key := range []string{"m", "n", "k", "gflops", "threads", "ms"} {
		if _, ok := r[key]; !ok {
			t.Errorf("JSON lacks %q: %s", key, out)
		}
	}
	if r["m"] != 33.0 || r["threads"] != 2.0 || r["trans_b"] != true || !(r["gflops"].(float64) > 0) {
		t.Errorf("unexpected values: %s", out)
	}
}

func TestBenchGemmText(t *testing.T) {
	code, out, _ := runCLI("bench", "gemm", "-m", "8", "-n", "8", "-k", "8", "--seconds", "0.01", "--impl", "go")
	if code != 0 || !strings.Contains(out, "GFLOPS (go,") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"bench", "nope"}, `unknown command "nope"`},
		{[]string{"bench", "gemm", "-m", "0"}, `invalid value "0" for flag -m: must be between 1 and 65536`},
		{[]string{"bench", "gemm", "--threads", "0"}, `flag -threads: must be between 1 and 1024`},
		{[]string{"bench", "gemm", "--impl", "sse9"}, `"sse9" not available`},
		{[]string{"bench", "gemm", "--bogus"}, "flag provided but not defined"},
		{[]string{"bench", "gemm", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, errs := runCLI(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("goformer %v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errs, tc.want)
		}
		if strings.Count(strings.TrimSpace(errs), "\n") > 0 && !strings.Contains(errs, "Usage") {
			t.Errorf("goformer %v: error is more than one line: %q", tc.args, errs)
		}
	}
	if code, out, _ := runCLI("bench", "gemm", "--help"); code != 0 {
		t.Errorf("--help exit %d %q", code, out)
	}
}

func TestBenchAttention(t *testing.T) {
	for _, extra := range [][]string{nil, {"--plain"}} {
		args := append([]string{"bench", "attention", "--batch", "2", "--heads", "2", "--seq", "70", "--dim", "16", "--causal", "--backward", "--seconds", "0.01", "--json"}, extra...)
		code, out, errs := runCLI(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("output %q is not JSON: %v", out, err)
		}
		// Visible pairs of a causal 70×70: 70·71/2; 12·d FLOPs each, 4 heads.
		if r["flops"] != float64(12*16*70*71/2*4) || !(r["gflops"].(float64) > 0) || !(r["ms"].(float64) > 0) {
			t.Errorf("%v: unexpected values: %s", extra, out)
		}
	}
	if code, _, errs := runCLI("bench", "attention", "--seq", "0"); code != 2 || !strings.Contains(errs, "flag -seq: must be between 1") {
		t.Errorf("--seq 0: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI("bench", "attention", "--seq", "100000", "--plain"); code != 2 || !strings.Contains(errs, "GiB") {
		t.Errorf("huge --plain: exit %d, %q", code, errs)
	}
}

func TestTrainResumeGenerate(t *testing.T) {
	dir := t.TempDir()
	out := dir + "/run"
	code, stdout, errs := runCLI("train", "--preset", "shakespeare-char-quick", "--steps", "6", "--out", out, "--samples=false")
	if code != 0 || !strings.Contains(stdout, "done: step 6") {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, errs)
	}
	for _, f := range []string{"metrics.jsonl", "checkpoint.safetensors", "loss.png", "train_config.json", "model/config.json", "model/model.safetensors", "model/tokenizer.json"} {
		if _, err := os.Stat(out + "/" + f); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// A second run into the same directory must not clobber it.
	if code, _, errs := runCLI("train", "--preset", "shakespeare-char-quick", "--steps", "6", "--out", out); code != 2 || !strings.Contains(errs, "--resume") {
		t.Errorf("rerun into an existing run: exit %d, %q", code, errs)
	}
	// Resume to a later step.
	if code, stdout, errs := runCLI("train", "--preset", "shakespeare-char-quick", "--steps", "8", "--out", out, "--resume", "--samples=false"); code != 0 || !strings.Contains(stdout, "done: step 8") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, errs)
	}
	code, stdout, errs = runCLI("generate", "--model", out+"/model", "--prompt", "ROMEO:", "--max-tokens", "20", "--seed", "3")
	if code != 0 || !strings.HasPrefix(stdout, "ROMEO:") || len([]rune(strings.TrimSpace(stdout))) != 26 {
		t.Fatalf("generate: exit %d, %q, %q", code, stdout, errs)
	}
	os.WriteFile(dir+"/sample.txt", []byte("ROMEO:\nBut soft, what light through yonder window breaks?\n"), 0o644)
	code, stdout2, errs := runCLI("eval", "--model", out+"/model", "--data", dir+"/sample.txt", "--json")
	var ev map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout2), &ev) != nil || !(ev["cross_entropy"].(float64) > 1) || ev["tokens"] != 57.0 {
		t.Fatalf("eval: exit %d, %q, %q", code, stdout2, errs)
	}
	if code, info, errs := runCLI("info", "--model", out+"/model"); code != 0 || !strings.Contains(info, "GPT-2 decoder: 4 layers, width 128") {
		t.Fatalf("info: exit %d, %q, %q", code, info, errs)
	}
	for _, m := range []string{"../../models/seq2seq/testdata/marian", "../../models/bert/testdata/qa"} {
		if code, info, errs := runCLI("info", "--model", m, "--json"); code != 0 || !strings.Contains(info, `"parameters"`) {
			t.Fatalf("info %s: exit %d, %q, %q", m, code, info, errs)
		}
	}
	_, again, _ := runCLI("generate", "--model", out+"/model", "--prompt", "ROMEO:", "--max-tokens", "20", "--seed", "3")
	if again != stdout {
		t.Fatalf("same seed, different text: %q vs %q", stdout, again)
	}
}

func TestTrainAndGenerateBadInput(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/bad.json", []byte(`{"n_layer": "four"}`), 0o644)
	os.WriteFile(dir+"/unknown.json", []byte(`{"n_layers": 4}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--preset", "nope"}, `unknown preset "nope"`},
		{[]string{"train", "--config", dir + "/missing.json"}, "missing.json"},
		{[]string{"train", "--config", dir + "/bad.json"}, `field "n_layer" must be a int`},
		{[]string{"train", "--config", dir + "/unknown.json"}, `unknown field "n_layers"`},
		{[]string{"train", "--steps", "-1"}, "flag -steps: must be between 1"},
		{[]string{"generate", "--model", dir + "/nowhere"}, "does not exist"},
		{[]string{"info", "--model", dir}, "is not a model directory"},
		{[]string{"generate", "--model", dir}, "not a model directory"},
		{[]string{"generate", "--model", dir, "--max-tokens", "-1"}, "flag -max-tokens: must be between 0 and 1048576"},
		{[]string{"generate", "--model", dir, "--max-tokens", "9223372036854775807"}, "flag -max-tokens: must be between 0 and 1048576"},
		{[]string{"generate", "--model", dir, "--temperature", "Inf"}, "flag -temperature: must be a number between 0 and 100"},
		{[]string{"generate", "--model", dir, "--top-p", "NaN"}, "flag -top-p: must be a number between 0 and 1"},
		{[]string{"generate", "--model", dir, "--temperature", "0", "--top-k", "5"}, "[--top-k] only apply when sampling"},
		{[]string{"generate", "--model", dir, "--prompt", "\xff"}, "not valid UTF-8"},
	} {
		code, _, errs := runCLI(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("goformer %v: exit %d, %q; want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestBLEUCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/r1", []byte("The dog bit the man.\nIt was not unexpected.\nThe man bit him first.\n"), 0o644)
	os.WriteFile(dir+"/r2", []byte("The dog had bit the man.\nNo one was surprised.\nThe man had bitten the dog.\n"), 0o644)
	stdinReader = strings.NewReader("The dog bit the man.\nIt wasn't surprising.\nThe man had just bitten him.\n")
	defer func() { stdinReader = os.Stdin }()
	code, out, errs := runCLI("bleu", "--ref", dir+"/r1", "--ref", dir+"/r2")
	if code != 0 || !strings.HasPrefix(out, "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)\nchrF2 = ") {
		t.Fatalf("exit %d, %q, %q", code, out, errs)
	}
	stdinReader = strings.NewReader("only one line\n")
	if code, _, errs := runCLI("bleu", "--ref", dir+"/r1"); code != 2 || !strings.Contains(errs, "the hypotheses have 1 lines but "+dir+"/r1 has 3") {
		t.Fatalf("short hypotheses: exit %d, %q", code, errs)
	}
}

func TestTokenizerCommands(t *testing.T) {
	dir := "../../tokenizer/testdata/gpt2"
	stdinReader = strings.NewReader("Hello world!")
	defer func() { stdinReader = os.Stdin }()
	if code, out, errs := runCLI("tokenizer", "encode", "--model", dir); code != 0 || out != "15496 995 0\n" {
		t.Fatalf("encode: exit %d, %q, %q", code, out, errs)
	}
	stdinReader = strings.NewReader("Hello world!")
	if code, out, _ := runCLI("tokenizer", "encode", "--model", dir, "--json"); code != 0 || out != "[15496,995,0]\n" {
		t.Fatalf("encode --json: exit %d, %q", code, out)
	}
	stdinReader = strings.NewReader("[15496, 995, 0]")
	if code, out, _ := runCLI("tokenizer", "decode", "--model", dir); code != 0 || out != "Hello world!" {
		t.Fatalf("decode: exit %d, %q", code, out)
	}
	stdinReader = strings.NewReader("bad \xff")
	if code, _, errs := runCLI("tokenizer", "encode", "--model", dir); code != 2 || !strings.Contains(errs, "not valid UTF-8") {
		t.Fatalf("invalid UTF-8: exit %d, %q", code, errs)
	}
	stdinReader = strings.NewReader("1 two 3")
	if code, _, errs := runCLI("tokenizer", "decode", "--model", dir); code != 2 || !strings.Contains(errs, `item 2 ("two")`) {
		t.Fatalf("bad id: exit %d, %q", code, errs)
	}
}
