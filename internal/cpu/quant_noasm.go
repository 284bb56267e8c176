//go:build !amd64 || purego

package cpu

func dotI8(a []float32, w []int8) float32     { return dotI8Go(a, w) }
func dotBF16(a []float32, w []uint16) float32 { return dotBF16Go(a, w) }
func dot4I8(a []float32, lda int, w []int8, out *[4]float32) {
	dot4I8Go(a, lda, w, out)
}
func dot4BF16(a []float32, lda int, w []uint16, out *[4]float32) {
	dot4BF16Go(a, lda, w, out)
}

func widenI8(dst []float32, src []int8, scale float32) { widenI8Go(dst, src, scale) }
func widenBF16(dst []float32, src []uint16)            { widenBF16Go(dst, src) }

func dotQ8(mag []uint8, sgn []int8, w []int8) int32 { return dotQ8Go(mag, sgn, w) }

func maxAbs(x []float32) float32 { return maxAbsGo(x) }

func quantizeRow(x []float32, inv float32, sgn []int8, mag []uint8) {
	quantizeRowGo(x, inv, sgn, mag)
}

func dotBF16Pairs(a []float32, w []uint16) float32 { return dotBF16PairsGo(a, w) }
