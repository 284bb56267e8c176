// Package hfdir reads and writes Hugging Face model directories: a
// config.json and a model.safetensors side by side. The model packages
// (gpt, seq2seq, bert) use it for their Save and Load.
package hfdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goformer/goformer/tensor"
)

// Names of the two files.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// Write creates dir if needed and writes config (as indented JSON) and the
// tensors (F32, in order), each file atomically.
func Write(dir string, config any, tensors []tensor.NamedTensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := tensor.WriteSafetensors(filepath.Join(dir, WeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	b, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	return tensor.WriteFileAtomic(filepath.Join(dir, ConfigFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// ReadConfig decodes dir/config.json into config; errors name the file.
// Unknown fields are allowed: Hugging Face configs carry many that do not
// change the model.
func ReadConfig(dir string, config any) error {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, config); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// WeightsFiles are the names a directory's weights may have, in the order
// transformers' from_pretrained prefers them: safetensors, then PyTorch's
// pickle (read without running it), each whole or sharded behind an index.
var WeightsFiles = []string{WeightsFile, WeightsFile + ".index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"}

// ReadWeights reads and validates the weights of dir: model.safetensors,
// or where there is none the first of the other WeightsFiles present.
// The returned tensors' Path names the file they came from.
func ReadWeights(dir string) (*tensor.Safetensors, error) {
	return ReadWeightsFrom(dir, WeightsFiles)
}

// SavedDType returns the scheme of compact weights that `goformer convert
// --dtype` recorded in dir/model.safetensors ("bf16" or "int8"), or "" for
// anything else (float weights, another file, no file, a damaged header:
// loading reports those).
func SavedDType(dir string) string {
	md, err := tensor.SafetensorsMetadata(filepath.Join(dir, WeightsFile))
	if err != nil {
		return ""
	}
	if d := md[DTypeKey]; d == "bf16" || d == "int8" {
		return d
	}
	return ""
}

// DTypeKey is the safetensors metadata key under which `goformer convert`
// records the scheme of compact weights.
const DTypeKey = "goformer_dtype"

// WeightsPath returns the path of the first of names present in dir, or
// an error saying which were looked for.
func WeightsPath(dir string, names []string) (string, error) {
	for _, name := range names {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	// None there: the error of the preferred one (a missing directory,
	// a symlink loop) unless it is only that the file is missing.
	_, err := os.Stat(filepath.Join(dir, names[0]))
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%s: no weights (%s)", dir, strings.Join(names, ", "))
	}
	return "", err
}

// ReadWeightsFrom reads the first of names present in dir (a safetensors
// or PyTorch file, or either's shard index), renaming old LayerNorm
// gamma/beta tensors to weight/bias as transformers does on load (BERT's
// first release names them so).
func ReadWeightsFrom(dir string, names []string) (*tensor.Safetensors, error) {
	path, err := WeightsPath(dir, names)
	if err != nil {
		return nil, err
	}
	var f *tensor.Safetensors
	if strings.HasSuffix(path, ".index.json") {
		f, err = tensor.ReadSharded(path)
	} else {
		f, err = tensor.ReadWeightsFile(path)
	}
	if err != nil {
		return nil, err
	}
	for _, n := range f.Names() {
		for old, new := range map[string]string{"LayerNorm.gamma": "LayerNorm.weight", "LayerNorm.beta": "LayerNorm.bias"} {
			if strings.HasSuffix(n, old) {
				if err := f.Rename(n, strings.TrimSuffix(n, old)+new); err != nil {
					return nil, err
				}
			}
		}
	}
	return f, nil
}

// Limits on the sizes a config.json may give, far above any published
// model and low enough that products of two of them stay exact.
const (
	MaxSize   = 1 << 24 // vocabulary, positions, widths
	MaxLayers = 1 << 12
)

// CheckRange reports a config.json field outside [lo, hi], naming the file
// and the field.
func CheckRange(dir, field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s: %s is %d; want %d to %d", filepath.Join(dir, ConfigFile), field, v, lo, hi)
	}
	return nil
}

// CheckFits refuses a config whose model needs more values than the
// weights file holds, before anything is allocated for it: params is a
// lower bound on the parameters the config describes (its matrices), and
// sizes names the fields it comes from.
func CheckFits(dir string, f *tensor.Safetensors, params float64, sizes string) error {
	if have := float64(f.Elements()); params > have {
		return fmt.Errorf("%s: %s describe at least %.3g parameters, but %s holds %.3g values: a size in the config is wrong",
			filepath.Join(dir, ConfigFile), sizes, params, filepath.Join(dir, WeightsFile), have)
	}
	return nil
}

// ReadInto copies tensor name of f into dst, after checking that its
// values are finite and its shape is dst's; errors name the file and the
// tensor.
func ReadInto(f *tensor.Safetensors, name string, dst *tensor.Tensor) error {
	t, err := f.Tensor(name)
	if err == nil {
		err = tensor.CheckFinite(f.Path, name, t)
	}
	if err != nil {
		return err
	}
	if !t.SameShape(dst) {
		return fmt.Errorf("%s: tensor %q has shape %v, want %v for this config", f.Path, name, t.Shape(), dst.Shape())
	}
	copy(dst.Data(), t.Data())
	return nil
}
