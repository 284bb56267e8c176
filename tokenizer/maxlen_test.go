package tokenizer

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModelMaxLength(t *testing.T) {
	for _, c := range []struct {
		config string // "" writes no file
		want   int
		err    string
	}{
		{"", 0, ""},
		{`{"tokenizer_class": "BartTokenizer"}`, 0, ""},
		{`{"model_max_length": 64}`, 64, ""},
		{`{"model_max_length": 1024, "pad_token": "<pad>"}`, 1024, ""},
		{`{"model_max_length": 1000000000000000019884624838656}`, 0, ""}, // transformers' "no limit"
		{`{"model_max_length": 0}`, 0, "not a positive whole number"},
		{`{"model_max_length": 12.5}`, 0, "not a positive whole number"},
		{`{"model_max_length": -3}`, 0, "not a positive whole number"},
		{`{"model_max_length": "64"}`, 0, "tokenizer_config.json"},
		{`{"model_max_length": 64`, 0, "tokenizer_config.json"},
	} {
		dir := t.TempDir()
		if c.config != "" {
			if err := os.WriteFile(filepath.Join(dir, TokenizerConfigFile), []byte(c.config), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ModelMaxLength(dir)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %d, %v; want an error containing %q", c.config, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %d, %v; want %d", c.config, got, err, c.want)
		}
	}
}

// FuzzModelMaxLength: any tokenizer_config.json gives a length of 0 (no
// limit) or a positive int32, or an error naming the file; never a panic.
func FuzzModelMaxLength(f *testing.F) {
	for _, s := range []string{`{"model_max_length": 64}`, `{"model_max_length": 1000000000000000019884624838656}`,
		`{"model_max_length": null}`, `{"model_max_length": -1e400}`, `{"model_max_length": 2147483648}`, `[]`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseModelMaxLength("tokenizer_config.json", b)
		if err != nil {
			if n != 0 || !strings.Contains(err.Error(), "tokenizer_config.json") {
				t.Fatalf("%q: %d, %v", b, n, err)
			}
			return
		}
		if n < 0 || n > math.MaxInt32 {
			t.Fatalf("%q: length %d", b, n)
		}
	})
}
