package data

import (
	"testing"

	"github.com/goformer/goformer/tensor"
)

func TestTinyShakespeareAndBatches(t *testing.T) {
	text := TinyShakespeare()
	if len(text) != 1115394 {
		t.Fatalf("Tiny Shakespeare has %d bytes, want 1115394", len(text))
	}
	tokens := make([]int32, 100)
	for i := range tokens {
		tokens[i] = int32(i)
	}
	train, val := Split(tokens, 0.9)
	if len(train) != 90 || len(val) != 10 || val[0] != 90 {
		t.Fatalf("split %d/%d", len(train), len(val))
	}
	x, y := make([]int32, 3*8), make([]int32, 3*8)
	if err := SampleLM(train, tensor.NewRNG(1), 3, 8, x, y); err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if y[i] != x[i]+1 || x[i] < 0 || y[i] >= 90 {
			t.Fatalf("window %d: x %d y %d (targets must be the next tokens, inside the split)", i, x[i], y[i])
		}
	}
	if err := SampleLM(tokens[:5], tensor.NewRNG(1), 1, 8, x[:8], y[:8]); err == nil {
		t.Fatal("windows longer than the data accepted")
	}
}
