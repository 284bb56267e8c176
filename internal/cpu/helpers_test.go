package cpu

import "math/rand/v2"

// scaledSlice returns n uniform values in [-scale, scale).
func scaledSlice(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32((rng.Float64()*2 - 1) * scale)
	}
	return x
}
