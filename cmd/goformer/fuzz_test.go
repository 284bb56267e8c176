package main

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzCommandLine: any flag with any value, given to a command that reads
// a model (a missing one, so nothing heavy runs after the flags), is
// accepted or refused as bad input (exit 2) with one line on stderr; it
// never crashes (exit 3) or prints a Go stack.
func FuzzCommandLine(f *testing.F) {
	cmds := [][]string{{"generate"}, {"translate"}, {"eval"}, {"info"}, {"tokenizer", "encode"}, {"tokenizer", "decode"}}
	for _, seed := range [][2]string{
		{"--max-tokens", "9223372036854775807"}, {"--beam", "100000"}, {"--threads", "10000000"},
		{"--top-p", "NaN"}, {"--alpha", "NaN"}, {"--temperature", "Inf"}, {"--top-k", "-5"},
		{"--temperature", "1e308"}, {"--seed", "-1"}, {"--json", "maybe"}, {"-h", ""}, {"--nope", "1"},
	} {
		for i := range cmds {
			f.Add(uint8(i), seed[0], seed[1])
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, name, value string) {
		if strings.Contains(name, "model") || strings.Contains(name, "data") || strings.Contains(name, "src") || strings.Contains(name, "ref") {
			t.Skip("a path flag would point the command at real files")
		}
		args := append(append([]string(nil), cmds[int(which)%len(cmds)]...), "--model", "/nonexistent/goformer-fuzz", name, value)
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		if code == exitInternal || strings.Contains(errb.String(), "goroutine ") {
			t.Fatalf("%q: exit %d: %s", args, code, errb.String())
		}
		if code != 0 && code != exitBadInput {
			t.Fatalf("%q: exit %d, want 0 or 2: %s", args, code, errb.String())
		}
		if code == exitBadInput && strings.Count(strings.TrimSuffix(errb.String(), "\n"), "\n") > 0 {
			t.Fatalf("%q: more than one line of error: %q", args, errb.String())
		}
	})
}
