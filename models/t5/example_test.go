package t5_test

import (
	"fmt"
	"log"

	"github.com/goformer/goformer/models/t5"
	"github.com/goformer/goformer/tokenizer"
)

// Load a T5 directory laid out as the hub serves it (here a small model
// with random weights), encode a prompt with its T5Tokenizer ids and
// generate with beam search. pipelines.LoadTranslator, LoadSummarizer and
// LoadText2Text do the same with the task prefixes and settings of the
// directory's config.
func Example() {
	m, err := t5.Load("testdata/t5-small")
	if err != nil {
		log.Fatal(err)
	}
	tok, err := tokenizer.LoadDir("testdata/t5-small")
	if err != nil {
		log.Fatal(err)
	}
	ids, err := tok.Encode("translate English to German: The house is wonderful.")
	if err != nil {
		log.Fatal(err)
	}
	o := m.GenerationOptions() // decoder start 0 (<pad>), end 1 (</s>)
	o.NumBeams, o.MaxNewTokens = 4, 8
	out, err := m.Generate([][]int32{append(ids, 1)}, o, 0, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Config.Variant())
	fmt.Println(len(out[0]) <= 8)
	// Output:
	// T5 v1.0 (relu feed-forward, tied lm_head)
	// true
}
