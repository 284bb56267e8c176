// Command average_checkpoints writes a copy of an encoder-decoder model
// directory whose parameters are the mean of those in training checkpoints
// (run directories' checkpoint.safetensors, copied aside as a run went):
//
//	go run ./scripts/average_checkpoints -template RUN/model-last -out DIR CKPT...
//
// It is what a run with average_checkpoints does at its end
// (train.CheckpointAverage), for checkpoints kept by hand: the summariser's
// pilot runs were averaged with it before the recipe could. With
// -prefix "" it averages the files the run's averaging hook kept
// (RUN/averaging/step-N.safetensors, whose tensors carry the parameters'
// own names), to score another window than the one the run chose.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/train"
)

func main() {
	template := flag.String("template", "", "a model directory of the run (its config, tokenizer and generation settings are copied)")
	out := flag.String("out", "", "the directory to write")
	prefix := flag.String("prefix", "param.", `what the files' tensor names add to the parameters' ("param.": the trainer's checkpoints; "": RUN/averaging's files)`)
	flag.Parse()
	if *template == "" || *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: average_checkpoints -template MODEL_DIR -out DIR CHECKPOINT...")
		os.Exit(2)
	}
	if err := run(*template, *out, *prefix, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "average_checkpoints:", err)
		os.Exit(1)
	}
}

func run(template, out, prefix string, checkpoints []string) error {
	m, err := seq2seq.Load(template)
	if err != nil {
		return err
	}
	params := m.Params.List()
	mean, err := train.MeanParams(checkpoints, prefix, params)
	if err != nil {
		return err
	}
	for i, p := range params {
		copy(p.Value.Data(), mean[i].Data())
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(template)
	if err != nil {
		return err
	}
	for _, e := range entries { // tokenizer and generation settings; model files are written below
		if e.IsDir() || e.Name() == "model.safetensors" || e.Name() == "config.json" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(template, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	if err := m.Save(out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "averaged %d checkpoints into %s\n", len(checkpoints), out)
	return nil
}
