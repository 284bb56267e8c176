package pipelines

import (
	"errors"
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
// model and its tokenizer, as transformers' question-answering pipeline
// does: [CLS] question [SEP] context [SEP] (RoBERTa: <s> question
// </s></s> context </s>), the context cut into
// windows of MaxSeqLen tokens overlapping by DocStride, start and end
// logits masked to the context, softmax per window, the best spans with
// start ≤ end and at most MaxAnswerLen tokens scored by start × end
// probability, widened to whole words and cut from the original context.
type QuestionAnswerer struct {
	Model     SpanModel
	Tokenizer QATokenizer
	Template  PairTemplate
	MaxPos    int // positions a window may use
	Options   QAOptions
}

// QATokenizer is a tokenizer that keeps offsets (WordPiece, ByteBPE).
type QATokenizer interface {
	EncodeOffsets(text string) (tokenizer.Encoding, error)
}

// PairTemplate is how a question and a context make one input: BERT's
// [CLS] q [SEP] c [SEP] (token types 0 then 1), or RoBERTa's
// <s> q </s></s> c </s> (DoubleSep; one token type).
type PairTemplate struct {
	CLS, SEP, Pad int32
	DoubleSep     bool
}

// NewQuestionAnswerer pairs a model with a question-answering head and its
// tokenizer: WordPiece for BERT and DistilBERT, byte-level BPE with
// RoBERTa's template for RoBERTa.
func NewQuestionAnswerer(m *bert.Model, t tokenizer.Tokenizer) (*QuestionAnswerer, error) {
	in, err := newEncoderInput(m, t)
	if err != nil {
		return nil, err
	}
	if !in.offsets {
		return nil, fmt.Errorf("question answering needs the tokens' spans in the text, which a %T does not give", t)
	}
	return &QuestionAnswerer{Model: m, Tokenizer: in.tok, Template: in.tpl, MaxPos: in.maxPos}, nil
}

// LoadQuestionAnswerer reads a BERT, RoBERTa or DistilBERT directory with a
// question-answering head and its tokenizer.
func LoadQuestionAnswerer(dir string) (*QuestionAnswerer, error) {
	m, err := bert.Load(dir, bert.QuestionAnswering)
	if err != nil {
		return nil, err
	}
	t, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	qa, err := NewQuestionAnswerer(m, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return qa, nil
}

// ErrQuestionTooLong is the error (wrapped) of a question that leaves no
// room for the context in a window.
var ErrQuestionTooLong = errors.New("the question is too long")

// window is one model input: [CLS] q [SEP] context[from:to] [SEP].
type window struct {
	ids, types []int32
	ctxFrom    int // the first context token's index in the context encoding
	ctxAt      int // its position in ids
	n          int // context tokens in the window
}

// windowSpans cuts a context of n tokens into windows of at most budget
// tokens, each starting budget-stride after the last, as the fast
// tokenizers' overflowing tokens do.
func windowSpans(n, budget, stride int) [][2]int {
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
	tp := a.Template
	all, err := a.windows(q, c, o)
	if err != nil {
		return nil, err
	}
	var answers []Answer
	for start := 0; start < len(all); start += o.BatchWindows {
		ws := all[start:min(start+o.BatchWindows, len(all))]
		seqLen := 0
		for _, w := range ws {
			seqLen = max(seqLen, len(w.ids))
		}
		ids, types := make([]int32, len(ws)*seqLen), make([]int32, len(ws)*seqLen)
		pad := make([]bool, len(ws)*seqLen)
		for i, w := range ws {
			copy(ids[i*seqLen:], w.ids)
			copy(types[i*seqLen:], w.types)
			for j := len(w.ids); j < seqLen; j++ {
				ids[i*seqLen+j], pad[i*seqLen+j] = tp.Pad, true
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

// windows cuts the context encoding c into the model's inputs with the
// question q: the template around them, windows of the context as the fast
// tokenizers' overflow with a stride makes them.
func (a *QuestionAnswerer) windows(q, c tokenizer.Encoding, o QAOptions) ([]window, error) {
	tp := a.Template
	specials := 3
	if tp.DoubleSep {
		specials = 4
	}
	budget := o.MaxSeqLen - q.Len() - specials
	if budget < 1 {
		return nil, fmt.Errorf("%w: it has %d tokens, no room for the context in windows of %d", ErrQuestionTooLong, q.Len(), o.MaxSeqLen)
	}
	// transformers refuses a stride as long as the window's context part;
	// here a long question halves it instead.
	stride := min(o.DocStride, budget/2)
	var out []window
	for _, s := range windowSpans(c.Len(), budget, stride) {
		w := window{ctxFrom: s[0], n: s[1] - s[0]}
		w.ids = append(append([]int32{tp.CLS}, q.IDs...), tp.SEP)
		if tp.DoubleSep {
			w.ids = append(w.ids, tp.SEP)
		}
		w.ctxAt = len(w.ids)
		w.ids = append(append(w.ids, c.IDs[s[0]:s[1]]...), tp.SEP)
		w.types = make([]int32, len(w.ids))
		for j := w.ctxAt; j < len(w.ids) && !tp.DoubleSep; j++ {
			w.types[j] = 1 // BERT's second segment; RoBERTa has one token type
		}
		out = append(out, w)
	}
	return out, nil
}

// QAWindow is one training input for a question-answering model: the
// tokens of question and context window, their types, and where the
// answer starts and ends in it (both 0, the [CLS] position, when the
// window does not hold the whole answer, as transformers' run_qa labels).
type QAWindow struct {
	IDs, Types []int32
	Start, End int32
}

// TrainingWindows encodes a question and its context into the windows the
// pipeline would read, labelled with the answer at bytes
// [answerStart, answerEnd) of the context.
func (a *QuestionAnswerer) TrainingWindows(question, context string, answerStart, answerEnd int) ([]QAWindow, error) {
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
	ws, err := a.windows(q, c, a.Options.withDefaults(a.MaxPos))
	if err != nil {
		return nil, err
	}
	// The answer's first and last tokens in the context encoding.
	first, last := -1, -1
	for i, off := range c.Offsets {
		if off[1] > answerStart && off[0] < answerEnd {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	out := make([]QAWindow, len(ws))
	for i, w := range ws {
		out[i] = QAWindow{IDs: w.ids, Types: w.types}
		if first >= w.ctxFrom && last < w.ctxFrom+w.n {
			out[i].Start, out[i].End = int32(w.ctxAt+first-w.ctxFrom), int32(w.ctxAt+last-w.ctxFrom)
		}
	}
	return out, nil
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
