package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/internal/progress"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tensor"
)

// modelDir checks that dir is a model directory, naming what is wrong:
// a missing path, a file, a directory without config.json.
func modelDir(cmd, dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usagef("%s: %s does not exist", cmd, dir)
	case err != nil:
		return usagef("%s: %v", cmd, err)
	case !st.IsDir():
		return usagef("%s: %s is a file, not a model directory", cmd, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, hfdir.ConfigFile)); err != nil {
		return usagef("%s: %s is not a model directory (no %s)", cmd, dir, hfdir.ConfigFile)
	}
	return nil
}

// loadTranslator reads an encoder-decoder model directory with its
// tokenizer. Errors are usage errors prefixed with cmd.
func loadTranslator(cmd, dir string) (*pipelines.Translator, error) {
	if err := modelDir(cmd, dir); err != nil {
		return nil, err
	}
	t, err := pipelines.LoadTranslator(dir)
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	return t, nil
}

// translateLines translates lines (empty lines stay empty), showing
// progress on stderr when there are many.
func translateLines(t *pipelines.Translator, lines []string, stderr io.Writer) ([]string, error) {
	if len(lines) >= 200 {
		p := progress.New(stderr, len(lines))
		p.Unit = "sentences"
		t.Options.Progress = p.UpdateCount
		defer p.Clear()
	}
	return t.Translate(lines)
}

func runTranslate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer translate",
		"Translates text on stdin, one sentence per line, with an encoder-decoder model directory (config.json,\n"+
			"model.safetensors, tokenizer.json; what `goformer train --preset multi30k-de-en` writes). Greedy by\n"+
			"default, beam search with --beam; sentences are decoded in batches, sorted by length, with a KV cache.",
		"  goformer translate --model runs/multi30k-de-en/model --beam 4 < test.de > out.en\n"+
			"  echo 'Ein Hund läuft im Schnee.' | goformer translate --model runs/multi30k-de-en/model", stderr)
	dir := fs.String("model", "", "model directory (required)")
	beam := fs.Int("beam", 1, "beam size (1: greedy)")
	alpha := fs.Float64("alpha", 0.6, "length penalty α (GNMT's, as in the paper), beam search only")
	threads := fs.Int("threads", 0, "worker threads (default: all cores)")
	temperature := fs.Float64("temperature", 0, "sample with this temperature instead of searching (0: greedy or beam)")
	topK := fs.Int("top-k", 0, "sampling: keep the k most likely tokens (0: all)")
	topP := fs.Float64("top-p", 1, "sampling: keep the most likely tokens whose probabilities sum to p")
	seed := fs.Uint64("seed", 1, "sampling: random seed")
	asJSON := fs.Bool("json", false, "print one JSON object per line: {\"source\", \"translation\"}")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *dir == "":
		return usagef("translate: --model is required")
	case *beam < 1:
		return usagef("translate: --beam must be ≥ 1, got %d", *beam)
	case *alpha < 0:
		return usagef("translate: --alpha must be ≥ 0, got %g", *alpha)
	case *threads < 0:
		return usagef("translate: --threads must be ≥ 0, got %d", *threads)
	}
	opt := seq2seq.TranslateOptions{Beam: *beam, LengthPenalty: *alpha}
	if *temperature != 0 {
		if *beam != 1 {
			return usagef("translate: --temperature samples; it does not combine with --beam %d", *beam)
		}
		opt.Sampler = &generate.Sampler{Temperature: *temperature, TopK: *topK, TopP: *topP, RNG: tensor.NewRNG(*seed)}
		if err := opt.Sampler.Validate(); err != nil {
			return usagef("translate: %v", err)
		}
	}
	cpu.SetThreads(*threads)
	t, err := loadTranslator("translate", *dir)
	if err != nil {
		return err
	}
	t.Options = opt
	text, err := readStdinText("translate")
	if err != nil {
		return err
	}
	lines, err := readLines(strings.NewReader(text), "standard input")
	if err != nil {
		return err
	}
	start := time.Now()
	out, err := translateLines(t, lines, stderr)
	if err != nil {
		return usageError{"translate: " + err.Error()}
	}
	secs := time.Since(start).Seconds()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for i, l := range lines {
			if err := enc.Encode(map[string]string{"source": l, "translation": out[i]}); err != nil {
				return err
			}
		}
	} else {
		for _, l := range out {
			if _, err := fmt.Fprintln(stdout, l); err != nil {
				return err
			}
		}
	}
	if len(lines) >= 10 {
		fmt.Fprintf(stderr, "translated %d sentences in %.1fs (%.1f sentences/s, beam %d, %d threads)\n", len(lines), secs, float64(len(lines))/secs, *beam, cpu.Threads())
	}
	return nil
}
