package gpt

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/tensor"
)

// isConv1D reports whether a parameter is stored by Hugging Face's GPT-2 as
// a Conv1D weight, [in, out], the transpose of our Linear's [out, in].
func isConv1D(name string) bool {
	return strings.HasSuffix(name, ".weight") &&
		(strings.Contains(name, ".c_attn.") || strings.Contains(name, ".c_proj.") || strings.Contains(name, ".c_fc."))
}

// Save writes the model as a Hugging Face checkpoint directory: config.json
// and model.safetensors, with GPT2LMHeadModel's tensor names
// ("transformer.h.0.attn.c_attn.weight", ...; Conv1D weights [in, out]; the
// output projection left out, as it is tied to transformer.wte.weight).
// Both files are written atomically.
func (m *Model) Save(dir string) error {
	var tensors []tensor.NamedTensor
	for _, p := range m.Params.List() {
		t := p.Value
		if isConv1D(p.Name) {
			t = tensor.Transpose(t)
		}
		tensors = append(tensors, tensor.NamedTensor{Name: "transformer." + p.Name, Tensor: t})
	}
	names := make([]string, 0, len(m.zeroBiases))
	for name := range m.zeroBiases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		tensors = append(tensors, tensor.NamedTensor{Name: "transformer." + name, Tensor: tensor.New(m.zeroBiases[name])})
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

// Load reads a Hugging Face GPT-2 checkpoint directory (config.json and
// model.safetensors). It accepts tensor names with or without the
// "transformer." prefix, ignores the attention-mask buffers some files
// carry (attn.bias, attn.masked_bias) and a tied lm_head.weight, converts
// F16 and BF16 to float32, and names any tensor that is missing, misshapen
// or unknown.
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
	if err := hfdir.CheckFits(dir, f, cfg.paramsLowerBound(), "vocab_size, n_positions, n_embd, n_layer and n_inner"); err != nil {
		return nil, err
	}
	m, err := New(cfg, 0)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, name := range f.Weights() {
		key := strings.TrimPrefix(name, "transformer.")
		if strings.HasSuffix(key, ".attn.bias") || strings.HasSuffix(key, ".attn.masked_bias") || key == "lm_head.weight" {
			continue
		}
		if _, ok := m.zeroBiases[key]; ok { // a bias-free model's bias: must be zero
			t, err := f.Tensor(name)
			if err != nil {
				return nil, err
			}
			for _, v := range t.Data() {
				if v != 0 {
					return nil, fmt.Errorf("%s: tensor %q is not zero, but the config says bias: false", path, name)
				}
			}
			continue
		}
		p := m.Params.Get(key)
		if p == nil {
			return nil, fmt.Errorf("%s: tensor %q is not a parameter of GPT-2", path, name)
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: parameter %q appears twice (with and without the transformer. prefix)", path, key)
		}
		seen[key] = true
		t, err := f.Tensor(name)
		if err == nil {
			err = tensor.CheckFinite(path, name, t)
		}
		if err != nil {
			return nil, err
		}
		want := p.Value.Shape()
		if isConv1D(key) {
			if t.Dims() != 2 || t.Dim(0) != want[1] || t.Dim(1) != want[0] {
				return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v ([in, out] Conv1D layout) for this config", path, name, t.Shape(), []int{want[1], want[0]})
			}
			t = tensor.Transpose(t)
		} else if !t.SameShape(p.Value) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v for this config", path, name, t.Shape(), want)
		}
		copy(p.Value.Data(), t.Data())
	}
	for _, p := range m.Params.List() {
		if !seen[p.Name] {
			return nil, fmt.Errorf("%s: tensor %q (or transformer.%s) is missing", path, p.Name, p.Name)
		}
	}
	return m, nil
}
