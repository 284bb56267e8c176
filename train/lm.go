package train

import (
	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/tensor"
)

// LanguageModel is a model that predicts the next token (models/gpt).
type LanguageModel interface {
	Forward(g *autograd.Graph, ids []int32, batch, seqLen int, targets []int32) (logits, loss *autograd.Var, err error)
}

// LMTask trains a language model on windows of a token stream, nanoGPT's
// way: each batch is Batch windows of Block tokens at random offsets.
type LMTask struct {
	Model        LanguageModel
	Parameters   []*autograd.Var
	Train, Val   []int32
	Batch, Block int

	x, y []int32 // reused batch buffers
}

// Params returns the model's parameters.
func (t *LMTask) Params() []*autograd.Var { return t.Parameters }

// Loss draws a batch and returns the mean next-token cross-entropy.
func (t *LMTask) Loss(g *autograd.Graph, rng *tensor.RNG, split Split) (*autograd.Var, int, error) {
	n := t.Batch * t.Block
	if len(t.x) != n {
		t.x, t.y = make([]int32, n), make([]int32, n)
	}
	tokens := t.Train
	if split == ValSplit {
		tokens = t.Val
	}
	if err := data.SampleLM(tokens, rng, t.Batch, t.Block, t.x, t.y); err != nil {
		return nil, 0, err
	}
	_, loss, err := t.Model.Forward(g, t.x, t.Batch, t.Block, t.y)
	return loss, n, err
}
