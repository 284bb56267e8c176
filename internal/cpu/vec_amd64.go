//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

// useVecAsm selects the assembly vector kernels; tests turn it off to check
// them against the Go versions.
var useVecAsm = hasAVX2

func axpy(alpha float32, x, y []float32) {
	if useVecAsm && len(y) > 0 {
		axpyAVX2(alpha, &x[0], &y[0], len(y))
		return
	}
	axpyGo(alpha, x, y)
}

//go:noescape
func dot4AVX2(a *float32, lda int, w *float32, n int, out *[4]float32)

// dot4 sets out[r] to the dot product of row r of a (rows lda apart) with
// w, for r < 4: the rows share each load of w.
func dot4(a []float32, lda int, w []float32, out *[4]float32) {
	if useVecAsm && len(w) > 0 {
		_ = a[3*lda+len(w)-1]
		dot4AVX2(&a[0], lda, &w[0], len(w), out)
		return
	}
	dot4Go(a, lda, w, out)
}

//go:noescape
func dot1x8AVX2(a *float32, w *float32, ldw int, n int, out *[8]float32)

// dot1x8 sets out[c] to the dot product of a (n values) with weight row c
// (rows ldw apart), for c < 8: the weight rows share each load of a, and
// each sum is formed as dot4 forms a row's.
func dot1x8(a []float32, w []float32, ldw, n int, out *[8]float32) {
	if useVecAsm && n > 0 {
		_ = a[n-1]
		_ = w[7*ldw+n-1]
		dot1x8AVX2(&a[0], &w[0], ldw, n, out)
		return
	}
	dot1x8Go(a, w, ldw, n, out)
}

//go:noescape
func dot8AVX2(a *float32, lda int, w *float32, n int, out *[8]float32)

// dot8 is dot4 for eight rows.
func dot8(a []float32, lda int, w []float32, out *[8]float32) {
	if useVecAsm && len(w) > 0 {
		_ = a[7*lda+len(w)-1]
		dot8AVX2(&a[0], lda, &w[0], len(w), out)
		return
	}
	dot8Go(a, lda, w, out)
}

//go:noescape
func dot8x2AVX512(a *float32, lda int, w *float32, ldw int, n int, out *[16]float32)

// hasDot8x2 says dot8x2 has its assembly kernel (it needs AVX-512VL's
// sixteen more vector registers).
var hasDot8x2 = hasAVX512 && cpu.X86.HasAVX512VL

// dot8x2 is dot8 for two weight rows, w and w[ldw:], which share each load
// of a's rows: out[c*8+r] is row r against weight row c, each exactly as
// dot8 gives it.
func dot8x2(a []float32, lda int, w []float32, ldw, n int, out *[16]float32) {
	if useVecAsm && hasDot8x2 && n > 0 {
		_, _ = a[7*lda+n-1], w[ldw+n-1]
		dot8x2AVX512(&a[0], lda, &w[0], ldw, n, out)
		return
	}
	dot8x2Go(a, lda, w, ldw, n, out)
}

//go:noescape
func dot8x4AVX512(a *float32, lda int, w *float32, ldw int, n int, acc *[256]float32, out *[32]float32)

// dot8x4 is dot8 for four weight rows, w, w[ldw:], w[2*ldw:] and
// w[3*ldw:]: out[c*8+r] is row r against weight row c, each exactly as dot8
// gives it. The assembly kernel runs dot8's eight-lane sums two to a
// 512-bit register, so that CPUs with full-width AVX-512 FMA units (Zen 5)
// do twice dot8x2's work per instruction; acc is its scratch (the caller's,
// so that a loop of calls does not clear one each time).
func dot8x4(a []float32, lda int, w []float32, ldw, n int, acc *[256]float32, out *[32]float32) {
	if useVecAsm && hasDot8x2 && n > 0 {
		_, _ = a[7*lda+n-1], w[3*ldw+n-1]
		dot8x4AVX512(&a[0], lda, &w[0], ldw, n, acc, out)
		return
	}
	dot8x4Go(a, lda, w, ldw, n, out)
}

//go:noescape
func dotsAVX2(q, k *float32, ks, n, d int, scale float32, out *float32)

// dots sets out[c] to scale·dot(q, k[c*ks:c*ks+len(q)]) for c < len(out):
// one query's attention scores against keys ks floats apart, each exactly
// as dot gives it, in one call.
func dots(q, k []float32, ks int, scale float32, out []float32) {
	if useVecAsm && len(out) > 0 && len(q) > 0 {
		_ = k[(len(out)-1)*ks+len(q)-1]
		dotsAVX2(&q[0], &k[0], ks, len(out), len(q), scale, &out[0])
		return
	}
	dotsGo(q, k, ks, scale, out)
}

//go:noescape
func axpysAVX2(p, v *float32, ks, n int, o *float32, d int)

// axpys adds p[c]·v[c*ks:c*ks+len(o)] to o for each c < len(p) in order,
// skipping those with p[c] = 0: one query's attention output from its
// probabilities, each element exactly as successive axpy calls give it,
// with o kept in registers across the keys.
func axpys(p, v []float32, ks int, o []float32) {
	if useVecAsm && len(p) > 0 && len(o) > 0 {
		_ = v[(len(p)-1)*ks+len(o)-1]
		axpysAVX2(&p[0], &v[0], ks, len(p), &o[0], len(o))
		return
	}
	axpysGo(p, v, ks, o)
}

// dot is one key of dots (times 1, exact).
func dot(x, y []float32) float32 {
	if useVecAsm && len(x) > 0 {
		_ = y[len(x)-1]
		var out float32
		dotsAVX2(&x[0], &y[0], 0, 1, len(x), 1, &out)
		return out
	}
	return dotGo(x, y)
}

//go:noescape
func expShiftSumAVX512(x *float32, n int, shift float32) float32

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func expShiftSumAVX2(x *float32, n int, shift float32) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

func expShiftSum(x []float32, shift float32) float32 {
	if useVecAsm && hasAVX512 && len(x) > 0 {
		return expShiftSumAVX512(&x[0], len(x), shift)
	}
	if useVecAsm && hasAVX2 && len(x) >= 8 {
		n := len(x) &^ 7
		return expShiftSumAVX2(&x[0], n, shift) + expShiftSumGo(x[n:], shift)
	}
	return expShiftSumGo(x, shift)
}

func maxOf(x []float32) float32 {
	if useVecAsm && hasAVX512 && len(x) > 0 {
		return maxAVX512(&x[0], len(x))
	}
	if useVecAsm && hasAVX2 && len(x) >= 8 {
		n := len(x) &^ 7
		return max(maxAVX2(&x[0], n), maxGo(x[n:]))
	}
	return maxGo(x)
}

//go:noescape
func geluAVX512(y, x *float32, n int)

//go:noescape
func geluBackwardAVX512(dx, x, dy *float32, n int)

//go:noescape
func geluAVX2(y, x *float32, n int)

func geluVec(y, x []float32) bool {
	if useVecAsm && hasAVX512 && len(y) > 0 {
		geluAVX512(&y[0], &x[0], len(y))
		return true
	}
	if useVecAsm && hasAVX2 && len(y) >= 8 {
		n := len(y) &^ 7
		geluAVX2(&y[0], &x[0], n)
		for i, v := range x[n:] { // the last few, as the Go GELU computes them
			y[n+i] = geluScalar(v)
		}
		return true
	}
	return false
}

//go:noescape
func reluAVX2(y, x *float32, n int)

//go:noescape
func reluBackwardAVX2(dx, x, dy *float32, n int, add bool)

// reluVec computes the first len(y)&^7 values of ReLU in AVX2 and returns
// how many it did.
func reluVec(y, x []float32) int {
	n := len(y) &^ 7
	if !useVecAsm || n == 0 {
		return 0
	}
	reluAVX2(&y[0], &x[0], n)
	return n
}

// reluBackwardVec is reluVec for ReLU's backward (add: accumulate).
func reluBackwardVec(dx, x, dy []float32, add bool) int {
	n := len(dx) &^ 7
	if !useVecAsm || n == 0 {
		return 0
	}
	reluBackwardAVX2(&dx[0], &x[0], &dy[0], n, add)
	return n
}

//go:noescape
func geluErfAVX2(y, x *float32, n int)

// geluErfVec is the exact GELU on AVX2 (AVX-512 machines use it too: the
// erfc fit needs no wider kernel to leave the GEMMs the bigger cost).
func geluErfVec(y, x []float32) bool {
	if useVecAsm && hasAVX2 && len(y) >= 8 {
		n := len(y) &^ 7
		geluErfAVX2(&y[0], &x[0], n)
		for i, v := range x[n:len(y)] {
			y[n+i] = v * normalCDF(v)
		}
		return true
	}
	return false
}

//go:noescape
func geluErfBackwardAVX2(dx, x, dy *float32, n int)

// geluErfBackwardVec computes the first len(dx)&^7 values of the exact
// GELU's backward in AVX2 and returns how many it did.
func geluErfBackwardVec(dx, x, dy []float32) int {
	n := len(dx) &^ 7
	if !useVecAsm || !hasAVX2 || n == 0 {
		return 0
	}
	geluErfBackwardAVX2(&dx[0], &x[0], &dy[0], n)
	return n
}

//go:noescape
func geluBackwardAVX2(dx, x, dy *float32, n int)

func geluBackwardVec(dx, x, dy []float32) bool {
	if useVecAsm && hasAVX512 && len(dx) > 0 {
		geluBackwardAVX512(&dx[0], &x[0], &dy[0], len(dx))
		return true
	}
	if useVecAsm && hasAVX2 && len(dx) >= 8 {
		n := len(dx) &^ 7
		geluBackwardAVX2(&dx[0], &x[0], &dy[0], n)
		geluBackwardGo(dx[n:], x[n:], dy[n:])
		return true
	}
	return false
}
