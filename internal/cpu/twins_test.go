//go:build amd64 && !purego

package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The assembly kernels against their pure-Go twins, on the same inputs.
// The float64 references of the other tests bound each path's own error;
// these tests bound the difference between the two paths, which is what a
// user moving a model between machines (or building with -tags purego)
// sees. Each bound is stated with the reason it is the right one.

func withVecAsm(asm bool, f func()) {
	saved := useVecAsm
	useVecAsm = asm
	defer func() { useVecAsm = saved }()
	f()
}

const eps32 = 1.0 / (1 << 23) // float32's machine epsilon (2⁻²³)

// TestVecTwins: axpy is one fused multiply-add per element in assembly and
// a multiply then an add in Go, so they differ by the rounding of the
// product and one last rounding of the sum: |Δ| ≤ eps·(|αx| + |y|). dot sums in a different order (16 lanes,
// then a tree), so the bound is the summation's own, n·eps·Σ|xᵢyᵢ|. max is
// exact. The exponential sum uses the same polynomial in both, evaluated
// with FMA in assembly: a relative 4·eps per term, so 4·eps·Σ.
func TestVecTwins(t *testing.T) {
	if !useVecAsm {
		t.Skip("no AVX2 on this CPU")
	}
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range vecSizes {
		x, y := scaledSlice(rng, n, 3), scaledSlice(rng, n, 3)
		const alpha = 0.7
		ya, yg := append([]float32(nil), y...), append([]float32(nil), y...)
		withVecAsm(true, func() { axpy(alpha, x, ya) })
		withVecAsm(false, func() { axpy(alpha, x, yg) })
		for i := range ya {
			if d := math.Abs(float64(ya[i] - yg[i])); d > eps32*(math.Abs(alpha*float64(x[i]))+math.Abs(float64(yg[i])))+1e-30 {
				t.Fatalf("axpy n=%d [%d]: asm %g, Go %g", n, i, ya[i], yg[i])
			}
		}
		var da, dg float32
		withVecAsm(true, func() { da = dot(x, y) })
		withVecAsm(false, func() { dg = dot(x, y) })
		var abs float64
		for i := range x {
			abs += math.Abs(float64(x[i]) * float64(y[i]))
		}
		if d := math.Abs(float64(da - dg)); d > float64(n)*eps32*abs {
			t.Fatalf("dot n=%d: asm %g, Go %g (bound %g)", n, da, dg, float64(n)*eps32*abs)
		}
		if n > 0 { // four rows at once, 7 apart
			a := scaledSlice(rng, 3*(n+7)+n, 3)
			var fa, fg [4]float32
			withVecAsm(true, func() { dot4(a, n+7, y, &fa) })
			withVecAsm(false, func() { dot4(a, n+7, y, &fg) })
			for r := range fa {
				var abs4 float64
				for i := range y {
					abs4 += math.Abs(float64(a[r*(n+7)+i]) * float64(y[i]))
				}
				if d := math.Abs(float64(fa[r] - fg[r])); d > float64(n)*eps32*abs4 {
					t.Fatalf("dot4 n=%d row %d: asm %g, Go %g", n, r, fa[r], fg[r])
				}
			}
			// One row against eight weight rows: each sum exactly as dot4
			// gives it with the roles swapped (rows of a as weights, y as
			// the activation row), in assembly and in Go.
			a8w := scaledSlice(rng, 7*(n+7)+n, 3)
			for _, asm := range []bool{true, false} {
				var o8 [8]float32
				var lo, hi [4]float32
				withVecAsm(asm, func() {
					dot1x8(y, a8w, n+7, n, &o8)
					dot4(a8w, n+7, y, &lo)
					dot4(a8w[4*(n+7):], n+7, y, &hi)
				})
				for c := range o8 {
					want := lo[c%4]
					if c >= 4 {
						want = hi[c-4]
					}
					if math.Float32bits(o8[c]) != math.Float32bits(want) {
						t.Fatalf("dot1x8 (asm %v) n=%d column %d: %g, dot4 %g", asm, n, c, o8[c], want)
					}
				}
			}
			// Eight rows at once: each row exactly as dot4 gives it, in
			// assembly and in Go.
			a8 := scaledSlice(rng, 7*(n+7)+n, 3)
			for _, asm := range []bool{true, false} {
				var e [8]float32
				var lo, hi [4]float32
				withVecAsm(asm, func() {
					dot8(a8, n+7, y, &e)
					dot4(a8, n+7, y, &lo)
					dot4(a8[4*(n+7):], n+7, y, &hi)
				})
				for r := range e {
					if want := append(lo[:], hi[:]...)[r]; e[r] != want {
						t.Fatalf("dot8 (asm %v) n=%d row %d: %g, dot4 %g", asm, n, r, e[r], want)
					}
				}
				// Two weight rows (n+3 apart) at once: each exactly as dot8.
				w2 := scaledSlice(rng, 2*n+3, 3)
				var s16 [16]float32
				var e0, e1 [8]float32
				withVecAsm(asm, func() {
					dot8x2(a8, n+7, w2, n+3, n, &s16)
					dot8(a8, n+7, w2[:n], &e0)
					dot8(a8, n+7, w2[n+3:], &e1)
				})
				for r := range 8 {
					if s16[r] != e0[r] || s16[8+r] != e1[r] {
						t.Fatalf("dot8x2 (asm %v, kernel %v) n=%d row %d: %g, %g; dot8 %g, %g", asm, hasDot8x2, n, r, s16[r], s16[8+r], e0[r], e1[r])
					}
				}
				// Four weight rows (n+5 apart) at once: each exactly as dot8.
				w4 := scaledSlice(rng, 4*n+15, 3)
				var s32 [32]float32
				var acc [256]float32
				var e4 [4][8]float32
				withVecAsm(asm, func() {
					dot8x4(a8, n+7, w4, n+5, n, &acc, &s32)
					for c := range 4 {
						dot8(a8, n+7, w4[c*(n+5):c*(n+5)+n], &e4[c])
					}
				})
				for c := range 4 {
					for r := range 8 {
						if s32[c*8+r] != e4[c][r] {
							t.Fatalf("dot8x4 (asm %v, kernel %v) n=%d weight row %d row %d: %g; dot8 %g", asm, hasDot8x2, n, c, r, s32[c*8+r], e4[c][r])
						}
					}
				}
			}
		}
		if n == 0 {
			continue
		}
		var ma, mg float32
		withVecAsm(true, func() { ma = maxOf(x) })
		withVecAsm(false, func() { mg = maxOf(x) })
		if ma != mg {
			t.Fatalf("max n=%d: asm %g, Go %g", n, ma, mg)
		}
		// Arguments far below the clamp (−87.3) and −Inf give 0 in both;
		// between the clamp and −104 the Go exp is subnormal, the assembly 0.
		tail := []float32{float32(math.Inf(-1)), -200, -95, -87, -20}
		for i := range min(n, len(tail)) {
			x[(i*7)%n] = tail[i]
		}
		for _, shift := range []float32{ma, ma + 5, -3} {
			xa, xg := append([]float32(nil), x...), append([]float32(nil), x...)
			var sa, sg float32
			withVecAsm(true, func() { sa = expShiftSum(xa, shift) })
			withVecAsm(false, func() { sg = expShiftSum(xg, shift) })
			if d := math.Abs(float64(sa - sg)); d > 4*eps32*float64(n)*math.Abs(float64(sg)) {
				t.Fatalf("expShiftSum n=%d shift %g: asm %g, Go %g", n, shift, sa, sg)
			}
			for i := range xa {
				if d := math.Abs(float64(xa[i] - xg[i])); d > 4*eps32*math.Abs(float64(xg[i]))+1.2e-38 {
					t.Fatalf("expShiftSum n=%d shift %g [%d] = exp(%g): asm %g, Go %g", n, shift, i, x[i]-shift, xa[i], xg[i])
				}
			}
		}
	}
}

// TestGELUTwins: both GELUs compute x·σ(2u) with the same exp polynomial.
// Where the result is representable with relative precision each is within
// (8 + 4·|2u|)·eps of the exact value, relative: exp(−2u) turns the float32
// rounding of its argument 2u into a relative error of the same size (1e-6
// at x = −4.7), which no float32 GELU avoids. In the far negative tail (x < −5, GELU(x) < 1.5e-6·|x|)
// each rounds values below 1e-6 of the input's scale differently (up to
// ~30% relative apart at x ≈ −9, where GELU ≈ −1e-17), so there the
// difference is bounded absolutely, by 1e-7·|x|: what matters to a model
// is the error relative to the activations it sums with, which are O(1).
func TestGELUTwins(t *testing.T) {
	if !useVecAsm || !hasAVX512 && !hasAVX2 {
		t.Skip("no AVX-512 or AVX2 on this CPU")
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range vecSizes {
		x, dy := scaledSlice(rng, n, 10), scaledSlice(rng, n, 1)
		ya, yg := make([]float32, n), make([]float32, n)
		da, dg := make([]float32, n), make([]float32, n)
		withVecAsm(true, func() { GELU(ya, x); GELUBackward(da, x, dy) })
		withVecAsm(false, func() { GELU(yg, x); GELUBackward(dg, x, dy) })
		for i, v := range x {
			dbound := 8*eps32*math.Abs(float64(dg[i])) + 4*eps32*math.Abs(float64(dy[i]))
			if v < -5 {
				dbound = 1e-6 * math.Abs(float64(dy[i])*float64(v))
				if d := math.Abs(float64(ya[i] - yg[i])); d > 1e-7*math.Abs(float64(v)) {
					t.Fatalf("GELU(%g): asm %g, Go %g (|Δ| %g > %g)", v, ya[i], yg[i], d, 1e-7*math.Abs(float64(v)))
				}
			} else {
				u := 0.7978845608028654 * (float64(v) + 0.044715*float64(v)*float64(v)*float64(v))
				exact := float64(v) / (1 + math.Exp(-2*u))
				bound := (8+4*math.Abs(2*u))*eps32*math.Abs(exact) + 1e-30
				for _, got := range []struct {
					name string
					y    float32
				}{{"asm", ya[i]}, {"Go", yg[i]}} {
					if d := math.Abs(float64(got.y) - exact); d > bound {
						t.Fatalf("GELU(%g): %s %g, exact %g (|Δ| %g > %g)", v, got.name, got.y, exact, d, bound)
					}
				}
			}
			if d := math.Abs(float64(da[i] - dg[i])); d > dbound {
				t.Fatalf("GELU'(%g)·%g: asm %g, Go %g (|Δ| %g > %g)", v, dy[i], da[i], dg[i], d, dbound)
			}
		}
	}
}

// TestGemmTwins: every GEMM implementation against the Go one on the same
// operands. Each sums k products in its own order (the kernels accumulate
// in registers across the depth, blocked differently), so two results
// differ by at most 2·k·eps·Σₚ|a_ip·b_pj| (each within k·eps of the exact
// product).
func TestGemmTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	impls := GemmImpls()
	for _, shape := range [][3]int{{1, 1, 1}, {7, 33, 65}, {65, 7, 257}, {129, 130, 31}, {257, 64, 1000}} {
		m, n, k := shape[0], shape[1], shape[2]
		a, b := scaledSlice(rng, m*k, 1), scaledSlice(rng, k*n, 1)
		results := map[string][]float32{}
		for _, name := range impls {
			prev, err := SetGemmImpl(name)
			if err != nil {
				t.Fatal(err)
			}
			c := make([]float32, m*n)
			Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			results[name] = c
			SetGemmImpl(prev)
		}
		ref := results["go"]
		for _, name := range impls {
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var abs float64
					for p := 0; p < k; p++ {
						abs += math.Abs(float64(a[i*k+p]) * float64(b[p*n+j]))
					}
					got, want := results[name][i*n+j], ref[i*n+j]
					if d := math.Abs(float64(got - want)); d > 2*float64(k)*eps32*abs {
						t.Fatalf("%v %s: C[%d][%d] = %g, Go %g", shape, name, i, j, got, want)
					}
				}
			}
		}
	}
}

// TestGELUErfTwins: the AVX2 exact GELU and the Go one compute the same
// fit with the same exp polynomial; the kernel fuses p − z² into one FMA,
// so the exp's argument (down to −87) may differ by a rounding of its
// size, 8e-6 relative in the result at the far tail: they agree within
// 2e-5 relative (or 1e-30 absolute) on awkward lengths, the last few lanes
// taken by the Go loop.
func TestGELUErfTwins(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 31, 1000, 4099} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(-14 + 28*float64(i)/float64(max(n-1, 1)))
		}
		ya, yg := make([]float32, n), make([]float32, n)
		withVecAsm(true, func() { GELUErf(ya, x) })
		withVecAsm(false, func() { GELUErf(yg, x) })
		for i, v := range x {
			if d := math.Abs(float64(ya[i] - yg[i])); d > 2e-5*math.Abs(float64(yg[i]))+1e-30 {
				t.Fatalf("n %d: GELUErf(%g): asm %g, Go %g", n, v, ya[i], yg[i])
			}
		}
		// The backward: Φ(x) + x·φ(x), the same fits. Near x = −0.75 the
		// two terms (≈ 0.23 each) cancel, so the bound is relative to the
		// terms, not to the small result; below φ's 1e-37 (|x| > 13) the
		// assembly's clamped exponential and Go's subnormal one differ by
		// less than that.
		dy := make([]float32, n)
		for i := range dy {
			dy[i] = float32(1 + i%3)
		}
		da, dg := make([]float32, n), make([]float32, n)
		withVecAsm(true, func() { GELUErfBackward(da, x, dy) })
		withVecAsm(false, func() { GELUErfBackward(dg, x, dy) })
		for i, v := range x {
			terms := math.Abs(float64(dy[i])) * (1 + math.Abs(float64(v)))
			if d := math.Abs(float64(da[i] - dg[i])); d > 2e-5*math.Abs(float64(dg[i]))+1e-7*terms+1e-36 {
				t.Fatalf("n %d: GELUErf'(%g)·%g: asm %g, Go %g", n, v, dy[i], da[i], dg[i])
			}
		}
	}
}

// TestReLUTwins: ReLU and its backward (written and accumulated) in AVX2
// equal the Go loops exactly, NaN and signed zeros included.
func TestReLUTwins(t *testing.T) {
	if !useVecAsm {
		t.Skip("no AVX2 on this CPU")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for _, n := range vecSizes {
		x, dy, acc := scaledSlice(rng, n, 2), scaledSlice(rng, n, 1), scaledSlice(rng, n, 1)
		for i, v := range []float32{float32(math.NaN()), 0, float32(math.Copysign(0, -1)), -1e-30, 1e-30} {
			if i < n {
				x[(i*5)%n] = v
			}
		}
		run := func(asm bool) (y, d, a []float32) {
			y, d, a = make([]float32, n), make([]float32, n), append([]float32(nil), acc...)
			withVecAsm(asm, func() {
				ReLU(y, x)
				ReLUBackward(d, x, dy)
				ReLUBackwardAdd(a, x, dy)
			})
			return
		}
		ya, da, aa := run(true)
		yg, dg, ag := run(false)
		for i := range x {
			same := func(p, q float32) bool { return math.Float32bits(p) == math.Float32bits(q) }
			if !same(ya[i], yg[i]) || !same(da[i], dg[i]) || !same(aa[i], ag[i]) {
				t.Fatalf("n=%d x[%d]=%g: ReLU %g/%g, backward %g/%g, accumulated %g/%g (asm/Go)", n, i, x[i], ya[i], yg[i], da[i], dg[i], aa[i], ag[i])
			}
		}
	}
}

// TestPack14Twins: the AVX-512 transposing pack of a 14-row panel moves
// values, so it must equal the Go loop bit for bit, on depths that leave
// no, some and all steps to the Go tail, and with the panel's last store
// against the end of dst (a store past it would show in the guard).
func TestPack14Twins(t *testing.T) {
	if !useVecAsm || !hasAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(14, 14))
	for _, kc := range []int{1, 15, 16, 17, 32, 47, 256, 263} {
		for _, rs := range []int{kc, kc + 3, 301} {
			if rs < kc {
				continue
			}
			const off = 5
			a := scaledSlice(rng, off+13*rs+kc, 3)
			var out [2][]float32
			for i, asm := range []bool{true, false} {
				buf := make([]float32, kc*14+16)
				for j := range buf {
					buf[j] = -7 // the guard past kc×14
				}
				withVecAsm(asm, func() { packARows14(buf[:kc*14], a, off, rs, kc) })
				out[i] = buf
			}
			for j := range out[0] {
				if math.Float32bits(out[0][j]) != math.Float32bits(out[1][j]) {
					t.Fatalf("kc %d, rs %d: element %d (step %d, row %d): AVX-512 %g, Go %g", kc, rs, j, j/14, j%14, out[0][j], out[1][j])
				}
			}
			for j := kc * 14; j < len(out[0]); j++ {
				if out[0][j] != -7 {
					t.Fatalf("kc %d, rs %d: the pack wrote past its panel at %d", kc, rs, j)
				}
			}
		}
	}
}
