package train

import (
	"fmt"
	"slices"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// SentenceEncoder embeds a padded batch of inputs as one vector per row,
// [batch, dim] (pipelines.Embedder: encoder, pooling, normalisation).
type SentenceEncoder interface {
	Forward(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error)
}

// PairBatch is B (query, document) pairs: row i of Queries goes with row i
// of Docs. Negatives are more documents that answer no query of the batch
// (hard negatives), which every query ranks too, in padded batches of
// their own (rows alike in length, for little padding).
type PairBatch struct {
	Queries, Docs EncoderBatch
	Negatives     []EncoderBatch
	// Pairs, when known, names the pair each document column comes from:
	// the batch's own pairs (query i's is Pairs[i]), then the negatives in
	// column order; what a Teacher is asked about.
	Pairs []int
}

// ContrastiveTask trains a sentence encoder on pairs with in-batch
// negatives, as sentence-transformers' MultipleNegativesRankingLoss does:
// the scores of query i against every document of the batch are Scale ×
// their cosine similarities, and the loss is the cross-entropy of picking
// document i. With Symmetric, the documents also pick their queries and
// the two losses are averaged. A batch's hard negatives join the documents
// the queries rank (the (anchor, positive, negative) triplets of the same
// loss); the documents pick among the queries only.
type ContrastiveTask struct {
	Model      SentenceEncoder
	Parameters []*autograd.Var
	Train, Val []PairBatch
	// Sampler, when set, makes the training batches instead of Train.
	Sampler   *PairSampler
	Scale     float32 // 20 when 0, sentence-transformers' default
	Symmetric bool
	// Teacher, when set with TeacherWeight in (0, 1], distils a ranking
	// into the queries' loss: Teacher writes into out its probability of
	// each document column (pairs: the batch's Pairs) answering the query of
	// pair query, and query i's target becomes (1 − TeacherWeight) × the
	// one-hot of document i + TeacherWeight × the teacher's distribution
	// (the soft cross-entropy of knowledge distillation). Batches without
	// Pairs keep the one-hot targets.
	Teacher       func(query int, pairs []int, out []float32)
	TeacherWeight float32

	targets []int32
	soft    []float32
}

// Params returns the model's parameters.
func (t *ContrastiveTask) Params() []*autograd.Var { return t.Parameters }

// Loss draws a batch of pairs and returns its in-batch ranking loss and
// the number of pairs.
func (t *ContrastiveTask) Loss(g *autograd.Graph, rng *tensor.RNG, split Split) (*autograd.Var, int, error) {
	var b *PairBatch
	var err error
	if t.Sampler != nil && split != ValSplit {
		b = t.Sampler.Batch(rng)
	} else {
		b, err = draw(t.Train, t.Val, split, rng)
	}
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
	cands := dv
	for i := range b.Negatives {
		n := &b.Negatives[i]
		if n.B == 0 {
			continue
		}
		nv, err := t.Model.Forward(g, n.IDs, n.Types, n.B, n.T, n.Pad)
		if err != nil {
			return nil, err
		}
		cands = g.ConcatRows(cands, nv)
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
	logits := g.Scale(g.Linear(qv, cands, nil), scale)
	var loss *autograd.Var
	if t.Teacher != nil && t.TeacherWeight > 0 && b.Pairs != nil {
		soft, err := t.softTargets(b, cands.Shape()[0])
		if err != nil {
			return nil, err
		}
		loss = g.SoftCrossEntropy(logits, soft)
	} else {
		loss = g.CrossEntropy(logits, targets, -1, 0)
	}
	if t.Symmetric {
		back := g.CrossEntropy(g.Scale(g.Linear(dv, qv, nil), scale), targets, -1, 0)
		loss = g.Scale(g.Add(loss, back), 0.5)
	}
	return loss, g.Err()
}

// softTargets mixes the one-hot targets of b's queries with the
// teacher's distributions over the n document columns.
func (t *ContrastiveTask) softTargets(b *PairBatch, n int) ([]float32, error) {
	if len(b.Pairs) != n {
		return nil, fmt.Errorf("train: a batch of %d document columns names the pairs of %d", n, len(b.Pairs))
	}
	if t.TeacherWeight > 1 {
		return nil, fmt.Errorf("train: teacher weight %g is above 1", t.TeacherWeight)
	}
	t.soft = slices.Grow(t.soft[:0], b.Queries.B*n)[:b.Queries.B*n]
	for i := range b.Queries.B {
		row := t.soft[i*n : (i+1)*n]
		t.Teacher(b.Pairs[i], b.Pairs, row)
		var sum float32
		for _, p := range row {
			sum += p
		}
		if !(sum > 0.999 && sum < 1.001) {
			return nil, fmt.Errorf("train: the teacher's probabilities for query %d (pair %d) sum to %g", i, b.Pairs[i], sum)
		}
		for j := range row {
			row[j] *= t.TeacherWeight
		}
		row[i] += 1 - t.TeacherWeight
	}
	return t.soft, nil
}

// PairSampler draws training batches of pairs with varying company: each
// batch is BatchPairs pairs in a row of the pairs sorted by document length
// (so that the model cannot rank by length alone), from a random start, and
// each pair brings one of its hard negatives (Negatives[i]: indices of other
// pairs whose documents answer query i wrongly but closely, BM25's best,
// say) drawn at random, unless that document is already in the batch. The
// negatives come sorted by length in padded batches of NegativeRows (16
// when 0); the batch's Pairs name every document column's pair.
type PairSampler struct {
	Queries, Docs [][]int32 // pair i: Queries[i], Docs[i]; sorted by len(Docs[i])
	Negatives     [][]int   // may be nil, or have empty rows
	BatchPairs    int
	NegativeRows  int
	Pad           int32

	// Crop, when above 0, is the share of a batch's queries replaced by a
	// random span of their own document: the independent cropping of
	// Contriever (Izacard et al., 2021), the document left whole. The data
	// never repeats such a pair, and only the words the two texts share can
	// match them, which is what a search model needs for the rare words
	// (names, acronyms) that BM25 matches and a small encoder trained on
	// the real pairs alone misses. A span is CropMin..CropMax tokens of the
	// document's body, between its first and last tokens ([CLS] and [SEP],
	// which the crop keeps around it), begun and ended at word boundaries
	// (Continues[id]: token id continues a word, WordPiece's "##").
	Crop             float64
	CropMin, CropMax int
	Continues        []bool

	batch   PairBatch
	queries [][]int32 // this batch's queries
	crops   [][]int32 // buffers of its cropped queries
	rows    [][]int32 // this batch's negatives
	taken   []int     // and their pair indices
}

// Validate reports a sampler that cannot make a batch.
func (s *PairSampler) Validate() error {
	if len(s.Queries) != len(s.Docs) || s.BatchPairs < 2 || len(s.Docs) < s.BatchPairs {
		return fmt.Errorf("train: %d queries and %d documents make no batch of %d pairs", len(s.Queries), len(s.Docs), s.BatchPairs)
	}
	if s.Negatives != nil && len(s.Negatives) != len(s.Docs) {
		return fmt.Errorf("train: hard negatives for %d pairs of %d", len(s.Negatives), len(s.Docs))
	}
	if s.Crop < 0 || s.Crop > 1 || s.Crop > 0 && (s.CropMin < 1 || s.CropMax < s.CropMin || s.Continues == nil) {
		return fmt.Errorf("train: crop %g of the queries with spans of %d..%d tokens (%d continuation flags): want a share in [0, 1], 1 ≤ min ≤ max and the flags", s.Crop, s.CropMin, s.CropMax, len(s.Continues))
	}
	for i, d := range s.Docs {
		for _, id := range d {
			if s.Crop > 0 && (id < 0 || int(id) >= len(s.Continues)) {
				return fmt.Errorf("train: document %d has token %d, outside the %d continuation flags", i, id, len(s.Continues))
			}
		}
	}
	for i, ns := range s.Negatives {
		for _, j := range ns {
			if j < 0 || j >= len(s.Docs) || j == i {
				return fmt.Errorf("train: pair %d has hard negative %d (of %d pairs)", i, j, len(s.Docs))
			}
		}
	}
	return nil
}

// Batch draws the next batch; it reuses its buffers, so the batch is good
// until the next call.
func (s *PairSampler) Batch(rng *tensor.RNG) *PairBatch {
	from := rng.IntN(len(s.Docs) - s.BatchPairs + 1)
	to := from + s.BatchPairs
	queries := s.Queries[from:to]
	if s.Crop > 0 {
		s.queries = append(s.queries[:0], queries...)
		for len(s.crops) < len(queries) {
			s.crops = append(s.crops, nil)
		}
		for i := range s.queries {
			if float64(rng.Float32()) < s.Crop {
				if c, ok := s.crop(s.crops[i][:0], s.Docs[from+i], rng); ok {
					s.crops[i], s.queries[i] = c, c
				}
			}
		}
		queries = s.queries
	}
	s.batch.Queries.Fill(queries, s.Pad)
	s.batch.Docs.Fill(s.Docs[from:to], s.Pad)
	s.rows, s.taken = s.rows[:0], s.taken[:0]
	for i := from; i < to && s.Negatives != nil; i++ {
		if ns := s.Negatives[i]; len(ns) > 0 {
			// a document of the batch, or one taken already, would be a right
			// answer or a column twice
			if j := ns[rng.IntN(len(ns))]; (j < from || j >= to) && !slices.Contains(s.taken, j) {
				s.taken = append(s.taken, j)
			}
		}
	}
	slices.SortStableFunc(s.taken, func(a, b int) int { return len(s.Docs[a]) - len(s.Docs[b]) })
	s.batch.Pairs = s.batch.Pairs[:0]
	for i := from; i < to; i++ {
		s.batch.Pairs = append(s.batch.Pairs, i)
	}
	for _, j := range s.taken {
		s.rows = append(s.rows, s.Docs[j])
		s.batch.Pairs = append(s.batch.Pairs, j)
	}
	per := s.NegativeRows
	if per <= 0 {
		per = 16
	}
	s.batch.Negatives = s.batch.Negatives[:0]
	for from := 0; from < len(s.rows); from += per {
		k := len(s.batch.Negatives)
		if k < cap(s.batch.Negatives) {
			s.batch.Negatives = s.batch.Negatives[:k+1]
		} else {
			s.batch.Negatives = append(s.batch.Negatives, EncoderBatch{})
		}
		s.batch.Negatives[k].Fill(s.rows[from:min(from+per, len(s.rows))], s.Pad)
	}
	return &s.batch
}

// crop appends to out a random span of doc's body, between doc's first and
// last tokens, of CropMin..CropMax tokens widened to whole words; false
// when the body is shorter than CropMin.
func (s *PairSampler) crop(out, doc []int32, rng *tensor.RNG) ([]int32, bool) {
	if len(doc) < s.CropMin+2 {
		return out, false
	}
	body := doc[1 : len(doc)-1]
	n := min(s.CropMax, len(body))
	span := s.CropMin + rng.IntN(n-s.CropMin+1)
	start := rng.IntN(len(body) - span + 1)
	end := start + span
	for start > 0 && s.Continues[body[start]] {
		start--
	}
	for end < len(body) && s.Continues[body[end]] {
		end++
	}
	out = append(out, doc[0])
	out = append(out, body[start:end]...)
	return append(out, doc[len(doc)-1]), true
}

// Fill lays rows out in b as one right-padded batch (Types and the other
// per-token fields left nil), reusing b's IDs and Pad.
func (b *EncoderBatch) Fill(rows [][]int32, pad int32) {
	t := 0
	for _, r := range rows {
		t = max(t, len(r))
	}
	b.B, b.T = len(rows), t
	n := len(rows) * t
	if cap(b.IDs) < n {
		b.IDs, b.Pad = make([]int32, n), make([]bool, n)
	}
	b.IDs, b.Pad = b.IDs[:n], b.Pad[:n]
	for i, r := range rows {
		copy(b.IDs[i*t:], r)
		for j := range t {
			b.Pad[i*t+j] = j >= len(r)
			if j >= len(r) {
				b.IDs[i*t+j] = pad
			}
		}
	}
}
