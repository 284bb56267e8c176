package seq2seq

import (
	"fmt"
	"path/filepath"

	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/tensor"
)

// Save writes the model as a Hugging Face checkpoint directory:
// config.json and model.safetensors with MarianMTModel's (or Pegasus's)
// tensor names. The tied copies of the shared embedding (embed_tokens,
// lm_head) are left out, as transformers' save_pretrained does; the
// sinusoidal position tables and final_logits_bias are written. Both files
// are written atomically.
func (m *Model) Save(dir string) error {
	var tensors []tensor.NamedTensor
	for _, p := range m.Params.List() {
		tensors = append(tensors, tensor.NamedTensor{Name: p.Name, Tensor: p.Value})
	}
	if m.positions != nil {
		tensors = append(tensors,
			tensor.NamedTensor{Name: "model.encoder.embed_positions.weight", Tensor: m.positions},
			tensor.NamedTensor{Name: "model.decoder.embed_positions.weight", Tensor: m.positions})
	}
	tensors = append(tensors, tensor.NamedTensor{Name: "final_logits_bias", Tensor: m.logitsBias})
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

// Load reads a Marian, Pegasus or BART checkpoint directory. The shared
// embedding may come as model.shared.weight or as its tied copies; the
// sinusoidal position tables and final_logits_bias are read when present
// (else the sinusoids and zeros; BART's learned tables must be there);
// a missing, misshapen or unknown tensor is an error naming it.
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
	if err := hfdir.CheckFits(dir, f, cfg.paramsLowerBound(), "vocab_size, d_model, the layer counts and ffn sizes"); err != nil {
		return nil, err
	}
	m, err := New(cfg, 0)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, name := range f.Weights() {
		var dst *tensor.Tensor
		switch {
		case m.positions != nil && (name == "model.encoder.embed_positions.weight" || name == "model.decoder.embed_positions.weight"):
			dst = m.positions // both stacks use the same table
		case name == "final_logits_bias":
			dst = m.logitsBias
		case name == "lm_head.weight" || name == "model.encoder.embed_tokens.weight" || name == "model.decoder.embed_tokens.weight":
			// Tied copies of the shared embedding: read the first one only
			// when the file has no model.shared.weight.
			if f.Info("model.shared.weight") != nil || seen["model.shared.weight"] {
				continue
			}
			dst = m.shared.W.Value
			seen["model.shared.weight"] = true
		default:
			p := m.Params.Get(name)
			if p == nil {
				return nil, fmt.Errorf("%s: tensor %q is not a parameter of this %s model", path, name, cfg.ModelType)
			}
			dst = p.Value
			seen[name] = true
		}
		if err := hfdir.ReadInto(f, name, dst); err != nil {
			return nil, err
		}
	}
	for _, p := range m.Params.List() {
		if !seen[p.Name] {
			return nil, fmt.Errorf("%s: tensor %q is missing", path, p.Name)
		}
	}
	return m, nil
}
