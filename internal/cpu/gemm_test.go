package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is the plain reference: a triple loop in float64. It also returns,
// per element, the bound on float32 rounding error that any summation order
// must meet: 2·k·u·|alpha|·Σ|a||b| + 2·u·|beta·c| + tiny (u = 2⁻²⁴).
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, tol []float64) {
	const u = 1.0 / (1 << 24)
	want = make([]float64, m*n)
	tol = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, abs float64
			for p := 0; p < k; p++ {
				var x, y float32
				if transA {
					x = a[p*lda+i]
				} else {
					x = a[i*lda+p]
				}
				if transB {
					y = b[j*ldb+p]
				} else {
					y = b[p*ldb+j]
				}
				s += float64(x) * float64(y)
				abs += math.Abs(float64(x) * float64(y))
			}
			w := float64(alpha) * s
			t := 2*float64(k+2)*u*math.Abs(float64(alpha))*abs + 1e-30
			if beta != 0 {
				bc := float64(beta) * float64(c[i*ldc+j])
				w += bc
				t += 4 * u * (math.Abs(bc) + math.Abs(w))
			}
			want[i*n+j], tol[i*n+j] = w, t
		}
	}
	return want, tol
}

func randSlice(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	return x
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra leading-dimension elements
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s_m%d_n%d_k%d_a%g_b%g_pad%d", t(tc.transA), t(tc.transB), tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// checkGemm runs one case on the current implementation and compares every
// element of C (and the padding between rows, which must be untouched).
func checkGemm(t *testing.T, rng *rand.Rand, tc gemmCase) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.pad, bc+tc.pad, tc.n+tc.pad
	a := randSlice(rng, max(ar*lda, 1))
	b := randSlice(rng, max(br*ldb, 1))
	c := randSlice(rng, max(tc.m*ldc, 1))
	orig := append([]float32(nil), c...)
	want, tol := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= tc.n {
				if got != orig[i*ldc+j] {
					t.Fatalf("%v [%s]: padding C[%d][%d] changed from %g to %g", tc, GemmImpl(), i, j, orig[i*ldc+j], got)
				}
				continue
			}
			w := want[i*tc.n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol[i*tc.n+j]) {
				if bad < 3 {
					t.Errorf("%v [%s]: C[%d][%d] = %g, want %g (|diff| %g > tol %g)", tc, GemmImpl(), i, j, got, w, d, tol[i*tc.n+j])
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%v [%s]: %d of %d elements wrong", tc, GemmImpl(), bad, tc.m*tc.n)
	}
}

// forEachImpl runs f once with each GEMM implementation this CPU has, so that
// on an AVX-512 machine the AVX-512, AVX2 and Go paths are all exercised.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	for _, name := range GemmImpls() {
		t.Run(name, func(t *testing.T) {
			prev, err := SetGemmImpl(name)
			if err != nil {
				t.Fatal(err)
			}
			defer SetGemmImpl(prev)
			f(t)
		})
	}
}

func TestGemmImplsIncludeAssembly(t *testing.T) {
	impls := GemmImpls()
	if impls[len(impls)-1] != "go" {
		t.Fatalf("GemmImpls() = %v: the portable Go implementation must be last", impls)
	}
	if hasAVX512 && impls[0] != "avx512" {
		t.Fatalf("CPU has AVX-512 but GemmImpls() = %v", impls)
	}
	t.Logf("GEMM implementations here: %v", impls)
}

var awkwardSizes = []int{1, 3, 7, 16, 33, 65, 127, 257, 1000}

func TestSgemmSizes(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, s := range awkwardSizes {
					for _, shape := range [][3]int{{s, 33, 65}, {65, s, 33}, {33, 65, s}, {s, s, 7}} {
						if shape == [3]int{1000, 1000, 7} && testing.Short() {
							continue
						}
						checkGemm(t, rng, gemmCase{ta, tb, shape[0], shape[1], shape[2], 1, 0, 0})
					}
				}
			}
		}
	})
}

func TestSgemmAlphaBetaPadding(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 1}, {0.5, -2}, {-1.5, 0}, {0, 0.25}, {2, 1}} {
					// 2, 6, 7, 13: products of few rows (the dot-product path), whole and partial groups of four.
					for _, shape := range [][3]int{{1, 1, 1}, {2, 5, 3}, {6, 9, 17}, {7, 33, 65}, {13, 40, 129}, {16, 33, 300}, {127, 65, 257}, {29, 95, 513}} {
						checkGemm(t, rng, gemmCase{ta, tb, shape[0], shape[1], shape[2], ab[0], ab[1], 5})
					}
				}
			}
		}
	})
}

// TestSgemmLarge crosses the cache-block boundaries (kc, nc) and the thread
// split in every transpose case.
func TestSgemmLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large GEMM")
	}
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				checkGemm(t, rng, gemmCase{ta, tb, 257, 1000, 600, 1, 0.5, 3})
				checkGemm(t, rng, gemmCase{ta, tb, 1000, 65, 257, 1, 0, 0})
			}
		}
	})
}

func TestSgemmBetaZeroIgnoresNaN(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		for _, n := range []int{5, 32, 64} {
			a := []float32{1, 2, 3}
			b := make([]float32, 3*n)
			for i := range b {
				b[i] = 1
			}
			c := make([]float32, 14*n)
			for i := range c {
				c[i] = float32(math.NaN())
			}
			Sgemm(true, false, 1, n, 3, 1, a, 1, b, n, 0, c, n)
			for j := 0; j < n; j++ {
				if c[j] != 6 {
					t.Fatalf("n=%d: C[0][%d] = %g, want 6 (beta=0 must not read C)", n, j, c[j])
				}
			}
		}
	})
}

func TestSgemmStridedBatched(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, tb := range []bool{false, true} {
			const batch, m, n, k = 5, 37, 19, 23
			sa, sb, sc := m*k+3, k*n+1, m*n+2
			a := randSlice(rng, batch*sa)
			b := randSlice(rng, batch*sb)
			c := randSlice(rng, batch*sc)
			orig := append([]float32(nil), c...)
			ldb := n
			if tb {
				ldb = k
			}
			SgemmStridedBatched(false, tb, m, n, k, 1.5, a, k, sa, b, ldb, sb, 0.5, c, n, sc, batch)
			for i := 0; i < batch; i++ {
				want, tol := refGemm(false, tb, m, n, k, 1.5, a[i*sa:], k, b[i*sb:], ldb, 0.5, orig[i*sc:], n)
				for e := range want {
					if d := math.Abs(float64(c[i*sc+e]) - want[e]); !(d <= tol[e]) {
						t.Fatalf("batch %d element %d: got %g want %g", i, e, c[i*sc+e], want[e])
					}
				}
				for e := m * n; e < sc && i*sc+e < len(c); e++ {
					if c[i*sc+e] != orig[i*sc+e] {
						t.Fatalf("batch %d: gap element %d changed", i, e)
					}
				}
			}
			// Stride 0 shares B among the batch.
			SgemmStridedBatched(false, tb, m, n, k, 1, a, k, sa, b, ldb, 0, 0, c, n, sc, batch)
			for i := 0; i < batch; i++ {
				want, tol := refGemm(false, tb, m, n, k, 1, a[i*sa:], k, b, ldb, 0, nil, n)
				for e := range want {
					if d := math.Abs(float64(c[i*sc+e]) - want[e]); !(d <= tol[e]) {
						t.Fatalf("shared B, batch %d element %d: got %g want %g", i, e, c[i*sc+e], want[e])
					}
				}
			}
		}
	})
}

// TestSgemmThreadsBitIdentical checks that the split over threads does not
// change a single bit of the result.
func TestSgemmThreadsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const m, n, k = 301, 517, 700
	a, b := randSlice(rng, m*k), randSlice(rng, k*n)
	run := func(threads int) []float32 {
		SetThreads(threads)
		c := make([]float32, m*n)
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		return c
	}
	defer SetThreads(0)
	one, four := run(1), run(4)
	for i := range one {
		if math.Float32bits(one[i]) != math.Float32bits(four[i]) {
			t.Fatalf("element %d: 1 thread %g, 4 threads %g", i, one[i], four[i])
		}
	}
}

func TestSgemmPanicsOnBadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short A", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
		{"small lda", func() {
			Sgemm(false, false, 2, 2, 3, 1, make([]float32, 6), 2, make([]float32, 6), 2, 0, make([]float32, 4), 2)
		}},
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, nil, 2, nil, 2, 0, nil, 2) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint16(7), uint8(0), uint8(0), int8(2), int8(0))
	f.Add(uint8(110), uint8(0), uint16(76), uint8(0), uint8(0), int8(34), int8(0)) // n = 0
	f.Add(uint8(15), uint8(33), uint16(300), uint8(1), uint8(3), int8(-1), int8(1))
	f.Fuzz(func(t *testing.T, m, n uint8, k uint16, trans, pad uint8, alpha, beta int8) {
		tc := gemmCase{trans&1 != 0, trans&2 != 0, int(m), int(n), int(k % 600), float32(alpha) / 4, float32(beta) / 4, int(pad % 8)}
		rng := rand.New(rand.NewPCG(uint64(m), uint64(k)))
		for _, name := range GemmImpls() {
			prev, _ := SetGemmImpl(name)
			checkGemm(t, rng, tc)
			SetGemmImpl(prev)
		}
	})
}

func TestSgemmAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const m, n, k = 200, 300, 100
	a, b, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
	Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
	if allocs := testing.AllocsPerRun(20, func() {
		Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
		SgemmStridedBatched(false, false, 10, 30, 10, 1, a, 10, 100, b, 30, 300, 0, c, 30, 300, 20)
	}); allocs != 0 {
		t.Fatalf("Sgemm allocates %v times per call after the first", allocs)
	}
}

// TestSgemmDotRowsIndependent: in a product with a transposed B and few
// rows (a decoding step's projections, sgemmDot), each row of C is
// bit-identical to the same row computed alone, whatever the number of
// rows beside it — so that a sequence decodes to the same tokens alone or
// in a batch that others join and leave.
func TestSgemmDotRowsIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, k := range []int{1, 7, 64, 389} {
		for _, n := range []int{1, 2, 5, 33} {
			for m := 1; m <= 19; m++ {
				a, b := randSlice(rng, m*k), randSlice(rng, n*k)
				c := make([]float32, m*n)
				Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
				for i := 0; i < m; i++ {
					one := make([]float32, n)
					Sgemm(false, true, 1, n, k, 1, a[i*k:(i+1)*k], k, b, k, 0, one, n)
					for j := range one {
						if math.Float32bits(one[j]) != math.Float32bits(c[i*n+j]) {
							t.Fatalf("m=%d n=%d k=%d: row %d col %d: alone %g, among %d rows %g", m, n, k, i, j, one[j], m, c[i*n+j])
						}
					}
				}
			}
		}
	}
}
