// Package hfdir reads and writes Hugging Face model directories: a
// config.json and a model.safetensors side by side. The model packages
// (gpt, seq2seq, bert) use it for their Save and Load.
package hfdir

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

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

// ReadWeights reads and validates dir/model.safetensors.
func ReadWeights(dir string) (*tensor.Safetensors, error) {
	return tensor.ReadSafetensors(filepath.Join(dir, WeightsFile))
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
