// Package data provides training data: the built-in Tiny Shakespeare
// corpus, and token streams sampled into language-model batches.
package data

import (
	_ "embed"
	"fmt"

	"github.com/goformer/goformer/tensor"
)

//go:embed shakespeare/input.txt
var tinyShakespeare string

// TinyShakespeare returns the Tiny Shakespeare corpus (1,115,394
// characters), embedded in the binary.
func TinyShakespeare() string { return tinyShakespeare }

// Split cuts tokens into a training part (the first frac) and a validation
// part (the rest), as nanoGPT does with frac = 0.9.
func Split(tokens []int32, frac float64) (train, val []int32) {
	n := int(float64(len(tokens)) * frac)
	return tokens[:n], tokens[n:]
}

// SampleLM fills x and y with batch windows of block tokens drawn at random
// offsets of tokens (y is x shifted by one: the next-token targets), as
// nanoGPT's get_batch. The offsets come from rng, so the sequence of
// batches is fixed by its state.
func SampleLM(tokens []int32, rng *tensor.RNG, batch, block int, x, y []int32) error {
	if len(tokens) <= block {
		return fmt.Errorf("data: %d tokens are too few for windows of %d", len(tokens), block)
	}
	if len(x) != batch*block || len(y) != batch*block {
		return fmt.Errorf("data: buffers of %d and %d for batch %d × block %d", len(x), len(y), batch, block)
	}
	for b := 0; b < batch; b++ {
		i := rng.IntN(len(tokens) - block)
		copy(x[b*block:(b+1)*block], tokens[i:i+block])
		copy(y[b*block:(b+1)*block], tokens[i+1:i+1+block])
	}
	return nil
}
