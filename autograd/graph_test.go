package autograd

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// tinyStep builds a small two-layer network with attention and returns its
// loss, as a training step would.
func tinyStep(g *Graph, emb, w1, b1, w2 *Var, ids, targets []int32) (*Var, error) {
	x, err := g.Embedding(emb, ids, 1, 2, 4)
	if err != nil {
		return nil, err
	}
	h, err := g.Linear(x, w1, b1)
	if err != nil {
		return nil, err
	}
	h = g.GELU(h)
	a, err := g.Attention(h, h, h, 2, AttentionOptions{Causal: true})
	if err != nil {
		return nil, err
	}
	logits, err := g.Linear(a, w2, nil)
	if err != nil {
		return nil, err
	}
	return g.CrossEntropy(logits, targets, -1, 0.1)
}

func tinyParams() (emb, w1, b1, w2 *Var) {
	rng := rand.New(rand.NewPCG(3, 3))
	return NewParam("emb", randTensor(rng, 1, 10, 8)), NewParam("w1", randTensor(rng, 0.5, 8, 8)),
		NewParam("b1", randTensor(rng, 0.1, 8)), NewParam("w2", randTensor(rng, 0.5, 10, 8))
}

func TestGradientsAccumulateAndStepAllocatesNothing(t *testing.T) {
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
	g := NewGraph(1)
	x := Constant(tensor.New(2, 3))
	w := Constant(tensor.New(4, 5))
	if _, err := g.Linear(x, w, nil); err == nil || !strings.Contains(err.Error(), "[2 3] and [4 5]") {
		t.Errorf("Linear mismatch: %v", err)
	}
	if _, err := g.Add(x, Constant(tensor.New(2))); err == nil || !strings.Contains(err.Error(), "[2 3] and [2]") {
		t.Errorf("Add mismatch: %v", err)
	}
	if _, err := g.Embedding(w, []int32{1, 9}, 1, 2); err == nil || !strings.Contains(err.Error(), "id 9 at position 1") {
		t.Errorf("Embedding out of range: %v", err)
	}
	if _, err := g.CrossEntropy(x, []int32{0, 3}, -1, 0); err == nil || !strings.Contains(err.Error(), "target 3 at row 1") {
		t.Errorf("CrossEntropy bad target: %v", err)
	}
	if _, err := g.Attention(Constant(tensor.New(1, 2, 6)), Constant(tensor.New(1, 3, 6)), Constant(tensor.New(1, 3, 6)), 4, AttentionOptions{}); err == nil || !strings.Contains(err.Error(), "4 heads") {
		t.Errorf("Attention heads: %v", err)
	}
}
