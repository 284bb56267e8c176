package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/tokenizer"
)

type evalResult struct {
	Model        string  `json:"model"`
	Data         string  `json:"data"`
	Tokens       int     `json:"tokens"`
	CrossEntropy float64 `json:"cross_entropy"`
	Perplexity   float64 `json:"perplexity"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer eval",
		"Prints a language model's mean next-token cross-entropy (nats) and perplexity over a text, read in\n"+
			"consecutive windows of the model's context (each window predicts its tokens from the ones before).",
		"  goformer eval --model runs/shakespeare-char-small/model              # Tiny Shakespeare's validation split\n"+
			"  goformer eval --model DIR --data my.txt --json", stderr)
	dir := fs.String("model", "", "model directory (required)")
	dataPath := fs.String("data", "", "a UTF-8 text file (default: the validation 10% of the built-in Tiny Shakespeare)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("eval: --model is required")
	}
	m, tok, err := loadCharGPT("eval", *dir)
	if err != nil {
		return err
	}
	name := "tiny-shakespeare (validation)"
	var ids []int32
	if *dataPath == "" {
		all, err := tok.Encode(data.TinyShakespeare())
		if err != nil {
			return usageError{"eval: the model's vocabulary does not cover Tiny Shakespeare: " + err.Error()}
		}
		_, ids = data.Split(all, 0.9)
	} else {
		b, err := os.ReadFile(*dataPath)
		if err != nil {
			return usageError{"eval: " + err.Error()}
		}
		if ids, err = tok.Encode(string(b)); err != nil {
			return usageError{fmt.Sprintf("eval: %s: %v", *dataPath, err)}
		}
		name = *dataPath
	}
	ctx := m.Config.NPositions
	if len(ids) < 2 {
		return usagef("eval: the text has fewer than 2 tokens")
	}
	g := autograd.NewGraph(0)
	g.NoGrad = true
	var total float64
	count := 0
	for start := 0; start+1 < len(ids); start += ctx {
		n := min(ctx, len(ids)-1-start)
		g.Reset()
		_, loss, err := m.Forward(g, ids[start:start+n], 1, n, ids[start+1:start+1+n])
		if err != nil {
			return err
		}
		total += float64(loss.Value.Item()) * float64(n)
		count += n
	}
	r := evalResult{Model: *dir, Data: name, Tokens: count, CrossEntropy: total / float64(count)}
	r.Perplexity = math.Exp(r.CrossEntropy)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err = fmt.Fprintf(stdout, "%s on %s: cross-entropy %.4f nats/token, perplexity %.3f (%d tokens)\n", r.Model, r.Data, r.CrossEntropy, r.Perplexity, r.Tokens)
	return err
}

// loadCharGPT loads a directory `goformer train` wrote: a GPT and its
// character vocabulary. Errors are usage errors prefixed with cmd.
func loadCharGPT(cmd, dir string) (*gpt.Model, *tokenizer.Char, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, usagef("%s: %s is not a directory", cmd, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return nil, nil, usagef("%s: %s is not a model directory (no config.json)", cmd, dir)
	}
	m, err := gpt.Load(dir)
	if err != nil {
		return nil, nil, usageError{cmd + ": " + err.Error()}
	}
	tok, err := tokenizer.LoadChar(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, nil, usageError{cmd + ": " + err.Error()}
	}
	return m, tok, nil
}
