//go:build !purego

package cpu

// The kernels take n, a multiple of 8 (the caller adds the tail), and
// return (or store) each row's sum of its eight lanes.

//go:noescape
func dotI8AVX2(a *float32, w *int8, n int) float32

//go:noescape
func dotBF16AVX2(a *float32, w *uint16, n int) float32

//go:noescape
func dot4I8AVX2(a *float32, lda int, w *int8, n int, out *[4]float32)

//go:noescape
func dot4BF16AVX2(a *float32, lda int, w *uint16, n int, out *[4]float32)

func dotI8(a []float32, w []int8) float32 {
	n := len(w) &^ 7
	if !useVecAsm || n == 0 {
		return dotI8Go(a, w)
	}
	a = a[:len(w)]
	t := dotI8AVX2(&a[0], &w[0], n)
	for i := n; i < len(w); i++ {
		t += a[i] * float32(w[i])
	}
	return t
}

func dotBF16(a []float32, w []uint16) float32 {
	n := len(w) &^ 7
	if !useVecAsm || n == 0 {
		return dotBF16Go(a, w)
	}
	a = a[:len(w)]
	t := dotBF16AVX2(&a[0], &w[0], n)
	for i := n; i < len(w); i++ {
		t += a[i] * FromBF16(w[i])
	}
	return t
}

func dot4I8(a []float32, lda int, w []int8, out *[4]float32) {
	n := len(w) &^ 7
	if !useVecAsm || n == 0 {
		dot4I8Go(a, lda, w, out)
		return
	}
	_ = a[3*lda+len(w)-1]
	dot4I8AVX2(&a[0], lda, &w[0], n, out)
	for r := range out {
		row := a[r*lda : r*lda+len(w)]
		for i := n; i < len(w); i++ {
			out[r] += row[i] * float32(w[i])
		}
	}
}

func dot4BF16(a []float32, lda int, w []uint16, out *[4]float32) {
	n := len(w) &^ 7
	if !useVecAsm || n == 0 {
		dot4BF16Go(a, lda, w, out)
		return
	}
	_ = a[3*lda+len(w)-1]
	dot4BF16AVX2(&a[0], lda, &w[0], n, out)
	for r := range out {
		row := a[r*lda : r*lda+len(w)]
		for i := n; i < len(w); i++ {
			out[r] += row[i] * FromBF16(w[i])
		}
	}
}

//go:noescape
func widenI8AVX2(dst *float32, src *int8, n int, scale float32)

//go:noescape
func widenBF16AVX2(dst *float32, src *uint16, n int)

func widenI8(dst []float32, src []int8, scale float32) {
	n := len(src) &^ 7
	if !useVecAsm || n == 0 {
		widenI8Go(dst, src, scale)
		return
	}
	dst = dst[:len(src)]
	widenI8AVX2(&dst[0], &src[0], n, scale)
	widenI8Go(dst[n:], src[n:], scale)
}

func widenBF16(dst []float32, src []uint16) {
	n := len(src) &^ 7
	if !useVecAsm || n == 0 {
		widenBF16Go(dst, src)
		return
	}
	dst = dst[:len(src)]
	widenBF16AVX2(&dst[0], &src[0], n)
	widenBF16Go(dst[n:], src[n:])
}

//go:noescape
func dotQ8AVX2(mag *uint8, sgn *int8, w *int8, n int) int32

// dotQ8 is the integer dot product of int8 activations (given as their
// magnitudes and their values) with int8 weights.
func dotQ8(mag []uint8, sgn []int8, w []int8) int32 {
	n := len(w) &^ 31
	if !useVecAsm || n == 0 {
		return dotQ8Go(mag, sgn, w)
	}
	mag, sgn = mag[:len(w)], sgn[:len(w)]
	return dotQ8AVX2(&mag[0], &sgn[0], &w[0], n) + dotQ8Go(mag[n:], sgn[n:], w[n:])
}

//go:noescape
func maxAbsAVX2(x *float32, n int) float32

//go:noescape
func quantizeRowAVX2(x *float32, n int, inv float32, sgn *int8, mag *uint8)

// maxAbs is the largest |x[i]| (0 for none), NaN if any x[i] is NaN.
func maxAbs(x []float32) float32 {
	n := len(x) &^ 7
	if !useVecAsm || n == 0 {
		return maxAbsGo(x)
	}
	m := maxAbsAVX2(&x[0], n)
	if t := maxAbsGo(x[n:]); t > m || t != t {
		return t
	}
	return m
}

// quantizeRow rounds x·inv to int8 into sgn and their magnitudes into mag.
func quantizeRow(x []float32, inv float32, sgn []int8, mag []uint8) {
	n := len(x) &^ 31
	if !useVecAsm || n == 0 {
		quantizeRowGo(x, inv, sgn, mag)
		return
	}
	sgn, mag = sgn[:len(x)], mag[:len(x)]
	quantizeRowAVX2(&x[0], n, inv, &sgn[0], &mag[0])
	quantizeRowGo(x[n:], inv, sgn[n:], mag[n:])
}

//go:noescape
func dotBF16PairsAVX2(a *float32, w *uint16, n int) float32

// dotBF16Pairs is the dot product of w with a row of activations stored
// by pairBF16.
func dotBF16Pairs(a []float32, w []uint16) float32 {
	n := len(w) &^ 15
	if !useVecAsm || n == 0 {
		return dotBF16PairsGo(a, w)
	}
	a = a[:len(w)]
	t := dotBF16PairsAVX2(&a[0], &w[0], n)
	for i := n; i < len(w); i++ {
		t += a[i] * FromBF16(w[i])
	}
	return t
}
