//go:build !amd64 || purego

package cpu

func fmaChains(iters int) float64 { return fmaChainsGo(iters) }
