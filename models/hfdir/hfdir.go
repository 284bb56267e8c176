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
