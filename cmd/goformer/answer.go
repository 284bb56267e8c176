package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/internal/progress"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tensor"
)

// loadQuestionAnswerer reads a question-answering model directory; one of
// another kind, or without a QA head, is a usage error naming what it is.
func loadQuestionAnswerer(cmd, dir string) (*pipelines.QuestionAnswerer, error) {
	if err := modelDir(cmd, dir); err != nil {
		return nil, err
	}
	var probe struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := hfdir.ReadConfig(dir, &probe); err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	if probe.ModelType != "bert" && probe.ModelType != "roberta" && probe.ModelType != "distilbert" {
		return nil, usagef("%s: %s holds a %q model; question answering needs a BERT, RoBERTa or DistilBERT with a question-answering head", cmd, dir, probe.ModelType)
	}
	qaHead := false
	for _, a := range probe.Architectures {
		qaHead = qaHead || strings.HasSuffix(a, "ForQuestionAnswering")
	}
	if !qaHead {
		return nil, usagef("%s: %s has no question-answering head (architectures %v; want BertForQuestionAnswering, RobertaForQuestionAnswering or DistilBertForQuestionAnswering)", cmd, dir, probe.Architectures)
	}
	qa, err := pipelines.LoadQuestionAnswerer(dir)
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	return qa, nil
}

func runAnswer(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer answer",
		"Answers a question about a text with an extractive question-answering model (BERT, RoBERTa or\n"+
			"DistilBERT with a QA head), or generates the answer with a T5 model (from \"question: … context: …\",\n"+
			"with the directory's generation settings),\n"+
			"as transformers' question-answering pipeline does: long contexts are read in overlapping windows and\n"+
			"the answer is a span of the context, with its score and character span. With --jsonl, reads one\n"+
			"{\"question\", \"context\"} object per line on stdin and answers each.",
		"  goformer answer --model DIR --question \"What does it convert?\" --context README.txt\n"+
			"  goformer answer --model DIR --jsonl --json < questions.jsonl", stderr)
	dir := fs.String("model", "", "model directory (required)")
	question := fs.String("question", "", "the question")
	ctxPath := fs.String("context", "", "a UTF-8 file holding the context")
	jsonl := fs.Bool("jsonl", false, "read {\"question\", \"context\"} objects, one per line, on stdin")
	topK := intFlag(fs, "top-k", 1, 1, 100, "answers per question")
	maxAnswer := intFlag(fs, "max-answer-len", 15, 1, 1<<10, "answer tokens at most")
	maxSeq := intFlag(fs, "max-seq-len", 384, 8, 1<<16, "tokens per window (at most the model's positions)")
	stride := intFlag(fs, "doc-stride", 0, 1, 1<<16, "tokens shared by consecutive windows (default min(128, max-seq-len/2))")
	threads := threadsFlag(fs, 0)
	asJSON := fs.Bool("json", false, "print JSON: a list of {answer, score, start, end} per question")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("answer: --model is required")
	}
	if *jsonl == (*question != "" || *ctxPath != "") {
		return usagef("answer: give --question and --context, or --jsonl")
	}
	cpu.SetThreads(*threads)
	if err := modelDir("answer", *dir); err != nil {
		return err
	}
	var probe struct {
		ModelType string `json:"model_type"`
	}
	if err := hfdir.ReadConfig(*dir, &probe); err != nil {
		return usageError{"answer: " + err.Error()}
	}
	var qa *pipelines.QuestionAnswerer
	var t2t *pipelines.Text2Text
	var err error
	if probe.ModelType == "t5" { // generative: "question: … context: …"
		if t2t, err = pipelines.LoadText2Text(*dir); err != nil {
			return usageError{"answer: " + err.Error()}
		}
	} else {
		if qa, err = loadQuestionAnswerer("answer", *dir); err != nil {
			return err
		}
		qa.Options = pipelines.QAOptions{MaxSeqLen: min(*maxSeq, qa.MaxPos), DocStride: *stride, MaxAnswerLen: *maxAnswer, TopK: *topK}
	}
	type item struct{ Question, Context string }
	var items []item
	if *jsonl {
		text, err := readStdinText("answer")
		if err != nil {
			return err
		}
		for i, line := range strings.Split(text, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var it struct {
				Question *string `json:"question"`
				Context  *string `json:"context"`
			}
			if err := json.Unmarshal([]byte(line), &it); err != nil || it.Question == nil || it.Context == nil {
				return usagef("answer: standard input:%d: want a JSON object with string fields question and context", i+1)
			}
			items = append(items, item{*it.Question, *it.Context})
		}
	} else {
		if *question == "" || *ctxPath == "" {
			return usagef("answer: give both --question and --context")
		}
		b, err := os.ReadFile(*ctxPath)
		if err != nil {
			return usageError{"answer: " + err.Error()}
		}
		items = append(items, item{*question, string(b)})
	}
	if t2t != nil {
		inputs := make([]string, len(items))
		for i, it := range items {
			inputs[i] = "question: " + it.Question + " context: " + it.Context
		}
		return answerGenerative(t2t, inputs, *asJSON, stdout)
	}
	all := make([][]pipelines.Answer, len(items))
	for i, it := range items {
		if all[i], err = qa.Answer(it.Question, it.Context); err != nil {
			if len(items) == 1 {
				return usageError{"answer: " + err.Error()}
			}
			return usagef("answer: question %d: %v", i+1, err)
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, ans := range all {
		if *asJSON {
			if err := enc.Encode(ans); err != nil {
				return err
			}
			continue
		}
		for _, a := range ans {
			if _, err := fmt.Fprintf(stdout, "%s\t(score %.4f, characters %d–%d)\n", a.Text, a.Score, a.Start, a.End); err != nil {
				return err
			}
		}
	}
	return nil
}

// answerGenerative answers each "question: … context: …" input with a
// text-to-text model (T5): one answer per line, or {"answer"} per line
// with asJSON.
func answerGenerative(t *pipelines.Text2Text, inputs []string, asJSON bool, stdout io.Writer) error {
	out, err := t.Generate(inputs)
	if err != nil {
		return usageError{"answer: " + err.Error()}
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, a := range out {
		if asJSON {
			err = enc.Encode(map[string]string{"answer": a})
		} else {
			_, err = fmt.Fprintln(stdout, a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// evalSQuAD answers every question of a SQuAD file, writes the
// predictions JSON beside it (predictionsPath) and prints EM and F1.
func evalSQuAD(dir, path, predictionsPath string, asJSON bool, stdout, stderr io.Writer) error {
	qa, err := loadQuestionAnswerer("eval", dir)
	if err != nil {
		return err
	}
	qs, err := readSQuADFile("eval", path)
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		return usagef("eval: %s holds no questions", path)
	}
	p := progress.New(stderr, len(qs))
	p.Unit = "questions"
	preds := map[string]string{}
	start := time.Now()
	for i, q := range qs {
		ans, err := qa.Answer(q.Question, q.Context)
		if err != nil {
			p.Clear()
			return usagef("eval: question %q: %v", q.ID, err)
		}
		if _, seen := preds[q.ID]; !seen && len(ans) > 0 {
			preds[q.ID] = ans[0].Text
		}
		p.UpdateCount(i + 1)
	}
	p.Clear()
	secs := time.Since(start).Seconds()
	b, _ := json.MarshalIndent(preds, "", " ")
	if err := tensor.WriteFileAtomic(predictionsPath, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}); err != nil {
		return err
	}
	r := metrics.SQuADScore(metricQuestions(qs), preds)
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"model": dir, "data": path, "questions": r.Total, "exact_match": r.ExactMatch,
			"f1": r.F1, "seconds": secs, "questions_per_s": float64(len(qs)) / secs, "predictions": predictionsPath})
	}
	_, err = fmt.Fprintf(stdout, "%s on %s (%d questions in %.1fs, %.1f/s): exact match %.2f  F1 %.2f; predictions in %s\n",
		dir, path, r.Total, secs, float64(len(qs))/secs, r.ExactMatch, r.F1, predictionsPath)
	return err
}
