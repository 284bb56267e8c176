package main

import (
	"bytes"
	"encoding/json"
	"os"
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
	if n := strings.Count(errb.String(), "were cut"); n != 1 || !strings.Contains(errb.String(), "2 of 3 documents") {
		t.Errorf("stderr %q: want one line saying 2 of 3 documents were cut", errb.String())
	}
}
