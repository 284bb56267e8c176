package serve

import (
	"fmt"

	s2s "github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/models/t5"
	"github.com/goformer/goformer/pipelines"
)

// stream decodes an encoder-decoder's translate and summarize requests
// (greedy, sampled, or with beams) with continuous batching, as lm does
// for language models: each text is a row, or its beams, that joins the
// running batch at the next step (JoinCopies: its source encoded once,
// its cross-attention keys and values merged in, its decoder at position 0
// while the others go on) and leaves it when it ends.
type stream struct {
	*queue[*streamRow]
	owner      *seq2seq // holds the model's lock
	newDecoder func(src [][]int32, copies, maxLen int) (joinDecoder, error)
	vocab      int
	rowCap     int   // positions a decoder's self-attention caches hold, and a row's most steps
	rowBytes   int64 // KV cache memory one row takes at rowCap (self and cross attention)
}

// joinDecoder is an encoder-decoder's incremental decoder that rows join
// and leave between steps (seq2seq.Decoder, t5.Decoder).
type joinDecoder interface {
	Step(tokens []int32, parents []int) ([]float32, error)
	Keep(rows []int) error
	Join(src [][]int32) error
	JoinCopies(src [][]int32, copies int) error
	Len() int
	Cap() int
	CacheBytes() int
	Release()
}

// streamRow is one text of a request, decoded as a row of the batch, or as
// several consecutive rows (its beams).
type streamRow struct {
	job     *streamJob
	index   int // which text of its request
	src     pipelines.StepSource
	feed    []int32 // the next token of each of its rows
	parents []int   // beams: the row (of its own) each continues; nil: each its own
}

// streamJob is a request whose texts decode as rows.
type streamJob struct {
	req  *taskReq
	text func([]int32) (string, error) // a row's tokens as the pipeline writes them
	out  []string
	left int
	err  error
}

// finish records a row's output, answering the request when it is whole.
func (j *streamJob) finish(index int, out []int32) {
	if j.err != nil {
		return
	}
	text, err := j.text(out)
	if err != nil {
		j.fail(err)
		return
	}
	j.out[index] = text
	if j.left--; j.left == 0 {
		j.req.result <- taskResult{out: j.out}
	}
}

// fail answers the request with err, once.
func (j *streamJob) fail(err error) {
	if j.err == nil {
		j.err = err
		j.req.result <- taskResult{err: err}
	}
}

// newStream returns the stream of an encoder-decoder whose decoder rows
// can join (seq2seq and T5 models), or nil.
func newStream(model any, owner *seq2seq, name string, s *Server) *stream {
	st := &stream{queue: newQueue[*streamRow](name, s), owner: owner}
	// A row's KV cache: self-attention keys and values at rowCap
	// positions, cross-attention ones of a source as long as the model
	// reads, every decoder layer.
	switch m := model.(type) {
	case *s2s.Model:
		c := m.Config
		st.vocab, st.rowCap = c.VocabSize, c.MaxPositionEmbeddings
		st.rowBytes = int64(c.DecoderLayers) * 2 * int64(st.rowCap+c.MaxPositionEmbeddings) * int64(c.DModel) * 4
		st.newDecoder = func(src [][]int32, copies, maxLen int) (joinDecoder, error) { return m.NewDecoder(src, copies, maxLen) }
	case *t5.Model:
		c := m.Config
		_, _, srcLen := m.SourceFormat()
		st.vocab, st.rowCap = c.VocabSize, srcLen // relative positions: any length; a row's steps as its source's
		st.rowBytes = int64(c.DecoderLayers()) * 2 * int64(st.rowCap+srcLen) * int64(c.NumHeads*c.DKV) * 4
		st.newDecoder = func(src [][]int32, copies, maxLen int) (joinDecoder, error) { return m.NewDecoder(src, copies, maxLen) }
	default:
		return nil
	}
	return st
}

// submit queues the rows of a request (all of them, or none: 429); rows
// whose text needs no decoding (an empty line) are answered at once.
func (st *stream) submit(req *taskReq, src []pipelines.StepSource, text func([]int32) (string, error)) error {
	job := &streamJob{req: req, text: text, out: make([]string, len(src))}
	var rows []*streamRow
	for i, s := range src {
		if s.Input == nil {
			continue
		}
		if n := s.Remaining(); n > st.rowCap {
			return badRequest("max_new_tokens", "%d new tokens exceed the model's %d positions", n, st.rowCap)
		}
		rows = append(rows, &streamRow{job: job, index: i, src: s})
	}
	job.left = len(rows)
	if len(rows) == 0 {
		req.result <- taskResult{out: job.out}
		return nil
	}
	st.mu.Lock()
	if len(st.pending)+len(rows) > max(st.s.cfg.MaxQueue, len(rows)) && len(st.pending) > 0 {
		st.mu.Unlock()
		return &apiError{status: 429, message: fmt.Sprintf("the queue of %s is full (%d requests); retry later", st.name, st.s.cfg.MaxQueue), retry: 1}
	}
	st.pending = append(st.pending, rows...)
	st.gauge()
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
	return nil
}

// run is the scheduler: admit, step, pick each row's token, drop the
// rows that have ended, until stop.
func (st *stream) run(stop <-chan struct{}) {
	var dec joinDecoder
	var rows []*streamRow
	met := st.s.metrics
	tokens, occupancy := met.tokens.WithLabelValues(st.name), met.batchSize.WithLabelValues(st.name)
	v := st.vocab
	var feed []int32  // this step's token of every decoder row, reused
	var parents []int // and the row each continues (beams)
	var keep []int
	for {
		if len(rows) == 0 {
			if dec != nil {
				dec.Release()
			}
			dec = nil
			if st.queueLen() == 0 {
				select {
				case <-stop:
					return
				case <-st.wake:
				}
			}
		}
		select {
		case <-stop:
			for _, r := range rows {
				r.job.fail(fmt.Errorf("the server stopped"))
			}
			return
		default:
		}
		var err error
		st.owner.modelMu.Lock()
		dec, rows, err = st.admit(dec, rows)
		st.owner.modelMu.Unlock()
		if err != nil {
			st.s.cfg.Logger.Error("admitting requests", "model", st.name, "error", err)
		}
		if len(rows) == 0 {
			continue
		}
		// Each text's rows in turn; beams reorder among their own rows.
		feed, parents = feed[:0], parents[:0]
		beams := false
		for _, r := range rows {
			beams = beams || r.parents != nil
		}
		for _, r := range rows {
			at := len(feed)
			feed = append(feed, r.feed...)
			if beams {
				for j := range r.feed {
					if r.parents != nil {
						parents = append(parents, at+r.parents[j])
					} else {
						parents = append(parents, at+j)
					}
				}
			}
		}
		occupancy.Observe(float64(len(feed)))
		if stepHook != nil {
			stepHook()
		}
		st.owner.modelMu.Lock()
		var useParents []int
		if beams {
			useParents = parents
		}
		logits, err := dec.Step(feed, useParents)
		st.owner.modelMu.Unlock()
		if err != nil {
			for _, r := range rows {
				r.job.fail(err)
			}
			rows = nil
			continue
		}
		keep = keep[:0] // decoder rows
		var next []*streamRow
		at := 0
		for _, r := range rows {
			w := len(r.feed)
			lg := logits[at*v : (at+w)*v]
			first := at
			at += w
			switch {
			case r.job.err != nil: // another of its texts failed
				continue
			case r.job.req.ctx.Err() != nil: // gone: drop it
				r.job.fail(r.job.req.ctx.Err())
				continue
			}
			tokens.Inc()
			var done bool
			if b := r.src.Beam; b != nil {
				if r.parents == nil {
					r.parents = make([]int, w)
				}
				done, err = b.Next(lg, r.feed, r.parents)
				if err != nil {
					r.job.fail(err)
					continue
				}
			} else {
				r.feed[0], done = r.src.Row.Next(lg)
			}
			if done {
				r.job.finish(r.index, r.src.Out())
				continue
			}
			for j := range w {
				keep = append(keep, first+j)
			}
			next = append(next, r)
		}
		if len(keep) < len(feed) {
			if len(keep) > 0 {
				st.owner.modelMu.Lock()
				err := dec.Keep(keep)
				st.owner.modelMu.Unlock()
				if err != nil {
					for _, r := range next {
						r.job.fail(err)
					}
					next = nil
				}
			}
		}
		rows = next
		met.rows.WithLabelValues(st.name).Set(float64(len(rows)))
		if len(rows) > 0 {
			met.cache.WithLabelValues(st.name).Set(float64(dec.CacheBytes()))
		} else {
			met.cache.WithLabelValues(st.name).Set(0)
		}
	}
}

// admit moves waiting rows into the batch, in order, while they fit: rows,
// KV memory, and positions (the caches' history and every row's remaining
// steps within their capacity). A row that does not fit yet waits, and
// those behind it too.
func (st *stream) admit(dec joinDecoder, rows []*streamRow) (joinDecoder, []*streamRow, error) {
	st.mu.Lock()
	cfg := st.s.cfg
	n, need, width := 0, 0, 0
	if dec != nil {
		n = dec.Len()
	}
	for _, r := range rows {
		need = max(need, r.src.Remaining())
		width += r.src.Rows()
	}
	var join []*streamRow
	for len(st.pending) > 0 {
		r := st.pending[0]
		if r.job.err != nil || r.job.req.ctx.Err() != nil {
			r.job.fail(r.job.req.ctx.Err())
			st.pending = st.pending[1:]
			continue
		}
		first := len(rows)+len(join) == 0
		width2 := width + r.src.Rows()
		need2 := max(need, r.src.Remaining())
		limit := st.rowCap
		if dec != nil {
			limit = dec.Cap()
		}
		if !first && (width2 > cfg.MaxRows || int64(width2)*st.rowBytes > cfg.KVBudget || n+need2 > limit) {
			break
		}
		join = append(join, r)
		width, need = width2, need2
		st.pending = st.pending[1:]
	}
	st.gauge()
	st.mu.Unlock()
	if len(join) == 0 {
		return dec, rows, nil
	}
	// Texts with as many rows each join together.
	var err error
	for i := 0; i < len(join) && err == nil; {
		w := join[i].src.Rows()
		var src [][]int32
		j := i
		for ; j < len(join) && join[j].src.Rows() == w; j++ {
			src = append(src, join[j].src.Input)
		}
		if dec == nil {
			// Caches as long as twice the longest text in view needs (at
			// least 64 positions): a model's whole context, allocated and
			// cleared for every decoder, cost more than short requests'
			// decoding. Later texts that would not fit wait for a new one.
			dec, err = st.newDecoder(src, w, min(st.rowCap, max(64, 2*need)))
		} else {
			err = dec.JoinCopies(src, w)
		}
		if err != nil {
			for _, r := range join[i:] {
				r.job.fail(err)
			}
			break
		}
		for _, r := range join[i:j] {
			r.feed = make([]int32, w)
			for k := range r.feed {
				r.feed[k] = r.src.Start()
			}
			rows = append(rows, r)
		}
		i = j
	}
	if len(rows) == 0 && dec != nil {
		dec.Release()
		dec = nil
	}
	return dec, rows, err
}
