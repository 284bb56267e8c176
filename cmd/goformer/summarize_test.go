package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSummarizeLongDocuments: documents longer than the model's positions
// are cut and summarised, and stderr says so once, not per document.
func TestSummarizeLongDocuments(t *testing.T) {
	dir := tinyBart(t)
	long := strings.Repeat("a tool to convert files ", 50)
	stdinReader = strings.NewReader(long + "\n" + long + "\nshort\n")
	defer func() { stdinReader = os.Stdin }()
	var out, errb bytes.Buffer
	if code := run([]string{"summarize", "--model", dir, "--beams", "2", "--max-new-tokens", "5", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines of output: %q", len(lines), out.String())
	}
	for _, l := range lines {
		var v map[string]string
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if _, ok := v["summary"]; !ok {
			t.Fatalf("%q has no summary", l)
		}
	}
	if n := strings.Count(errb.String(), "were cut"); n != 1 || !strings.Contains(errb.String(), "2 of 3 documents") ||
		!strings.Contains(errb.String(), "their first 32 tokens") {
		t.Errorf("stderr %q: want one line saying 2 of 3 documents were cut to the model's 32 positions", errb.String())
	}
	// A tokenizer_config.json's model_max_length cuts them shorter, as
	// transformers' tokenizer does; --max-source-len overrides it.
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"model_max_length": 12}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flags []string
		want  string
	}{{nil, "their first 12 tokens"}, {[]string{"--max-source-len", "20"}, "their first 20 tokens"}} {
		stdinReader = strings.NewReader(long + "\nshort\n")
		out.Reset()
		errb.Reset()
		args := append([]string{"summarize", "--model", dir, "--beams", "1", "--max-new-tokens", "3"}, c.flags...)
		if code := run(args, &out, &errb); code != 0 || !strings.Contains(errb.String(), "1 of 2 documents") || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q: want it to say 1 of 2 documents were cut to %s", c.flags, code, errb.String(), c.want)
		}
	}
}
