package attention_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/goformer/goformer/attention"
	"github.com/goformer/goformer/models/t5"
)

// Run a T5 model once on a source and a decoder input with the attention
// probabilities kept, and look at its last cross-attention layer. (The
// model here has random weights; goformer attention does this with a
// tokenizer's labels and draws the maps.)
func ExampleOfEncoderDecoder() {
	m, err := t5.Load("../models/t5/testdata/t5-small")
	if err != nil {
		log.Fatal(err)
	}
	src := []int32{40, 51, 300, 17, 1} // tokens, </s>
	tgt := []int32{0, 64, 33}          // the decoder start, then the target
	srcTokens := []string{"a", "b", "c", "d", "</s>"}
	tgtTokens := []string{"x", "y", "</s>"} // what each decoder position produces
	maps, err := attention.OfEncoderDecoder(m, src, tgt, srcTokens, tgtTokens)
	if err != nil {
		log.Fatal(err)
	}
	var names []string
	for _, x := range maps {
		names = append(names, x.Name())
	}
	fmt.Println(strings.Join(names, " "))
	cross := attention.Select(maps, "cross", 1)[0]
	_, words, err := attention.Align(&cross, []int{0, 1, -1}, []int{0, 1, 2, 3, -1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cross.Heads, "heads,", len(words), "aligned words")
	// Output:
	// encoder-layer0 encoder-layer1 decoder-layer0 cross-layer0 decoder-layer1 cross-layer1
	// 4 heads, 2 aligned words
}
