package bert_test

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/bert"
)

// Score answer spans with a (randomly initialised) BERT question-answering
// model: one start and one end logit per token.
func Example() {
	cfg := bert.Config{VocabSize: 30, HiddenSize: 32, NumHiddenLayers: 2, NumAttentionHeads: 4,
		IntermediateSize: 64, MaxPositionEmbeddings: 64}
	m, err := bert.New(cfg, bert.QuestionAnswering, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := []int32{2, 11, 12, 3, 20, 21, 22, 3} // [CLS] question [SEP] context [SEP]
	types := []int32{0, 0, 0, 0, 1, 1, 1, 1}    // segment A, then B
	starts, ends := []int32{4}, []int32{6}      // the answer: tokens 4..6
	g := autograd.NewGraph(1)
	logits, loss, err := m.QALoss(g, ids, types, 1, 8, nil, starts, ends)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("span logits:", logits.Shape())
	fmt.Println("loss is finite and positive:", loss.Value.Item() > 0)
	// Output:
	// span logits: [1 8 2]
	// loss is finite and positive: true
}
