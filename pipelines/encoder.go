package pipelines

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/tokenizer"
)

// encoderInput turns texts into an encoder's inputs as transformers'
// tokenizers do for BERT, DistilBERT and RoBERTa: [CLS] text [SEP]
// (RoBERTa: <s> text </s>), pairs as [CLS] a [SEP] b [SEP] with token
// types 0 then 1 (RoBERTa: <s> a </s></s> b </s>, one type), cut to
// maxLen tokens with the specials.
type encoderInput struct {
	tok    QATokenizer
	tpl    PairTemplate
	maxPos int // positions the model offers
	maxLen int // tokens an input may have (≤ maxPos)
	lower  bool
	// offsets says whether the tokenizer gives each token's span in the
	// text (question answering and entity tagging need them).
	offsets bool
}

// idsOnly is a tokenizer without offsets seen as one with: every span
// empty. Only what needs no offsets (embedding, classification) uses it.
type idsOnly struct{ tokenizer.Tokenizer }

func (t idsOnly) EncodeOffsets(text string) (tokenizer.Encoding, error) {
	ids, err := t.Encode(text)
	return tokenizer.Encoding{IDs: ids, Offsets: make([][2]int, len(ids)), Words: make([]int, len(ids))}, err
}

// newEncoderInput pairs a BERT-family model with its tokenizer: WordPiece
// for BERT and DistilBERT, byte-level BPE with RoBERTa's template for
// RoBERTa, SentencePiece with fairseq's ids for XLM-RoBERTa.
func newEncoderInput(m *bert.Model, t tokenizer.Tokenizer) (*encoderInput, error) {
	if t.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("the tokenizer has %d tokens but the model's vocabulary is %d", t.VocabSize(), m.Config.VocabSize)
	}
	in := &encoderInput{maxPos: m.Config.MaxPositionEmbeddings, offsets: true}
	roberta := m.Config.ModelType == bert.FamilyRoBERTa || m.Config.ModelType == bert.FamilyXLMRoBERTa
	switch tok := t.(type) {
	case *tokenizer.XLMRoberta:
		if m.Config.ModelType != bert.FamilyXLMRoBERTa {
			return nil, fmt.Errorf("XLM-R's SentencePiece tokenizer goes with an xlm-roberta model, not %s", m.Config.ModelType)
		}
		in.tok, in.tpl, in.offsets = idsOnly{tok}, PairTemplate{CLS: tokenizer.XLMRCLS, SEP: tokenizer.XLMRSEP, Pad: tokenizer.XLMRPad, DoubleSep: true}, false
	case *tokenizer.WordPiece:
		if roberta {
			return nil, fmt.Errorf("a %s model needs its own tokenizer, not a WordPiece", m.Config.ModelType)
		}
		in.tok, in.tpl = tok, PairTemplate{CLS: tok.CLS(), SEP: tok.SEP(), Pad: tok.Pad()}
		if in.tpl.CLS < 0 || in.tpl.SEP < 0 || in.tpl.Pad < 0 {
			return nil, fmt.Errorf("the WordPiece vocabulary lacks [CLS], [SEP] or [PAD]")
		}
	case *tokenizer.ByteBPE:
		tp := tok.Template()
		pad, ok := tok.ID("<pad>")
		if tp == nil || !ok || m.Config.ModelType != bert.FamilyRoBERTa {
			return nil, fmt.Errorf("a byte-level BPE goes with a RoBERTa model and RoBERTa's <s> … </s> template and <pad>")
		}
		in.tok, in.tpl = tok, PairTemplate{CLS: tp.CLSID, SEP: tp.SEPID, Pad: pad, DoubleSep: true}
	default:
		return nil, fmt.Errorf("a %s model needs a WordPiece or byte-level BPE tokenizer, not a %T", m.Config.ModelType, t)
	}
	if roberta {
		in.maxPos -= m.Config.PadTokenID + 1 // RoBERTa's positions start after padding_idx
	}
	in.maxLen = in.maxPos
	return in, nil
}

// encoded is one input: ids, token types, and each token's byte span in
// its text (specials: [0, 0]), with the index of the text it came from
// (0 or 1 of a pair; -1 for specials), and whether it was truncated.
type encoded struct {
	ids, types []int32
	offsets    [][2]int
	seq        []int
	truncated  bool
}

func (in *encoderInput) encodeText(text string) (tokenizer.Encoding, error) {
	if !utf8.ValidString(text) {
		return tokenizer.Encoding{}, fmt.Errorf("the text is not valid UTF-8")
	}
	if in.lower {
		text = strings.ToLower(text)
	}
	return in.tok.EncodeOffsets(text)
}

// single encodes one text: [CLS] text [SEP], cut to maxLen.
func (in *encoderInput) single(text string) (encoded, error) {
	e, err := in.encodeText(text)
	if err != nil {
		return encoded{}, err
	}
	n := min(e.Len(), max(in.maxLen-2, 0))
	out := encoded{truncated: n < e.Len()}
	out.add(in.tpl.CLS, [2]int{}, -1)
	for i := range n {
		out.add(e.IDs[i], e.Offsets[i], 0)
	}
	out.add(in.tpl.SEP, [2]int{}, -1)
	out.types = make([]int32, len(out.ids))
	return out, nil
}

// How a pair too long for the model is cut.
const (
	longestFirst = iota // a token from the end of the longer text, until it fits (transformers' longest_first)
	onlyFirst           // tokens from the end of the first text only (only_first)
)

// pair encodes two texts as one input, cut to maxLen as truncation says.
func (in *encoderInput) pair(a, b string, truncation int) (encoded, error) {
	ea, err := in.encodeText(a)
	if err != nil {
		return encoded{}, err
	}
	eb, err := in.encodeText(b)
	if err != nil {
		return encoded{}, err
	}
	specials := 3
	if in.tpl.DoubleSep {
		specials = 4
	}
	na, nb := ea.Len(), eb.Len()
	if truncation == onlyFirst {
		if nb > in.maxLen-specials-1 {
			return encoded{}, fmt.Errorf("the second text's %d tokens leave no room for the first in %d", nb, in.maxLen)
		}
		na = min(na, in.maxLen-specials-nb)
	}
	for na+nb > in.maxLen-specials && na+nb > 0 {
		if na > nb {
			na--
		} else {
			nb--
		}
	}
	out := encoded{truncated: na < ea.Len() || nb < eb.Len()}
	out.add(in.tpl.CLS, [2]int{}, -1)
	for i := range na {
		out.add(ea.IDs[i], ea.Offsets[i], 0)
	}
	out.add(in.tpl.SEP, [2]int{}, -1)
	if in.tpl.DoubleSep {
		out.add(in.tpl.SEP, [2]int{}, -1)
	}
	second := len(out.ids)
	for i := range nb {
		out.add(eb.IDs[i], eb.Offsets[i], 1)
	}
	out.add(in.tpl.SEP, [2]int{}, -1)
	out.types = make([]int32, len(out.ids))
	if !in.tpl.DoubleSep { // BERT's second segment; RoBERTa has one token type
		for j := second; j < len(out.types); j++ {
			out.types[j] = 1
		}
	}
	return out, nil
}

func (e *encoded) add(id int32, off [2]int, seq int) {
	e.ids, e.offsets, e.seq = append(e.ids, id), append(e.offsets, off), append(e.seq, seq)
}

// batch lays inputs out as one padded batch: ids, types, the padding mask
// and the common length.
func (in *encoderInput) batch(xs []encoded) (ids, types []int32, pad []bool, seqLen int) {
	for _, x := range xs {
		seqLen = max(seqLen, len(x.ids))
	}
	ids, types, pad = make([]int32, len(xs)*seqLen), make([]int32, len(xs)*seqLen), make([]bool, len(xs)*seqLen)
	for i, x := range xs {
		copy(ids[i*seqLen:], x.ids)
		copy(types[i*seqLen:], x.types)
		for j := len(x.ids); j < seqLen; j++ {
			ids[i*seqLen+j], pad[i*seqLen+j] = in.tpl.Pad, true
		}
	}
	return ids, types, pad, seqLen
}

// maxPadding bounds a batch's padded tokens against its real ones.
const maxPadding = 1.25

// runBatches runs inputs through run in batches of bs (32 when 0) of
// similar length, longest first, as SentenceTransformer.encode orders
// them, on one no-gradient graph; run returns width values per input of
// its padded batch, and the rows come back in input order. A batch also
// ends before the input that would make its padding more than a quarter
// of its tokens (maxPadding): with few, varied texts, a batch of 64 held
// two thirds more padded tokens than real ones. Each row's result does
// not depend on the rows beside it, so this changes only the time.
func (in *encoderInput) runBatches(xs []encoded, bs, width int, run func(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error)) ([][]float32, error) {
	if bs <= 0 {
		bs = 32
	}
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(xs[b].ids) - len(xs[a].ids) })
	out := make([][]float32, len(xs))
	g := autograd.NewGraph(0)
	g.NoGrad = true
	batch := make([]encoded, 0, bs)
	for from, to := 0, 0; from < len(order); from = to {
		longest, real := len(xs[order[from]].ids), 0
		for to = from; to < len(order) && to-from < bs; to++ {
			n := len(xs[order[to]].ids)
			if to > from && float64((to-from+1)*longest) > maxPadding*float64(real+n) {
				break
			}
			real += n
		}
		idx := order[from:to]
		batch = batch[:0]
		for _, k := range idx {
			batch = append(batch, xs[k])
		}
		ids, types, pad, seqLen := in.batch(batch)
		g.Reset()
		v, err := run(g, ids, types, len(batch), seqLen, pad)
		if err != nil {
			return nil, err
		}
		d := v.Value.Data()
		for i, k := range idx {
			out[k] = slices.Clone(d[i*width : (i+1)*width])
		}
	}
	return out, nil
}
