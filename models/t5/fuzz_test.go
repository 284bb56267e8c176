package t5

import (
	"testing"

	"github.com/goformer/goformer/internal/fixture"
)

// FuzzLoadConfig: any config.json beside the t5-small-shaped weights loads
// or is refused naming the file; never a panic or an allocation beyond the
// weights (fixture.FuzzLoadConfig).
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(`{"model_type": "t5", "vocab_size": 1152, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 2, "num_heads": 4, "relative_attention_num_buckets": 1000000, "relative_attention_max_distance": 3}`))
	f.Add([]byte(`{"model_type": "t5", "vocab_size": 1152, "d_model": 32, "d_kv": 1099511627776, "d_ff": 48, "num_layers": 2, "num_heads": 4096}`))
	f.Add([]byte(`{"model_type": "t5", "vocab_size": 1152, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 2, "num_heads": 4, "feed_forward_proj": "gated-gated-gelu"}`))
	fixture.FuzzLoadConfig(f, "t5-small", func(dir string) error {
		_, err := Load(dir)
		return err
	})
}
