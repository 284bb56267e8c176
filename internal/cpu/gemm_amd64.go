//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func sgemmKernelAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernelAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

var (
	hasAVX512 = cpu.X86.HasAVX512F
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

var asmImpls = func() []*gemmImpl {
	var impls []*gemmImpl
	if hasAVX512 {
		impls = append(impls, &gemmImpl{name: "avx512", mr: 14, nr: 32, kc: 256, nc: 4096, fn: sgemmKernelAVX512})
	}
	if hasAVX2 {
		impls = append(impls, &gemmImpl{name: "avx2", mr: 6, nr: 16, kc: 256, nc: 4096, fn: sgemmKernelAVX2})
	}
	return impls
}()
