package bert

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/tensor"
)

// Save writes the model as a Hugging Face checkpoint directory (config.json
// and model.safetensors, BertForMaskedLM's or BertForQuestionAnswering's
// tensor names), atomically.
func (m *Model) Save(dir string) error {
	var tensors []tensor.NamedTensor
	for _, p := range m.Params.List() {
		tensors = append(tensors, tensor.NamedTensor{Name: p.Name, Tensor: p.Value})
	}
	return hfdir.Write(dir, m.Config, tensors)
}

// Load reads a BERT, RoBERTa or DistilBERT checkpoint directory with the
// given head. Tensors other
// heads and the pre-training tasks carry (bert.pooler, cls.seq_relationship,
// qa_outputs or cls.predictions for the other head), the tied decoder
// weights and the position_ids buffer are ignored; old LayerNorm.gamma/beta
// names are read as weight/bias. A missing or misshapen tensor is named.
func Load(dir string, head Head) (*Model, error) { return load(dir, head, false, 0) }

// LoadPretrained reads a checkpoint's encoder (a BertForMaskedLM, say) into
// a model with the given head, the head's parameters newly initialised
// (seeded) when the file lacks them, as transformers' from_pretrained does
// for a fine-tuning head.
func LoadPretrained(dir string, head Head, seed uint64) (*Model, error) {
	return load(dir, head, true, seed)
}

func load(dir string, head Head, newHead bool, seed uint64) (*Model, error) {
	var cfg Config
	if err := hfdir.ReadConfig(dir, &cfg); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(head)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, hfdir.ConfigFile), err)
	}
	f, err := hfdir.ReadWeights(dir)
	if err != nil {
		return nil, err
	}
	wpath := f.Path
	h, l, i := float64(cfg.HiddenSize), float64(cfg.NumHiddenLayers), float64(cfg.IntermediateSize)
	if err := hfdir.CheckFits(dir, f, float64(cfg.VocabSize+cfg.MaxPositionEmbeddings+cfg.TypeVocabSize)*h+l*(4*h*h+2*h*i),
		"vocab_size, max_position_embeddings, type_vocab_size, hidden_size, num_hidden_layers and intermediate_size"); err != nil {
		return nil, err
	}
	cfg.Architectures = nil // the head's own, not the file's
	m, err := New(cfg, head, seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, hfdir.ConfigFile), err)
	}
	seen := map[string]bool{}
	n := m.names
	for _, name := range f.Names() {
		key := strings.NewReplacer("LayerNorm.gamma", "LayerNorm.weight", "LayerNorm.beta", "LayerNorm.bias").Replace(name)
		if m.Params.Get(key) == nil && m.Params.Get(n.prefix+key) != nil {
			key = n.prefix + key // a bare encoder file (BertModel, RobertaModel, DistilBertModel)
		}
		p := m.Params.Get(key)
		if p == nil {
			if ignored(key, n) {
				continue
			}
			return nil, fmt.Errorf("%s: tensor %q is not a parameter of this %s model", wpath, name, cfg.ModelType)
		}
		if err := hfdir.ReadInto(f, name, p.Value); err != nil {
			return nil, err
		}
		seen[key] = true
	}
	for _, p := range m.Params.List() {
		if !seen[p.Name] && !(newHead && !strings.HasPrefix(p.Name, n.prefix)) {
			return nil, fmt.Errorf("%s: tensor %q is missing", wpath, p.Name)
		}
	}
	return m, nil
}

// ignored reports whether a tensor of the file is one the model does not
// need: the pooler, the pre-training and the other head's tensors, tied
// copies, the position_ids buffer.
func ignored(key string, n names) bool {
	prefixes := []string{n.prefix + "pooler.", "cls.seq_relationship.", "qa_outputs.", n.prefix + "embeddings.position_ids",
		n.prefix + "embeddings.token_type_ids", "pre_classifier.", "classifier."}
	prefixes = append(prefixes, n.mlmTied...)
	for _, mlm := range []string{n.mlmDense, n.mlmNorm, n.mlmBias} {
		prefixes = append(prefixes, mlm+".", mlm)
	}
	for _, prefix := range prefixes {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}
