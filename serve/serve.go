// Package serve is goformer's HTTP server: an OpenAI-compatible
// completions endpoint for language models (streamed as server-sent
// events, decoded with continuous batching: requests join the running batch
// at the next step and leave it as they finish), task endpoints for
// translation, summarisation and question answering, health and readiness
// probes, Prometheus metrics, and a playground page.
//
// Everything is bounded: the body size, the queue of each model, the rows
// decoded together, the memory of the KV caches, the prompt against the
// model's context, max_tokens and the time of a request. Errors are
// OpenAI's JSON with the status that fits (400 naming the field, 404
// unknown model, 413, 429 with Retry-After, 503 while draining).
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/models/hfdir"
)

// Config bounds the server.
type Config struct {
	MaxBodyBytes   int64         // request bodies larger than this get 413 (default 1 MiB)
	MaxQueue       int           // requests waiting per model before 429 (default 64)
	MaxRows        int           // sequences decoded together per model (default 16)
	KVBudget       int64         // bytes of KV cache per language model (default 2 GiB)
	MaxTokens      int           // the largest max_tokens accepted (default: the model's context)
	RequestTimeout time.Duration // a request's whole time (default 5 minutes)
	BodyTimeout    time.Duration // the time a client has to send its body, else 408 (default 10 s)
	APIKey         string        // if set, /v1/ needs "Authorization: Bearer <key>"
	// DType is the weight format language and encoder-decoder models
	// decode with: "fp32" (or ""), "bf16" or "int8" (Model.Quantize).
	DType  string
	Logger *slog.Logger // default: slog.Default()
}

func (c Config) withDefaults() Config {
	if c.DType == "" {
		c.DType = "fp32"
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 64
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 16
	}
	if c.KVBudget <= 0 {
		c.KVBudget = 2 << 30
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Minute
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server serves models over HTTP. Make one with New, serve it with
// Handler (tests, your own http.Server) or ListenAndServe.
type Server struct {
	cfg      Config
	models   map[string]model
	names    []string
	draining atomic.Bool
	metrics  *metrics
	mux      *http.ServeMux
	wg       sync.WaitGroup // the schedulers
	stop     chan struct{}
	stopOnce sync.Once
}

// model is one served model: a language model (completions) or an
// encoder-decoder / extractive QA model (the task endpoints).
type model interface {
	kind() string    // "lm", "seq2seq", "qa", "encoder"
	tasks() []string // the endpoints it serves: "completions", "translate", "summarize", "answer", "embeddings", …
	run(stop <-chan struct{})
	queueLen() int
}

// New loads the models (name → directory; a name "" is the directory's
// base name) and starts their schedulers.
func New(cfg Config, dirs map[string]string) (*Server, error) {
	cfg = cfg.withDefaults()
	if len(dirs) == 0 {
		return nil, fmt.Errorf("serve: no model to serve")
	}
	if cfg.DType != "fp32" && cfg.DType != "bf16" && cfg.DType != "int8" {
		return nil, fmt.Errorf("serve: weights %q (want fp32, bf16 or int8)", cfg.DType)
	}
	s := &Server{cfg: cfg, models: map[string]model{}, stop: make(chan struct{})}
	s.metrics = newMetrics()
	for name, dir := range dirs {
		if name == "" {
			name = filepath.Base(filepath.Clean(dir))
		}
		if _, dup := s.models[name]; dup {
			return nil, fmt.Errorf("serve: two models named %q", name)
		}
		m, err := load(name, dir, s)
		if err != nil {
			return nil, fmt.Errorf("serve: model %q: %w", name, err)
		}
		s.models[name] = m
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	for _, name := range s.names {
		m := s.models[name]
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			m.run(s.stop)
		}()
	}
	s.routes()
	return s, nil
}

// load reads a model directory by its config's model_type.
func load(name, dir string, s *Server) (model, error) {
	var probe struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := hfdir.ReadConfig(dir, &probe); err != nil {
		return nil, err
	}
	switch probe.ModelType {
	case "gpt2":
		return newLM(name, dir, s)
	case "marian", "pegasus", "bart", "mbart", "t5":
		return newSeq2Seq(name, dir, probe.ModelType, s)
	case "bert", "roberta", "xlm-roberta", "distilbert":
		head, ok := encoderHead(dir, probe.Architectures)
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: architectures %v name no head this server knows", dir, probe.Architectures)
		case head == bert.QuestionAnswering:
			return newQA(name, dir, s)
		case head == bert.MaskedLM:
			return nil, fmt.Errorf("%s: a masked-LM model (%v) has no endpoint here; serve a question-answering, classification, token-classification or sentence-transformers directory", dir, probe.Architectures)
		}
		return newEncoder(name, dir, head, s)
	}
	return nil, fmt.Errorf("%s: model_type %q cannot be served (gpt2, marian, pegasus, bart, mbart, t5, bert, roberta, xlm-roberta, distilbert)", dir, probe.ModelType)
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "models": s.names})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", s.playground)
	mux.Handle("GET /v1/models", s.api("models", s.listModels))
	mux.Handle("POST /v1/completions", s.api("completions", s.completions))
	mux.Handle("POST /v1/translate", s.api("translate", s.task("translate")))
	mux.Handle("POST /v1/summarize", s.api("summarize", s.task("summarize")))
	mux.Handle("POST /v1/answer", s.api("answer", s.task("answer")))
	mux.Handle("POST /v1/attention", s.api("attention", s.attention))
	mux.Handle("POST /v1/embeddings", s.api("embeddings", s.encoderTask("embeddings")))
	mux.Handle("POST /v1/classify", s.api("classify", s.encoderTask("classify")))
	mux.Handle("POST /v1/rerank", s.api("rerank", s.encoderTask("rerank")))
	mux.Handle("POST /v1/ner", s.api("ner", s.encoderTask("ner")))
	s.mux = mux
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler { return s.mux }

// apiError is an error with its HTTP status and the request field at
// fault, written as OpenAI writes errors.
type apiError struct {
	status  int
	message string
	param   string
	retry   int // seconds, for 429
}

func (e *apiError) Error() string { return e.message }

func badRequest(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...), param: param}
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// api wraps an endpoint: the API key, draining, the body limit, the
// request time limit, errors as JSON, metrics and a log line.
func (s *Server) api(endpoint string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		err := func() error {
			if s.cfg.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.cfg.APIKey {
				return &apiError{status: http.StatusUnauthorized, message: "a valid API key is needed: Authorization: Bearer <key>"}
			}
			if s.draining.Load() {
				return &apiError{status: http.StatusServiceUnavailable, message: "the server is shutting down"}
			}
			r.Body = &deadlineBody{ReadCloser: http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), rc: http.NewResponseController(rw), limit: s.cfg.BodyTimeout}
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
			defer cancel()
			return h(w, r.WithContext(ctx))
		}()
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = &apiError{status: http.StatusInternalServerError, message: err.Error()}
			}
			if w.status == 0 { // not yet streaming
				if ae.retry > 0 {
					w.Header().Set("Retry-After", fmt.Sprint(ae.retry))
				}
				writeJSON(w, ae.status, map[string]any{"error": map[string]any{"message": ae.message, "type": errorType(ae.status), "param": nullable(ae.param), "code": nil}})
			}
			if w.status == 0 {
				w.status = ae.status
			}
		}
		code := w.status
		if code == 0 {
			code = http.StatusOK
		}
		el := time.Since(start)
		s.metrics.requests.WithLabelValues(endpoint, fmt.Sprint(code)).Inc()
		s.metrics.latency.WithLabelValues(endpoint).Observe(el.Seconds())
		s.cfg.Logger.Info("request", "endpoint", endpoint, "status", code, "ms", el.Milliseconds(), "remote", r.RemoteAddr, "error", errString(err))
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func errorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusRequestTimeout:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	}
	return "server_error"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// deadlineBody gives the client limit to send its body: a reader that
// sets the connection's read deadline on first use and clears it at EOF.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	limit   time.Duration
	started bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		b.rc.SetReadDeadline(time.Now().Add(b.limit))
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.rc.SetReadDeadline(time.Time{})
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, &apiError{status: http.StatusRequestTimeout, message: fmt.Sprintf("the request body did not arrive within %v", b.limit)}
	}
	return n, err
}

// decode reads a JSON body into v: unknown fields, a body over the limit,
// bad JSON and a wrong type are errors naming what is wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		var syntax *json.SyntaxError
		var ae *apiError
		switch {
		case errors.As(err, &ae): // a field's own check
			return ae
		case errors.As(err, &tooBig):
			return &apiError{status: http.StatusRequestEntityTooLarge, message: fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit)}
		case errors.As(err, &typeErr):
			// The task endpoints' options are an embedded struct, whose Go
			// name the path carries; the client wrote the field alone.
			field := strings.TrimPrefix(typeErr.Field, "taskOptions.")
			return badRequest(field, "%s must be %s, not a JSON %s", field, jsonKind(typeErr.Type), typeErr.Value)
		case errors.As(err, &syntax):
			return badRequest("", "the body is not valid JSON (at byte %d): %v", syntax.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return badRequest(f, "unrecognized request argument supplied: %s", f)
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			return err
		}
		return badRequest("", "the body is not valid JSON: %v", err)
	}
	if dec.More() {
		return badRequest("", "the body holds more than one JSON value")
	}
	return nil
}

// modelFor returns the named model that serves task.
func (s *Server) modelFor(name, task string) (model, error) {
	if name == "" {
		if len(s.names) == 1 {
			name = s.names[0]
		} else {
			return nil, badRequest("model", "model is required (served: %s)", strings.Join(s.names, ", "))
		}
	}
	m, ok := s.models[name]
	if !ok {
		return nil, &apiError{status: http.StatusNotFound, message: fmt.Sprintf("the model %q does not exist (served: %s)", name, strings.Join(s.names, ", ")), param: "model"}
	}
	for _, t := range m.tasks() {
		if t == task {
			return m, nil
		}
	}
	return nil, badRequest("model", "the model %q does not do %s (it does %s)", name, task, strings.Join(m.tasks(), ", "))
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	var data []map[string]any
	for _, n := range s.names {
		m := s.models[n]
		data = append(data, map[string]any{"id": n, "object": "model", "owned_by": "goformer", "kind": m.kind(), "endpoints": m.tasks()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
	return nil
}

// ListenAndServe serves on addr until ctx ends (SIGTERM, say), then
// drains: new requests get 503, requests in flight finish within grace,
// the schedulers stop. It returns nil after a clean drain.
func (s *Server) ListenAndServe(ctx context.Context, addr string, grace time.Duration, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	s.cfg.Logger.Info("serving", "addr", ln.Addr().String(), "models", s.names)
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.cfg.Logger.Info("draining", "grace", grace.String())
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err = hs.Shutdown(sctx)
	s.Close()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("serve: requests still running after the %v grace period", grace)
	}
	return err
}

// Drain makes the server refuse new requests (503) and report not ready.
func (s *Server) Drain() { s.draining.Store(true) }

// Close stops the schedulers (after Drain and the requests in flight).
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// metrics are the server's Prometheus series.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	ttft      *prometheus.HistogramVec
	tokens    *prometheus.CounterVec
	rows      *prometheus.GaugeVec
	queue     *prometheus.GaugeVec
	cache     *prometheus.GaugeVec
	batchSize *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goformer_requests_total", Help: "Requests by endpoint and status code."}, []string{"endpoint", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "goformer_request_seconds", Help: "Request latency.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 16)}, []string{"endpoint"})
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "goformer_time_to_first_token_seconds", Help: "Time from a completion request to its first token.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 16)}, []string{"model"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goformer_tokens_generated_total", Help: "Tokens generated."}, []string{"model"})
	m.rows = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "goformer_batch_rows", Help: "Sequences in the running batch."}, []string{"model"})
	m.queue = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "goformer_queue_depth", Help: "Requests waiting for the model."}, []string{"model"})
	m.cache = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "goformer_kv_cache_bytes", Help: "Memory held by the KV caches."}, []string{"model"})
	m.batchSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "goformer_batch_occupancy", Help: "Sequences per decoding step.", Buckets: prometheus.LinearBuckets(1, 1, 16)}, []string{"model"})
	m.reg.MustRegister(m.requests, m.latency, m.ttft, m.tokens, m.rows, m.queue, m.cache, m.batchSize,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// queue holds a model's waiting requests, bounded: submit refuses (429)
// when it is full and wakes the model's scheduler.
type queue[T any] struct {
	name    string
	s       *Server
	mu      sync.Mutex
	pending []T
	wake    chan struct{}
}

func newQueue[T any](name string, s *Server) *queue[T] {
	return &queue[T]{name: name, s: s, wake: make(chan struct{}, 1)}
}

func (q *queue[T]) queueLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

func (q *queue[T]) submit(r T) error {
	q.mu.Lock()
	if len(q.pending) >= q.s.cfg.MaxQueue {
		q.mu.Unlock()
		return &apiError{status: http.StatusTooManyRequests, message: fmt.Sprintf("the queue of %s is full (%d requests); retry later", q.name, q.s.cfg.MaxQueue), retry: 1}
	}
	q.pending = append(q.pending, r)
	n := len(q.pending)
	q.mu.Unlock()
	q.s.metrics.queue.WithLabelValues(q.name).Set(float64(n))
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// gauge sets the queue-depth metric; call with q.mu held.
func (q *queue[T]) gauge() { q.s.metrics.queue.WithLabelValues(q.name).Set(float64(len(q.pending))) }

// quantize puts a model's weights in dtype ("", "fp32", "bf16", "int8").
func quantize(model any, dtype string) error {
	if dtype == "" || dtype == "fp32" {
		return nil
	}
	q, ok := model.(interface{ Quantize(string) (int, error) })
	if !ok {
		return fmt.Errorf("serve: %T cannot take %s weights", model, dtype)
	}
	_, err := q.Quantize(dtype)
	return err
}

// jsonKind names what a JSON value must be to decode into a Go type.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
