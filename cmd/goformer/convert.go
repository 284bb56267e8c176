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
		"  goformer convert --model DIR\n  goformer convert --model DIR --force   # replace an existing model.safetensors\n"+
			"  goformer convert --model DIR --dtype int8 --out DIR-int8   # a copy with int8 (or bf16) matrices", stderr)
	dir := fs.String("model", "", "model directory (required)")
	force := fs.Bool("force", false, "replace an existing model.safetensors")
	dtype := dtypeFlag(fs)
	outDir := fs.String("out", "", "with --dtype bf16|int8: the directory to write the compact copy to (every other file copied)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("convert: --model is required")
	}
	if (*dtype == "fp32") != (*outDir == "") {
		return usagef("convert: --dtype bf16|int8 and --out go together")
	}
	if *dtype != "fp32" {
		return convertDType(*dir, *outDir, *dtype, stdout)
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

// convertDType writes a copy of the model directory dir to out with its
// matrices (2-D weights) stored as bf16 or int8 (per-row scales beside
// them, tensor.ScaleSuffix): a file a half or a quarter the size that every
// loader reads back as float32. The copy is checked to load (with its
// family's loader) before convert reports success; out must not exist.
func convertDType(dir, out, dtype string, stdout io.Writer) error {
	if err := modelDir("convert", dir); err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil {
		return usagef("convert: %s already exists", out)
	}
	f, err := hfdir.ReadWeights(dir)
	if err != nil {
		return usagef("convert: %v", err)
	}
	q, err := f.Quantize(dtype, func(name string, shape []int) bool { return shape[0] > 1 && shape[len(shape)-1] > 1 })
	if err != nil {
		return usagef("convert: %v", err)
	}
	if q.Metadata == nil {
		q.Metadata = map[string]string{}
	}
	q.Metadata["format"] = "pt"
	q.Metadata[hfdir.DTypeKey] = dtype
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), ".goformer-convert-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, "model.safetensors") || strings.HasPrefix(name, "pytorch_model.bin") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return err
		}
	}
	if err := q.WriteFile(filepath.Join(tmp, hfdir.WeightsFile), q.Metadata); err != nil {
		return err
	}
	r, err := describeModel(tmp)
	if err != nil {
		return usagef("convert: the %s copy of %s does not load: %s", dtype, dir, strings.ReplaceAll(err.Error(), tmp, out))
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	var before, after int64
	for _, name := range f.Names() {
		before += int64(f.Info(name).End - f.Info(name).Begin)
	}
	st, err := os.Stat(filepath.Join(out, hfdir.WeightsFile))
	if err != nil {
		return err
	}
	after = st.Size()
	_, err = fmt.Fprintf(stdout, "wrote %s: %s (%d parameters), weights %.1f MB → %.1f MB in %s; run it with --dtype %s\n",
		out, r.ModelType, r.Parameters, float64(before)/1e6, float64(after)/1e6, dtype, dtype)
	return err
}
