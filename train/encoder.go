package train

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// EncoderBatch is a padded batch of token sequences for an encoder,
// row-major [B, T]: ids, token types (nil: all zero), padding, and which
// tokens are special ([CLS], [SEP]: never masked).
type EncoderBatch struct {
	B, T    int
	IDs     []int32
	Types   []int32
	Pad     []bool
	Special []bool
	// Starts and Ends are each row's answer span (question answering).
	Starts, Ends []int32
}

// BucketSequences cuts sequences (sorted by length) into padded batches of at most
// maxTokens padded tokens (at least one row each). special marks the
// tokens that must not be masked; types, if not nil, gives each sequence's
// token types; spans, if not nil, each sequence's answer (start, end).
func BucketSequences(seqs, types [][]int32, spans [][2]int32, special func(id int32) bool, pad int32, maxTokens int) []EncoderBatch {
	var out []EncoderBatch
	for start := 0; start < len(seqs); {
		end, longest := start, 0
		for end < len(seqs) && (end == start || (end-start+1)*max(longest, len(seqs[end])) <= maxTokens) {
			longest = max(longest, len(seqs[end]))
			end++
		}
		b := EncoderBatch{B: end - start, T: longest}
		n := b.B * b.T
		b.IDs, b.Pad, b.Special = make([]int32, n), make([]bool, n), make([]bool, n)
		if types != nil {
			b.Types = make([]int32, n)
		}
		for r, s := range seqs[start:end] {
			for j := 0; j < b.T; j++ {
				k := r*b.T + j
				if j < len(s) {
					b.IDs[k], b.Special[k] = s[j], special(s[j])
					if types != nil {
						b.Types[k] = types[start+r][j]
					}
				} else {
					b.IDs[k], b.Pad[k], b.Special[k] = pad, true, true
				}
			}
			if spans != nil {
				b.Starts = append(b.Starts, spans[start+r][0])
				b.Ends = append(b.Ends, spans[start+r][1])
			}
		}
		out = append(out, b)
		start = end
	}
	return out
}

// MaskedLM is what MLMTask needs of a model (bert.Model).
type MaskedLM interface {
	MaskedTokensLoss(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool, labels []int32) (*autograd.Var, error)
}

// MLMTask trains an encoder by masked language modelling as BERT does:
// each time a batch is drawn, 15% of its non-special tokens are chosen
// (dynamic masking, as RoBERTa and transformers' data collator do); of
// those 80% become the mask token, 10% a random token and 10% stay; the
// loss is the cross-entropy of the chosen tokens' original ids.
type MLMTask struct {
	Model      MaskedLM
	Parameters []*autograd.Var
	Train, Val []EncoderBatch
	Mask       int32 // the [MASK] id
	Vocab      int   // random replacements are drawn from [0, Vocab)
	Prob       float64

	ids, labels []int32
}

// Params returns the model's parameters.
func (t *MLMTask) Params() []*autograd.Var { return t.Parameters }

func (t *MLMTask) mask(b *EncoderBatch, rng *tensor.RNG) {
	n := len(b.IDs)
	if cap(t.ids) < n {
		t.ids, t.labels = make([]int32, n), make([]int32, n)
	}
	t.ids, t.labels = t.ids[:n], t.labels[:n]
	p := t.Prob
	if p == 0 {
		p = 0.15
	}
	for i, id := range b.IDs {
		t.ids[i], t.labels[i] = id, -100
		if b.Special[i] || float64(rng.Float32()) >= p {
			continue
		}
		t.labels[i] = id
		switch u := rng.Float32(); {
		case u < 0.8:
			t.ids[i] = t.Mask
		case u < 0.9:
			t.ids[i] = int32(rng.IntN(t.Vocab))
		}
	}
}

// Loss draws a batch, masks it and returns the masked-LM loss and the
// number of masked tokens.
func (t *MLMTask) Loss(g *autograd.Graph, rng *tensor.RNG, split Split) (*autograd.Var, int, error) {
	b, err := draw(t.Train, t.Val, split, rng)
	if err != nil {
		return nil, 0, err
	}
	t.mask(b, rng)
	count := 0
	for _, l := range t.labels {
		if l >= 0 {
			count++
		}
	}
	if count == 0 { // nothing chosen: mask the first ordinary token
		for i := range t.ids {
			if !b.Special[i] {
				t.labels[i], t.ids[i], count = b.IDs[i], t.Mask, 1
				break
			}
		}
	}
	loss, err := t.Model.MaskedTokensLoss(g, t.ids, b.Types, b.B, b.T, b.Pad, t.labels)
	return loss, count, err
}

// SpanExtractor is what QATask needs of a model (bert.Model with its QA
// head).
type SpanExtractor interface {
	QALoss(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool, starts, ends []int32) (logits, loss *autograd.Var, err error)
}

// QATask fine-tunes an extractive question-answering model on windows of
// question + context with the answer's start and end tokens (the [CLS]
// position when the answer is not in the window, as transformers' run_qa
// does): the loss is the mean of the start and end cross-entropies.
type QATask struct {
	Model      SpanExtractor
	Parameters []*autograd.Var
	Train, Val []EncoderBatch
}

// Params returns the model's parameters.
func (t *QATask) Params() []*autograd.Var { return t.Parameters }

// Loss draws a batch and returns its span loss and the number of windows.
func (t *QATask) Loss(g *autograd.Graph, rng *tensor.RNG, split Split) (*autograd.Var, int, error) {
	b, err := draw(t.Train, t.Val, split, rng)
	if err != nil {
		return nil, 0, err
	}
	_, loss, err := t.Model.QALoss(g, b.IDs, b.Types, b.B, b.T, b.Pad, b.Starts, b.Ends)
	return loss, b.B, err
}

// draw picks a random batch of the split.
func draw[B any](train, val []B, split Split, rng *tensor.RNG) (*B, error) {
	batches := train
	if split == ValSplit {
		batches = val
	}
	if len(batches) == 0 {
		return nil, fmt.Errorf("train: no batches of this split")
	}
	return &batches[rng.IntN(len(batches))], nil
}
