package gpt_test

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/gpt"
)

// A tiny GPT-2 learns to continue a pattern: a few steps of gradient
// descent on one batch lower its loss.
func Example() {
	m, err := gpt.New(gpt.Config{VocabSize: 8, NPositions: 16, NEmbd: 32, NLayer: 2, NHead: 4}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := []int32{1, 2, 3, 4, 1, 2, 3, 4}
	targets := []int32{2, 3, 4, 1, 2, 3, 4, 1} // the next token
	g := autograd.NewGraph(1)
	var first, last float32
	for step := 0; step < 30; step++ {
		g.Reset()
		m.Params.ZeroGrad()
		_, loss, err := m.Forward(g, ids, 1, 8, targets)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := g.Backward(loss); err != nil {
			fmt.Println(err)
			return
		}
		for _, p := range m.Params.List() { // plain SGD
			for i, gr := range p.Grad.Data() {
				p.Value.Data()[i] -= 0.1 * gr
			}
		}
		if step == 0 {
			first = loss.Value.Item()
		}
		last = loss.Value.Item()
	}
	fmt.Printf("parameters: %d\n", m.Params.Count())
	fmt.Println("loss fell by more than half:", last < first/2)
	// Output:
	// parameters: 26240
	// loss fell by more than half: true
}
