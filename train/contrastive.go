package train

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// SentenceEncoder embeds a padded batch of inputs as one vector per row,
// [batch, dim] (pipelines.Embedder: encoder, pooling, normalisation).
type SentenceEncoder interface {
	Forward(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error)
}

// PairBatch is B (query, document) pairs: row i of Queries goes with row i
// of Docs.
type PairBatch struct {
	Queries, Docs EncoderBatch
}

// ContrastiveTask trains a sentence encoder on pairs with in-batch
// negatives, as sentence-transformers' MultipleNegativesRankingLoss does:
// the scores of query i against every document of the batch are Scale ×
// their cosine similarities, and the loss is the cross-entropy of picking
// document i. With Symmetric, the documents also pick their queries and
// the two losses are averaged.
type ContrastiveTask struct {
	Model      SentenceEncoder
	Parameters []*autograd.Var
	Train, Val []PairBatch
	Scale      float32 // 20 when 0, sentence-transformers' default
	Symmetric  bool

	targets []int32
}

// Params returns the model's parameters.
func (t *ContrastiveTask) Params() []*autograd.Var { return t.Parameters }

// Loss draws a batch of pairs and returns its in-batch ranking loss and
// the number of pairs.
func (t *ContrastiveTask) Loss(g *autograd.Graph, rng *tensor.RNG, split Split) (*autograd.Var, int, error) {
	b, err := draw(t.Train, t.Val, split, rng)
	if err != nil {
		return nil, 0, err
	}
	loss, err := t.PairLoss(g, b)
	return loss, b.Queries.B, err
}

// PairLoss is the ranking loss of one batch of pairs.
func (t *ContrastiveTask) PairLoss(g *autograd.Graph, b *PairBatch) (*autograd.Var, error) {
	q, d := &b.Queries, &b.Docs
	if q.B != d.B || q.B < 1 {
		return nil, fmt.Errorf("train: %d queries and %d documents in a batch of pairs", q.B, d.B)
	}
	qv, err := t.Model.Forward(g, q.IDs, q.Types, q.B, q.T, q.Pad)
	if err != nil {
		return nil, err
	}
	dv, err := t.Model.Forward(g, d.IDs, d.Types, d.B, d.T, d.Pad)
	if err != nil {
		return nil, err
	}
	if len(t.targets) < q.B {
		t.targets = make([]int32, q.B)
		for i := range t.targets {
			t.targets[i] = int32(i)
		}
	}
	scale := t.Scale
	if scale == 0 {
		scale = 20
	}
	targets := t.targets[:q.B]
	loss := g.CrossEntropy(g.Scale(g.Linear(qv, dv, nil), scale), targets, -1, 0)
	if t.Symmetric {
		back := g.CrossEntropy(g.Scale(g.Linear(dv, qv, nil), scale), targets, -1, 0)
		loss = g.Scale(g.Add(loss, back), 0.5)
	}
	return loss, g.Err()
}
