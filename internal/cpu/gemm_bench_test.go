package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkSgemm(b *testing.B) {
	for _, s := range [][3]int{{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}, {768, 384, 128}, {4096, 65, 384}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}} {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%dx%dx%d_ta%v_tb%v", m, n, k, tr[0], tr[1]), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				x, y, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
				lda, ldb := k, n
				if tr[0] {
					lda = m
				}
				if tr[1] {
					ldb = k
				}
				b.ReportAllocs()
				for b.Loop() {
					Sgemm(tr[0], tr[1], m, n, k, 1, x, lda, y, ldb, 0, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
