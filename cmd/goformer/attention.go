package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goformer/goformer/attention"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
)

func runAttention(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer attention",
		"Shows where a model looks: runs it once on a text with the attention probabilities kept and writes them as\n"+
			"PNG heatmaps, tokens on both axes (OUT/<kind>-layer<L>.png: the mean of the heads, or --head H; OUT/grid.png:\n"+
			"every head of every layer). Encoder-decoders (translation, summarisation models) take --src and, optionally,\n"+
			"--tgt (else the model's own translation); their cross-attention also aligns target words to source words\n"+
			"(argmax per target token of the heads' mean at --align-layer), printed as Pharaoh i-j pairs (source-target,\n"+
			"words from 0) and outlined on that layer's heatmap. GPT and BERT models take --text. --json prints the\n"+
			"matrices instead of a summary.",
		"  goformer attention --model runs/multi30k-de-en/model --src 'Ein Hund läuft im Schnee.' --out attention\n"+
			"  goformer attention --model runs/multi30k-de-en/model --src 'Ein Hund.' --tgt 'A dog.' --layer 2 --head 0\n"+
			"  goformer attention --model runs/shakespeare-char-small/model --text 'ROMEO: ' --json", stderr)
	dir := fs.String("model", "", "model directory (required)")
	text := fs.String("text", "", "GPT, BERT: the text")
	src := fs.String("src", "", "encoder-decoders: the source text")
	tgt := fs.String("tgt", "", "encoder-decoders: the target text (default: the model's greedy translation)")
	out := fs.String("out", "attention", "directory for the PNGs")
	layer := intFlag(fs, "layer", -1, -1, 1<<12, "draw this layer only (from 0; -1: all)")
	head := intFlag(fs, "head", -1, -1, 1<<12, "draw this head (from 0; -1: the mean of the heads)")
	alignLayer := intFlag(fs, "align-layer", -1, -1, 1<<12, "the cross-attention layer that aligns words (-1: the last)")
	asJSON := fs.Bool("json", false, "print {source, target, alignment, maps} as JSON on stdout, and write no PNG")
	threads := threadsFlag(fs, 0)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("attention: --model is required")
	}
	cpu.SetThreads(*threads)
	if err := modelDir("attention", *dir); err != nil {
		return err
	}
	var probe struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := hfdir.ReadConfig(*dir, &probe); err != nil {
		return usageError{"attention: " + err.Error()}
	}
	var res *attention.Result
	var err error
	switch probe.ModelType {
	case "gpt2", "bert", "roberta", "distilbert":
		if *text == "" || *src != "" || *tgt != "" {
			return usagef("attention: a %s model reads --text (not --src or --tgt)", probe.ModelType)
		}
		res, err = attentionOfText(*dir, probe.ModelType, probe.Architectures, *text)
	case "marian", "pegasus", "bart", "mbart", "t5":
		if *src == "" || *text != "" {
			return usagef("attention: an encoder-decoder (%s) reads --src and optionally --tgt (not --text)", probe.ModelType)
		}
		res, err = attentionOfPair(*dir, *src, *tgt, *alignLayer)
	default:
		return usagef("attention: model_type %q is not one goformer knows (gpt2, bert, roberta, distilbert, marian, pegasus, bart, mbart, t5)", probe.ModelType)
	}
	if err != nil {
		return usageError{"attention: " + err.Error()}
	}
	maps := attention.Select(res.Maps, "", *layer)
	if len(maps) == 0 {
		return usagef("attention: the model has no layer %d", *layer)
	}
	for _, m := range maps {
		if *head >= m.Heads {
			return usagef("attention: --head %d, but %s has %d heads", *head, m.Name(), m.Heads)
		}
	}
	if *asJSON {
		res.Maps = maps
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(res)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return usageError{"attention: " + err.Error()}
	}
	var written []string
	for _, m := range maps {
		h, err := m.Heatmap(*head)
		if err != nil {
			return usageError{"attention: " + err.Error()}
		}
		name := m.Name()
		if *head >= 0 {
			name += fmt.Sprintf("-head%d", *head)
		}
		if m.Kind == "cross" && m.Layer == res.AlignLayer && res.Target != nil {
			h.Outline = res.Outline
			h.Title += ", alignment outlined"
		}
		path := filepath.Join(*out, name+".png")
		if err := tensor.WriteFileAtomic(path, h.WritePNG); err != nil {
			return err
		}
		written = append(written, path)
	}
	grid, err := attention.Grid(maps, 0)
	if err != nil {
		return usageError{"attention: " + err.Error()}
	}
	gridPath := filepath.Join(*out, "grid.png")
	if err := tensor.WriteFileAtomic(gridPath, func(w io.Writer) error { return png.Encode(w, grid) }); err != nil {
		return err
	}
	if res.Target != nil {
		fmt.Fprintf(stdout, "source: %s\ntarget: %s\nalignment (layer %d): %s\n", strings.Join(res.Source, " "), strings.Join(res.Target, " "), res.AlignLayer, res.Alignment)
	} else {
		fmt.Fprintf(stdout, "tokens: %s\n", strings.Join(res.Source, " "))
	}
	fmt.Fprintf(stdout, "wrote %d heatmaps and %s to %s\n", len(written), filepath.Base(gridPath), *out)
	return nil
}

func attentionOfText(dir, modelType string, archs []string, text string) (*attention.Result, error) {
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	if modelType == "gpt2" {
		m, err := gpt.Load(dir)
		if err != nil {
			return nil, err
		}
		return attention.LanguageModel(m, tok, text)
	}
	m, err := bert.Load(dir, encoderHeadOf(archs))
	if err != nil {
		return nil, err
	}
	return attention.EncoderModel(m, tok, text)
}

func attentionOfPair(dir, src, tgt string, alignLayer int) (*attention.Result, error) {
	tr, err := pipelines.LoadTranslator(dir)
	if err != nil {
		return nil, err
	}
	return attention.Translation(tr, src, tgt, alignLayer)
}
