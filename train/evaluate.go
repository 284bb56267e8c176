package train

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
)

// EvaluateLM returns a language model's mean next-token cross-entropy
// (nats) over ids, read in consecutive windows of context tokens, each
// predicting its tokens from the ones before it in the window (as nanoGPT
// and transformers' perplexity guide do without a stride), and the number
// of tokens predicted.
func EvaluateLM(m LanguageModel, ids []int32, context int) (crossEntropy float64, tokens int, err error) {
	if len(ids) < 2 {
		return 0, 0, fmt.Errorf("train: the text has %d tokens; evaluation needs at least 2", len(ids))
	}
	if context < 1 {
		return 0, 0, fmt.Errorf("train: context %d must be positive", context)
	}
	g := autograd.NewGraph(0)
	g.NoGrad = true
	var total float64
	for start := 0; start+1 < len(ids); start += context {
		n := min(context, len(ids)-1-start)
		g.Reset()
		_, loss, err := m.Forward(g, ids[start:start+n], 1, n, ids[start+1:start+1+n])
		if err != nil {
			return 0, 0, err
		}
		total += float64(loss.Value.Item()) * float64(n)
		tokens += n
	}
	return total / float64(tokens), tokens, nil
}
