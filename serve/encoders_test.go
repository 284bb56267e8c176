package serve

import (
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/goformer/goformer/pipelines"
)

func encoderTestDir(name string) string {
	return filepath.Join("..", "pipelines", "testdata", "encoders", name)
}

// TestEncoderEndpoints: /v1/embeddings (OpenAI's shape), /v1/classify
// (plain and zero-shot), /v1/rerank and /v1/ner give the pipelines'
// results, concurrent embedding requests batched together give the same
// vectors, and bad requests are 400s naming the field.
func TestEncoderEndpoints(t *testing.T) {
	dirs := map[string]string{"emb": encoderTestDir("st-mean"), "sent": encoderTestDir("sentiment"), "nli": encoderTestDir("nli"),
		"rr": encoderTestDir("reranker"), "ner": encoderTestDir("ner")}
	_, ts := newTestServer(t, Config{}, dirs)
	texts := []string{"How do I install a Python package?", "A fast web server.", "John Smith lives in Paris."}
	emb, err := pipelines.LoadEmbedder(dirs["emb"])
	if err != nil {
		t.Fatal(err)
	}
	want, err := emb.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, data []any) {
		t.Helper()
		if len(data) != len(texts) {
			t.Fatalf("%s: %d embeddings for %d texts", what, len(data), len(texts))
		}
		for i, d := range data {
			v := d.(map[string]any)["embedding"].([]any)
			for j, x := range v {
				if math.Abs(x.(float64)-float64(want[i][j])) > 1e-6 {
					t.Fatalf("%s: text %d differs from the pipeline at %d", what, i, j)
				}
			}
		}
	}
	code, out, _ := post(t, ts.URL+"/v1/embeddings", map[string]any{"model": "emb", "input": texts})
	if code != 200 || out["object"] != "list" || out["usage"] == nil {
		t.Fatalf("embeddings: %d %v", code, out)
	}
	check("embeddings", out["data"].([]any))
	var wg sync.WaitGroup
	for range 8 { // concurrent requests share batches
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out, _ := post(t, ts.URL+"/v1/embeddings", map[string]any{"model": "emb", "input": texts})
			if code != 200 {
				t.Errorf("concurrent embeddings: %d %v", code, out)
				return
			}
			check("concurrent embeddings", out["data"].([]any))
		}()
	}
	wg.Wait()

	cls, _ := pipelines.LoadClassifier(dirs["sent"])
	wantCls, _ := cls.Classify(texts[:1])
	code, out, _ = post(t, ts.URL+"/v1/classify", map[string]any{"model": "sent", "text": texts[0], "top_k": 1})
	if res, _ := out["results"].([]any); code != 200 || len(res) != 1 || len(res[0].([]any)) != 1 ||
		res[0].([]any)[0].(map[string]any)["label"] != wantCls[0][0].Label {
		t.Errorf("classify: %d %v, want %v", code, out, wantCls[0][0])
	}
	nli, _ := pipelines.LoadClassifier(dirs["nli"])
	wantZS, _ := nli.ZeroShot(texts[2], []string{"sports", "politics"}, "", false)
	code, out, _ = post(t, ts.URL+"/v1/classify", map[string]any{"model": "nli", "text": texts[2], "labels": []string{"sports", "politics"}})
	if res, _ := out["results"].([]any); code != 200 || len(res) != 1 || res[0].([]any)[0].(map[string]any)["label"] != wantZS[0].Label {
		t.Errorf("zero-shot: %d %v, want %v", code, out, wantZS)
	}
	code, out, _ = post(t, ts.URL+"/v1/rerank", map[string]any{"model": "rr", "query": "install python", "documents": []string{"bake bread", "python package tool"}, "top_n": 1})
	if res, _ := out["results"].([]any); code != 200 || len(res) != 1 || res[0].(map[string]any)["relevance_score"] == nil {
		t.Errorf("rerank: %d %v", code, out)
	}
	tg, _ := pipelines.LoadTagger(dirs["ner"])
	tg.Aggregation = pipelines.AggregateFirst
	wantNER, _ := tg.Tag(texts[2])
	code, out, _ = post(t, ts.URL+"/v1/ner", map[string]any{"model": "ner", "text": []string{texts[2]}, "aggregation_strategy": "first"})
	if res, _ := out["entities"].([]any); code != 200 || len(res) != 1 || len(res[0].([]any)) != len(wantNER) {
		t.Errorf("ner: %d %v, want %v", code, out, wantNER)
	}
	for _, bad := range []struct {
		path  string
		body  map[string]any
		param string
	}{
		{"/v1/embeddings", map[string]any{"model": "emb", "input": []string{"a", " "}}, "input"},
		{"/v1/embeddings", map[string]any{"model": "emb"}, "input"},
		{"/v1/embeddings", map[string]any{"model": "emb", "input": "a", "encoding_format": "base64"}, "encoding_format"},
		{"/v1/embeddings", map[string]any{"model": "sent", "input": "a"}, "model"},
		{"/v1/classify", map[string]any{"model": "nli", "text": "a", "labels": []string{}}, "labels"},
		{"/v1/classify", map[string]any{"model": "nli", "text": "a", "labels": []string{"x"}, "hypothesis_template": "no slot"}, "hypothesis_template"},
		{"/v1/rerank", map[string]any{"model": "rr", "documents": []string{"a"}}, "query"},
		{"/v1/rerank", map[string]any{"model": "sent", "query": "q", "documents": []string{"a"}}, "model"},
		{"/v1/ner", map[string]any{"model": "ner", "text": "a", "aggregation_strategy": "longest"}, "aggregation_strategy"},
	} {
		code, out, _ := post(t, ts.URL+bad.path, bad.body)
		e, _ := out["error"].(map[string]any)
		if code != 400 || e == nil || e["param"] != bad.param {
			t.Errorf("%s %v: %d %v, want 400 naming %s", bad.path, bad.body, code, out, bad.param)
		}
	}
}
