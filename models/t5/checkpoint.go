package t5

import (
	"fmt"
	"path/filepath"

	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/tensor"
)

// Save writes the model as a Hugging Face checkpoint directory:
// config.json and model.safetensors with T5ForConditionalGeneration's
// tensor names, the tied copies of the shared embedding left out (as
// save_pretrained does). Both files are written atomically.
func (m *Model) Save(dir string) error {
	var tensors []tensor.NamedTensor
	for _, p := range m.Params.List() {
		tensors = append(tensors, tensor.NamedTensor{Name: p.Name, Tensor: p.Value})
	}
	return hfdir.Write(dir, m.Config, tensors)
}

// ReadConfig reads and validates dir/config.json.
func ReadConfig(dir string) (Config, error) {
	var cfg Config
	if err := hfdir.ReadConfig(dir, &cfg); err != nil {
		return Config{}, err
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", filepath.Join(dir, hfdir.ConfigFile), err)
	}
	return cfg, nil
}

// ignored are tensors that T5 checkpoints may hold and transformers skips:
// a cross-attention bias table that early versions saved and never used.
var ignored = map[string]bool{"decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight": true}

// Load reads a T5 checkpoint directory (config.json and weights as
// model.safetensors or pytorch_model.bin, whole or sharded). The shared
// embedding may come as shared.weight or as its tied copies
// (encoder.embed_tokens.weight, decoder.embed_tokens.weight, and lm_head
// when tied); a missing, misshapen or unknown tensor is an error naming it.
func Load(dir string) (*Model, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	f, err := hfdir.ReadWeights(dir)
	if err != nil {
		return nil, err
	}
	path := f.Path
	if err := hfdir.CheckFits(dir, f, cfg.paramsLowerBound(), "vocab_size, d_model, d_kv, num_heads, d_ff and the layer counts"); err != nil {
		return nil, err
	}
	m, err := New(cfg, 0)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, name := range f.Weights() {
		target := name
		switch {
		case ignored[name]:
			continue
		case name == "encoder.embed_tokens.weight" || name == "decoder.embed_tokens.weight" || name == "lm_head.weight" && cfg.Tied():
			// Tied copies of the shared embedding: read the first one only
			// when the file has no shared.weight.
			if f.Info("shared.weight") != nil || seen["shared.weight"] {
				continue
			}
			target = "shared.weight"
		}
		p := m.Params.Get(target)
		if p == nil {
			return nil, fmt.Errorf("%s: tensor %q is not a parameter of this %s model", path, name, cfg.Variant())
		}
		if err := hfdir.ReadInto(f, name, p.Value); err != nil {
			return nil, err
		}
		seen[target] = true
	}
	for _, p := range m.Params.List() {
		if !seen[p.Name] {
			return nil, fmt.Errorf("%s: tensor %q is missing", path, p.Name)
		}
	}
	return m, nil
}
