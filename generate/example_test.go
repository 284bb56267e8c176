package generate_test

import (
	"fmt"
	"log"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
)

// The README's program: load the model `goformer train` wrote and sample
// 200 characters after a prompt. (Compiled by go test; it needs a trained
// model directory to run.)
func Example() {
	dir := "runs/shakespeare-char-small/model"
	model, err := gpt.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := tokenizer.LoadDir(dir) // tokenizer.json, or GPT-2's vocab.json + merges.txt
	if err != nil {
		log.Fatal(err)
	}
	prompt, err := tok.Encode("ROMEO:")
	if err != nil {
		log.Fatal(err)
	}
	sampler := &generate.Sampler{Temperature: 0.8, TopK: 40, RNG: tensor.NewRNG(1)}
	ids, err := generate.Generate(model, prompt, 200, model.Config.NPositions, sampler, nil)
	if err != nil {
		log.Fatal(err)
	}
	text, _ := tok.Decode(ids)
	fmt.Println("ROMEO:" + text)
}
