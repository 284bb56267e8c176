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

// TestDTypeGPT2: eval and generate on bf16 and int8 weights stay close to
// float32 (cross-entropy within 1% and 3%) and say which weights they ran.
func TestDTypeGPT2(t *testing.T) {
	const dir = "testdata/gpt2-pretrained"
	ce := map[string]float64{}
	for _, dtype := range []string{"fp32", "bf16", "int8"} {
		code, out, errs := runCLI("eval", "--model", dir, "--data", "testdata/gpt2-eval.txt", "--json", "--dtype", dtype)
		if code != 0 {
			t.Fatalf("eval --dtype %s: exit %d: %s", dtype, code, errs)
		}
		var got evalResult
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if (got.DType != "") != (dtype != "fp32") {
			t.Errorf("eval --dtype %s reports %q", dtype, got.DType)
		}
		ce[dtype] = got.CrossEntropy
		if code, out, errs := runCLI("generate", "--model", dir, "--prompt", "Hello", "--max-tokens", "5", "--temperature", "0", "--dtype", dtype); code != 0 || !strings.HasPrefix(out, "Hello") {
			t.Fatalf("generate --dtype %s: exit %d, %q %q", dtype, code, out, errs)
		}
	}
	for dtype, tol := range map[string]float64{"bf16": 0.01, "int8": 0.03} {
		if d := math.Abs(ce[dtype]-ce["fp32"]) / ce["fp32"]; d > tol {
			t.Errorf("%s: cross-entropy %.5f against float32's %.5f", dtype, ce[dtype], ce["fp32"])
		}
	}
	t.Logf("cross-entropy fp32 %.5f, bf16 %.5f, int8 %.5f", ce["fp32"], ce["bf16"], ce["int8"])
	if code, _, errs := runCLI("generate", "--model", dir, "--dtype", "int4"); code != 2 || !strings.Contains(errs, "fp32, bf16 or int8") {
		t.Errorf("--dtype int4: exit %d, %q", code, errs)
	}
}

// TestConvertDType: convert --dtype writes a compact copy of a model
// directory (every other file copied) that loads everywhere and evaluates
// as the original does with those weights; it refuses to overwrite.
func TestConvertDType(t *testing.T) {
	const dir = "testdata/gpt2-pretrained"
	for _, dtype := range []string{"int8", "bf16"} {
		out := t.TempDir() + "/copy"
		code, stdout, errs := runCLI("convert", "--model", dir, "--dtype", dtype, "--out", out)
		if code != 0 || !strings.Contains(stdout, "--dtype "+dtype) {
			t.Fatalf("convert --dtype %s: exit %d, %q %q", dtype, code, stdout, errs)
		}
		for _, f := range []string{"config.json", "vocab.json", "merges.txt", "model.safetensors"} {
			if _, err := os.Stat(out + "/" + f); err != nil {
				t.Errorf("%s: %v", dtype, err)
			}
		}
		orig, _ := os.Stat(dir + "/model.safetensors")
		small, _ := os.Stat(out + "/model.safetensors")
		if limit := map[string]float64{"int8": 0.45, "bf16": 0.65}[dtype]; float64(small.Size()) > limit*float64(orig.Size()) {
			t.Errorf("%s: %d bytes, the original %d", dtype, small.Size(), orig.Size())
		}
		var ce [2]float64
		for i, d := range []string{dir, out} {
			code, stdout, errs := runCLI("eval", "--model", d, "--data", "testdata/gpt2-eval.txt", "--json", "--dtype", dtype)
			if code != 0 {
				t.Fatalf("eval %s: exit %d: %s", d, code, errs)
			}
			var r evalResult
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatal(err)
			}
			ce[i] = r.CrossEntropy
		}
		if math.Abs(ce[0]-ce[1]) > 1e-4*ce[0] {
			t.Errorf("%s: the copy evaluates to %.6f, the original with %s weights to %.6f", dtype, ce[1], dtype, ce[0])
		}
		// Without --dtype the copy runs as it was saved, and says so;
		// --dtype fp32 widens it.
		for _, args := range [][]string{nil, {"--dtype", "fp32"}} {
			code, stdout, errs := runCLI(append([]string{"eval", "--model", out, "--data", "testdata/gpt2-eval.txt", "--json"}, args...)...)
			var r evalResult
			if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil {
				t.Fatalf("eval %s %v: exit %d: %s", out, args, code, errs)
			}
			want, note := dtype, "holds "+dtype+" weights"
			if args != nil {
				want, note = "", ""
			}
			if r.DType != want || !strings.Contains(errs, note) || (note == "" && errs != "") {
				t.Errorf("eval %s %v: dtype %q, stderr %q (want %q)", dtype, args, r.DType, errs, want)
			}
		}
		if code, _, errs := runCLI("convert", "--model", dir, "--dtype", dtype, "--out", out); code != 2 || !strings.Contains(errs, "already exists") {
			t.Errorf("convert over an existing directory: exit %d, %q", code, errs)
		}
	}
	if code, _, errs := runCLI("convert", "--model", dir, "--dtype", "int8"); code != 2 || !strings.Contains(errs, "--out") {
		t.Errorf("--dtype without --out: exit %d, %q", code, errs)
	}
}
