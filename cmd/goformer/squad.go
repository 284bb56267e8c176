package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/metrics"
)

// readSQuADFile reads a SQuAD v1.1 file (plain or gzip) as questions for
// the metric. Errors are usage errors prefixed with cmd.
func readSQuADFile(cmd, path string) ([]data.SQuADQuestion, error) {
	r, err := data.OpenText(path)
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	defer r.Close()
	qs, err := data.ReadSQuAD(r, path)
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	return qs, nil
}

func metricQuestions(qs []data.SQuADQuestion) []metrics.SQuADQuestion {
	out := make([]metrics.SQuADQuestion, len(qs))
	for i, q := range qs {
		out[i].ID = q.ID
		for _, a := range q.Answers {
			out[i].Answers = append(out[i].Answers, a.Text)
		}
	}
	return out
}

func runSQuAD(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer squad",
		"Scores predictions (a JSON object: question id → answer text) against a SQuAD v1.1 file with exact\n"+
			"match and F1, exactly as the official evaluate-v1.1.py: answers lower-cased, punctuation and the\n"+
			"articles a/an/the dropped, white space collapsed; each question's best over its answers; a question\n"+
			"without a prediction scores 0.",
		"  goformer squad --data dev-v1.1.json --predictions predictions.json\n  goformer squad --data test-cloze-squad.json.gz --predictions p.json --json", stderr)
	dataPath := fs.String("data", "", "SQuAD v1.1 JSON (plain or gzip; required)")
	predPath := fs.String("predictions", "", "predictions JSON: {\"id\": \"answer\", ...} (required)")
	asJSON := fs.Bool("json", false, "print one JSON object: exact_match, f1")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataPath == "" || *predPath == "" {
		return usagef("squad: --data and --predictions are required")
	}
	qs, err := readSQuADFile("squad", *dataPath)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(*predPath)
	if err != nil {
		return usageError{"squad: " + err.Error()}
	}
	var preds map[string]string
	if err := json.Unmarshal(b, &preds); err != nil {
		return usagef("squad: %s: want a JSON object of id → answer text: %v", *predPath, err)
	}
	r := metrics.SQuADScore(metricQuestions(qs), preds)
	if r.Missing > 0 {
		fmt.Fprintf(stderr, "squad: %d of %d questions have no prediction and score 0\n", r.Missing, r.Total)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"exact_match": r.ExactMatch, "f1": r.F1, "questions": r.Total, "missing": r.Missing})
	}
	_, err = fmt.Fprintf(stdout, "exact match %.2f  F1 %.2f  (%d questions)\n", r.ExactMatch, r.F1, r.Total)
	return err
}
