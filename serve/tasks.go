package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/goformer/goformer/attention"
	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/models/t5"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tokenizer"
)

// taskReq is a request to a task endpoint: its texts and the options that
// decide which requests can share a batch.
type taskReq struct {
	ctx      context.Context
	endpoint string
	texts    []string
	opts     taskOptions
	question string // answer
	src, tgt string // attention
	layer    int    // attention: the cross-attention layer to align
	enc      *encoderReq
	group    string // what else, beside the options, a batch must share
	result   chan taskResult
}

type taskResult struct {
	out       []string
	answers   [][]pipelines.Answer
	attention *attention.Result
	err       error
}

// taskOptions are the generation settings a task request may give; nil
// fields keep the model's.
type taskOptions struct {
	Beams         *int     `json:"beams"`
	MaxNewTokens  *int     `json:"max_new_tokens"`
	LengthPenalty *float64 `json:"length_penalty"`
	NoRepeatNgram *int     `json:"no_repeat_ngram_size"`
	// EncoderPenalty is transformers' encoder_repetition_penalty (> 1
	// favours the source's tokens), for models that generate with
	// transformers' semantics.
	EncoderPenalty *float64 `json:"encoder_repetition_penalty"`
	// RepetitionPenalty is transformers' repetition_penalty (> 1
	// discourages tokens already in the output), for the same models.
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	TopK              *int     `json:"top_k"` // answer (extractive): answers per question
}

// key identifies options that can be decoded together.
func (o taskOptions) key() string {
	b, _ := json.Marshal(o)
	return string(b)
}

func (o taskOptions) check() error {
	switch {
	case o.Beams != nil && (*o.Beams < 1 || *o.Beams > 16):
		return badRequest("beams", "beams must be between 1 and 16, got %d", *o.Beams)
	case o.MaxNewTokens != nil && (*o.MaxNewTokens < 1 || *o.MaxNewTokens > 1024):
		return badRequest("max_new_tokens", "max_new_tokens must be between 1 and 1024, got %d", *o.MaxNewTokens)
	case o.LengthPenalty != nil && !(*o.LengthPenalty >= -10 && *o.LengthPenalty <= 10):
		return badRequest("length_penalty", "length_penalty must be between -10 and 10")
	case o.NoRepeatNgram != nil && (*o.NoRepeatNgram < 0 || *o.NoRepeatNgram > 32):
		return badRequest("no_repeat_ngram_size", "no_repeat_ngram_size must be between 0 and 32")
	case o.EncoderPenalty != nil && !(*o.EncoderPenalty > 0 && *o.EncoderPenalty <= 1e6):
		return badRequest("encoder_repetition_penalty", "encoder_repetition_penalty must be a positive number up to 1e6 (1: off)")
	case o.RepetitionPenalty != nil && !(*o.RepetitionPenalty > 0 && *o.RepetitionPenalty <= 1e6):
		return badRequest("repetition_penalty", "repetition_penalty must be a positive number up to 1e6 (1: off)")
	case o.TopK != nil && (*o.TopK < 1 || *o.TopK > 20):
		return badRequest("top_k", "top_k must be between 1 and 20")
	}
	return nil
}

// worker runs a model's task requests one batch at a time: the first
// waiting request and those behind it with the same endpoint and options,
// up to the row limit. (An encoder-decoder's translate and summarize
// texts go to its stream instead, which batches per step.)
type worker struct {
	*queue[*taskReq]
	do func(batch []*taskReq)
}

// await queues req and waits for its result, or for its request to end
// (503).
func (w *worker) await(req *taskReq) (taskResult, error) {
	if err := w.submit(req); err != nil {
		return taskResult{}, err
	}
	select {
	case res := <-req.result:
		return res, res.err
	case <-req.ctx.Done():
		return taskResult{}, unfinished(req.ctx)
	}
}

// unfinished is the error of a request whose context ended before its
// result: its time limit (503), or its client gone (the status is logged;
// no one reads the answer).
func unfinished(ctx context.Context) *apiError {
	if errors.Is(ctx.Err(), context.Canceled) {
		return &apiError{status: http.StatusServiceUnavailable, message: "the client closed the request before it finished"}
	}
	return &apiError{status: http.StatusServiceUnavailable, message: "the request ran out of time before it finished"}
}

// modelName is the model a request named, or the only one served.
func (s *Server) modelName(name string) string {
	if name == "" {
		return s.names[0]
	}
	return name
}

func (w *worker) run(stop <-chan struct{}) {
	for {
		w.mu.Lock()
		var batch []*taskReq
		if len(w.pending) > 0 {
			first := w.pending[0]
			rows := 0
			var rest []*taskReq
			for _, r := range w.pending {
				switch {
				case r.ctx.Err() != nil:
					r.result <- taskResult{err: r.ctx.Err()}
				case r.endpoint == first.endpoint && r.opts.key() == first.opts.key() && r.group == first.group && rows+len(r.texts) <= max(w.s.cfg.MaxRows, len(first.texts)) && r.endpoint != "answer" && r.endpoint != "attention" || r == first:
					batch = append(batch, r)
					rows += len(r.texts)
				default:
					rest = append(rest, r)
				}
			}
			w.pending = rest
		}
		w.gauge()
		w.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-stop:
				return
			case <-w.wake:
			}
			continue
		}
		w.s.metrics.rows.WithLabelValues(w.name).Set(float64(len(batch)))
		w.s.metrics.batchSize.WithLabelValues(w.name).Observe(float64(len(batch)))
		w.do(batch)
		w.s.metrics.rows.WithLabelValues(w.name).Set(0)
	}
}

// seq2seq serves an encoder-decoder: translate, summarize, and (T5) a
// generated answer.
type seq2seq struct {
	*worker
	typ     string
	tr      *pipelines.Translator
	sum     *pipelines.Summarizer
	t2t     *pipelines.Text2Text
	stream  *stream    // translate and summarize
	modelMu sync.Mutex // held while the model runs (the worker's batches, the stream's steps)
}

func newSeq2Seq(name, dir, typ string, s *Server) (*seq2seq, error) {
	tr, err := pipelines.LoadTranslator(dir)
	if err != nil {
		return nil, err
	}
	sum, err := pipelines.LoadSummarizer(dir)
	if err != nil {
		return nil, err
	}
	m := &seq2seq{typ: typ, tr: tr, sum: sum}
	if _, ok := tr.Model.(*t5.Model); ok {
		if m.t2t, err = pipelines.LoadText2Text(dir); err != nil {
			return nil, err
		}
	}
	// One model behind the three pipelines (each Load read its own copy
	// of the weights): the worker runs one batch at a time, so they never
	// use it at once.
	sum.Model = tr.Model
	if m.t2t != nil {
		m.t2t.Model = tr.Model
	}
	if err := quantize(tr.Model, s.cfg.DType); err != nil {
		return nil, err
	}
	m.worker = &worker{queue: newQueue[*taskReq](name, s), do: func(batch []*taskReq) {
		m.modelMu.Lock()
		defer m.modelMu.Unlock()
		m.do(batch)
	}}
	m.stream = newStream(tr.Model, m, name, s)
	return m, nil
}

// run runs the worker and, beside it, the stream's scheduler.
func (m *seq2seq) run(stop <-chan struct{}) {
	if m.stream == nil {
		m.worker.run(stop)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.stream.run(stop)
	}()
	m.worker.run(stop)
	<-done
}

func (m *seq2seq) queueLen() int {
	n := m.worker.queueLen()
	if m.stream != nil {
		n += m.stream.queueLen()
	}
	return n
}

// translator is the model's translator with a request's options.
func (m *seq2seq) translator(o taskOptions) *pipelines.Translator {
	t := *m.tr
	if o.Beams != nil {
		t.Options.Beam = *o.Beams
	}
	if t.Generation != nil {
		g := *t.Generation
		applyGen(&g, o)
		t.Generation = &g
	} else if o.LengthPenalty != nil {
		t.Options.LengthPenalty = *o.LengthPenalty
	}
	if t.Options.LengthPenalty == 0 && t.Generation == nil {
		t.Options.LengthPenalty = 0.6
	}
	return &t
}

// summarizer is the model's summarizer with a request's options.
func (m *seq2seq) summarizer(o taskOptions) *pipelines.Summarizer {
	s := *m.sum
	applyGen(&s.Options.Generation, o)
	return &s
}

// submitStream queues a translate or summarize request's texts as rows of
// the stream; ok is false for other endpoints (the worker decodes them).
func (m *seq2seq) submitStream(req *taskReq) (ok bool, err error) {
	if m.stream == nil {
		return false, nil
	}
	var src []pipelines.StepSource
	var text func([]int32) (string, error)
	switch req.endpoint {
	case "translate":
		t := m.translator(req.opts)
		src, ok, err = t.StepSources(req.texts)
		text = t.Text
	case "summarize":
		s := m.summarizer(req.opts)
		src, _, ok, err = s.StepSources(req.texts)
		text = s.Text
	default:
		return false, nil
	}
	if err != nil {
		return false, badRequest("text", "%v", err)
	}
	if !ok {
		return false, nil
	}
	return true, m.stream.submit(req, src, text)
}

func (m *seq2seq) kind() string { return "seq2seq" }

func (m *seq2seq) tasks() []string {
	if m.t2t != nil {
		return []string{"translate", "summarize", "answer", "attention"}
	}
	return []string{"translate", "summarize", "attention"}
}

// do runs a batch: every request's texts through one pipeline call.
func (m *seq2seq) do(batch []*taskReq) {
	if batch[0].endpoint == "attention" {
		for _, r := range batch {
			res, err := attention.Translation(m.tr, r.src, r.tgt, r.layer)
			if err != nil {
				err = badRequest("src", "%v", err)
			}
			r.result <- taskResult{attention: res, err: err}
		}
		return
	}
	var texts []string
	for _, r := range batch {
		texts = append(texts, r.texts...)
	}
	o := batch[0].opts
	var out []string
	var err error
	switch batch[0].endpoint {
	case "translate":
		out, err = m.translator(o).Translate(texts)
	case "summarize":
		out, err = m.summarizer(o).Summarize(texts)
	case "answer":
		t := *m.t2t
		applyGen(&t.Generation, o)
		inputs := make([]string, len(batch))
		for i, r := range batch {
			inputs[i] = "question: " + r.question + " context: " + r.texts[0]
		}
		out, err = t.Generate(inputs)
	}
	if err == nil {
		tok := m.tr.Tokenizer
		n := 0
		for _, o := range out {
			if ids, e := tok.Encode(o); e == nil {
				n += len(ids) + 1 // and the end token
			}
		}
		m.s.metrics.tokens.WithLabelValues(m.name).Add(float64(n))
	}
	at := 0
	for _, r := range batch {
		if err != nil {
			r.result <- taskResult{err: badRequest("text", "%v", err)}
			continue
		}
		n := len(r.texts)
		if batch[0].endpoint == "answer" {
			n = 1
		}
		r.result <- taskResult{out: out[at : at+n]}
		at += n
	}
}

// applyGen sets the options a request gives over g (transformers'
// generation settings of the model).
func applyGen(g *generate.Options, o taskOptions) {
	if o.Beams != nil {
		g.NumBeams = *o.Beams
	}
	if o.MaxNewTokens != nil {
		g.MaxNewTokens = *o.MaxNewTokens
	}
	if o.LengthPenalty != nil {
		g.LengthPenalty = *o.LengthPenalty
	}
	if o.NoRepeatNgram != nil {
		g.NoRepeatNgramSize = *o.NoRepeatNgram
	}
	if o.EncoderPenalty != nil {
		g.EncoderRepetitionPenalty = *o.EncoderPenalty
	}
	if o.RepetitionPenalty != nil {
		g.RepetitionPenalty = *o.RepetitionPenalty
	}
}

// hfGenerates reports whether m decodes endpoint's texts with
// transformers' generation (which encoder_repetition_penalty is part of):
// an encoder-decoder's summaries and T5's answers always, its translations
// when it came with transformers' settings (not a model trained here, which
// decodes with the paper's beam search).
func hfGenerates(m model, endpoint string) bool {
	x, ok := m.(*seq2seq)
	switch {
	case !ok:
		return false
	case endpoint == "summarize", endpoint == "answer":
		return true
	case endpoint == "translate":
		return x.tr.Generation != nil
	}
	return false
}

// qa serves an extractive question-answering model, one question at a time.
type qa struct {
	*worker
	a     *pipelines.QuestionAnswerer
	model *bert.Model
	tok   tokenizer.Tokenizer
}

func newQA(name, dir string, s *Server) (*qa, error) {
	a, err := pipelines.LoadQuestionAnswerer(dir)
	if err != nil {
		return nil, err
	}
	bm, ok := a.Model.(*bert.Model)
	if !ok {
		return nil, fmt.Errorf("%s: a %T is not a BERT-family model", dir, a.Model)
	}
	tok, ok := a.Tokenizer.(tokenizer.Tokenizer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T is not a tokenizer", dir, a.Tokenizer)
	}
	m := &qa{a: a, model: bm, tok: tok}
	m.worker = &worker{queue: newQueue[*taskReq](name, s), do: m.do}
	return m, nil
}

func (m *qa) kind() string    { return "qa" }
func (m *qa) tasks() []string { return []string{"answer", "attention"} }

func (m *qa) do(batch []*taskReq) {
	for _, r := range batch {
		if r.endpoint == "attention" {
			res, err := attention.EncoderModel(m.model, m.tok, r.src)
			if err != nil {
				err = badRequest("text", "%v", err)
			}
			r.result <- taskResult{attention: res, err: err}
			continue
		}
		a := *m.a
		a.Options.TopK = 1
		if r.opts.TopK != nil {
			a.Options.TopK = *r.opts.TopK
		}
		ans, err := a.Answer(r.question, r.texts[0])
		if err != nil {
			r.result <- taskResult{err: badRequest("context", "%v", err)}
			continue
		}
		r.result <- taskResult{answers: [][]pipelines.Answer{ans}}
	}
}

func (s *Server) task(endpoint string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Model    string   `json:"model"`
			Text     *prompts `json:"text"`
			Question *string  `json:"question"`
			Context  *string  `json:"context"`
			taskOptions
		}
		if err := decode(r, &body); err != nil {
			return err
		}
		m, err := s.modelFor(body.Model, endpoint)
		if err != nil {
			return err
		}
		if err := body.taskOptions.check(); err != nil {
			return err
		}
		if body.EncoderPenalty != nil && *body.EncoderPenalty != 1 && !hfGenerates(m, endpoint) {
			return badRequest("encoder_repetition_penalty", "encoder_repetition_penalty needs a model that generates with transformers' settings; %s's %s does not", s.modelName(body.Model), endpoint)
		}
		if body.RepetitionPenalty != nil && *body.RepetitionPenalty != 1 && !hfGenerates(m, endpoint) {
			return badRequest("repetition_penalty", "repetition_penalty needs a model that generates with transformers' settings; %s's %s does not", s.modelName(body.Model), endpoint)
		}
		req := &taskReq{ctx: r.Context(), endpoint: endpoint, opts: body.taskOptions, result: make(chan taskResult, 1)}
		if endpoint == "answer" {
			switch {
			case body.Question == nil || strings.TrimSpace(*body.Question) == "":
				return badRequest("question", "question is required")
			case body.Context == nil || strings.TrimSpace(*body.Context) == "":
				return badRequest("context", "context is required")
			case !utf8.ValidString(*body.Question) || !utf8.ValidString(*body.Context):
				return badRequest("question", "question and context must be valid UTF-8")
			case len(*body.Context) > 1<<20:
				return badRequest("context", "the context has %d bytes; at most 1 MiB", len(*body.Context))
			}
			req.question, req.texts = *body.Question, []string{*body.Context}
		} else {
			if body.Text == nil || len(*body.Text) == 0 {
				return badRequest("text", "text is required (a string or a list of strings)")
			}
			if len(*body.Text) > s.cfg.MaxRows*4 {
				return badRequest("text", "%d texts in one request; at most %d", len(*body.Text), s.cfg.MaxRows*4)
			}
			for i, t := range *body.Text {
				if !utf8.ValidString(t) {
					return badRequest("text", "text %d is not valid UTF-8", i+1)
				}
				if strings.TrimSpace(t) == "" && endpoint == "summarize" {
					return badRequest("text", "text %d is empty", i+1)
				}
			}
			req.texts = *body.Text
		}
		var wk *worker
		var res taskResult
		streamed := false
		switch x := m.(type) {
		case *seq2seq:
			wk = x.worker
			if streamed, err = x.submitStream(req); err != nil {
				return err
			}
		case *qa:
			wk = x.worker
		}
		if streamed {
			select {
			case res = <-req.result:
				err = res.err
			case <-req.ctx.Done():
				err = unfinished(req.ctx)
			}
		} else {
			res, err = wk.await(req)
		}
		if err != nil {
			return err
		}
		name := s.modelName(body.Model)
		switch endpoint {
		case "translate":
			writeJSON(w, http.StatusOK, map[string]any{"model": name, "translations": res.out})
		case "summarize":
			writeJSON(w, http.StatusOK, map[string]any{"model": name, "summaries": res.out})
		default:
			if res.answers != nil {
				writeJSON(w, http.StatusOK, map[string]any{"model": name, "answers": res.answers[0]})
			} else {
				writeJSON(w, http.StatusOK, map[string]any{"model": name, "answers": []map[string]string{{"answer": res.out[0]}}})
			}
		}
		return nil
	}
}

// attention shows where a model looks at a text (GPT, BERT: "text") or
// a translation ("src", optionally "tgt"), as goformer attention does.
func (s *Server) attention(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Model      string `json:"model"`
		Text       string `json:"text"`
		Src        string `json:"src"`
		Tgt        string `json:"tgt"`
		AlignLayer *int   `json:"align_layer"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	m, err := s.modelFor(body.Model, "attention")
	if err != nil {
		return err
	}
	for _, f := range [][2]string{{"text", body.Text}, {"src", body.Src}, {"tgt", body.Tgt}} {
		if !utf8.ValidString(f[1]) || len(f[1]) > 1<<14 {
			return badRequest(f[0], "%s must be valid UTF-8 of at most 16 KiB", f[0])
		}
	}
	layer := -1
	if body.AlignLayer != nil {
		layer = *body.AlignLayer
	}
	var res *attention.Result
	switch x := m.(type) {
	case *lm:
		if strings.TrimSpace(body.Text) == "" {
			return badRequest("text", "text is required")
		}
		x.modelMu.Lock()
		res, err = attention.LanguageModel(x.m, x.tok, body.Text)
		x.modelMu.Unlock()
		if err != nil {
			return badRequest("text", "%v", err)
		}
	default:
		req := &taskReq{ctx: r.Context(), endpoint: "attention", src: body.Src, tgt: body.Tgt, layer: layer, result: make(chan taskResult, 1)}
		var wk *worker
		switch x := m.(type) {
		case *seq2seq:
			if strings.TrimSpace(body.Src) == "" {
				return badRequest("src", "src is required")
			}
			wk = x.worker
		case *qa:
			if strings.TrimSpace(body.Text) == "" {
				return badRequest("text", "text is required")
			}
			req.src = body.Text
			wk = x.worker
		}
		if err := wk.submit(req); err != nil {
			return err
		}
		select {
		case out := <-req.result:
			if out.err != nil {
				return out.err
			}
			res = out.attention
		case <-r.Context().Done():
			return unfinished(r.Context())
		}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
