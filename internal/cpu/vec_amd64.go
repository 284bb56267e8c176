//go:build !purego

package cpu

//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

//go:noescape
func dotAVX2(x, y *float32, n int) float32

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

func dot(x, y []float32) float32 {
	if useVecAsm && len(x) > 0 {
		return dotAVX2(&x[0], &y[0], len(x))
	}
	return dotGo(x, y)
}

//go:noescape
func expShiftSumAVX512(x *float32, n int, shift float32) float32

//go:noescape
func maxAVX512(x *float32, n int) float32

func expShiftSum(x []float32, shift float32) float32 {
	if useVecAsm && hasAVX512 && len(x) > 0 {
		return expShiftSumAVX512(&x[0], len(x), shift)
	}
	return expShiftSumGo(x, shift)
}

func maxOf(x []float32) float32 {
	if useVecAsm && hasAVX512 && len(x) > 0 {
		return maxAVX512(&x[0], len(x))
	}
	return maxGo(x)
}

//go:noescape
func geluAVX512(y, x *float32, n int)

//go:noescape
func geluBackwardAVX512(dx, x, dy *float32, n int)

func geluVec(y, x []float32) bool {
	if useVecAsm && hasAVX512 && len(y) > 0 {
		geluAVX512(&y[0], &x[0], len(y))
		return true
	}
	return false
}

func geluBackwardVec(dx, x, dy []float32) bool {
	if useVecAsm && hasAVX512 && len(dx) > 0 {
		geluBackwardAVX512(&dx[0], &x[0], &dy[0], len(dx))
		return true
	}
	return false
}
