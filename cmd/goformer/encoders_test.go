package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goformer/goformer/pipelines"
)

func encoderFixture(name string) string {
	return filepath.Join("..", "..", "pipelines", "testdata", "encoders", name)
}

func runStdin(t *testing.T, stdin string, args ...string) (string, string) {
	t.Helper()
	stdinReader = strings.NewReader(stdin)
	defer func() { stdinReader = os.Stdin }()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errb.String())
	}
	return out.String(), errb.String()
}

// TestEncoderCommands: embed writes one JSON vector per line in input
// order, the pipeline's, and counts the texts it cut; classify, rerank and
// ner print the pipelines' results; eval --retrieval scores a JSONL file
// beside BM25.
func TestEncoderCommands(t *testing.T) {
	texts := []string{"How do I install a Python package?", "The movie was terrible, the film was great and the game was good and the team won the vote.", "A fast web server."}
	out, errs := runStdin(t, strings.Join(texts, "\n")+"\n", "embed", "--model", encoderFixture("st-mean"), "--batch-size", "2")
	e, err := pipelines.LoadEmbedder(encoderFixture("st-mean"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.Embed(texts)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d lines for %d texts", len(lines), len(texts))
	}
	for i, l := range lines {
		var rec struct {
			Index     int
			Embedding []float32
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Index != i || len(rec.Embedding) != len(want[i]) || math.Abs(float64(rec.Embedding[0]-want[i][0])) > 1e-5 {
			t.Errorf("line %d: %.60s (%v)", i, l, err)
		}
	}
	if !strings.Contains(errs, "1 of 3 inputs were longer than 12 tokens") {
		t.Errorf("stderr %q does not count the cut text", errs)
	}

	out, _ = runStdin(t, "A fast web server.\n", "classify", "--model", encoderFixture("sentiment"), "--top-k", "0", "--json")
	var one []pipelines.LabelScore
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &one); err != nil || len(one) != 3 {
		t.Errorf("classify: %q", out)
	}
	out, _ = runStdin(t, "The team won the game.\n", "classify", "--model", encoderFixture("nli"), "--labels", "sports,politics", "--multi-label")
	if f := strings.Split(strings.TrimSpace(out), "\t"); len(f) != 2 || (f[0] != "sports" && f[0] != "politics") {
		t.Errorf("zero-shot: %q", out)
	}
	out, _ = runStdin(t, "bake bread\npython package tool\n", "rerank", "--model", encoderFixture("reranker"), "--query", "install python")
	if ls := strings.Split(strings.TrimSpace(out), "\n"); len(ls) != 2 || !strings.Contains(out, "\t1\tbake bread") || !strings.Contains(out, "\t2\tpython package tool") {
		t.Errorf("rerank: %q", out)
	}
	out, _ = runStdin(t, "John Smith lives in Paris.\n", "ner", "--model", encoderFixture("ner"), "--json", "--aggregation", "first")
	var ents []pipelines.Entity
	if err := json.Unmarshal([]byte(out), &ents); err != nil || len(ents) == 0 || ents[0].EntityGroup == "" {
		t.Errorf("ner: %q %v", out, err)
	}

	pairs := filepath.Join(t.TempDir(), "pairs.jsonl")
	os.WriteFile(pairs, []byte(`{"query": "web server", "document": "A fast web server."}
{"query": "python package", "document": "How do I install a Python package?"}
{"query": "bake bread", "document": "A recipe to bake bread at home."}
`), 0o644)
	out, _ = runStdin(t, "", "eval", "--model", encoderFixture("st-cls"), "--retrieval", pairs, "--json")
	var r retrievalResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Dense.Queries != 3 || r.BM25.RecallAt1 != 100 {
		t.Errorf("eval --retrieval: %q %v", out, err)
	}
}
