package autograd

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// pointerCase is a small pointer-generator mixture: 5 output rows over a
// vocabulary of 7, reading two sources of 4 positions (the second one
// padded at its last two), with repeated ids so that a token gathers
// copy probability from several positions.
var (
	pointerSrc    = []int32{1, 3, 1, 6, 2, 2, 0, 5}
	pointerPad    = []bool{false, false, false, false, false, false, true, true}
	pointerOwners = []int32{0, 1, 0, 1, 1}
)

func pointerInputs(rng *rand.Rand) []*tensor.Tensor {
	return []*tensor.Tensor{randTensor(rng, 2, 5, 7), randTensor(rng, 1, 5, 3), randTensor(rng, 1, 8, 3), randTensor(rng, 2, 5)}
}

func pointerForward(g *Graph, in []*Var) *Var {
	return g.PointerMix(in[0], in[1], in[2], in[3], pointerSrc, pointerPad, 4, pointerOwners)
}

// TestPointerMixAgainstFloat64 checks the forward pass against the
// mixture written out in float64: σ(gate)·softmax(logits) + (1−σ(gate))·
// the attention's weights summed per source token, then the log.
func TestPointerMixAgainstFloat64(t *testing.T) {
	in := pointerInputs(rand.New(rand.NewPCG(3, 4)))
	g := NewGraph(1)
	vars := make([]*Var, len(in))
	for i, x := range in {
		vars[i] = Constant(x)
	}
	out := pointerForward(g, vars)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	ld, qd, kd, gd := in[0].Data(), in[1].Data(), in[2].Data(), in[3].Data()
	for r := 0; r < 5; r++ {
		p := 1 / (1 + math.Exp(-float64(gd[r])))
		var z float64
		for _, x := range ld[r*7 : r*7+7] {
			z += math.Exp(float64(x))
		}
		mix := make([]float64, 7)
		for v := range mix {
			mix[v] = p * math.Exp(float64(ld[r*7+v])) / z
		}
		base := int(pointerOwners[r]) * 4
		scores := make([]float64, 4)
		var sum float64
		for s := range scores {
			if pointerPad[base+s] {
				continue
			}
			var dot float64
			for j := 0; j < 3; j++ {
				dot += float64(qd[r*3+j]) * float64(kd[(base+s)*3+j])
			}
			scores[s] = math.Exp(dot / math.Sqrt(3))
			sum += scores[s]
		}
		for s, e := range scores {
			if !pointerPad[base+s] {
				mix[pointerSrc[base+s]] += (1 - p) * e / sum
			}
		}
		var total float64
		for v, want := range mix {
			got := out.Value.Data()[r*7+v]
			total += math.Exp(float64(got))
			if math.Abs(float64(got)-math.Log(want)) > 1e-5 {
				t.Errorf("row %d token %d: log-probability %v, want %v", r, v, got, math.Log(want))
			}
		}
		if math.Abs(total-1) > 1e-5 {
			t.Errorf("row %d: probabilities sum to %v", r, total)
		}
	}
}

func TestPointerMixGradients(t *testing.T) {
	checkGradients(t, "PointerMix", pointerForward, pointerInputs(rand.New(rand.NewPCG(5, 6))), false)
}

// TestPointerMixUnderCrossEntropy checks the gradients of the loss a
// pointer-generator trains with: label-smoothed cross-entropy on the
// mixture's log-probabilities.
func TestPointerMixUnderCrossEntropy(t *testing.T) {
	targets := []int32{1, 5, 4, -100, 2}
	checkGradients(t, "CrossEntropy∘PointerMix", func(g *Graph, in []*Var) *Var {
		return g.CrossEntropy(pointerForward(g, in), targets, -100, 0.1)
	}, pointerInputs(rand.New(rand.NewPCG(7, 8))), false)
}

func TestPointerMixErrors(t *testing.T) {
	in := pointerInputs(rand.New(rand.NewPCG(1, 2)))
	vars := make([]*Var, len(in))
	for i, x := range in {
		vars[i] = Constant(x)
	}
	for _, tc := range []struct {
		name   string
		src    []int32
		owners []int32
		srcLen int
		want   string
	}{
		{"source out of range", pointerSrc, []int32{0, 1, 2, 0, 0}, 4, "reads source 2 of 2"},
		{"id out of range", []int32{1, 3, 9, 6, 2, 2, 0, 5}, pointerOwners, 4, "source id 9 at 2"},
		{"ragged sources", pointerSrc, pointerOwners, 3, "srcLen 3"},
		{"rows", pointerSrc, pointerOwners[:4], 4, "one row each"},
	} {
		g := NewGraph(1)
		g.PointerMix(vars[0], vars[1], vars[2], vars[3], tc.src, pointerPad, tc.srcLen, tc.owners)
		if err := g.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// TestPointerMixGradientsManyRows: enough rows and sources for the
// forward and backward passes to split over threads (rows by part, the
// keys' gradient by source), against finite differences.
func TestPointerMixGradientsManyRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const rows, vocab, sources, srcLen, d = 36, 12, 8, 6, 4
	src, pad, owner := make([]int32, sources*srcLen), make([]bool, sources*srcLen), make([]int32, rows)
	for i := range src {
		src[i] = int32(rng.IntN(vocab))
		pad[i] = i%srcLen >= srcLen-i/srcLen%3 // 0, 1 or 2 padded positions
	}
	for r := range owner {
		owner[r] = int32((r * 5 / 3) % sources) // rows of one source are not all together
	}
	checkGradients(t, "PointerMix, many rows", func(g *Graph, in []*Var) *Var {
		return g.PointerMix(in[0], in[1], in[2], in[3], src, pad, srcLen, owner)
	}, []*tensor.Tensor{randTensor(rng, 2, rows, vocab), randTensor(rng, 1, rows, d), randTensor(rng, 1, sources*srcLen, d), randTensor(rng, 2, rows)}, false)
}

// BenchmarkPointerMix is the copy head's loss on a debian-summarize
// batch (PointerCrossEntropy): 1,000 labelled positions over a vocabulary
// of 8,000, reading 64 descriptions of 128 tokens, forward and backward.
func BenchmarkPointerMix(b *testing.B) {
	benchmarkPointer(b, func(g *Graph, in []*Var, src []int32, srcLen int, owner, targets []int32) *Var {
		return g.PointerCrossEntropy(in[0], in[1], in[2], in[3], src, nil, srcLen, owner, targets, -100, 0.1)
	})
}

func benchmarkPointer(b *testing.B, loss func(g *Graph, in []*Var, src []int32, srcLen int, owner, targets []int32) *Var) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, vocab, sources, srcLen, d = 1000, 8000, 64, 128, 128
	src, owner := make([]int32, sources*srcLen), make([]int32, rows)
	for i := range src {
		src[i] = int32(rng.IntN(vocab))
	}
	for r := range owner {
		owner[r] = int32(r * sources / rows)
	}
	in := []*Var{NewParam("logits", randTensor(rng, 2, rows, vocab)), NewParam("q", randTensor(rng, 1, rows, d)),
		NewParam("k", randTensor(rng, 1, sources*srcLen, d)), NewParam("gate", randTensor(rng, 1, rows))}
	targets := make([]int32, rows)
	g := NewGraph(1)
	for b.Loop() {
		g.Reset()
		if err := g.Backward(loss(g, in, src, srcLen, owner, targets)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPointerMixComposed is BenchmarkPointerMix's loss as two
// operations: the mixture formed (PointerMix), then CrossEntropy on it.
func BenchmarkPointerMixComposed(b *testing.B) {
	benchmarkPointer(b, func(g *Graph, in []*Var, src []int32, srcLen int, owner, targets []int32) *Var {
		return g.CrossEntropy(g.PointerMix(in[0], in[1], in[2], in[3], src, nil, srcLen, owner), targets, -100, 0.1)
	})
}

// BenchmarkPointerMixBaseline is BenchmarkPointerMix's cross-entropy on the
// logits alone: what the copy head adds is the difference.
func BenchmarkPointerMixBaseline(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	logits := NewParam("logits", randTensor(rng, 2, 1000, 8000))
	targets := make([]int32, 1000)
	g := NewGraph(1)
	for b.Loop() {
		g.Reset()
		if err := g.Backward(g.CrossEntropy(logits, targets, -100, 0.1)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPointerCrossEntropyMatchesComposition: the fused loss equals
// CrossEntropy on PointerMix's output, value and every input's gradient,
// with label smoothing and an ignored row, on enough rows to split over
// threads; and on a few rows its gradients match finite differences.
func TestPointerCrossEntropyMatchesComposition(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const rows, vocab, sources, srcLen, d = 40, 30, 6, 7, 5
	src, pad, owner, targets := make([]int32, sources*srcLen), make([]bool, sources*srcLen), make([]int32, rows), make([]int32, rows)
	for i := range src {
		src[i] = int32(rng.IntN(vocab / 2)) // repeats within a source
		pad[i] = i%srcLen >= srcLen-i/srcLen%3
	}
	for r := range owner {
		owner[r] = int32((r * 5 / 3) % sources)
		targets[r] = int32(rng.IntN(vocab))
		if r%4 == 0 { // a token of the row's source
			targets[r] = src[int(owner[r])*srcLen]
		}
	}
	targets[7] = -100
	in := []*tensor.Tensor{randTensor(rng, 2, rows, vocab), randTensor(rng, 1, rows, d), randTensor(rng, 1, sources*srcLen, d), randTensor(rng, 2, rows)}
	run := func(fused bool) (float32, [][]float32) {
		g := NewGraph(1)
		vars := make([]*Var, len(in))
		for i, x := range in {
			vars[i] = NewParam("in", x.Clone())
		}
		var loss *Var
		if fused {
			loss = g.PointerCrossEntropy(vars[0], vars[1], vars[2], vars[3], src, pad, srcLen, owner, targets, -100, 0.1)
		} else {
			loss = g.CrossEntropy(g.PointerMix(vars[0], vars[1], vars[2], vars[3], src, pad, srcLen, owner), targets, -100, 0.1)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		var grads [][]float32
		for _, v := range vars {
			grads = append(grads, v.Grad.Data())
		}
		return loss.Value.Item(), grads
	}
	lf, gf := run(true)
	lc, gc := run(false)
	if math.Abs(float64(lf-lc)) > 1e-5*math.Abs(float64(lc)) {
		t.Errorf("fused loss %v, composed %v", lf, lc)
	}
	for i := range gf {
		for j := range gf[i] {
			if math.Abs(float64(gf[i][j]-gc[i][j])) > 1e-5+1e-3*math.Abs(float64(gc[i][j])) {
				t.Fatalf("input %d element %d: fused gradient %v, composed %v", i, j, gf[i][j], gc[i][j])
			}
		}
	}
	for j, x := range gf[0][7*vocab : 8*vocab] {
		if x != 0 {
			t.Fatalf("the ignored row's logit %d has gradient %v", j, x)
		}
	}
	small := []int32{1, 5, 4, -100, 2}
	checkGradients(t, "PointerCrossEntropy", func(g *Graph, in []*Var) *Var {
		return g.PointerCrossEntropy(in[0], in[1], in[2], in[3], pointerSrc, pointerPad, 4, pointerOwners, small, -100, 0.1)
	}, pointerInputs(rand.New(rand.NewPCG(7, 8))), false)
	g := NewGraph(1)
	vars := []*Var{Constant(in[0]), Constant(in[1]), Constant(in[2]), Constant(in[3])}
	bad := slices.Clone(targets)
	bad[3] = vocab
	g.PointerCrossEntropy(vars[0], vars[1], vars[2], vars[3], src, pad, srcLen, owner, bad, -100, 0.1)
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "target 30 at row 3") {
		t.Errorf("a target outside the vocabulary: %v", err)
	}
}
