//go:build !amd64 || purego

package cpu

var useVecAsm = false

func axpy(alpha float32, x, y []float32) { axpyGo(alpha, x, y) }

func dot(x, y []float32) float32 { return dotGo(x, y) }

func dots(q, k []float32, ks int, scale float32, out []float32) { dotsGo(q, k, ks, scale, out) }

func axpys(p, v []float32, ks int, o []float32) { axpysGo(p, v, ks, o) }

func dot4(a []float32, lda int, w []float32, out *[4]float32) { dot4Go(a, lda, w, out) }

func dot8(a []float32, lda int, w []float32, out *[8]float32) { dot8Go(a, lda, w, out) }

func dot1x8(a []float32, w []float32, ldw, n int, out *[8]float32) { dot1x8Go(a, w, ldw, n, out) }

func expShiftSum(x []float32, shift float32) float32 { return expShiftSumGo(x, shift) }

func maxOf(x []float32) float32 { return maxGo(x) }

func reluVec(y, x []float32) int { return 0 }

func geluErfBackwardVec(dx, x, dy []float32) int { return 0 }

func reluBackwardVec(dx, x, dy []float32, add bool) int { return 0 }

func geluVec(y, x []float32) bool { return false }

func geluErfVec(y, x []float32) bool { return false }

func geluBackwardVec(dx, x, dy []float32) bool { return false }

func dot8x2(a []float32, lda int, w []float32, ldw, n int, out *[16]float32) {
	dot8x2Go(a, lda, w, ldw, n, out)
}

func dot8x4(a []float32, lda int, w []float32, ldw, n int, _ *[256]float32, out *[32]float32) {
	dot8x4Go(a, lda, w, ldw, n, out)
}

// hasDot8x2 is false without the assembly kernels.
const hasDot8x2 = false

func pack14Vec(dst, a []float32, rs, kc int) int { return 0 }
