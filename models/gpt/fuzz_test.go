package gpt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadConfig: any config.json beside a real weights file loads, or is
// refused with an error naming config.json or the weights; never a panic,
// and never an allocation beyond what the weights file holds (the config's
// sizes are checked against it first).
func FuzzLoadConfig(f *testing.F) {
	weights, err := os.ReadFile("testdata/tiny/model.safetensors")
	if err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile("testdata/tiny/config.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("{}"))
	f.Add([]byte(`{"vocab_size": 2000000000, "n_layer": 1000000000, "encoder_layers": 1000000000, "num_hidden_layers": 1000000000}`))
	f.Add([]byte(`{"d_model": 1099511627776, "n_embd": 1099511627776, "hidden_size": 1099511627776}`))
	f.Add([]byte(`{"layer_norm_epsilon": -1, "layer_norm_eps": -1, "eos_token_id": -1, "pad_token_id": -1}`))
	f.Fuzz(func(t *testing.T, config []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644)
		os.WriteFile(filepath.Join(dir, "model.safetensors"), weights, 0o644)
		_, err := Load(dir)
		if err != nil && !strings.Contains(err.Error(), "config.json") && !strings.Contains(err.Error(), "model.safetensors") {
			t.Fatalf("the error names neither file: %v", err)
		}
	})
}
