package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/models/seq2seq"
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
			"consecutive windows of the model's context (each window predicts its tokens from the ones before);\n"+
			"for a translation model, the BLEU and chrF2 of its translations of --src against --ref.",
		"  goformer eval --model runs/shakespeare-char-small/model              # Tiny Shakespeare's validation split\n"+
			"  goformer eval --model DIR --data my.txt --json\n"+
			"  goformer eval --model runs/multi30k-de-en/model --beam 4             # Multi30k test_2016_flickr\n"+
			"  goformer eval --model DIR --src test.de --ref test.en --json", stderr)
	dir := fs.String("model", "", "model directory (required)")
	dataPath := fs.String("data", "", "a UTF-8 text file (default: the validation 10% of the built-in Tiny Shakespeare)")
	srcPath := fs.String("src", "", "translation models: source sentences (default: Multi30k test_2016_flickr German)")
	refPath := fs.String("ref", "", "translation models: reference translations (default: Multi30k test_2016_flickr English)")
	beam := fs.Int("beam", 4, "translation models: beam size")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("eval: --model is required")
	}
	var probe struct {
		ModelType string `json:"model_type"`
	}
	if err := hfdir.ReadConfig(*dir, &probe); err == nil && (probe.ModelType == "marian" || probe.ModelType == "pegasus") {
		if *dataPath != "" {
			return usagef("eval: %s is a translation model: give --src and --ref, not --data", *dir)
		}
		return evalTranslation(*dir, *srcPath, *refPath, *beam, *asJSON, stdout, stderr)
	}
	if *srcPath != "" || *refPath != "" {
		return usagef("eval: --src and --ref are for translation models; %s is not one", *dir)
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

// evalTranslation translates src and scores it against ref with BLEU and
// chrF2.
func evalTranslation(dir, srcPath, refPath string, beam int, asJSON bool, stdout, stderr io.Writer) error {
	if (srcPath == "") != (refPath == "") {
		return usagef("eval: give both --src and --ref, or neither (Multi30k test_2016_flickr)")
	}
	if beam < 1 {
		return usagef("eval: --beam must be ≥ 1, got %d", beam)
	}
	m, tok, err := loadTranslator("eval", dir)
	if err != nil {
		return err
	}
	var src, ref []string
	if srcPath == "" {
		r, err := data.Multi30k("test_2016_flickr")
		if err != nil {
			return err
		}
		if src, ref, err = r.ReadAll(); err != nil {
			return err
		}
		srcPath, refPath = "multi30k:test_2016_flickr.de", "multi30k:test_2016_flickr.en"
	} else {
		r, err := data.OpenParallel(srcPath, refPath)
		if err != nil {
			return usageError{"eval: " + err.Error()}
		}
		if src, ref, err = r.ReadAll(); err != nil {
			return usageError{"eval: " + err.Error()}
		}
	}
	start := time.Now()
	hyp, err := translateLines(m, tok, src, seq2seq.TranslateOptions{Beam: beam, LengthPenalty: 0.6}, stderr)
	if err != nil {
		return usageError{"eval: " + err.Error()}
	}
	secs := time.Since(start).Seconds()
	b, err := metrics.CorpusBLEU(hyp, [][]string{ref})
	if err != nil {
		return err
	}
	c, err := metrics.CorpusChrF(hyp, ref)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"model": dir, "src": srcPath, "ref": refPath, "beam": beam,
			"sentences": len(src), "seconds": secs, "sentences_per_s": float64(len(src)) / secs, "bleu": b.Score, "chrf": c.Score,
			"bleu_signature": fmt.Sprintf(metrics.BLEUSignature, 1)})
	}
	_, err = fmt.Fprintf(stdout, "%s on %s (beam %d, %d sentences in %.1fs, %.1f/s):\n%s\n%s\n", dir, srcPath, beam, len(src), secs,
		float64(len(src))/secs, b, c)
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
