package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/goformer/goformer/metrics"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var _ flag.Value = (*stringList)(nil)

func readLines(r io.Reader, name string) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		if !utf8.Valid(sc.Bytes()) {
			return nil, usagef("%s:%d: not valid UTF-8", name, len(lines)+1)
		}
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return lines, nil
}

var stdinReader io.Reader = os.Stdin

// readStdinText reads all of standard input, which must be UTF-8 (a usage
// error prefixed with cmd otherwise).
func readStdinText(cmd string) (string, error) {
	b, err := io.ReadAll(stdinReader)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", usagef("%s: the input is not valid UTF-8", cmd)
	}
	return string(b), nil
}

func runBLEU(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bleu",
		"Scores translations (one per line on stdin) against references with corpus BLEU and chrF2, computed as\n"+
			"sacreBLEU 2.x does by default (13a tokenisation, case-sensitive, exp smoothing; character 6-grams, β = 2).",
		"  goformer bleu --ref test.en < out.en\n  goformer bleu --ref ref1.en --ref ref2.en --json < out.en", stderr)
	var refPaths stringList
	fs.Var(&refPaths, "ref", "reference file, one sentence per line (repeat for several references)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(refPaths) == 0 {
		return usagef("bleu: --ref is required")
	}
	hyps, err := readLines(stdinReader, "standard input")
	if err != nil {
		return err
	}
	if len(hyps) == 0 {
		return usagef("bleu: standard input is empty: no translations to score")
	}
	var refs [][]string
	for _, p := range refPaths {
		f, err := os.Open(p)
		if err != nil {
			return usageError{"bleu: " + err.Error()}
		}
		lines, err := readLines(f, p)
		f.Close()
		if err != nil {
			return err
		}
		if len(lines) != len(hyps) {
			return usagef("bleu: the hypotheses have %d lines but %s has %d", len(hyps), p, len(lines))
		}
		refs = append(refs, lines)
	}
	b, err := metrics.CorpusBLEU(hyps, refs)
	if err != nil {
		return usageError{"bleu: " + err.Error()}
	}
	c, err := metrics.CorpusChrF(hyps, refs[0])
	if err != nil {
		return usageError{"bleu: " + err.Error()}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"bleu": b.Score, "precisions": b.Precisions, "bp": b.BP, "ratio": b.Ratio(), "hyp_len": b.HypLen, "ref_len": b.RefLen,
			"chrf": c.Score, "bleu_signature": fmt.Sprintf(metrics.BLEUSignature, len(refs)), "chrf_signature": fmt.Sprintf(metrics.ChrFSignature, 1),
		})
	}
	_, err = fmt.Fprintf(stdout, "%s\n%s\nsignatures: BLEU %s; chrF2 %s\n", b, c,
		fmt.Sprintf(metrics.BLEUSignature, len(refs)), fmt.Sprintf(metrics.ChrFSignature, 1))
	return err
}
