package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/internal/progress"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/pipelines"
)

// encoderFamilies are the model types the encoder commands read.
var encoderFamilies = []string{"bert", "roberta", "xlm-roberta", "distilbert"}

// probeEncoder checks that dir holds a BERT-family model, naming what it
// holds otherwise; it returns the config's architectures.
func probeEncoder(cmd, dir, need string) ([]string, error) {
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
	for _, f := range encoderFamilies {
		if probe.ModelType == f {
			return probe.Architectures, nil
		}
	}
	return nil, usagef("%s: %s holds a %q model; %s needs a BERT, RoBERTa, XLM-RoBERTa or DistilBERT", cmd, dir, probe.ModelType, need)
}

// needHead refuses a directory whose architectures name none with the
// suffix (ForSequenceClassification, ...).
func needHead(cmd, dir string, archs []string, suffix, what string) error {
	for _, a := range archs {
		if strings.HasSuffix(a, suffix) {
			return nil
		}
	}
	return usagef("%s: %s has no %s head (architectures %v; want a …%s)", cmd, dir, what, archs, suffix)
}

// readTextLines reads the non-final lines of standard input as texts; a
// blank line is a usage error naming it.
func readTextLines(cmd string) ([]string, error) {
	lines, err := readLines(stdinReader, "standard input")
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			return nil, usagef("%s: standard input:%d: the line is empty (one text per line)", cmd, i+1)
		}
	}
	if len(lines) == 0 {
		return nil, usagef("%s: no text on standard input (one per line)", cmd)
	}
	return lines, nil
}

// reportTruncated says on stderr how many texts were cut.
func reportTruncated(stderr io.Writer, cmd string, n, of, limit int) {
	if n > 0 {
		fmt.Fprintf(stderr, "goformer %s: %d of %d inputs were longer than %d tokens and were cut to it\n", cmd, n, of, limit)
	}
}

func runEmbed(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer embed",
		"Embeds texts, one per line on stdin, as sentence-transformers does with a sentence-transformers\n"+
			"directory (modules.json, 1_Pooling, Normalize, sentence_bert_config.json) or, mean-pooled, with a bare\n"+
			"BERT, RoBERTa or DistilBERT directory. Writes one JSON object per line: {\"index\", \"embedding\"}. Texts\n"+
			"run in batches of similar length; texts longer than max_seq_length are cut (counted on stderr).",
		"  goformer embed --model all-MiniLM-L6-v2 < sentences.txt > vectors.jsonl", stderr)
	dir := fs.String("model", "", "model directory (required)")
	batch := intFlag(fs, "batch-size", 32, 1, 1<<14, "texts run through the model together")
	maxSeq := intFlag(fs, "max-seq-len", 0, 3, 1<<16, "tokens a text keeps (default: the directory's max_seq_length)")
	threads := threadsFlag(fs, 0)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("embed: --model is required")
	}
	cpu.SetThreads(*threads)
	if _, err := probeEncoder("embed", *dir, "embedding"); err != nil {
		return err
	}
	e, err := pipelines.LoadEmbedder(*dir)
	if err != nil {
		return usageError{"embed: " + err.Error()}
	}
	if *maxSeq > 0 {
		if err := e.SetMaxSeqLen(*maxSeq); err != nil {
			return usageError{"embed: --max-seq-len: " + err.Error()}
		}
	}
	e.Options.BatchSize = *batch
	texts, err := readTextLines("embed")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	p := progress.New(stderr, len(texts))
	p.Unit = "texts"
	chunk := max(*batch*8, 256) // progress and output between chunks
	for from := 0; from < len(texts); from += chunk {
		vs, err := e.Embed(texts[from:min(from+chunk, len(texts))])
		if err != nil {
			return usagef("embed: standard input, lines %d to %d: %v", from+1, min(from+chunk, len(texts)), err)
		}
		for i, v := range vs {
			b, _ := json.Marshal(struct {
				Index     int       `json:"index"`
				Embedding []float32 `json:"embedding"`
			}{from + i, v})
			w.Write(append(b, '\n'))
		}
		if len(texts) > chunk {
			p.UpdateCount(min(from+chunk, len(texts)))
		}
	}
	p.Clear()
	reportTruncated(stderr, "embed", e.Truncated, len(texts), e.MaxSeqLen)
	return w.Flush()
}

func runClassify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer classify",
		"Classifies texts, one per line on stdin, with a sequence-classification model (BERT, RoBERTa,\n"+
			"XLM-RoBERTa or DistilBERT …ForSequenceClassification) as transformers' text-classification pipeline\n"+
			"does: softmax over the labels, or sigmoid per label for problem_type multi_label_classification or a\n"+
			"single label. With --labels, classifies zero-shot with an NLI model instead: each label in the\n"+
			"hypothesis template, scored by entailment (softmax across labels, or per label with --multi-label).",
		"  goformer classify --model sst2-model < reviews.txt\n"+
			"  goformer classify --model nli-model --labels sports,politics,cooking --json < news.txt", stderr)
	dir := fs.String("model", "", "model directory (required)")
	topK := intFlag(fs, "top-k", 1, 0, 1<<16, "labels printed per text (0: all)")
	labels := fs.String("labels", "", "zero-shot: candidate labels, comma-separated")
	template := fs.String("template", pipelines.DefaultHypothesis, "zero-shot: the hypothesis, {} standing for the label")
	multi := fs.Bool("multi-label", false, "zero-shot: score each label on its own (entailment against contradiction)")
	asJSON := fs.Bool("json", false, "print one JSON list of {label, score} per line")
	batch := intFlag(fs, "batch-size", 32, 1, 1<<14, "texts run through the model together")
	threads := threadsFlag(fs, 0)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("classify: --model is required")
	}
	cpu.SetThreads(*threads)
	archs, err := probeEncoder("classify", *dir, "classification")
	if err != nil {
		return err
	}
	if err := needHead("classify", *dir, archs, "ForSequenceClassification", "sequence-classification"); err != nil {
		return err
	}
	c, err := pipelines.LoadClassifier(*dir)
	if err != nil {
		return usageError{"classify: " + err.Error()}
	}
	c.BatchSize = *batch
	var candidates []string
	if *labels != "" {
		for _, l := range strings.Split(*labels, ",") {
			if l = strings.TrimSpace(l); l == "" {
				return usagef("classify: --labels %q has an empty label", *labels)
			}
			candidates = append(candidates, l)
		}
		if !strings.Contains(*template, "{}") {
			return usagef("classify: --template %q has no {} for the label", *template)
		}
	} else if *multi {
		return usagef("classify: --multi-label is for zero-shot classification (--labels)")
	}
	texts, err := readTextLines("classify")
	if err != nil {
		return err
	}
	var results [][]pipelines.LabelScore
	if candidates != nil {
		for i, text := range texts {
			r, err := c.ZeroShot(text, candidates, *template, *multi)
			if err != nil {
				return usagef("classify: standard input:%d: %v", i+1, err)
			}
			results = append(results, r)
		}
	} else if results, err = c.Classify(texts); err != nil {
		return usagef("classify: standard input (texts count from 0): %v", err)
	}
	w := bufio.NewWriter(stdout)
	for _, r := range results {
		if *topK > 0 && *topK < len(r) {
			r = r[:*topK]
		}
		if *asJSON {
			b, _ := json.Marshal(r)
			w.Write(append(b, '\n'))
			continue
		}
		parts := make([]string, len(r))
		for i, ls := range r {
			parts[i] = fmt.Sprintf("%s\t%.4f", ls.Label, ls.Score)
		}
		fmt.Fprintln(w, strings.Join(parts, "\t"))
	}
	reportTruncated(stderr, "classify", c.Truncated, len(texts)*max(1, len(candidates)), c.Model.Config.MaxPositionEmbeddings)
	return w.Flush()
}

func runRerank(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer rerank",
		"Reranks documents, one per line on stdin, by relevance to a query with a cross-encoder (a\n"+
			"sequence-classification model with one label, as sentence-transformers' CrossEncoder: the pair\n"+
			"(query, document), the logit through a sigmoid). Prints the documents best first: score, the\n"+
			"document's line number, the document.",
		"  goformer rerank --model ms-marco-MiniLM-L-6-v2 --query \"how do I compress files\" < docs.txt", stderr)
	dir := fs.String("model", "", "model directory (required)")
	query := fs.String("query", "", "the query (required)")
	topK := intFlag(fs, "top-k", 0, 0, 1<<30, "documents printed (0: all)")
	asJSON := fs.Bool("json", false, "print one JSON object per document: {index, document, score}")
	batch := intFlag(fs, "batch-size", 32, 1, 1<<14, "pairs run through the model together")
	threads := threadsFlag(fs, 0)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || strings.TrimSpace(*query) == "" {
		return usagef("rerank: --model and a non-empty --query are required")
	}
	cpu.SetThreads(*threads)
	archs, err := probeEncoder("rerank", *dir, "reranking")
	if err != nil {
		return err
	}
	if err := needHead("rerank", *dir, archs, "ForSequenceClassification", "sequence-classification (cross-encoder)"); err != nil {
		return err
	}
	c, err := pipelines.LoadClassifier(*dir)
	if err != nil {
		return usageError{"rerank: " + err.Error()}
	}
	if len(c.Labels) != 1 {
		return usagef("rerank: %s is a classifier with %d labels (%v); a cross-encoder has one", *dir, len(c.Labels), c.Labels)
	}
	c.BatchSize = *batch
	docs, err := readTextLines("rerank")
	if err != nil {
		return err
	}
	ranked, err := c.Rerank(*query, docs)
	if err != nil {
		return usagef("rerank: %v", err)
	}
	if *topK > 0 && *topK < len(ranked) {
		ranked = ranked[:*topK]
	}
	w := bufio.NewWriter(stdout)
	for _, r := range ranked {
		if *asJSON {
			r.Index++ // lines count from 1
			b, _ := json.Marshal(r)
			w.Write(append(b, '\n'))
		} else {
			fmt.Fprintf(w, "%.4f\t%d\t%s\n", r.Score, r.Index+1, r.Document)
		}
	}
	reportTruncated(stderr, "rerank", c.Truncated, len(docs), c.Model.Config.MaxPositionEmbeddings)
	return w.Flush()
}

func runNER(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer ner",
		"Tags entities in texts, one per line on stdin, with a token-classification model (…ForTokenClassification)\n"+
			"as transformers' token-classification pipeline does, with its aggregation strategies: none (every\n"+
			"token), simple (tokens grouped by B-/I- tags), first, average or max (words labelled from their tokens,\n"+
			"then grouped). Prints each entity as label, score, character span and text; --json prints one JSON\n"+
			"list of entities per line.",
		"  goformer ner --model bert-base-NER --aggregation simple < sentences.txt", stderr)
	dir := fs.String("model", "", "model directory (required)")
	agg := fs.String("aggregation", pipelines.AggregateSimple, "none, simple, first, average or max")
	asJSON := fs.Bool("json", false, "print one JSON list of entities per line")
	threads := threadsFlag(fs, 0)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("ner: --model is required")
	}
	switch *agg {
	case pipelines.AggregateNone, pipelines.AggregateSimple, pipelines.AggregateFirst, pipelines.AggregateAverage, pipelines.AggregateMax:
	default:
		return usagef("ner: --aggregation %q is not none, simple, first, average or max", *agg)
	}
	cpu.SetThreads(*threads)
	archs, err := probeEncoder("ner", *dir, "entity tagging")
	if err != nil {
		return err
	}
	if err := needHead("ner", *dir, archs, "ForTokenClassification", "token-classification"); err != nil {
		return err
	}
	tg, err := pipelines.LoadTagger(*dir)
	if err != nil {
		return usageError{"ner: " + err.Error()}
	}
	tg.Aggregation = *agg
	texts, err := readTextLines("ner")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for i, text := range texts {
		ents, err := tg.Tag(text)
		if err != nil {
			return usagef("ner: standard input:%d: %v", i+1, err)
		}
		if *asJSON {
			if ents == nil {
				ents = []pipelines.Entity{}
			}
			b, _ := json.Marshal(ents)
			w.Write(append(b, '\n'))
			continue
		}
		parts := make([]string, len(ents))
		for k, e := range ents {
			label := e.EntityGroup
			if label == "" {
				label = e.Entity
			}
			parts[k] = fmt.Sprintf("%s %.3f %d:%d %q", label, e.Score, e.Start, e.End, e.Word)
		}
		fmt.Fprintln(w, strings.Join(parts, "\t"))
	}
	reportTruncated(stderr, "ner", tg.Truncated, len(texts), tg.Model.Config.MaxPositionEmbeddings)
	return w.Flush()
}
