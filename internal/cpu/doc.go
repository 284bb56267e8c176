// Package cpu holds goformer's compute kernels: float32 matrix multiplication
// (GEMM), the vector operations the layers are made of (axpy, dot, exp,
// softmax, layer norm, GELU, ReLU, the fused AdamW update) and the persistent
// worker pool that spreads work over the cores.
//
// The kernels work on raw []float32 slices with explicit sizes and strides;
// the tensor, autograd and nn packages build on them. Every kernel has a plain
// Go implementation that runs on any CPU; on amd64 the GEMM micro-kernel also
// has AVX-512 and AVX2 (FMA) assembly versions, picked at run time from the
// CPU's features (see Impl). The Go versions are the references the assembly
// is tested against.
//
// GEMM follows the BLIS design (Goto and van de Geijn, "Anatomy of
// High-Performance Matrix Multiplication"): blocks of A and B are packed into
// contiguous micro-panels sized for the caches, and a register-blocked
// micro-kernel computes one MR×NR tile of C at a time from them. Edge tiles
// are computed by the same micro-kernel on zero-padded panels. Independent
// blocks of C are shared among the pool's workers; the sum for each element
// of C is always formed in the same order, so results do not depend on the
// number of threads.
package cpu

//go:generate sh -c "go run ./internal/asmgen > gemm_amd64.s"
