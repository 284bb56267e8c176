package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goformer/goformer/models/hfdir"
)

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer convert",
		"Writes model.safetensors into a model directory whose weights are PyTorch's (pytorch_model.bin, or\n"+
			"shards behind pytorch_model.bin.index.json or model.safetensors.index.json), as the hub serves many\n"+
			"models. The pickle is read without running it (only what rebuilds tensors is allowed). Every tensor\n"+
			"is kept, in its own dtype; the model is loaded first with its family's loader, so a checkpoint that\n"+
			"would not load is refused before anything is written. The original files are left as they are.",
		"  goformer convert --model DIR\n  goformer convert --model DIR --force   # replace an existing model.safetensors", stderr)
	dir := fs.String("model", "", "model directory (required)")
	force := fs.Bool("force", false, "replace an existing model.safetensors")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("convert: --model is required")
	}
	out := filepath.Join(*dir, hfdir.WeightsFile)
	if _, err := os.Stat(out); err == nil && !*force {
		return usagef("convert: %s already exists (--force replaces it)", out)
	}
	// Read the weights as the loaders would without model.safetensors.
	f, err := hfdir.ReadWeightsFrom(*dir, hfdir.WeightsFiles[1:])
	if err != nil {
		return usagef("convert: %v", err)
	}
	from := filepath.Base(f.Path)
	if strings.HasSuffix(from, ".index.json") {
		from = filepath.Base(f.Path) + " and its shards"
	}
	// Check that the model loads from them: in a scratch directory holding
	// the config and the converted file, so that a failure writes nothing.
	tmp, err := os.MkdirTemp("", "goformer-convert-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cfg, err := os.ReadFile(filepath.Join(*dir, hfdir.ConfigFile))
	if err != nil {
		return usagef("convert: %s is not a model directory: %v", *dir, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, hfdir.ConfigFile), cfg, 0o644); err != nil {
		return err
	}
	meta := map[string]string{"format": "pt"}
	if err := f.WriteFile(filepath.Join(tmp, hfdir.WeightsFile), meta); err != nil {
		return err
	}
	r, err := describeModel(tmp)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), filepath.Join(tmp, hfdir.WeightsFile), filepath.Join(*dir, from))
		return usagef("convert: %s does not load: %s", filepath.Join(*dir, from), strings.ReplaceAll(msg, tmp, *dir))
	}
	if err := f.WriteFile(out, meta); err != nil {
		return err
	}
	var bytes int64
	for _, name := range f.Names() {
		in := f.Info(name)
		bytes += int64(in.End - in.Begin)
	}
	_, err = fmt.Fprintf(stdout, "wrote %s: %d tensors, %.1f MB, from %s (%s, %d parameters)\n",
		out, len(f.Names()), float64(bytes)/1e6, from, r.ModelType, r.Parameters)
	return err
}
