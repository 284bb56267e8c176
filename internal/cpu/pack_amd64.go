//go:build !purego

package cpu

//go:noescape
func pack14AVX512(dst, a *float32, rs, blocks int)

// pack14Vec packs the first depth steps of a 14-row panel with AVX-512,
// sixteen at a time, and returns how many it packed (0 without it). The
// caller has checked that rows 0..13 of a, rs apart, hold kc values each
// and dst kc×14.
func pack14Vec(dst, a []float32, rs, kc int) int {
	if !useVecAsm || !hasAVX512 || kc < 16 {
		return 0
	}
	pack14AVX512(&dst[0], &a[0], rs, kc/16)
	return kc / 16 * 16
}
