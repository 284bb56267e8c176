package train

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/tensor"
)

// Seq2SeqModel is an encoder-decoder model (models/seq2seq, models/t5):
// LabelledLoss is the mean cross-entropy over the labelled target
// positions, the vocabulary projection computed for those alone; rows is
// the model's scratch for them.
type Seq2SeqModel interface {
	LabelledLoss(g *autograd.Graph, src []int32, srcLen int, tgtIn, labels []int32, tgtLen, batch int,
		srcPad, tgtPad []bool, eps float32, rows *[]int32) (*autograd.Var, error)
}

// TranslationTask trains an encoder-decoder model on padded batches of
// sentence pairs (data.Bucket); each step draws one batch at random, so the
// order of batches is fixed by the data generator's state.
type TranslationTask struct {
	Model          Seq2SeqModel
	Parameters     []*autograd.Var
	Train, Val     []data.Batch
	LabelSmoothing float32
	// Order, if not empty, replaces the random draw of training batches:
	// they are taken as Train[Order[0]], Train[Order[1]], … (cycling), so
	// that a benchmark runs the same batches as its peer (internal/bench).
	Order []int
	// SourceWordDropout and TargetWordDropout, if positive, replace each
	// token of a training batch's source (the encoder's input) or of its
	// decoder input (the labels are kept) by MaskID with that probability:
	// word dropout (Sennrich, Haddow and Birch, WMT 2016, who drop 0.1 of
	// the words on both sides), a regulariser for small corpora that the
	// decoder cannot learn by heart. Padding and the ids below FirstWordID
	// (the special tokens: BOS, EOS, the decoder's start) are left alone.
	// Validation batches are never touched. Each step seeds the draws from
	// one number of the trainer's generator, so a resumed run repeats them.
	SourceWordDropout, TargetWordDropout float32
	MaskID, FirstWordID                  int32

	next  int
	rows  []int32 // the labelled positions of the batch in flight
	wrng  *tensor.RNG
	src   []int32 // word-dropped copies of the batch in flight
	tgtIn []int32
}

// Params returns the model's parameters.
func (t *TranslationTask) Params() []*autograd.Var { return t.Parameters }

// Loss draws a batch and returns the mean (label-smoothed) cross-entropy
// over its target tokens.
func (t *TranslationTask) Loss(g *autograd.Graph, rng *tensor.RNG, split Split) (*autograd.Var, int, error) {
	batches := t.Train
	eps := t.LabelSmoothing
	if split == ValSplit {
		batches, eps = t.Val, 0
	}
	if len(batches) == 0 {
		return nil, 0, fmt.Errorf("train: no batches of this split")
	}
	var b *data.Batch
	if split != ValSplit && len(t.Order) > 0 {
		b = &batches[t.Order[t.next%len(t.Order)]]
		t.next++
	} else {
		b = &batches[rng.IntN(len(batches))]
	}
	src, tgtIn := b.Src, b.TgtIn
	if split != ValSplit && (t.SourceWordDropout > 0 || t.TargetWordDropout > 0) {
		if t.wrng == nil {
			t.wrng = tensor.NewRNG(0)
		}
		t.wrng.Seed(rng.Uint64())
		src = t.dropWords(&t.src, b.Src, b.SrcPad, t.SourceWordDropout)
		tgtIn = t.dropWords(&t.tgtIn, b.TgtIn, b.TgtPad, t.TargetWordDropout)
	}
	loss, err := t.Model.LabelledLoss(g, src, b.SrcLen, tgtIn, b.Labels, b.TgtLen, b.B, b.SrcPad, b.TgtPad, eps, &t.rows)
	return loss, b.Tokens, err
}

// dropWords returns ids, or where p > 0 a copy of it in *buf with each
// word token (not padding, id ≥ FirstWordID) replaced by MaskID with
// probability p.
func (t *TranslationTask) dropWords(buf *[]int32, ids []int32, pad []bool, p float32) []int32 {
	if p <= 0 {
		return ids
	}
	out := append((*buf)[:0], ids...)
	*buf = out
	for i, id := range out {
		if id >= t.FirstWordID && (pad == nil || !pad[i]) && t.wrng.Float32() < p {
			out[i] = t.MaskID
		}
	}
	return out
}

// ValLoss returns the mean cross-entropy per target token (no label
// smoothing) over every validation batch, in order: the same number at
// every evaluation of the same weights.
func (t *TranslationTask) ValLoss(g *autograd.Graph) (float64, error) {
	if len(t.Val) == 0 {
		return 0, fmt.Errorf("train: no validation batches")
	}
	var sum float64
	tokens := 0
	for i := range t.Val {
		b := &t.Val[i]
		g.Reset()
		loss, err := t.Model.LabelledLoss(g, b.Src, b.SrcLen, b.TgtIn, b.Labels, b.TgtLen, b.B, b.SrcPad, b.TgtPad, 0, &t.rows)
		if err != nil {
			return 0, fmt.Errorf("validation batch %d: %w", i, err)
		}
		sum += float64(loss.Value.Item()) * float64(b.Tokens)
		tokens += b.Tokens
	}
	return sum / float64(tokens), nil
}
