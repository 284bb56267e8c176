//go:build !purego

package cpu

//go:noescape
func fmaChainsAVX2(iters int)

// fmaChains runs the FMA loop and returns the FLOPs done: twelve
// independent 8-lane chains (enough to cover the FMA latency on two
// pipes), 192 FLOPs an iteration.
func fmaChains(iters int) float64 {
	if !hasAVX2 {
		return fmaChainsGo(iters)
	}
	fmaChainsAVX2(iters)
	return float64(iters) * 12 * 8 * 2
}
