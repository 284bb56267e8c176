package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/internal/progress"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/pipelines"
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
// tokenizer (and, for T5, the translation task of its config: task, or
// the first one). Errors are usage errors prefixed with cmd.
func loadTranslator(cmd, dir string, task ...string) (*pipelines.Translator, error) {
	if err := modelDir(cmd, dir); err != nil {
		return nil, err
	}
	t, err := pipelines.LoadTranslatorTask(dir, strings.Join(task, ""))
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
			"default, beam search with --beam; sentences are decoded in batches, sorted by length, with a KV cache.\n"+
			"An OPUS-MT directory as the hub serves it (source.spm, target.spm, vocab.json, pytorch_model.bin or\n"+
			"model.safetensors) translates as transformers' generate does, with its generation_config.json\n"+
			"(--beam and --alpha, transformers' length_penalty then, override it). A T5 directory (spiece.model)\n"+
			"translates with a translation task of its config's task_specific_params (its prefix, such as\n"+
			"\"translate English to German: \", and its settings): --task, or the first one.",
		"  goformer translate --model runs/multi30k-de-en/model --beam 4 < test.de > out.en\n"+
			"  echo 'Ein Hund läuft im Schnee.' | goformer translate --model runs/multi30k-de-en/model\n"+
			"  echo 'The house is wonderful.' | goformer translate --model t5-small --task translation_en_to_fr", stderr)
	dir := fs.String("model", "", "model directory (required)")
	task := fs.String("task", "", "T5: the task_specific_params entry to translate with (default: the first translation_*)")
	beam := intFlag(fs, "beam", 1, 1, maxBeam, "beam size (1: greedy)")
	alpha := floatFlag(fs, "alpha", 0.6, 0, 10, "length penalty α (GNMT's, as in the paper), beam search only")
	encoderPenalty := floatFlag(fs, "encoder-repetition-penalty", 1, 1e-6, 1e6,
		"transformers' encoder_repetition_penalty: > 1 favours the source's tokens (1: off); hub directories only")
	repetitionPenalty := floatFlag(fs, "repetition-penalty", 1, 1e-6, 1e6,
		"transformers' repetition_penalty: > 1 discourages tokens already in the output (1: off); hub directories only")
	threads := threadsFlag(fs, 0)
	sf := addSampling(fs, 0, 0)
	asJSON := fs.Bool("json", false, "print one JSON object per line: {\"source\", \"translation\"}")
	dtype := dtypeFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *dir == "":
		return usagef("translate: --model is required")
	}
	opt := seq2seq.TranslateOptions{Beam: *beam, LengthPenalty: *alpha}
	var err error
	if opt.Sampler, err = sf.sampler(fs); err != nil {
		return err
	}
	if opt.Sampler != nil && *beam != 1 {
		return usagef("translate: --temperature samples; it does not combine with --beam %d", *beam)
	}
	cpu.SetThreads(*threads)
	t, err := loadTranslator("translate", *dir, *task)
	if err != nil {
		return err
	}
	if err := quantize("translate", t.Model, savedDType(fs, *dtype, *dir, stderr)); err != nil {
		return err
	}
	t.Options = opt
	if t.Generation != nil { // a hub directory: transformers' generate with its settings, flags over them
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["beam"] {
			t.Generation.NumBeams = *beam
		}
		if set["alpha"] {
			t.Generation.LengthPenalty = *alpha
		}
		if set["encoder-repetition-penalty"] {
			t.Generation.EncoderRepetitionPenalty = *encoderPenalty
		}
		if set["repetition-penalty"] {
			t.Generation.RepetitionPenalty = *repetitionPenalty
		}
		if opt.Sampler != nil {
			t.Generation.Sampler, t.Generation.NumBeams = opt.Sampler, 1
		}
		*beam = t.Generation.NumBeams
	} else if *encoderPenalty != 1 {
		return usagef("translate: --encoder-repetition-penalty is transformers' (a hub directory's generation); %s decodes with the paper's beam search", *dir)
	} else if *repetitionPenalty != 1 {
		return usagef("translate: --repetition-penalty is transformers' (a hub directory's generation); %s decodes with the paper's beam search", *dir)
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
