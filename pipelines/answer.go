package pipelines

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/tokenizer"
)

// SpanModel is an extractive question-answering model: start and end
// logits for every token (bert.Model with its QA head).
type SpanModel interface {
	SpanLogits(ids, types []int32, batch, seqLen int, pad []bool) (start, end []float32, err error)
}

// QAOptions control QuestionAnswerer, with the defaults of transformers'
// question-answering pipeline.
type QAOptions struct {
	MaxSeqLen    int // tokens per window, question and special tokens included (384)
	DocStride    int // tokens shared by consecutive windows of a long context (default min(128, MaxSeqLen/2); at most half a window's context)
	MaxAnswerLen int // answer tokens at most (15)
	TopK         int // answers returned (1)
	BatchWindows int // windows run through the model together (16): bounds memory on huge contexts
}

func (o QAOptions) withDefaults(maxPos int) QAOptions {
	if o.MaxSeqLen <= 0 {
		o.MaxSeqLen = min(384, maxPos)
	}
	if o.DocStride <= 0 {
		o.DocStride = min(o.MaxSeqLen/2, 128)
	}
	if o.MaxAnswerLen <= 0 {
		o.MaxAnswerLen = 15
	}
	if o.TopK <= 0 {
		o.TopK = 1
	}
	if o.BatchWindows <= 0 {
		o.BatchWindows = 16
	}
	return o
}

// Answer is one answer span: its text cut from the context, its score
// (the product of the start and end probabilities in its window), and its
// span in characters (Unicode code points, as transformers reports it) and
// in bytes.
type Answer struct {
	Text      string  `json:"answer"`
	Score     float64 `json:"score"`
	Start     int     `json:"start"`
	End       int     `json:"end"`
	ByteStart int     `json:"byte_start"`
	ByteEnd   int     `json:"byte_end"`
}

// QuestionAnswerer answers questions about a context with an extractive
// model and its WordPiece tokenizer, as transformers' question-answering
// pipeline does: [CLS] question [SEP] context [SEP], the context cut into
// windows of MaxSeqLen tokens overlapping by DocStride, start and end
// logits masked to the context, softmax per window, the best spans with
// start ≤ end and at most MaxAnswerLen tokens scored by start × end
// probability, widened to whole words and cut from the original context.
type QuestionAnswerer struct {
	Model     SpanModel
	Tokenizer *tokenizer.WordPiece
	MaxPos    int // the model's max_position_embeddings
	Options   QAOptions
}

// LoadQuestionAnswerer reads a BERT directory with a question-answering
// head (BertForQuestionAnswering) and its WordPiece tokenizer.json.
func LoadQuestionAnswerer(dir string) (*QuestionAnswerer, error) {
	m, err := bert.Load(dir, bert.QuestionAnswering)
	if err != nil {
		return nil, err
	}
	t, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	wp, ok := t.(*tokenizer.WordPiece)
	if !ok {
		return nil, fmt.Errorf("%s: question answering with BERT needs a WordPiece tokenizer, not a %T", dir, t)
	}
	if wp.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("%s: the tokenizer has %d tokens but the model's vocabulary is %d", dir, wp.VocabSize(), m.Config.VocabSize)
	}
	return &QuestionAnswerer{Model: m, Tokenizer: wp, MaxPos: m.Config.MaxPositionEmbeddings}, nil
}

// window is one model input: [CLS] q [SEP] context[from:to] [SEP].
type window struct {
	ids, types []int32
	ctxFrom    int // the first context token's index in the context encoding
	ctxAt      int // its position in ids
	n          int // context tokens in the window
}

// Windows cuts a context of n tokens into windows of at most budget
// tokens, each starting budget-stride after the last, as the fast
// tokenizers' overflowing tokens do.
func windows(n, budget, stride int) [][2]int {
	var out [][2]int
	for from := 0; ; from += budget - stride {
		to := min(from+budget, n)
		out = append(out, [2]int{from, to})
		if to == n {
			return out
		}
	}
}

// Answer returns the best answers (TopK) to question in context.
func (a *QuestionAnswerer) Answer(question, context string) ([]Answer, error) {
	if strings.TrimSpace(question) == "" {
		return nil, fmt.Errorf("the question is empty")
	}
	if strings.TrimSpace(context) == "" {
		return nil, fmt.Errorf("the context is empty")
	}
	if !utf8.ValidString(question) || !utf8.ValidString(context) {
		return nil, fmt.Errorf("the question or the context is not valid UTF-8")
	}
	o := a.Options.withDefaults(a.MaxPos)
	if o.MaxSeqLen > a.MaxPos {
		return nil, fmt.Errorf("windows of %d tokens exceed the model's %d positions", o.MaxSeqLen, a.MaxPos)
	}
	q, err := a.Tokenizer.EncodeOffsets(question)
	if err != nil {
		return nil, err
	}
	c, err := a.Tokenizer.EncodeOffsets(context)
	if err != nil {
		return nil, err
	}
	if c.Len() == 0 {
		return nil, fmt.Errorf("the context has no tokens")
	}
	budget := o.MaxSeqLen - q.Len() - 3
	if budget < 1 {
		return nil, fmt.Errorf("the question has %d tokens: no room for the context in windows of %d", q.Len(), o.MaxSeqLen)
	}
	// transformers refuses a stride as long as the window's context part;
	// here a long question halves it instead.
	stride := min(o.DocStride, budget/2)
	cls, sep := a.Tokenizer.CLS(), a.Tokenizer.SEP()
	spans := windows(c.Len(), budget, stride)
	var answers []Answer
	for start := 0; start < len(spans); start += o.BatchWindows {
		batch := spans[start:min(start+o.BatchWindows, len(spans))]
		ws := make([]window, len(batch))
		seqLen := 0
		for i, s := range batch {
			w := window{ctxFrom: s[0], n: s[1] - s[0]}
			w.ids = append(append(append([]int32{cls}, q.IDs...), sep), c.IDs[s[0]:s[1]]...)
			w.ids = append(w.ids, sep)
			w.ctxAt = q.Len() + 2
			w.types = make([]int32, len(w.ids))
			for j := w.ctxAt; j < len(w.ids); j++ {
				w.types[j] = 1
			}
			ws[i] = w
			seqLen = max(seqLen, len(w.ids))
		}
		ids, types := make([]int32, len(ws)*seqLen), make([]int32, len(ws)*seqLen)
		pad := make([]bool, len(ws)*seqLen)
		for i, w := range ws {
			copy(ids[i*seqLen:], w.ids)
			copy(types[i*seqLen:], w.types)
			for j := len(w.ids); j < seqLen; j++ {
				ids[i*seqLen+j], pad[i*seqLen+j] = a.Tokenizer.Pad(), true
			}
		}
		startLogits, endLogits, err := a.Model.SpanLogits(ids, types, len(ws), seqLen, pad)
		if err != nil {
			return nil, err
		}
		for i, w := range ws {
			answers = append(answers, bestSpans(startLogits[i*seqLen:i*seqLen+len(w.ids)], endLogits[i*seqLen:i*seqLen+len(w.ids)], w, &c, context, o)...)
		}
	}
	sort.SliceStable(answers, func(i, j int) bool { return answers[i].Score > answers[j].Score })
	answers = answers[:min(o.TopK, len(answers))]
	for i := range answers {
		answers[i].Start = utf8.RuneCountInString(context[:answers[i].ByteStart])
		answers[i].End = answers[i].Start + utf8.RuneCountInString(answers[i].Text)
	}
	return answers, nil
}

// bestSpans is transformers' postprocess for one window: logits of tokens
// outside the context set to -10000, softmax, the [CLS] probability set to
// 0, the TopK spans by start × end probability among context tokens.
func bestSpans(startLogits, endLogits []float32, w window, c *tokenizer.Encoding, context string, o QAOptions) []Answer {
	n := len(startLogits)
	ps, pe := make([]float64, n), make([]float64, n)
	allowed := func(j int) bool { return j >= w.ctxAt && j < w.ctxAt+w.n }
	softmax := func(logits []float32, p []float64) {
		m := math.Inf(-1)
		for j, x := range logits {
			v := float64(x)
			if !allowed(j) && j != 0 { // [CLS] stays in the softmax, as p_mask leaves it
				v = -10000
			}
			p[j] = v
			m = math.Max(m, v)
		}
		var sum float64
		for j := range p {
			p[j] = math.Exp(p[j] - m)
			sum += p[j]
		}
		for j := range p {
			p[j] /= sum
		}
		p[0] = 0
	}
	softmax(startLogits, ps)
	softmax(endLogits, pe)
	type cand struct {
		s, e  int
		score float64
	}
	var cands []cand
	for s := w.ctxAt; s < w.ctxAt+w.n; s++ {
		for e := s; e < min(s+o.MaxAnswerLen, w.ctxAt+w.n); e++ {
			cands = append(cands, cand{s, e, ps[s] * pe[e]})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	var out []Answer
	for _, k := range cands[:min(o.TopK, len(cands))] {
		// Widen to whole words, as the pipeline's token_to_word and
		// word_to_chars do.
		ts, te := w.ctxFrom+k.s-w.ctxAt, w.ctxFrom+k.e-w.ctxAt
		bs, _ := c.WordSpan(c.Words[ts])
		_, be := c.WordSpan(c.Words[te])
		out = append(out, Answer{Text: context[bs:be], Score: k.score, ByteStart: bs, ByteEnd: be})
	}
	return out
}
