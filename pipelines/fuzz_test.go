package pipelines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadEmbedder: any modules.json, 1_Pooling/config.json and
// sentence_bert_config.json beside a real model load or are refused
// naming a file; never a panic.
func FuzzLoadEmbedder(f *testing.F) {
	src := encoderDir("st-maxmean")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(read(ModulesFile), read(filepath.Join("1_Pooling", PoolingConfig)), read(SentenceBertConfig))
	f.Add([]byte(`[{"path": "../..", "type": "Pooling"}]`), []byte(`{}`), []byte(`{"max_seq_length": -1}`))
	f.Add([]byte(`[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "Pooling"}]`),
		[]byte(`{"word_embedding_dimension": 16, "pooling_mode_weightedmean_tokens": true}`), []byte(`{"max_seq_length": 1000000000000}`))
	f.Add([]byte(`null`), []byte(`[]`), []byte(`"x"`))
	files := []string{"config.json", "model.safetensors", "tokenizer.json"}
	blobs := make([][]byte, len(files))
	for i, name := range files {
		blobs[i] = read(name)
	}
	f.Fuzz(func(t *testing.T, modules, pooling, sbert []byte) {
		d := t.TempDir()
		os.MkdirAll(filepath.Join(d, "1_Pooling"), 0o755)
		for i, name := range files {
			os.WriteFile(filepath.Join(d, name), blobs[i], 0o644)
		}
		os.WriteFile(filepath.Join(d, ModulesFile), modules, 0o644)
		os.WriteFile(filepath.Join(d, "1_Pooling", PoolingConfig), pooling, 0o644)
		os.WriteFile(filepath.Join(d, SentenceBertConfig), sbert, 0o644)
		e, err := LoadEmbedder(d)
		if err != nil {
			if !strings.Contains(err.Error(), ".json") && !strings.Contains(err.Error(), "max_seq_length") {
				t.Fatalf("the error names no file: %v", err)
			}
			return
		}
		if _, err := e.Embed([]string{"a fast web server"}); err != nil {
			t.Fatalf("a loaded embedder fails: %v", err)
		}
	})
}
