package autograd

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// tinyStep builds a small two-layer network with attention and returns its
// loss, as a training step would.
func tinyStep(g *Graph, emb, w1, b1, w2 *Var, ids, targets []int32) (*Var, error) {
	x := g.Embedding(emb, ids, 1, 2, 4)
	h := g.GELU(g.Linear(x, w1, b1))
	a := g.Attention(h, h, h, 2, AttentionOptions{Causal: true})
	logits := g.Linear(a, w2, nil)
	return g.CrossEntropy(logits, targets, -1, 0.1), g.Err()
}

func tinyParams() (emb, w1, b1, w2 *Var) {
	rng := rand.New(rand.NewPCG(3, 3))
	return NewParam("emb", randTensor(rng, 1, 10, 8)), NewParam("w1", randTensor(rng, 0.5, 8, 8)),
		NewParam("b1", randTensor(rng, 0.1, 8)), NewParam("w2", randTensor(rng, 0.5, 10, 8))
}

func TestGradientsAccumulateAndStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	emb, w1, b1, w2 := tinyParams()
	ids := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	targets := []int32{2, 3, 4, -1, 6, 7, 8, 9}
	g := NewGraph(1)
	step := func() {
		g.Reset()
		loss, err := tinyStep(g, emb, w1, b1, w2, ids, targets)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
	}
	step()
	once := append([]float32(nil), w1.Grad.Data()...)
	step()
	for i, v := range w1.Grad.Data() {
		if d := v - 2*once[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("after two backward passes w1.Grad[%d] = %g, want twice %g", i, v, once[i])
		}
	}
	if allocs := testing.AllocsPerRun(10, step); allocs != 0 {
		t.Fatalf("a training step allocates %v times after the first", allocs)
	}
	w1.ZeroGrad()
	if w1.Grad.Data()[0] != 0 {
		t.Fatal("ZeroGrad left a gradient")
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	emb, w1, b1, w2 := tinyParams()
	g := NewGraph(1)
	g.NoGrad = true
	loss, err := tinyStep(g, emb, w1, b1, w2, []int32{1, 2, 3, 4, 5, 6, 7, 8}, []int32{1, 2, 3, 4, 5, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.nodes) != 0 || loss.RequiresGrad {
		t.Fatalf("NoGrad graph recorded %d nodes", len(g.nodes))
	}
	if err := g.Backward(loss); err == nil {
		t.Fatal("Backward without a tape succeeded")
	}
	g2 := NewGraph(1)
	loss2, _ := tinyStep(g2, emb, w1, b1, w2, []int32{1, 2, 3, 4, 5, 6, 7, 8}, []int32{1, 2, 3, 4, 5, 6, 7, 8})
	if loss.Value.Item() != loss2.Value.Item() {
		t.Fatalf("inference loss %g differs from training graph's %g", loss.Value.Item(), loss2.Value.Item())
	}
}

func TestOpErrorsNameShapes(t *testing.T) {
	x := Constant(tensor.New(2, 3))
	w := Constant(tensor.New(4, 5))
	for _, tc := range []struct {
		name string
		op   func(g *Graph) *Var
		want string
	}{
		{"Linear mismatch", func(g *Graph) *Var { return g.Linear(x, w, nil) }, "[2 3] and [4 5]"},
		{"Add mismatch", func(g *Graph) *Var { return g.Add(x, Constant(tensor.New(2))) }, "[2 3] and [2]"},
		{"Embedding out of range", func(g *Graph) *Var { return g.Embedding(w, []int32{1, 9}, 1, 2) }, "id 9 at position 1"},
		{"CrossEntropy bad target", func(g *Graph) *Var { return g.CrossEntropy(x, []int32{0, 3}, -1, 0) }, "target 3 at row 1"},
		{"SoftCrossEntropy short", func(g *Graph) *Var { return g.SoftCrossEntropy(x, []float32{1, 0, 0}) }, "3 targets for logits [2 3]"},
		{"SoftCrossEntropy not a distribution", func(g *Graph) *Var {
			return g.SoftCrossEntropy(x, []float32{1, 0, 0, 0.5, 0.25, 0})
		}, "row 1 sum to 0.75"},
		{"SoftCrossEntropy negative", func(g *Graph) *Var {
			return g.SoftCrossEntropy(x, []float32{1, 0, 0, 1.5, -0.5, 0})
		}, "-0.5 at row 1, class 1"},
		{"Narrow outside", func(g *Graph) *Var { return g.Narrow(x, 2, 2) }, "columns [2, 4)"},
		{"Attention heads", func(g *Graph) *Var {
			return g.Attention(Constant(tensor.New(1, 2, 6)), Constant(tensor.New(1, 3, 6)), Constant(tensor.New(1, 3, 6)), 4, AttentionOptions{})
		}, "4 heads"},
	} {
		g := NewGraph(1)
		tc.op(g)
		if err := g.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestErrorsAreSticky: after the first failing operation every later one
// returns the placeholder without touching its inputs, the first error is
// the one kept, Backward reports it, and Reset clears it.
func TestErrorsAreSticky(t *testing.T) {
	g := NewGraph(1)
	x := NewParam("x", tensor.New(2, 3))
	bad := g.Linear(x, Constant(tensor.New(4, 5)), nil) // fails: 3 ≠ 5
	first := g.Err()
	if first == nil {
		t.Fatal("no error from a mismatched Linear")
	}
	// Operations on the placeholder (whose shape fits nothing) and on good
	// inputs alike do nothing and keep the first error.
	y := g.GELU(g.Add(bad, x))
	z := g.CrossEntropy(g.Embedding(bad, []int32{7}, 1, 1), []int32{99}, -1, 0)
	if g.Err() != first || y != z || y.Value.Len() != 0 {
		t.Fatalf("the graph did not keep its first error: %v (placeholders %v, %v)", g.Err(), y.Shape(), z.Shape())
	}
	if err := g.Backward(z); err != first {
		t.Fatalf("Backward on a failed graph returned %v, want the first error", err)
	}
	g.Reset()
	if g.Err() != nil {
		t.Fatal("Reset kept the error")
	}
	if out := g.GELU(x); g.Err() != nil || out.Value.Len() != 6 {
		t.Fatalf("after Reset: %v, %v", g.Err(), out.Shape())
	}
}

// TestArenaIsBoundedByTheLargestStep: steps of varying shapes (as
// translation batches are) leave the arena at the size of the largest
// step and its eighth of headroom, not the sum of every shape seen, and a
// repeated shape allocates nothing.
func TestArenaIsBoundedByTheLargestStep(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	g := NewGraph(1)
	w := NewParam("w", tensor.New(64, 64))
	inputs := map[int]*tensor.Tensor{}
	step := func(rows int) int {
		g.Reset()
		in, ok := inputs[rows]
		if !ok {
			in = tensor.New(rows, 64)
			inputs[rows] = in
		}
		x := g.Input(in)
		h := g.Linear(x, w, nil)
		for range 3 {
			h = g.GELU(g.Linear(h, w, nil))
		}
		g.Reset() // consolidation happens here
		return rows * 64 * 7
	}
	largest := 0
	for _, rows := range []int{100, 9000, 300, 17000, 5000, 17000, 2000, 12000} {
		largest = max(largest, step(rows))
	}
	if got := g.Size(); got > max(largest+largest/8, slabSize)+slabSize {
		t.Fatalf("arena holds %d floats after steps of at most %d", got, largest)
	}
	if allocs := testing.AllocsPerRun(5, func() { step(12000) }); allocs != 0 {
		t.Fatalf("a step of a size seen before allocates %v times", allocs)
	}
}

// TestGraphPool: a pooled graph comes back without a tape and empty, and
// Put ignores nil.
func TestGraphPool(t *testing.T) {
	var p GraphPool
	g := p.Get()
	if !g.NoGrad {
		t.Fatal("a pooled graph records a tape")
	}
	x := g.Input(tensor.New(2, 3))
	_ = g.Add(x, x)
	p.Put(g)
	p.Put(nil)
	runtime.GC() // a sync.Pool would drop g here (its victim cache at the second)
	runtime.GC()
	h := p.Get()
	if h != g {
		t.Fatal("the pool let its graph go at a garbage collection")
	}
	if !h.NoGrad || len(h.nodes) != 0 || h.nvars != 0 {
		t.Fatalf("a graph back from the pool: NoGrad %v, %d nodes, %d vars", h.NoGrad, len(h.nodes), h.nvars)
	}
	if p.Get() == h {
		t.Fatal("the pool handed out one graph twice")
	}
	// It keeps graphPoolKeep graphs and no more.
	var gs []*Graph
	for range graphPoolKeep + 3 {
		gs = append(gs, p.Get())
	}
	for _, g := range gs {
		p.Put(g)
	}
	if n := len(p.free); n != graphPoolKeep {
		t.Fatalf("the pool keeps %d graphs, want %d", n, graphPoolKeep)
	}
	// And no more than graphPoolFloats values: a graph whose arena grew
	// past it is let go.
	defer func(n int) { graphPoolFloats = n }(graphPoolFloats)
	graphPoolFloats = 3 * slabSize
	for range graphPoolKeep {
		p.Get()
	}
	big := p.Get()
	big.arena.alloc(graphPoolFloats + 1)
	p.Put(big)
	if len(p.free) != 0 || p.floats != 0 {
		t.Fatalf("the pool kept a graph of %d values (holds %d graphs, %d values)", big.Size(), len(p.free), p.floats)
	}
	small := p.Get()
	small.arena.alloc(10)
	p.Put(small)
	if len(p.free) != 1 || p.floats != small.Size() {
		t.Fatalf("the pool holds %d graphs of %d values, want 1 of %d", len(p.free), p.floats, small.Size())
	}
}
