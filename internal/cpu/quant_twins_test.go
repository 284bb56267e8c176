//go:build amd64 && !purego

package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randInt8(rng *rand.Rand, n int) []int8 {
	w := make([]int8, n)
	for i := range w {
		w[i] = int8(rng.IntN(255) - 127)
	}
	return w
}

func randBF16(rng *rand.Rand, n int) []uint16 {
	w := make([]uint16, n)
	for i := range w {
		w[i] = ToBF16(float32(rng.NormFloat64()))
	}
	return w
}

// TestQuantTwins: the AVX2 kernels against their Go twins on awkward
// lengths, to float32 rounding of the sum of |terms|.
func TestQuantTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 768, 773} {
		lda := n + 5
		a := scaledSlice(rng, 3*lda+n, 2)
		wi, wb := randInt8(rng, n), randBF16(rng, n)
		bound := func(row []float32, f func(i int) float32) float64 {
			var s float64
			for i := range n {
				s += math.Abs(float64(row[i] * f(i)))
			}
			return 4*float64(n)*eps32*s + 1e-30
		}
		fi := func(i int) float32 { return float32(wi[i]) }
		fb := func(i int) float32 { return FromBF16(wb[i]) }
		var ga, gg float32
		withVecAsm(true, func() { ga = dotI8(a[:n], wi) })
		withVecAsm(false, func() { gg = dotI8(a[:n], wi) })
		if d := math.Abs(float64(ga - gg)); d > bound(a, fi) {
			t.Fatalf("dotI8 n=%d: asm %g, Go %g", n, ga, gg)
		}
		withVecAsm(true, func() { ga = dotBF16(a[:n], wb) })
		withVecAsm(false, func() { gg = dotBF16(a[:n], wb) })
		if d := math.Abs(float64(ga - gg)); d > bound(a, fb) {
			t.Fatalf("dotBF16 n=%d: asm %g, Go %g", n, ga, gg)
		}
		// The pair-order kernel: the same product as the plain one.
		var buf []float32
		pa := pairBF16(1, a, lda, n, &buf)
		var pg float32
		withVecAsm(true, func() { ga = dotBF16Pairs(pa, wb) })
		withVecAsm(false, func() { pg = dotBF16Pairs(pa, wb) })
		if d := math.Abs(float64(ga - pg)); d > bound(a, fb) {
			t.Fatalf("dotBF16Pairs n=%d: asm %g, Go %g", n, ga, pg)
		}
		if d := math.Abs(float64(pg - gg)); d > bound(a, fb) {
			t.Fatalf("dotBF16Pairs n=%d: %g, plain order %g", n, pg, gg)
		}
		var fa, fg [4]float32
		for _, kind := range []string{"int8", "bf16"} {
			f := fi
			withVecAsm(true, func() {
				if kind == "int8" {
					dot4I8(a, lda, wi, &fa)
				} else {
					dot4BF16(a, lda, wb, &fa)
				}
			})
			withVecAsm(false, func() {
				if kind == "int8" {
					dot4I8(a, lda, wi, &fg)
				} else {
					dot4BF16(a, lda, wb, &fg)
					f = fb
				}
			})
			for r := range fa {
				if d := math.Abs(float64(fa[r] - fg[r])); d > bound(a[r*lda:], f) {
					t.Fatalf("dot4 %s n=%d row %d: asm %g, Go %g", kind, n, r, fa[r], fg[r])
				}
			}
		}
	}
}

// TestWidenTwins: widening to float32 is exact, in both versions.
func TestWidenTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 8, 9, 31, 64, 773} {
		wi, wb := randInt8(rng, n), randBF16(rng, n)
		for _, asm := range []bool{true, false} {
			di, db := make([]float32, n), make([]float32, n)
			withVecAsm(asm, func() { widenI8(di, wi, 0.37); widenBF16(db, wb) })
			for i := range n {
				if di[i] != 0.37*float32(wi[i]) || db[i] != FromBF16(wb[i]) {
					t.Fatalf("asm %v n=%d [%d]: %g, %g", asm, n, i, di[i], db[i])
				}
			}
		}
	}
}

// TestDotQ8Twins: the integer kernel equals its Go twin exactly.
func TestDotQ8Twins(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 31, 32, 33, 64, 95, 768, 3072, 3075} {
		a, w := randInt8(rng, n), randInt8(rng, n)
		mag := make([]uint8, n)
		for i, v := range a {
			mag[i] = uint8(max(v, -v))
		}
		var x, y int32
		withVecAsm(true, func() { x = dotQ8(mag, a, w) })
		withVecAsm(false, func() { y = dotQ8(mag, a, w) })
		if x != y {
			t.Fatalf("n=%d: asm %d, Go %d", n, x, y)
		}
	}
}

// TestQuantizeRowTwins: the vector max-abs and row rounding equal their Go
// twins exactly, and the Go rounding is half away from zero (math.Round)
// of x·inv within one float32 rounding; NaN makes max-abs NaN.
func TestQuantizeRowTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 7, 8, 31, 32, 33, 64, 95, 768, 3072, 3075} {
		x := scaledSlice(rng, n, 3)
		if n > 5 { // values on the rounding boundaries: ±0.5, ±1.5 after scaling
			x[1], x[2], x[3], x[4] = 0.5/42.3, -1.5/42.3, 2.5/42.3, -0
		}
		var ma, mg float32
		withVecAsm(true, func() { ma = maxAbs(x) })
		withVecAsm(false, func() { mg = maxAbs(x) })
		if ma != mg {
			t.Fatalf("maxAbs n=%d: asm %g, Go %g", n, ma, mg)
		}
		inv := 127 / mg
		sa, sg := make([]int8, n), make([]int8, n)
		aa, ag := make([]uint8, n), make([]uint8, n)
		withVecAsm(true, func() { quantizeRow(x, inv, sa, aa) })
		withVecAsm(false, func() { quantizeRow(x, inv, sg, ag) })
		for i := range x {
			if sa[i] != sg[i] || aa[i] != ag[i] {
				t.Fatalf("quantizeRow n=%d [%d] x=%g: asm %d/%d, Go %d/%d", n, i, x[i], sa[i], aa[i], sg[i], ag[i])
			}
			y := float64(x[i] * inv)
			if r := math.Round(y); math.Abs(r-float64(sg[i])) > 0 && math.Abs(math.Abs(y-math.Trunc(y))-0.5) > 1e-5 {
				t.Fatalf("quantizeRow n=%d [%d]: %g rounds to %d, want %g", n, i, y, sg[i], r)
			}
			if int(ag[i]) != max(int(sg[i]), -int(sg[i])) || sg[i] < -127 {
				t.Fatalf("quantizeRow n=%d [%d]: value %d, magnitude %d", n, i, sg[i], ag[i])
			}
		}
		x[n/2] = float32(math.NaN())
		withVecAsm(true, func() { ma = maxAbs(x) })
		withVecAsm(false, func() { mg = maxAbs(x) })
		if ma == ma || mg == mg {
			t.Fatalf("maxAbs n=%d with a NaN: asm %g, Go %g (want NaN)", n, ma, mg)
		}
	}
}
