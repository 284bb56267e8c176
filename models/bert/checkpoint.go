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
//
// The Base head is saved as the bare model is (BertModel and its kin):
// without the family's prefix, embeddings.… and encoder.….
func (m *Model) Save(dir string) error {
	var tensors []tensor.NamedTensor
	for _, p := range m.Params.List() {
		name := p.Name
		if m.Head == Base {
			name = strings.TrimPrefix(name, m.names.prefix)
		}
		tensors = append(tensors, tensor.NamedTensor{Name: name, Tensor: p.Value})
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
	fileArch := cfg.Architectures
	cfg.Architectures = nil // the head's own, not the file's
	cfg = cfg.withDefaults(head)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, hfdir.ConfigFile), err)
	}
	m, err := newModel(cfg, head, nil) // the file fills the weights: no drawing
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, hfdir.ConfigFile), err)
	}
	seen := map[string]bool{}
	n := m.names
	// A bare encoder file (BertModel, RobertaModel, DistilBertModel, as
	// sentence-transformers saves them) has no name with the prefix.
	bare := true
	for _, name := range f.Weights() {
		if strings.HasPrefix(name, n.prefix) {
			bare = false
		}
	}
	for _, name := range f.Weights() {
		key := strings.NewReplacer("LayerNorm.gamma", "LayerNorm.weight", "LayerNorm.beta", "LayerNorm.bias").Replace(name)
		if bare && !strings.HasPrefix(key, "classifier.") && !strings.HasPrefix(key, "pre_classifier.") && !strings.HasPrefix(key, "qa_outputs.") {
			key = n.prefix + key
		}
		p := m.Params.Get(key)
		if p == nil {
			if ignored(key, n) {
				continue
			}
			return nil, fmt.Errorf("%s: tensor %q is not a parameter of this %s model", wpath, name, cfg.ModelType)
		}
		if m.classifier != nil && p == m.classifier.W {
			if in := f.Info(name); in != nil && len(in.Shape) == 2 && in.Shape[0] != cfg.NumLabels() {
				return nil, fmt.Errorf("%s: tensor %q has %d rows but config.json declares %d labels (id2label)", wpath, name, in.Shape[0], cfg.NumLabels())
			}
		}
		if err := hfdir.ReadInto(f, name, p.Value); err != nil {
			return nil, err
		}
		seen[key] = true
	}
	var fresh *Model
	for _, p := range m.Params.List() {
		optional := newHead && !strings.HasPrefix(p.Name, n.prefix) ||
			// BertModel's pooler: sentence-transformers never uses it,
			// and transformers initialises it when the file lacks it.
			head == Base && strings.HasPrefix(p.Name, n.seqDense) ||
			newHead && head == SequenceClassification && strings.HasPrefix(p.Name, n.seqDense)
		if !seen[p.Name] && optional { // initialised as New initialises it
			if fresh == nil {
				if fresh, err = New(cfg, head, seed); err != nil {
					return nil, err
				}
			}
			copy(p.Value.Data(), fresh.Params.Get(p.Name).Value.Data())
		}
		if !seen[p.Name] && !optional {
			if !strings.HasPrefix(p.Name, n.prefix) || head == SequenceClassification && strings.HasPrefix(p.Name, n.seqDense) {
				return nil, fmt.Errorf("%s: tensor %q is missing: the checkpoint has no %s head (its config.json says %v)", wpath, p.Name, head, fileArch)
			}
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
