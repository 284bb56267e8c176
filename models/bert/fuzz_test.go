package bert

import (
	"testing"

	"github.com/goformer/goformer/internal/fixture"
)

// FuzzLoadConfig: any config.json beside a real weights file loads or is
// refused naming the file; never a panic or an allocation beyond the
// weights (fixture.FuzzLoadConfig).
func FuzzLoadConfig(f *testing.F) {
	fixture.FuzzLoadConfig(f, "mlm", func(dir string) error {
		_, err := Load(dir, MaskedLM)
		return err
	})
}

// FuzzLoadClassifierConfig: the same over a sequence-classification
// checkpoint, with its labels (id2label, label2id, num_labels,
// problem_type) in play.
func FuzzLoadClassifierConfig(f *testing.F) {
	f.Add([]byte(`{"model_type": "bert", "vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32, "max_position_embeddings": 24, "id2label": {"0": "a", "1": "b", "7": "c"}}`))
	f.Add([]byte(`{"model_type": "bert", "vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32, "max_position_embeddings": 24, "num_labels": 1000000000}`))
	f.Add([]byte(`{"model_type": "distilbert", "vocab_size": 40, "dim": 16, "n_layers": 2, "n_heads": 4, "hidden_dim": 32, "max_position_embeddings": 24, "id2label": {"00": "a"}, "problem_type": "x"}`))
	fixture.FuzzLoadConfig(f, "bert_seqcls", func(dir string) error {
		_, err := Load(dir, SequenceClassification)
		return err
	})
}
