package autograd

import (
	"math"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// A one-hot target makes SoftCrossEntropy CrossEntropy, and a soft one is
// the p-weighted sum of the per-class losses.
func TestSoftCrossEntropyMatchesCrossEntropy(t *testing.T) {
	x, err := tensor.FromSlice([]float32{0.3, -1, 2, 0.5, 0.1, 0.1}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGraph(1)
	hard := g.CrossEntropy(Constant(x), []int32{2, 0}, -1, 0).Value.Data()[0]
	soft := g.SoftCrossEntropy(Constant(x), []float32{0, 0, 1, 1, 0, 0}).Value.Data()[0]
	if math.Abs(float64(hard-soft)) > 1e-6 {
		t.Fatalf("one-hot soft loss %g, cross-entropy %g", soft, hard)
	}
	mixed := g.SoftCrossEntropy(Constant(x), []float32{0.25, 0, 0.75, 1, 0, 0}).Value.Data()[0]
	a := g.CrossEntropy(Constant(x), []int32{0, 0}, -1, 0).Value.Data()[0]
	b := g.CrossEntropy(Constant(x), []int32{2, 0}, -1, 0).Value.Data()[0]
	// row 0 mixes classes 0 and 2; row 1 is class 0 in both
	if want := 0.25*a + 0.75*b; math.Abs(float64(mixed-want)) > 1e-6 {
		t.Fatalf("mixed targets: loss %g, want %g", mixed, want)
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
}
