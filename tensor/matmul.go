package tensor

import (
	"fmt"

	"github.com/goformer/goformer/internal/cpu"
)

// MatMul returns a·b for a of shape [..., m, k] and b of shape [k, n] (one
// matrix shared by every leading index) or [..., k, n] with the same leading
// dimensions as a. The result has shape [..., m, n].
func MatMul(a, b *Tensor) (*Tensor, error) {
	return matMul("MatMul", a, b, false, false)
}

// MatMulT returns a·op(b) or op(a)·b with the last two dimensions of a
// and/or b transposed: transA uses aᵀ (a is [..., k, m]), transB uses bᵀ
// (b is [..., n, k]). The forms backward passes need.
func MatMulT(a, b *Tensor, transA, transB bool) (*Tensor, error) {
	return matMul("MatMulT", a, b, transA, transB)
}

func matMul(op string, a, b *Tensor, transA, transB bool) (*Tensor, error) {
	fail := func(format string, args ...any) (*Tensor, error) {
		return nil, &ShapeError{Op: op, Shapes: [][]int{a.shape, b.shape}, Reason: fmt.Sprintf(format, args...)}
	}
	if a.Dims() < 2 || b.Dims() < 2 {
		return fail("both operands need at least 2 dimensions")
	}
	m, k := a.Dim(-2), a.Dim(-1)
	if transA {
		m, k = k, m
	}
	kb, n := b.Dim(-2), b.Dim(-1)
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return fail("inner dimensions differ (%d and %d)", k, kb)
	}
	lead := a.shape[:a.Dims()-2]
	batch := 1
	for _, d := range lead {
		batch *= d
	}
	strideB := 0
	if b.Dims() > 2 {
		if !EqualShapes(lead, b.shape[:b.Dims()-2]) {
			return fail("leading (batch) dimensions differ")
		}
		strideB = kb * n
	}
	out := New(append(append([]int(nil), lead...), m, n)...)
	lda, ldb := a.Dim(-1), b.Dim(-1)
	cpu.SgemmStridedBatched(transA, transB, m, n, k, 1, a.data, lda, m*k, b.data, ldb, strideB, 0, out.data, n, m*n, batch)
	return out, nil
}
