package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/pipelines"
)

// retrievalResult is what eval --retrieval reports.
type retrievalResult struct {
	Model   string            `json:"model"`
	Data    string            `json:"data"`
	Dense   metrics.Retrieval `json:"model_retrieval"`
	BM25    metrics.Retrieval `json:"bm25"`
	Seconds float64           `json:"seconds"`
}

// evalRetrieval embeds every query and document of path (query i's
// relevant document is document i) and ranks the documents by cosine
// similarity, and by BM25 beside it.
func evalRetrieval(dir, path, docField, queryField string, asJSON bool, stdout, stderr io.Writer) error {
	if _, err := probeEncoder("eval", dir, "retrieval"); err != nil {
		return err
	}
	e, err := pipelines.LoadEmbedder(dir)
	if err != nil {
		return usageError{"eval: " + err.Error()}
	}
	var docs []data.Document
	if split, ok := strings.CutPrefix(path, "debian:"); ok {
		if docs, err = data.Debian(split); err != nil {
			return usageError{"eval: " + err.Error()}
		}
	} else if docs, err = readPairData(path, docField, queryField, []string{"document", "text", "description", "passage"}, []string{"query", "synopsis", "question", "summary"}); err != nil {
		return err
	}
	queries, texts := make([]string, len(docs)), make([]string, len(docs))
	for i, d := range docs {
		queries[i], texts[i] = d.Summary, d.Text
		if strings.TrimSpace(d.Summary) == "" || strings.TrimSpace(d.Text) == "" {
			return usagef("eval: %s: record %d has an empty query or document", path, i+1)
		}
	}
	if len(docs) == 0 {
		return usagef("eval: %s holds no (query, document) pair", path)
	}
	start := time.Now()
	dense, err := pipelines.EvalRetrieval(e, queries, texts)
	if err != nil {
		return usagef("eval: %s: %v", path, err)
	}
	r := retrievalResult{Model: dir, Data: path, Dense: dense, Seconds: time.Since(start).Seconds()}
	bm := metrics.NewBM25(texts)
	relevant := make([]int, len(docs))
	for i := range relevant {
		relevant[i] = i
	}
	r.BM25 = metrics.ScoreRetrieval(len(docs), len(docs), func(q int) []float64 { return bm.Scores(queries[q]) }, relevant)
	reportTruncated(stderr, "eval", e.Truncated, 2*len(docs), e.MaxSeqLen)
	if asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err = fmt.Fprintf(stdout, "%s on %s: %d queries against %d documents (%.1fs)\n"+
		"  model: Recall@1 %.2f  Recall@10 %.2f  MRR@10 %.2f\n"+
		"  BM25:  Recall@1 %.2f  Recall@10 %.2f  MRR@10 %.2f\n",
		dir, path, dense.Queries, dense.Documents, r.Seconds, dense.RecallAt1, dense.RecallAt10, dense.MRRAt10,
		r.BM25.RecallAt1, r.BM25.RecallAt10, r.BM25.MRRAt10)
	return err
}
