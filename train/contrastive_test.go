package train

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// lookupEncoder embeds each row as the normalised table row of its first
// token: a sentence encoder whose vectors a test can compute by hand.
type lookupEncoder struct{ table *autograd.Var }

func (e lookupEncoder) Forward(g *autograd.Graph, ids, _ []int32, batch, seqLen int, _ []bool) (*autograd.Var, error) {
	first := make([]int32, batch)
	for i := range first {
		first[i] = ids[i*seqLen]
	}
	return g.Normalize(g.Embedding(e.table, first, 1, batch)), g.Err()
}

// oneTokenRows is a batch of one-token rows.
func oneTokenRows(ids ...int32) EncoderBatch {
	return EncoderBatch{B: len(ids), T: 1, IDs: ids, Pad: make([]bool, len(ids))}
}

// referenceRankingLoss is sentence-transformers' MultipleNegativesRankingLoss
// (and its symmetric variant) in float64: scores = scale · cos(query i,
// candidate j) over the candidates [documents; negatives], cross-entropy
// of candidate i; the symmetric one adds the documents' cross-entropy of
// picking query i among the queries (the positives' columns transposed)
// and halves the sum.
func referenceRankingLoss(table []float32, dim int, queries, docs, negs []int32, scale float64, symmetric bool) float64 {
	return referenceDistilledLoss(table, dim, queries, docs, negs, scale, symmetric, nil)
}

// referenceDistilledLoss is referenceRankingLoss whose query i's target is
// the distribution target(i) over the candidates instead of candidate i
// (nil: the one-hot); the documents' term keeps its one-hot targets.
func referenceDistilledLoss(table []float32, dim int, queries, docs, negs []int32, scale float64, symmetric bool, target func(i int) []float64) float64 {
	vec := func(id int32) []float64 {
		v := make([]float64, dim)
		var n float64
		for k := range v {
			v[k] = float64(table[int(id)*dim+k])
			n += v[k] * v[k]
		}
		for k := range v {
			v[k] /= math.Sqrt(n)
		}
		return v
	}
	cos := func(a, b int32) float64 {
		var s float64
		for k, x := range vec(a) {
			s += x * vec(b)[k]
		}
		return s
	}
	ce := func(row []float64, target int) float64 {
		m := slices.Max(row)
		var z float64
		for _, x := range row {
			z += math.Exp(x - m)
		}
		return m + math.Log(z) - row[target]
	}
	cands := append(slices.Clone(docs), negs...)
	var forward, backward float64
	for i, q := range queries {
		row := make([]float64, len(cands))
		for j, c := range cands {
			row[j] = scale * cos(q, c)
		}
		if target == nil {
			forward += ce(row, i)
		} else {
			for j, p := range target(i) {
				forward += p * ce(row, j)
			}
		}
		col := make([]float64, len(queries))
		for j, q2 := range queries {
			col[j] = scale * cos(docs[i], q2)
		}
		backward += ce(col, i)
	}
	n := float64(len(queries))
	if symmetric {
		return (forward/n + backward/n) / 2
	}
	return forward / n
}

// pairLossOn is task's loss on b with a lookupEncoder over table, and with
// grad the loss's gradient with respect to the table.
func pairLossOn(t *testing.T, table *tensor.Tensor, task *ContrastiveTask, b *PairBatch, grad bool) (float64, []float32, error) {
	t.Helper()
	param := autograd.NewParam("table", table)
	task.Model = lookupEncoder{param}
	g := autograd.NewGraph(1)
	g.NoGrad = !grad
	l, err := task.PairLoss(g, b)
	if err != nil {
		return 0, nil, err
	}
	if !grad {
		return float64(l.Value.Data()[0]), nil, nil
	}
	if err := g.Backward(l); err != nil {
		t.Fatal(err)
	}
	return float64(l.Value.Data()[0]), slices.Clone(param.Grad.Data()), nil
}

// normalTable returns a vocab × dim embedding table of standard normal
// values drawn with seed.
func normalTable(vocab, dim int, seed uint64) *tensor.Tensor {
	rng := tensor.NewRNG(seed)
	table := tensor.New(vocab, dim)
	for i := range table.Data() {
		table.Data()[i] = float32(rng.Normal())
	}
	return table
}

// checkTableGrad compares grad, the loss's gradient with respect to
// table, with central finite differences of loss (step 1e-2, tolerance
// 2e-3 relative).
func checkTableGrad(t *testing.T, what string, table *tensor.Tensor, grad []float32, loss func() float64) {
	t.Helper()
	const h = 1e-2
	for i := range table.Data() {
		orig := table.Data()[i]
		table.Data()[i] = orig + h
		lp := loss()
		table.Data()[i] = orig - h
		lm := loss()
		table.Data()[i] = orig
		if num := (lp - lm) / (2 * h); math.Abs(num-float64(grad[i])) > 2e-3*math.Max(1, math.Abs(num)) {
			t.Errorf("%s: d loss / d table[%d] = %.5f, finite differences %.5f", what, i, grad[i], num)
		}
	}
}

// TestPairLossMatchesSentenceTransformers checks the ranking loss, with
// and without hard negatives and the symmetric term, against the
// reference written from sentence-transformers' losses, and its gradient
// against finite differences.
func TestPairLossMatchesSentenceTransformers(t *testing.T) {
	const vocab, dim = 9, 5
	table := normalTable(vocab, dim, 3)
	queries, docs, negs := []int32{0, 1, 2}, []int32{3, 4, 5}, []int32{6, 8}
	for _, symmetric := range []bool{false, true} {
		for _, withNegs := range []bool{false, true} {
			b := PairBatch{Queries: oneTokenRows(queries...), Docs: oneTokenRows(docs...)}
			var useNegs []int32
			if withNegs {
				useNegs = negs
				b.Negatives = []EncoderBatch{oneTokenRows(negs[:1]...), oneTokenRows(negs[1:]...)}
			}
			loss := func(grad bool) (float64, []float32) {
				l, dt, err := pairLossOn(t, table, &ContrastiveTask{Scale: 7, Symmetric: symmetric}, &b, grad)
				if err != nil {
					t.Fatal(err)
				}
				return l, dt
			}
			got, grad := loss(true)
			want := referenceRankingLoss(table.Data(), dim, queries, docs, useNegs, 7, symmetric)
			if math.Abs(got-want) > 1e-5*math.Max(1, want) {
				t.Errorf("symmetric %v, negatives %v: loss %.7f, sentence-transformers' %.7f", symmetric, withNegs, got, want)
			}
			checkTableGrad(t, fmt.Sprintf("symmetric %v, negatives %v", symmetric, withNegs), table, grad, func() float64 {
				l, _ := loss(false)
				return l
			})
		}
	}
}

// TestPairLossWithTeacher: a teacher's distribution mixed into the
// queries' targets gives the reference's distilled loss and a gradient
// that matches finite differences; a teacher sure of the right pair gives
// the plain loss; a teacher whose probabilities do not sum to 1, or a
// batch whose Pairs do not match its columns, is an error.
func TestPairLossWithTeacher(t *testing.T) {
	const vocab, dim = 9, 5
	table := normalTable(vocab, dim, 5)
	queries, docs, negs := []int32{0, 1, 2}, []int32{3, 4, 5}, []int32{6, 8}
	b := PairBatch{Queries: oneTokenRows(queries...), Docs: oneTokenRows(docs...),
		Negatives: []EncoderBatch{oneTokenRows(negs...)}, Pairs: []int{10, 11, 12, 20, 21}}
	// the teacher's scores for the pair of query q: an arbitrary ranking
	teacher := func(q int, pairs []int, out []float32) {
		var z float64
		for c, p := range pairs {
			e := math.Exp(math.Sin(float64(q*7 + p)))
			out[c], z = float32(e), z+e
		}
		for c := range out {
			out[c] = float32(float64(out[c]) / z)
		}
	}
	const weight = 0.3
	target := func(i int) []float64 {
		p := make([]float32, 5)
		teacher(b.Pairs[i], b.Pairs, p)
		out := make([]float64, 5)
		for c := range out {
			out[c] = weight * float64(p[c])
		}
		out[i] += 1 - weight
		return out
	}
	loss := func(task *ContrastiveTask, grad bool) (float64, []float32, error) {
		return pairLossOn(t, table, task, &b, grad)
	}
	task := &ContrastiveTask{Scale: 7, Symmetric: true, Teacher: teacher, TeacherWeight: weight}
	got, grad, err := loss(task, true)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceDistilledLoss(table.Data(), dim, queries, docs, negs, 7, true, target)
	plain := referenceRankingLoss(table.Data(), dim, queries, docs, negs, 7, true)
	if math.Abs(got-want) > 1e-5*math.Max(1, want) || math.Abs(want-plain) < 1e-3 {
		t.Errorf("distilled loss %.7f, reference %.7f (plain %.7f)", got, want, plain)
	}
	checkTableGrad(t, "distilled", table, grad, func() float64 {
		l, _, _ := loss(task, false)
		return l
	})
	sure := &ContrastiveTask{Scale: 7, Symmetric: true, TeacherWeight: 1, Teacher: func(q int, pairs []int, out []float32) {
		for c, p := range pairs {
			out[c] = 0
			if p == q {
				out[c] = 1
			}
		}
	}}
	if got, _, err := loss(sure, false); err != nil || math.Abs(got-plain) > 1e-5*math.Max(1, plain) {
		t.Errorf("a teacher sure of the right pair: loss %.7f (%v), want the plain %.7f", got, err, plain)
	}
	half := &ContrastiveTask{Scale: 7, TeacherWeight: 0.5, Teacher: func(q int, pairs []int, out []float32) {
		for c := range out {
			out[c] = 0.5
		}
	}}
	if _, _, err := loss(half, false); err == nil || !strings.Contains(err.Error(), "sum to 2.5") {
		t.Errorf("a teacher whose probabilities sum to 2.5: %v", err)
	}
	b.Pairs = b.Pairs[:4]
	if _, _, err := loss(task, false); err == nil || !strings.Contains(err.Error(), "5 document columns names the pairs of 4") {
		t.Errorf("Pairs short of the columns: %v", err)
	}
}

// TestPairSampler: each batch is BatchPairs pairs in a row, padded; each
// negative is one of a batch pair's candidates and never a document of
// the batch; the same generator state gives the same batch.
func TestPairSampler(t *testing.T) {
	const n = 12
	s := &PairSampler{BatchPairs: 4, NegativeRows: 2, Pad: -1, Negatives: make([][]int, n)}
	for i := range n {
		s.Queries = append(s.Queries, []int32{int32(100 + i)})
		doc := make([]int32, 1+i/3) // sorted by length
		for k := range doc {
			doc[k] = int32(i)
		}
		s.Docs = append(s.Docs, doc)
		s.Negatives[i] = []int{(i + 1) % n, (i + 5) % n}
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	twin := &PairSampler{Queries: s.Queries, Docs: s.Docs, Negatives: s.Negatives, BatchPairs: 4, NegativeRows: 2, Pad: -1}
	rng, again := tensor.NewRNG(9), tensor.NewRNG(9)
	sawNegatives := false
	for range 50 {
		b := s.Batch(rng)
		q, d := b.Queries, b.Docs
		from := int(q.IDs[0]) - 100
		var negs []int32
		lastLen := 0
		for _, nb := range b.Negatives {
			if nb.B < 1 || nb.B > 2 {
				t.Fatalf("a batch of %d negatives, want 1 or 2", nb.B)
			}
			for r := range nb.B {
				length := nb.T
				for length > 0 && nb.Pad[r*nb.T+length-1] {
					length--
				}
				if length != len(s.Docs[nb.IDs[r*nb.T]]) || length < lastLen {
					t.Fatalf("negative %d: %d tokens after %d, want its document's %d, sorted", nb.IDs[r*nb.T], length, lastLen, len(s.Docs[nb.IDs[r*nb.T]]))
				}
				lastLen = length
				negs = append(negs, nb.IDs[r*nb.T])
			}
		}
		if q.B != 4 || d.B != 4 || q.T != 1 || len(negs) > 4 {
			t.Fatalf("batch of %d queries, %d documents, %d negatives (T %d)", q.B, d.B, len(negs), q.T)
		}
		for i := range 4 {
			if q.IDs[i] != int32(100+from+i) || d.IDs[i*d.T] != int32(from+i) {
				t.Fatalf("row %d: query %d, document %d; want pairs %d.. in a row", i, q.IDs[i], d.IDs[i*d.T], from)
			}
			for k := range d.T {
				if pad := k >= len(s.Docs[from+i]); d.Pad[i*d.T+k] != pad || pad && d.IDs[i*d.T+k] != -1 {
					t.Fatalf("document row %d, position %d: pad %v, id %d", i, k, d.Pad[i*d.T+k], d.IDs[i*d.T+k])
				}
			}
		}
		for _, id := range negs {
			j := int(id)
			if j >= from && j < from+4 {
				t.Fatalf("negative %d is a document of the batch %d..%d", j, from, from+3)
			}
			ok := false
			for i := from; i < from+4; i++ {
				ok = ok || slices.Contains(s.Negatives[i], j)
			}
			if !ok {
				t.Fatalf("negative %d is no candidate of pairs %d..%d", j, from, from+3)
			}
			sawNegatives = true
		}
		if len(b.Pairs) != 4+len(negs) {
			t.Fatalf("Pairs %v for 4 pairs and %d negatives", b.Pairs, len(negs))
		}
		for c, p := range b.Pairs {
			if c < 4 && p != from+c || c >= 4 && p != int(negs[c-4]) {
				t.Fatalf("column %d names pair %d; Pairs %v, batch from %d, negatives %v", c, p, b.Pairs, from, negs)
			}
		}
		b2 := twin.Batch(again)
		var negs2 []int32
		for _, nb := range b2.Negatives {
			for r := range nb.B {
				negs2 = append(negs2, nb.IDs[r*nb.T])
			}
		}
		if !slices.Equal(b2.Queries.IDs, q.IDs) || !slices.Equal(negs2, negs) {
			t.Fatal("the same generator state drew another batch")
		}
	}
	if !sawNegatives {
		t.Fatal("no batch had a hard negative")
	}
	s.Negatives[3] = []int{3}
	if s.Validate() == nil {
		t.Fatal("a pair that is its own negative passed Validate")
	}
}

// TestPairSamplerCrop: about Crop of the queries become a span of their
// own document's body, whole words of CropMin.. tokens (CropMax widened to
// word ends at most), between the document's first and last tokens; the
// others stay the pair's query; a bad setting fails Validate.
func TestPairSamplerCrop(t *testing.T) {
	const n, vocab = 40, 64
	// ids 32.. continue a word
	cont := make([]bool, vocab)
	for id := 32; id < vocab; id++ {
		cont[id] = true
	}
	rng := tensor.NewRNG(3)
	s := &PairSampler{BatchPairs: 8, Pad: -1, Crop: 0.5, CropMin: 3, CropMax: 6, Continues: cont}
	for i := range n {
		s.Queries = append(s.Queries, []int32{1, int32(2 + i%20), 0})
		doc := []int32{1}
		for range 5 + i/2 { // sorted by length
			doc = append(doc, int32(2+rng.IntN(vocab-2)))
		}
		doc[1] = int32(2 + rng.IntN(30)) // the body begins a word
		s.Docs = append(s.Docs, append(doc, 0))
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	crops, total := 0, 0
	for range 200 {
		b := s.Batch(rng)
		q := b.Queries
		from := -1
		for i := range n - 7 { // the batch's pairs, by their documents
			if slices.Equal(b.Docs.IDs[:len(s.Docs[i])], s.Docs[i]) && (b.Docs.T == len(s.Docs[i]) || b.Docs.Pad[len(s.Docs[i])]) {
				from = i
				break
			}
		}
		if from < 0 {
			t.Fatal("the first document of a batch is no pair's")
		}
		for r := range q.B {
			row := q.IDs[r*q.T : (r+1)*q.T]
			k := q.T
			for k > 0 && q.Pad[r*q.T+k-1] {
				k--
			}
			row = row[:k]
			total++
			if slices.Equal(row, s.Queries[from+r]) {
				continue
			}
			crops++
			doc := s.Docs[from+r]
			body, span := doc[1:len(doc)-1], row[1:len(row)-1]
			at := -1
			for i := 0; i+len(span) <= len(body); i++ {
				if slices.Equal(body[i:i+len(span)], span) {
					at = i
					break
				}
			}
			switch {
			case row[0] != doc[0] || row[len(row)-1] != doc[len(doc)-1] || at < 0:
				t.Fatalf("query %v is neither pair %d's query nor a span of its document %v", row, from+r, doc)
			case len(span) < s.CropMin:
				t.Fatalf("span %v shorter than %d", span, s.CropMin)
			case cont[span[0]] || at+len(span) < len(body) && cont[body[at+len(span)]]:
				t.Fatalf("span %v of %v cuts a word", span, body)
			}
		}
	}
	if share := float64(crops) / float64(total); share < 0.4 || share > 0.6 {
		t.Fatalf("%d of %d queries cropped, want about half", crops, total)
	}
	for _, bad := range []PairSampler{{Crop: 1.5, CropMin: 3, CropMax: 6, Continues: cont}, {Crop: 0.5, CropMin: 7, CropMax: 6, Continues: cont},
		{Crop: 0.5, CropMin: 3, CropMax: 6}, {Crop: 0.5, CropMin: 3, CropMax: 6, Continues: cont[:10]}} {
		bad.Queries, bad.Docs, bad.BatchPairs = s.Queries, s.Docs, 8
		if bad.Validate() == nil {
			t.Fatalf("crop %g, spans %d..%d, %d flags passed Validate", bad.Crop, bad.CropMin, bad.CropMax, len(bad.Continues))
		}
	}
}
