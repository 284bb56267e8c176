package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/tokenizer"
)

// tinyQA writes a small BERT question-answering directory with a
// WordPiece tokenizer.json.
func tinyQA(t *testing.T) string {
	t.Helper()
	tr := &tokenizer.WordPieceTrainer{VocabSize: 60}
	tr.Add("the tool converts files between formats and prints a report")
	wp, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	m, err := bert.New(bert.Config{VocabSize: wp.VocabSize(), HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2,
		IntermediateSize: 32, MaxPositionEmbeddings: 64}, bert.QuestionAnswering, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := wp.SaveHF(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAnswerLongContext: a context of a quarter megabyte is read in windows, a few
// at a time, and the answer is a span of it.
func TestAnswerLongContext(t *testing.T) {
	dir := tinyQA(t)
	ctx := filepath.Join(t.TempDir(), "context.txt")
	os.WriteFile(ctx, []byte(strings.Repeat("the tool converts files between formats. ", 6000)), 0o644)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var out, errb bytes.Buffer
	if code := run([]string{"answer", "--model", dir, "--question", "what does the tool convert?", "--context", ctx, "--json", "--top-k", "2"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	runtime.ReadMemStats(&after)
	var ans []struct {
		Answer     string
		Score      float64
		Start, End int
	}
	if err := json.Unmarshal(out.Bytes(), &ans); err != nil || len(ans) != 2 || ans[0].Answer == "" || ans[0].End-ans[0].Start != len([]rune(ans[0].Answer)) {
		t.Fatalf("%q: %v", out.String(), err)
	}
	t.Logf("answers %+v; %d MiB allocated in all", ans, (after.TotalAlloc-before.TotalAlloc)>>20)
}
