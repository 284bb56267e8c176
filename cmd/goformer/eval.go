package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/tokenizer"
	"github.com/goformer/goformer/train"
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
	beam := intFlag(fs, "beam", 4, 1, maxBeam, "translation models: beam size")
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
	m, tok, err := loadGPT("eval", *dir)
	if err != nil {
		return err
	}
	name := "tiny-shakespeare (validation)"
	text := data.TinyShakespeare()
	if *dataPath != "" {
		b, err := os.ReadFile(*dataPath)
		if err != nil {
			return usageError{"eval: " + err.Error()}
		}
		text, name = string(b), *dataPath
	}
	ids, err := tok.Encode(text)
	if err != nil {
		return usageError{fmt.Sprintf("eval: %s: the model's tokenizer cannot encode it: %v", name, err)}
	}
	if *dataPath == "" {
		_, ids = data.Split(ids, 0.9)
	}
	ce, count, err := train.EvaluateLM(m, ids, m.Config.NPositions)
	if err != nil {
		return usageError{"eval: " + err.Error()}
	}
	r := evalResult{Model: *dir, Data: name, Tokens: count, CrossEntropy: ce}
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
	t, err := loadTranslator("eval", dir)
	if err != nil {
		return err
	}
	t.Options = seq2seq.TranslateOptions{Beam: beam, LengthPenalty: 0.6}
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
	hyp, err := translateLines(t, src, stderr)
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
			"bleu_signature": fmt.Sprintf(metrics.BLEUSignature, 1), "peak_rss_mib": peakRSSMiB()})
	}
	_, err = fmt.Fprintf(stdout, "%s on %s (beam %d, %d sentences in %.1fs, %.1f/s):\n%s\n%s\n", dir, srcPath, beam, len(src), secs,
		float64(len(src))/secs, b, c)
	return err
}

// loadGPT loads a GPT-2 directory (what goformer train writes, or
// transformers' save_pretrained) with its tokenizer, whichever layout it
// has. Errors are usage errors prefixed with cmd.
func loadGPT(cmd, dir string) (*gpt.Model, tokenizer.Tokenizer, error) {
	if err := modelDir(cmd, dir); err != nil {
		return nil, nil, err
	}
	m, err := gpt.Load(dir)
	if err != nil {
		return nil, nil, usageError{cmd + ": " + err.Error()}
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, nil, usageError{cmd + ": " + err.Error()}
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, nil, usagef("%s: %s: the tokenizer has %d tokens but the model's vocabulary is %d", cmd, dir, tok.VocabSize(), m.Config.VocabSize)
	}
	return m, tok, nil
}
