package seq2seq

import (
	"fmt"
	"slices"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/nn"
	"github.com/goformer/goformer/tensor"
)

// A pointer-generator (Config.PointerGenerator; See, Liu and Manning, "Get
// To The Point", 2017) lets the decoder copy a token of its source by
// attending to it instead of producing it from the vocabulary: the output
// distribution is p·softmax(logits) + (1−p)·Σ_s α_s·onehot(src_s), with α
// one attention head's weights over the source and p = σ(gate) from the
// decoder's output (autograd.PointerMix). Summaries copy: half the tokens
// of a Debian synopsis occur in its description, and a model that learns
// copying late through its cross-attention alone has been seen to fail at
// it (results/debian-summarize/copy-loss/). The head is goformer's: it is
// saved as the pointer.* tensors beside a BART, Marian or Pegasus model,
// which transformers loads without it (and then computes other outputs).
type pointerHead struct {
	q, k, gate *nn.Linear
}

func newPointerHead(ps *nn.Params, d int, rng *tensor.RNG) *pointerHead {
	return &pointerHead{
		q:    nn.NewLinear(ps, "pointer.q_proj", d, d, true, rng),
		k:    nn.NewLinear(ps, "pointer.k_proj", d, d, false, rng), // a key bias adds one constant to a row's scores: no effect
		gate: nn.NewLinear(ps, "pointer.gate_proj", d, 1, true, rng),
	}
}

// initMimetic adds scale × identity to the copy head's query and key
// weights (nn.MultiHeadAttention.InitMimetic): the head starts out
// attending to the source tokens most like the decoder's output.
func (h *pointerHead) initMimetic(scale float32) {
	for _, w := range []*tensor.Tensor{h.q.W.Value, h.k.W.Value} {
		d, cols := w.Data(), w.Dim(1)
		for i := range min(w.Dim(0), cols) {
			d[i*cols+i] += scale
		}
	}
}

// keys returns the copy keys [batch·srcLen, d_model] of the encoder output.
func (h *pointerHead) keys(g *autograd.Graph, memory *autograd.Var) *autograd.Var {
	return g.Reshape(h.k.Forward(g, memory), -1, memory.Value.Dim(-1))
}

// mix returns the mixture's log-probabilities [rows, vocab] for the
// decoder outputs y (one row each, as logits), row n reading source
// owner[n] of the batch src [sources·srcLen] whose copy keys are keys.
func (h *pointerHead) mix(g *autograd.Graph, y, logits, keys *autograd.Var, src []int32, srcPad []bool, srcLen int, owner []int32) *autograd.Var {
	d, v := y.Value.Dim(-1), logits.Value.Dim(-1)
	y = g.Reshape(y, -1, d)
	return g.PointerMix(g.Reshape(logits, -1, v), h.q.Forward(g, y), keys, h.gate.Forward(g, y), src, srcPad, srcLen, owner)
}

// DecodeWithSource is Decode given the source ids src [batch, srcLen]
// too, which a pointer-generator's output needs (for other models it is
// Decode): the logits [batch, tgtLen, vocab], a pointer-generator's being
// its mixture's log-probabilities.
func (m *Model) DecodeWithSource(g *autograd.Graph, memory *autograd.Var, src []int32, srcLen int, tgt []int32, batch, tgtLen int, tgtPad, srcPad []bool) (*autograd.Var, error) {
	if m.pointer == nil {
		return m.Decode(g, memory, tgt, batch, tgtLen, tgtPad, srcPad)
	}
	if len(tgt) != batch*tgtLen || len(src) != batch*srcLen {
		return nil, fmt.Errorf("seq2seq: %d target ids and %d source ids for batch %d × lengths %d and %d", len(tgt), len(src), batch, tgtLen, srcLen)
	}
	if m.Config.AttentionDropout > 0 && g.Training {
		return nil, fmt.Errorf("seq2seq: attention_dropout %g: dropout on attention probabilities is not implemented; set it to 0", m.Config.AttentionDropout)
	}
	y := m.decodeHidden(g, m.embed(g, tgt, batch, 0, tgtLen, true), memory, tgtPad, srcPad, nil)
	owner := m.owners[:0]
	for i := range batch * tgtLen {
		owner = append(owner, int32(i/tgtLen))
	}
	m.owners = owner
	logits := m.pointer.mix(g, y, m.project(g, y), m.pointer.keys(g, memory), src, srcPad, srcLen, owner)
	return g.Reshape(logits, batch, tgtLen, m.Config.VocabSize), g.Err()
}

// loss is mix's label-smoothed cross-entropy against labels, in one
// operation (autograd.PointerCrossEntropy).
func (h *pointerHead) loss(g *autograd.Graph, y, logits, keys *autograd.Var, src []int32, srcPad []bool, srcLen int, owner, labels []int32, ignore int32, eps float32) *autograd.Var {
	d, v := y.Value.Dim(-1), logits.Value.Dim(-1)
	y = g.Reshape(y, -1, d)
	return g.PointerCrossEntropy(g.Reshape(logits, -1, v), h.q.Forward(g, y), keys, h.gate.Forward(g, y), src, srcPad, srcLen, owner, labels, ignore, eps)
}

// pointerOwners sets *owner to each labelled row's batch row (idx holds
// their positions in the batch × tgtLen layout) and returns it.
func pointerOwners(owner *[]int32, idx []int32, tgtLen int) []int32 {
	o := (*owner)[:0]
	for _, i := range idx {
		o = append(o, i/int32(tgtLen))
	}
	*owner = o
	return o
}

// decoderSources is a Decoder's copy of its sources for the pointer head:
// their copy keys, ids and padding, and the source each row reads.
type decoderSources struct {
	keys   *tensor.Tensor // [sources·srcLen, d_model]
	src    []int32
	pad    []bool
	srcLen int
	owner  []int32
}

// newDecoderSources computes the copy keys of the encoder output memory
// [len(src)/srcLen, srcLen, d] on g and keeps them, with copies rows per
// source.
func (m *Model) newDecoderSources(g *autograd.Graph, memory *autograd.Var, src []int32, pad []bool, srcLen, copies int) (*decoderSources, error) {
	k := m.pointer.keys(g, memory)
	if err := g.Err(); err != nil {
		return nil, err
	}
	s := &decoderSources{keys: k.Value.Clone(), src: slices.Clone(src), pad: slices.Clone(pad), srcLen: srcLen} // keep compacts them in place
	for i := range len(src) / srcLen * copies {
		s.owner = append(s.owner, int32(i/copies))
	}
	return s, nil
}

// keep keeps the given rows, as Decoder.Keep does, and drops the sources
// no row reads any more (a server's decoder sees requests join and leave
// for as long as it runs).
func (s *decoderSources) keep(rows []int) {
	for i, r := range rows {
		s.owner[i] = s.owner[r]
	}
	s.owner = s.owner[:len(rows)]
	sources, d := len(s.src)/s.srcLen, s.keys.Dim(-1)
	index := make([]int32, sources) // old source → new, −1 when dropped
	for b := range index {
		index[b] = -1
	}
	for _, o := range s.owner {
		index[o] = 0
	}
	kept, n := 0, s.srcLen
	keys := s.keys.Data()
	for b := range index { // kept sources move down in order, so each copy reads what is not yet overwritten
		if index[b] < 0 {
			continue
		}
		index[b] = int32(kept)
		if kept != b {
			copy(keys[kept*n*d:(kept+1)*n*d], keys[b*n*d:(b+1)*n*d])
			copy(s.src[kept*n:(kept+1)*n], s.src[b*n:(b+1)*n])
			copy(s.pad[kept*n:(kept+1)*n], s.pad[b*n:(b+1)*n])
		}
		kept++
	}
	for i, o := range s.owner {
		s.owner[i] = index[o]
	}
	if kept < sources {
		if t, err := tensor.FromSlice(keys[:kept*n*d], kept*n, d); err == nil { // kept 0: no row reads any
			s.keys = t
		}
		s.src, s.pad = s.src[:kept*n], s.pad[:kept*n]
	}
}

// join appends o's sources and rows, padding both sets of sources to the
// longer one's length.
func (s *decoderSources) join(o *decoderSources, padID int32) {
	n := max(s.srcLen, o.srcLen)
	d := s.keys.Dim(-1)
	ns, no := len(s.src)/s.srcLen, len(o.src)/o.srcLen
	keys := tensor.New((ns+no)*n, d)
	src := make([]int32, 0, (ns+no)*n)
	pad := make([]bool, 0, (ns+no)*n)
	for _, part := range []*decoderSources{s, o} {
		for b := range len(part.src) / part.srcLen {
			first := len(src)
			copy(keys.Data()[first*d:], part.keys.Data()[b*part.srcLen*d:(b+1)*part.srcLen*d])
			src = append(src, part.src[b*part.srcLen:(b+1)*part.srcLen]...)
			pad = append(pad, part.pad[b*part.srcLen:(b+1)*part.srcLen]...)
			for len(src) < first+n {
				src, pad = append(src, padID), append(pad, true)
			}
		}
	}
	for _, r := range o.owner {
		s.owner = append(s.owner, int32(ns)+r)
	}
	s.keys, s.src, s.pad, s.srcLen = keys, src, pad, n
}

// errPointerDecode is Decode's answer for a pointer-generator model, whose
// output needs the source ids Decode is not given.
var errPointerDecode = fmt.Errorf("seq2seq: a pointer-generator model's output depends on the source ids: use DecodeWithSource, Loss, LabelledLoss or NewDecoder, not Decode")
