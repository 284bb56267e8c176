package serve

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/pipelines"
)

// encoder serves a BERT-family model by its head: embeddings (a
// sentence-transformers directory or a bare encoder), classify and, with
// one label, rerank (sequence classification), ner (token
// classification).
type encoder struct {
	*worker
	emb *pipelines.Embedder
	cls *pipelines.Classifier
	tag *pipelines.Tagger
}

// encoderHead picks the head an encoder directory is served with: its
// architectures' head, or Base for a sentence-transformers directory.
func encoderHead(dir string, archs []string) (bert.Head, bool) {
	if _, err := os.Stat(filepath.Join(dir, pipelines.ModulesFile)); err == nil {
		return bert.Base, true
	}
	for _, a := range archs {
		if h, ok := bert.HeadOf(a); ok {
			return h, true
		}
	}
	return 0, false
}

func newEncoder(name, dir string, head bert.Head, s *Server) (*encoder, error) {
	m := &encoder{}
	var err error
	switch head {
	case bert.Base:
		m.emb, err = pipelines.LoadEmbedder(dir)
	case bert.SequenceClassification:
		m.cls, err = pipelines.LoadClassifier(dir)
	case bert.TokenClassification:
		m.tag, err = pipelines.LoadTagger(dir)
	default:
		err = fmt.Errorf("%s: a %s head is not served here", dir, head)
	}
	if err != nil {
		return nil, err
	}
	m.worker = &worker{queue: newQueue[*taskReq](name, s), do: m.do}
	return m, nil
}

func (m *encoder) kind() string { return "encoder" }

func (m *encoder) tasks() []string {
	switch {
	case m.emb != nil:
		return []string{"embeddings"}
	case m.cls != nil && len(m.cls.Labels) == 1:
		return []string{"classify", "rerank"}
	case m.cls != nil:
		return []string{"classify"}
	}
	return []string{"ner"}
}

// encoderReq is what an encoder request carries beyond its texts.
type encoderReq struct {
	labels      []string // classify: zero-shot candidates
	template    string
	multiLabel  bool
	aggregation string // ner
	query       string // rerank
	vectors     [][]float32
	scores      [][]pipelines.LabelScore
	ranked      []pipelines.Ranked
	entities    [][]pipelines.Entity
	tokens      int
}

// do runs a batch: embeddings and plain classification of every request's
// texts in one pipeline call (batched by length), the rest request by
// request.
func (m *encoder) do(batch []*taskReq) {
	fail := func(r *taskReq, param string, err error) { r.result <- taskResult{err: badRequest(param, "%v", err)} }
	switch ep := batch[0].endpoint; {
	case ep == "embeddings" || ep == "classify" && batch[0].enc.labels == nil:
		var texts []string
		for _, r := range batch {
			texts = append(texts, r.texts...)
		}
		var vecs [][]float32
		var scores [][]pipelines.LabelScore
		var err error
		if ep == "embeddings" {
			vecs, err = m.emb.Embed(texts)
		} else {
			scores, err = m.cls.Classify(texts)
		}
		if err != nil { // one bad text must not fail the others: run each request alone
			if len(batch) > 1 {
				for _, r := range batch {
					m.do([]*taskReq{r})
				}
				return
			}
			fail(batch[0], "input", err)
			return
		}
		at := 0
		for _, r := range batch {
			n := len(r.texts)
			if ep == "embeddings" {
				r.enc.vectors = vecs[at : at+n]
				for _, t := range r.texts {
					ids, _, _ := m.emb.Tokens(t)
					r.enc.tokens += len(ids)
				}
			} else {
				r.enc.scores = scores[at : at+n]
			}
			at += n
			r.result <- taskResult{}
		}
		m.s.metrics.tokens.WithLabelValues(m.name).Add(float64(len(texts)))
	default:
		for _, r := range batch {
			var err error
			switch ep {
			case "classify": // zero-shot
				for _, t := range r.texts {
					var s []pipelines.LabelScore
					if s, err = m.cls.ZeroShot(t, r.enc.labels, r.enc.template, r.enc.multiLabel); err != nil {
						break
					}
					r.enc.scores = append(r.enc.scores, s)
				}
			case "rerank":
				r.enc.ranked, err = m.cls.Rerank(r.enc.query, r.texts)
			case "ner":
				tg := *m.tag
				tg.Aggregation = r.enc.aggregation
				for _, t := range r.texts {
					var es []pipelines.Entity
					if es, err = tg.Tag(t); err != nil {
						break
					}
					if es == nil {
						es = []pipelines.Entity{}
					}
					r.enc.entities = append(r.enc.entities, es)
				}
			}
			if err != nil {
				fail(r, "input", err)
				continue
			}
			r.result <- taskResult{}
		}
	}
}

// encoderTask handles /v1/embeddings (OpenAI's shape), /v1/classify,
// /v1/rerank and /v1/ner.
func (s *Server) encoderTask(endpoint string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Model          string   `json:"model"`
			Input          *prompts `json:"input"` // embeddings
			EncodingFormat string   `json:"encoding_format"`
			Text           *prompts `json:"text"`   // classify, ner
			Labels         []string `json:"labels"` // classify: zero-shot
			Template       string   `json:"hypothesis_template"`
			MultiLabel     bool     `json:"multi_label"`
			TopK           *int     `json:"top_k"`     // classify: labels returned
			Query          *string  `json:"query"`     // rerank
			Documents      []string `json:"documents"` // rerank
			TopN           *int     `json:"top_n"`
			Aggregation    string   `json:"aggregation_strategy"` // ner
		}
		if err := decode(r, &body); err != nil {
			return err
		}
		m, err := s.modelFor(body.Model, endpoint)
		if err != nil {
			return err
		}
		enc := m.(*encoder)
		req := &taskReq{ctx: r.Context(), endpoint: endpoint, result: make(chan taskResult, 1), enc: &encoderReq{}}
		texts, field := body.Text, "text"
		switch endpoint {
		case "embeddings":
			texts, field = body.Input, "input"
			if body.EncodingFormat != "" && body.EncodingFormat != "float" {
				return badRequest("encoding_format", "encoding_format %q is not supported (float)", body.EncodingFormat)
			}
		case "rerank":
			switch {
			case body.Query == nil || strings.TrimSpace(*body.Query) == "":
				return badRequest("query", "query is required")
			case len(body.Documents) == 0:
				return badRequest("documents", "documents is required (a list of strings)")
			case !utf8.ValidString(*body.Query):
				return badRequest("query", "query must be valid UTF-8")
			}
			req.enc.query = *body.Query
			d := prompts(body.Documents)
			texts, field = &d, "documents"
		case "classify":
			if body.Labels != nil {
				if len(body.Labels) == 0 || len(body.Labels) > 64 {
					return badRequest("labels", "labels must hold 1 to 64 candidate labels")
				}
				for i, l := range body.Labels {
					if strings.TrimSpace(l) == "" || !utf8.ValidString(l) {
						return badRequest("labels", "label %d is empty or not UTF-8", i+1)
					}
				}
				req.enc.labels, req.enc.template, req.enc.multiLabel = body.Labels, body.Template, body.MultiLabel
				if req.enc.template == "" {
					req.enc.template = pipelines.DefaultHypothesis
				} else if !strings.Contains(req.enc.template, "{}") {
					return badRequest("hypothesis_template", "hypothesis_template %q has no {} for the label", body.Template)
				}
				if len(enc.cls.Labels) < 2 {
					return badRequest("labels", "zero-shot classification needs an NLI model; %q has one label", body.Model)
				}
			}
			if body.TopK != nil && (*body.TopK < 1 || *body.TopK > 1<<16) {
				return badRequest("top_k", "top_k must be positive")
			}
		case "ner":
			req.enc.aggregation = body.Aggregation
			switch body.Aggregation {
			case "":
				req.enc.aggregation = pipelines.AggregateSimple
			case pipelines.AggregateNone, pipelines.AggregateSimple, pipelines.AggregateFirst, pipelines.AggregateAverage, pipelines.AggregateMax:
			default:
				return badRequest("aggregation_strategy", "aggregation_strategy %q is not none, simple, first, average or max", body.Aggregation)
			}
		}
		if texts == nil || len(*texts) == 0 {
			return badRequest(field, "%s is required (a string or a list of strings)", field)
		}
		if len(*texts) > s.cfg.MaxRows*64 {
			return badRequest(field, "%d texts in one request; at most %d", len(*texts), s.cfg.MaxRows*64)
		}
		for i, t := range *texts {
			if !utf8.ValidString(t) || strings.TrimSpace(t) == "" {
				return badRequest(field, "%s %d is empty or not valid UTF-8", field, i+1)
			}
		}
		req.texts = *texts
		req.group = fmt.Sprintf("%q %q %v %q", req.enc.labels, req.enc.template, req.enc.multiLabel, req.enc.aggregation)
		if _, err := enc.await(req); err != nil {
			return err
		}
		name := s.modelName(body.Model)
		e := req.enc
		switch endpoint {
		case "embeddings":
			data := make([]map[string]any, len(e.vectors))
			for i, v := range e.vectors {
				data[i] = map[string]any{"object": "embedding", "index": i, "embedding": v}
			}
			writeJSON(w, http.StatusOK, map[string]any{"object": "list", "model": name, "data": data,
				"usage": map[string]int{"prompt_tokens": e.tokens, "total_tokens": e.tokens}})
		case "classify":
			if body.TopK != nil {
				for i := range e.scores {
					e.scores[i] = e.scores[i][:min(*body.TopK, len(e.scores[i]))]
				}
			}
			writeJSON(w, http.StatusOK, map[string]any{"model": name, "results": e.scores})
		case "rerank":
			ranked := e.ranked
			if body.TopN != nil && *body.TopN > 0 && *body.TopN < len(ranked) {
				ranked = ranked[:*body.TopN]
			}
			results := make([]map[string]any, len(ranked))
			for i, rk := range ranked {
				results[i] = map[string]any{"index": rk.Index, "relevance_score": rk.Score, "document": map[string]string{"text": rk.Document}}
			}
			writeJSON(w, http.StatusOK, map[string]any{"model": name, "results": results})
		case "ner":
			writeJSON(w, http.StatusOK, map[string]any{"model": name, "entities": e.entities})
		}
		return nil
	}
}
