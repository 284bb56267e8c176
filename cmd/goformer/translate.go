package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
)

// loadTranslator reads an encoder-decoder model directory with its
// tokenizer.json. Errors are usage errors prefixed with cmd.
func loadTranslator(cmd, dir string) (*seq2seq.Model, *tokenizer.ByteBPE, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, usagef("%s: %s is not a directory", cmd, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, hfdir.ConfigFile)); err != nil {
		return nil, nil, usagef("%s: %s is not a model directory (no %s)", cmd, dir, hfdir.ConfigFile)
	}
	m, err := seq2seq.Load(dir)
	if err != nil {
		return nil, nil, usageError{cmd + ": " + err.Error()}
	}
	tokPath := filepath.Join(dir, "tokenizer.json")
	t, err := tokenizer.LoadHF(tokPath)
	if err != nil {
		return nil, nil, usageError{cmd + ": " + err.Error()}
	}
	tok, ok := t.(*tokenizer.ByteBPE)
	if !ok {
		return nil, nil, usagef("%s: %s: translation needs a byte-level BPE tokenizer", cmd, tokPath)
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, nil, usagef("%s: %s has %d tokens but the model's vocabulary is %d", cmd, tokPath, tok.VocabSize(), m.Config.VocabSize)
	}
	return m, tok, nil
}

// translateLines tokenizes and translates lines (empty lines stay empty),
// showing progress on stderr when there are many.
func translateLines(m *seq2seq.Model, tok *tokenizer.ByteBPE, lines []string, opt seq2seq.TranslateOptions, stderr io.Writer) ([]string, error) {
	var src [][]int32
	var at []int
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ids, err := tok.Encode(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if len(ids)+1 > m.Config.MaxPositionEmbeddings {
			return nil, fmt.Errorf("line %d has %d tokens; the model reads at most %d", i+1, len(ids), m.Config.MaxPositionEmbeddings-1)
		}
		src, at = append(src, ids), append(at, i)
	}
	if len(src) >= 200 {
		p := newProgress(stderr, len(src), 0)
		p.unit = "sentences"
		opt.Progress = func(done int) { p.updateCount(done) }
		defer p.clear()
	}
	text, err := translateIDs(m, tok, src, opt)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(lines))
	for j, i := range at {
		out[i] = text[j]
	}
	return out, nil
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
	m, tok, err := loadTranslator("translate", *dir)
	if err != nil {
		return err
	}
	text, err := readStdinText("translate")
	if err != nil {
		return err
	}
	lines, err := readLines(strings.NewReader(text), "standard input")
	if err != nil {
		return err
	}
	start := time.Now()
	out, err := translateLines(m, tok, lines, opt, stderr)
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
