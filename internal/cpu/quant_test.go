package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQLinear: QLinear against a float64 product with the dequantised
// weights, on awkward sizes, with and without beta, on 1 and 2 threads.
func TestQLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	defer SetThreads(Threads())
	for _, threads := range []int{1, 2} {
		SetThreads(threads)
		for _, m := range []int{1, 2, 3, 4, 5, 7, 17, 33} {
			for _, n := range []int{1, 5, 13, 130} {
				for _, k := range []int{1, 7, 8, 9, 64, 77, 300} {
					w := scaledSlice(rng, n*k, 0.5)
					a := scaledSlice(rng, m*(k+2), 1)
					for _, q := range []*QMatrix{QuantizeInt8(w, n, k), QuantizeBF16(w, n, k)} {
						dw := q.Dequantize()
						for _, beta := range []float32{0, 1} {
							c := scaledSlice(rng, m*(n+3), 1)
							c0 := append([]float32(nil), c...)
							QLinear(m, a, k+2, q, beta, c, n+3)
							for i := 0; i < m; i++ {
								// An int8 product quantises each row of A too (within
								// half its step, max|a|/127/2, per element).
								var amax float64
								for l := 0; l < k; l++ {
									amax = math.Max(amax, math.Abs(float64(a[i*(k+2)+l])))
								}
								for j := 0; j < n; j++ {
									var want, mag, wsum float64
									for l := 0; l < k; l++ {
										p := float64(a[i*(k+2)+l]) * float64(dw[j*k+l])
										want += p
										mag += math.Abs(p)
										wsum += math.Abs(float64(dw[j*k+l]))
									}
									if q.Kind == QInt8 {
										mag += wsum * amax / 127 / 2 / (4 * float64(k+1) * (1.0 / (1 << 23)))
									}
									want += float64(beta) * float64(c0[i*(n+3)+j])
									if d := math.Abs(float64(c[i*(n+3)+j]) - want); d > 4*float64(k+1)*(1.0/(1<<23))*(mag+math.Abs(float64(c0[i*(n+3)+j])))+1e-6 {
										t.Fatalf("%s m=%d n=%d k=%d beta=%g threads=%d: C[%d][%d] = %g, want %g", q.Kind, m, n, k, beta, threads, i, j, c[i*(n+3)+j], want)
									}
								}
								for j := n; j < n+3; j++ { // the columns beyond N are not touched
									if c[i*(n+3)+j] != c0[i*(n+3)+j] {
										t.Fatalf("%s: QLinear wrote outside C's %d columns", q.Kind, n)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestQuantizeError: int8 is within half a step of its row's scale, bf16
// within 2⁻⁸ relative, ties of bf16 go to even, and zero rows stay zero.
func TestQuantizeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n, k := 37, 131
	w := scaledSlice(rng, n*k, 3)
	clear(w[5*k : 6*k])
	qi, qb := QuantizeInt8(w, n, k), QuantizeBF16(w, n, k)
	di, db := qi.Dequantize(), qb.Dequantize()
	for j := 0; j < n; j++ {
		for i := 0; i < k; i++ {
			v := w[j*k+i]
			if d := math.Abs(float64(di[j*k+i] - v)); d > float64(qi.Scale[j])*0.5*(1+1e-6) {
				t.Fatalf("int8 [%d][%d]: %g → %g (scale %g)", j, i, v, di[j*k+i], qi.Scale[j])
			}
			if d := math.Abs(float64(db[j*k+i] - v)); d > math.Abs(float64(v))/256 {
				t.Fatalf("bf16 [%d][%d]: %g → %g", j, i, v, db[j*k+i])
			}
		}
	}
	if qi.Scale[5] != 0 || di[5*k] != 0 {
		t.Fatal("a zero row did not stay zero")
	}
	for _, c := range []struct {
		in   uint32
		want uint16
	}{{0x3f808000, 0x3f80}, {0x3f818000, 0x3f82}, {0x3f808001, 0x3f81}, {0x7f7fffff, 0x7f80}} {
		if got := ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("ToBF16(%#x) = %#x, want %#x", c.in, got, c.want)
		}
	}
	if v := FromBF16(ToBF16(float32(math.NaN()))); v == v {
		t.Error("NaN did not stay NaN")
	}
	if qb.Bytes() != 2*n*k || qi.Bytes() != n*k+4*n {
		t.Errorf("sizes %d, %d", qb.Bytes(), qi.Bytes())
	}
}

// TestQLinearRowsAgree: an int8 product gives a row the same values (to
// float32 rounding) whether it is computed alone, in integers, or among
// many rows, through the widened GEMM: batching does not change results.
func TestQLinearRowsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	m, n, k := 40, 37, 300
	w, a := scaledSlice(rng, n*k, 0.5), scaledSlice(rng, m*k, 1)
	q := QuantizeInt8(w, n, k)
	all := make([]float32, m*n)
	QLinear(m, a, k, q, 0, all, n)
	one := make([]float32, n)
	for i := 0; i < m; i++ {
		QLinear(1, a[i*k:], k, q, 0, one, n)
		for j := range one {
			var mag float64 // Σ|a·w|: the sums' rounding is relative to it
			for l := 0; l < k; l++ {
				mag += math.Abs(float64(a[i*k+l]) * float64(w[j*k+l]))
			}
			if d := math.Abs(float64(one[j] - all[i*n+j])); d > 4*float64(k)*(1.0/(1<<23))*mag {
				t.Fatalf("row %d col %d: alone %g, among %d rows %g", i, j, one[j], m, all[i*n+j])
			}
		}
	}
}
