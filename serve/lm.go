package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
)

// lm is a language model served with continuous batching: one goroutine
// (run) owns the decoder; requests wait in pending, join the running batch
// between steps when the batch has room (rows, KV memory, positions), and
// leave it when they end (EOS, max_tokens, a stop string, cancellation).
type lm struct {
	*queue[*lmReq]
	m       *gpt.Model
	tok     tokenizer.Tokenizer
	eos     int32      // −1: none
	modelMu sync.Mutex // held while the model runs (decoding, attention maps)
	grows   int        // how many times a join grew the caches (tests read it)
}

// lmReq is one sequence to complete.
type lmReq struct {
	ctx       context.Context
	index     int // which prompt of its request
	prompt    []int32
	maxTokens int
	sampler   *generate.Sampler
	events    chan lmEvent // shared by the prompts of a request; room for every event, so the scheduler never blocks
	start     time.Time
}

// lmEvent is a token, or the end of a sequence.
type lmEvent struct {
	index  int
	token  int32
	done   bool
	reason string // "stop" (EOS) or "length"
	err    error
}

// send gives the request an event of its prompt.
func (r *lmReq) send(e lmEvent) {
	e.index = r.index
	r.events <- e
}

func newLM(name, dir string, s *Server) (*lm, error) {
	m, err := gpt.Load(dir)
	if err != nil {
		return nil, err
	}
	if err := quantize(m, s.cfg.DType); err != nil {
		return nil, err
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("%s: the tokenizer has %d tokens but the model's vocabulary is %d", dir, tok.VocabSize(), m.Config.VocabSize)
	}
	eos := int32(-1)
	if m.Config.EosTokenID != nil && *m.Config.EosTokenID >= 0 && *m.Config.EosTokenID < m.Config.VocabSize {
		eos = int32(*m.Config.EosTokenID)
	}
	return &lm{queue: newQueue[*lmReq](name, s), m: m, tok: tok, eos: eos}, nil
}

func (l *lm) kind() string    { return "lm" }
func (l *lm) tasks() []string { return []string{"completions", "attention"} }

// lmRow is a sequence in the running batch.
type lmRow struct {
	req       *lmReq
	feed      int32 // the next input
	generated int
}

// rowBytes is the KV cache memory one row takes at the decoder's capacity:
// keys and values, every layer (the caches grow in place; their second
// buffer is for beam search, which the server does not run).
func (l *lm) rowBytes() int64 {
	c := l.m.Config
	return int64(c.NLayer) * 2 * int64(c.NPositions) * int64(c.NEmbd) * 4
}

// stepHook, when a test sets it, runs before every decoding step of the
// schedulers: tests that check that requests sent together share steps
// slow the steps of their tiny models with it, so that the requests
// overlap whatever the machine's speed.
var stepHook func()

// keepIdle is how long the scheduler keeps an emptied decoder (its caches'
// memory) for requests to come before it lets it go.
const keepIdle = 100 * time.Millisecond

// await waits for a request (true) or for stop (false, the decoder
// released). An emptied decoder is kept for keepIdle: requests that come
// in waves (a batch that finished together, its clients sending their
// next) join it and reuse its caches' memory instead of growing new ones;
// after keepIdle without one it is released.
func (l *lm) await(stop <-chan struct{}, dec **gpt.Decoder) bool {
	var expire <-chan time.Time
	if *dec != nil {
		t := time.NewTimer(keepIdle)
		defer t.Stop()
		expire = t.C
	}
	for {
		select {
		case <-stop:
			if *dec != nil {
				(*dec).Release()
				*dec = nil
			}
			return false
		case <-l.wake:
			return true
		case <-expire:
			(*dec).Release()
			*dec, expire = nil, nil
		}
	}
}

// run is the scheduler: admit, step, emit, drop, until stop.
func (l *lm) run(stop <-chan struct{}) {
	var dec *gpt.Decoder
	var rows []*lmRow
	met := l.s.metrics
	tokens, ttft, occupancy := met.tokens.WithLabelValues(l.name), met.ttft.WithLabelValues(l.name), met.batchSize.WithLabelValues(l.name)
	for {
		if len(rows) == 0 {
			met.rows.WithLabelValues(l.name).Set(0)
			met.cache.WithLabelValues(l.name).Set(0)
			if l.queueLen() == 0 && !l.await(stop, &dec) {
				return
			}
		}
		select {
		case <-stop:
			for _, r := range rows {
				r.req.send(lmEvent{done: true, err: fmt.Errorf("the server stopped")})
			}
			return
		default:
		}
		var err error
		l.modelMu.Lock()
		dec, rows, err = l.admit(dec, rows)
		l.modelMu.Unlock()
		if err != nil {
			l.s.cfg.Logger.Error("admitting requests", "model", l.name, "error", err)
		}
		if len(rows) == 0 {
			continue
		}
		feed := make([]int32, len(rows))
		for i, r := range rows {
			feed[i] = r.feed
		}
		occupancy.Observe(float64(len(rows)))
		if stepHook != nil {
			stepHook()
		}
		l.modelMu.Lock()
		logits, err := dec.Step(feed, nil)
		l.modelMu.Unlock()
		if err != nil {
			for _, r := range rows {
				r.req.send(lmEvent{done: true, err: err})
			}
			rows = nil
			dec.Release() // not to be joined again
			dec = nil
			continue
		}
		v := l.m.Config.VocabSize
		var keep []int
		for i, r := range rows {
			if r.req.ctx.Err() != nil { // gone: drop it
				r.req.send(lmEvent{done: true, err: r.req.ctx.Err()})
				continue
			}
			row := logits[i*v : (i+1)*v]
			var tok int32
			tok = r.req.sampler.Next(row) // a zero Sampler is greedy
			if r.generated == 0 {
				ttft.Observe(time.Since(r.req.start).Seconds())
			}
			r.generated++
			tokens.Inc()
			switch {
			case tok == l.eos:
				r.req.send(lmEvent{done: true, reason: "stop"})
			case r.generated >= r.req.maxTokens:
				r.req.send(lmEvent{token: tok})
				r.req.send(lmEvent{done: true, reason: "length"})
			default:
				r.req.send(lmEvent{token: tok})
				r.feed = tok
				keep = append(keep, i)
			}
		}
		if len(keep) < len(rows) {
			next := make([]*lmRow, len(keep))
			for j, i := range keep {
				next[j] = rows[i]
			}
			if err := dec.Keep(keep); err != nil {
				for _, r := range next {
					r.req.send(lmEvent{done: true, err: err})
				}
				next = nil
				dec.Release()
				dec = nil
			}
			rows = next
		}
		met.rows.WithLabelValues(l.name).Set(float64(len(rows)))
		if dec != nil {
			met.cache.WithLabelValues(l.name).Set(float64(dec.CacheBytes()))
		}
	}
}

// admit moves waiting requests into the batch, in order, while they fit:
// rows, KV memory, and positions (the merged cache and every row's
// remaining tokens within the model's context). A request that does not
// fit yet waits, and those behind it too.
func (l *lm) admit(dec *gpt.Decoder, rows []*lmRow) (*gpt.Decoder, []*lmRow, error) {
	l.mu.Lock()
	defer func() {
		l.gauge()
		l.mu.Unlock()
	}()
	cfg := l.s.cfg
	ctxLen := l.m.Config.NPositions
	n, need := 0, 0 // cache positions, and the most steps a running row still needs
	if dec != nil {
		n = dec.Len()
	}
	for _, r := range rows {
		need = max(need, r.req.maxTokens-r.generated)
	}
	var join []*lmReq
	for len(l.pending) > 0 {
		r := l.pending[0]
		if r.ctx.Err() != nil {
			r.send(lmEvent{done: true, err: r.ctx.Err()})
			l.pending = l.pending[1:]
			continue
		}
		total := len(rows) + len(join) + 1
		n2, need2 := max(n, len(r.prompt)-1), max(need, r.maxTokens)
		if total > cfg.MaxRows || int64(total)*l.rowBytes() > cfg.KVBudget && total > 1 || n2+need2 > ctxLen && total > 1 {
			break
		}
		join = append(join, r)
		n, need = n2, need2
		l.pending = l.pending[1:]
	}
	if len(join) == 0 {
		return dec, rows, nil
	}
	// The caches hold what the rows in view need, twice over (at least 64
	// positions, at most the context), not the whole context for every
	// decoder (for a GPT-2-sized model, 75 MB a row at 1,024 positions,
	// allocated and cleared per request); a join that needs more grows
	// them.
	room := min(ctxLen, max(64, 2*(n+need)))
	if dec != nil && n+need > dec.Cap() {
		l.grows++
		if err := dec.Grow(room); err != nil {
			for _, r := range join {
				r.send(lmEvent{done: true, err: err})
			}
			return dec, rows, err
		}
	}
	// The prompts are prefilled in groups of similar length (each group is
	// left-padded to its longest prompt, and a padded position costs what
	// a real one does), their rows appended group by group.
	sort.SliceStable(join, func(a, b int) bool { return len(join[a].prompt) < len(join[b].prompt) })
	groups := prefillGroups(join)
	for gi, group := range groups {
		prompts := make([][]int32, len(group))
		for i, r := range group {
			prompts[i] = r.prompt
		}
		var err error
		if dec == nil {
			longest := len(prompts[len(prompts)-1])
			dec, err = l.m.NewDecoder(prompts, 1, room-longest+1)
		} else {
			err = dec.Join(prompts)
		}
		if err != nil {
			for _, g := range groups[gi:] {
				for _, r := range g {
					r.send(lmEvent{done: true, err: err})
				}
			}
			if len(rows) == 0 && dec != nil {
				dec.Release()
				dec = nil
			}
			return dec, rows, err
		}
		starts := dec.Starts()
		for i, r := range group {
			rows = append(rows, &lmRow{req: r, feed: starts[len(starts)-len(group)+i]})
		}
	}
	return dec, rows, nil
}

// prefillGroups splits requests sorted by prompt length into runs whose
// padding to their longest prompt adds at most a quarter to their tokens.
func prefillGroups(sorted []*lmReq) [][]*lmReq {
	var groups [][]*lmReq
	start, tokens := 0, 0
	for i, r := range sorted {
		n := len(r.prompt)
		if i > start && 4*(i+1-start)*n > 5*(tokens+n) {
			groups = append(groups, sorted[start:i])
			start, tokens = i, 0
		}
		tokens += n
	}
	return append(groups, sorted[start:])
}

// stringOrList is a JSON string or list of strings.
func stringOrList(b []byte, field string) ([]string, error) {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, badRequest(field, "%s must be a string or a list of strings", field)
	}
	return list, nil
}

// prompts is completions' prompt: a string or a list of strings.
type prompts []string

func (p *prompts) UnmarshalJSON(b []byte) (err error) {
	*p, err = stringOrList(b, "prompt")
	return err
}

// stops is completions' stop: a string or a list of strings.
type stops []string

func (p *stops) UnmarshalJSON(b []byte) (err error) {
	*p, err = stringOrList(b, "stop")
	return err
}

// completionRequest is OpenAI's /v1/completions body. The fields goformer
// does not implement are accepted at their defaults and refused otherwise.
type completionRequest struct {
	Model            string          `json:"model"`
	Prompt           *prompts        `json:"prompt"`
	MaxTokens        *int            `json:"max_tokens"`
	Temperature      *float64        `json:"temperature"`
	TopP             *float64        `json:"top_p"`
	Stop             *stops          `json:"stop"`
	Seed             *int64          `json:"seed"`
	Stream           bool            `json:"stream"`
	N                *int            `json:"n"`
	User             string          `json:"user"`
	Echo             bool            `json:"echo"`
	Logprobs         json.RawMessage `json:"logprobs"`
	BestOf           *int            `json:"best_of"`
	PresencePenalty  *float64        `json:"presence_penalty"`
	FrequencyPenalty *float64        `json:"frequency_penalty"`
	LogitBias        json.RawMessage `json:"logit_bias"`
	Suffix           *string         `json:"suffix"`
	StreamOptions    json.RawMessage `json:"stream_options"`
}

// check validates the request and returns its prompts, max_tokens and
// stop strings.
func (req *completionRequest) check(l *lm) (prompts [][]int32, maxTokens int, stops []string, err error) {
	switch {
	case req.N != nil && *req.N != 1:
		return nil, 0, nil, badRequest("n", "n must be 1 (one completion per prompt)")
	case req.BestOf != nil && *req.BestOf != 1:
		return nil, 0, nil, badRequest("best_of", "best_of must be 1")
	case req.Echo:
		return nil, 0, nil, badRequest("echo", "echo is not supported")
	case len(req.Logprobs) > 0 && string(req.Logprobs) != "null":
		return nil, 0, nil, badRequest("logprobs", "logprobs are not supported")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0, req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return nil, 0, nil, badRequest("presence_penalty", "presence_penalty and frequency_penalty must be 0")
	case len(req.LogitBias) > 0 && string(req.LogitBias) != "null" && string(req.LogitBias) != "{}":
		return nil, 0, nil, badRequest("logit_bias", "logit_bias is not supported")
	case req.Suffix != nil && *req.Suffix != "":
		return nil, 0, nil, badRequest("suffix", "suffix is not supported")
	case req.Prompt == nil || len(*req.Prompt) == 0:
		return nil, 0, nil, badRequest("prompt", "prompt is required (a string or a list of strings)")
	case len(*req.Prompt) > l.s.cfg.MaxQueue:
		return nil, 0, nil, badRequest("prompt", "%d prompts in one request; at most %d", len(*req.Prompt), l.s.cfg.MaxQueue)
	case req.Temperature != nil && !(*req.Temperature >= 0 && *req.Temperature <= 2):
		return nil, 0, nil, badRequest("temperature", "temperature must be between 0 and 2, got %g", *req.Temperature)
	case req.TopP != nil && !(*req.TopP > 0 && *req.TopP <= 1):
		return nil, 0, nil, badRequest("top_p", "top_p must be in (0, 1], got %g", *req.TopP)
	}
	ctxLen := l.m.Config.NPositions
	maxTokens = 16 // OpenAI's default
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	limit := ctxLen - 1
	if l.s.cfg.MaxTokens > 0 {
		limit = min(limit, l.s.cfg.MaxTokens)
	}
	if maxTokens < 1 || maxTokens > limit {
		return nil, 0, nil, badRequest("max_tokens", "max_tokens must be between 1 and %d, got %d", limit, maxTokens)
	}
	if req.Stop != nil {
		if len(*req.Stop) > 4 {
			return nil, 0, nil, badRequest("stop", "at most 4 stop sequences, got %d", len(*req.Stop))
		}
		for _, s := range *req.Stop {
			if s == "" || len(s) > 256 {
				return nil, 0, nil, badRequest("stop", "a stop sequence must have 1 to 256 bytes")
			}
		}
		stops = *req.Stop
	}
	for i, p := range *req.Prompt {
		param := "prompt"
		if len(*req.Prompt) > 1 {
			param = fmt.Sprintf("prompt[%d]", i)
		}
		if !utf8.ValidString(p) {
			return nil, 0, nil, badRequest(param, "%s is not valid UTF-8", param)
		}
		if p == "" {
			return nil, 0, nil, badRequest(param, "%s is empty", param)
		}
		if len(p) > 64*ctxLen {
			return nil, 0, nil, badRequest(param, "%s has %d bytes; the model reads %d tokens", param, len(p), ctxLen)
		}
		ids, err := l.tok.Encode(p)
		if err != nil {
			return nil, 0, nil, badRequest(param, "%s: %v", param, err)
		}
		if len(ids) == 0 {
			return nil, 0, nil, badRequest(param, "%s gives no tokens", param)
		}
		if len(ids)+maxTokens > ctxLen {
			return nil, 0, nil, badRequest(param, "%s has %d tokens; with max_tokens %d that is more than the model's context of %d", param, len(ids), maxTokens, ctxLen)
		}
		prompts = append(prompts, ids)
	}
	return prompts, maxTokens, stops, nil
}

// completion is one prompt's progress: the tokens so far, the text sent.
type completion struct {
	ids    []int32
	sent   int // bytes of text already sent
	done   bool
	reason string
}

// text decodes the completion and applies the stop strings: the text so
// far, whether a stop string ended it, and how much of it is safe to send
// (not possibly the start of a stop string, not an unfinished character).
func (c *completion) text(tok tokenizer.Tokenizer, stops []string) (text string, stopped bool, safe int) {
	t, err := tok.Decode(c.ids)
	if err != nil {
		return "", false, 0
	}
	for _, s := range stops {
		if i := strings.Index(t, s); i >= 0 {
			t, stopped = t[:i], true
		}
	}
	safe = len(t)
	if !stopped && !c.done {
		hold := 0
		for _, s := range stops {
			for k := min(len(s)-1, len(t)); k > 0; k-- {
				if strings.HasSuffix(t, s[:k]) {
					hold = max(hold, k)
					break
				}
			}
		}
		safe = len(t) - hold
		for safe > 0 && strings.HasSuffix(t[:safe], "\uFFFD") { // an unfinished byte sequence
			safe -= len("\uFFFD")
		}
	}
	return t, stopped, max(safe, c.sent)
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) error {
	var req completionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := s.modelFor(req.Model, "completions")
	if err != nil {
		return err
	}
	l := m.(*lm)
	prompts, maxTokens, stops, err := req.check(l)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	events := make(chan lmEvent, len(prompts)*(maxTokens+2))
	reqs := make([]*lmReq, len(prompts))
	cancels := make([]context.CancelFunc, len(prompts))
	for i, p := range prompts {
		pctx, pcancel := context.WithCancel(ctx)
		defer pcancel()
		cancels[i] = pcancel
		sampler := &generate.Sampler{} // greedy
		temp, topP := 1.0, 1.0
		if req.Temperature != nil {
			temp = *req.Temperature
		}
		if req.TopP != nil {
			topP = *req.TopP
		}
		if temp > 0 {
			seed := uint64(time.Now().UnixNano())
			if req.Seed != nil {
				seed = uint64(*req.Seed) + uint64(i)
			}
			sampler = &generate.Sampler{Temperature: temp, TopP: topP, RNG: tensor.NewRNG(seed)}
		}
		reqs[i] = &lmReq{ctx: pctx, index: i, prompt: p, maxTokens: maxTokens, sampler: sampler, events: events, start: time.Now()}
		if err := l.submit(reqs[i]); err != nil {
			return err
		}
	}
	id := fmt.Sprintf("cmpl-%x", time.Now().UnixNano())
	created := time.Now().Unix()
	comps := make([]*completion, len(reqs))
	for i := range comps {
		comps[i] = &completion{}
	}
	var flusher http.Flusher
	if req.Stream {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		flusher, _ = w.(http.Flusher)
	}
	// A chunk is written from its fixed parts and the escaped text: one
	// per token, so it is kept cheap.
	model, _ := json.Marshal(l.name)
	head := fmt.Appendf(nil, `data: {"id":%q,"object":"text_completion","created":%d,"model":%s,"choices":[{"text":`, id, created, model)
	var buf []byte
	send := func(i int, text string, reason *string) error {
		t, _ := json.Marshal(text)
		buf = append(append(buf[:0], head...), t...)
		buf = fmt.Appendf(buf, `,"index":%d,"logprobs":null,"finish_reason":`, i)
		if reason == nil {
			buf = append(buf, "null"...)
		} else {
			buf = strconv.AppendQuote(buf, *reason)
		}
		buf = append(buf, "}]}\n\n"...)
		if _, err := w.Write(buf); err != nil {
			return err
		}
		// Flush when no other event waits: under load the chunks of
		// several steps go out in one write, at once when the client is
		// the only one.
		if flusher != nil && len(events) == 0 {
			flusher.Flush()
		}
		return nil
	}
	for left := len(reqs); left > 0; {
		var ev lmEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			if req.Stream {
				return ctx.Err()
			}
			return unfinished(ctx)
		}
		c := comps[ev.index]
		if c.done {
			continue // the scheduler's word on a prompt already ended by a stop string
		}
		if ev.err != nil {
			return ev.err
		}
		if ev.done {
			c.done, c.reason = true, ev.reason
		} else {
			c.ids = append(c.ids, ev.token)
		}
		text, stopped, safe := c.text(l.tok, stops)
		if stopped && !c.done {
			c.done, c.reason = true, "stop"
			cancels[ev.index]() // its row leaves the batch at the next step
		}
		if req.Stream && safe > c.sent && !c.done {
			if err := send(ev.index, text[c.sent:safe], nil); err != nil {
				return err
			}
			c.sent = safe
		}
		if c.done {
			left--
			if req.Stream {
				reason := c.reason
				if err := send(ev.index, text[min(c.sent, len(text)):], &reason); err != nil {
					return err
				}
				c.sent = len(text)
			}
		}
	}
	cancel() // stopped rows leave the batch
	if req.Stream {
		fmt.Fprint(w, "data: [DONE]\n\n")
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	choices := make([]map[string]any, len(comps))
	promptTokens, completionTokens := 0, 0
	for i, c := range comps {
		text, _, _ := c.text(l.tok, stops)
		choices[i] = map[string]any{"text": text, "index": i, "logprobs": nil, "finish_reason": c.reason}
		promptTokens += len(prompts[i])
		completionTokens += len(c.ids)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "text_completion", "created": created, "model": l.name, "choices": choices,
		"usage": map[string]int{"prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens}})
	return nil
}
