package cpu

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkMicroKernel times each micro-kernel alone on panels that stay in
// L1: the ceiling the whole GEMM can approach.
func BenchmarkMicroKernel(b *testing.B) {
	for _, g := range append(append([]*gemmImpl(nil), asmImpls...), goImpl) {
		b.Run(g.name, func(b *testing.B) {
			const kc = 256
			rng := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randSlice(rng, kc*g.mr), randSlice(rng, kc*g.nr), make([]float32, g.mr*g.nr)
			for b.Loop() {
				g.fn(kc, &a[0], &bb[0], &c[0], g.nr, 1, 1)
			}
			b.ReportMetric(2*float64(kc*g.mr*g.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

func BenchmarkPackA(b *testing.B) {
	for _, trans := range []bool{false, true} {
		name := "rows"
		if trans {
			name = "cols"
		}
		b.Run(name, func(b *testing.B) {
			const mr, kc, ld = 14, 256, 1536
			rng := rand.New(rand.NewPCG(1, 1))
			src := view{randSlice(rng, ld*ld), ld, 1}
			if trans {
				src = src.t()
			}
			dst := make([]float32, mr*kc)
			for b.Loop() {
				packA(dst, src, 14, mr, 256, kc, mr)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(mr*kc), "ns/elem")
		})
	}
}

func BenchmarkPackBTransposed(b *testing.B) {
	const nr, kc, nc, ld = 32, 256, 4096, 384
	rng := rand.New(rand.NewPCG(1, 1))
	src := view{randSlice(rng, nc*ld), 1, ld}
	dst := make([]float32, kc*nc)
	for b.Loop() {
		packB(dst, src, 0, kc, 0, nc, nr)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(kc*nc), "ns/elem")
}
