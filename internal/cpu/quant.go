package cpu

import (
	"fmt"
	"math"
	"sync"
)

// QKind is the format of a quantised weight matrix.
type QKind uint8

const (
	// QInt8: int8 weights with one float32 scale per row (per output
	// channel), symmetric; products quantise each row of the activations
	// to int8 too (its own scale, at run time) and multiply in integers.
	QInt8 QKind = iota + 1
	QBF16       // bfloat16: float32's top 16 bits, rounded to nearest even
)

// String names the format as the command line does ("int8", "bf16").
func (k QKind) String() string {
	switch k {
	case QInt8:
		return "int8"
	case QBF16:
		return "bf16"
	}
	return fmt.Sprintf("QKind(%d)", uint8(k))
}

// QMatrix is a weight matrix W [N, K] (PyTorch's Linear layout: a row per
// output) stored in a compact format for inference: what decoding reads
// per token shrinks from 4 bytes a weight to 2 (bf16) or 1 (int8). Products
// are accumulated in float32.
type QMatrix struct {
	Kind  QKind
	N, K  int
	I8    []int8    // QInt8: N·K values, row-major
	Scale []float32 // QInt8: W[j][i] ≈ Scale[j]·I8[j·K+i]
	BF    []uint16  // QBF16: N·K values, row-major
}

// Bytes is the size of the quantised weights (what a product reads).
func (q *QMatrix) Bytes() int { return len(q.I8) + 4*len(q.Scale) + 2*len(q.BF) }

// QuantizeInt8 quantises w [n, k] per row: each row's scale is its largest
// magnitude over 127, each weight rounded to the nearest multiple (ties
// away from zero). A row of zeros has scale 0.
func QuantizeInt8(w []float32, n, k int) *QMatrix {
	q := &QMatrix{Kind: QInt8, N: n, K: k, I8: make([]int8, n*k), Scale: make([]float32, n)}
	for j := 0; j < n; j++ {
		row := w[j*k : (j+1)*k]
		var m float32
		for _, v := range row {
			m = max(m, float32(math.Abs(float64(v))))
		}
		if m == 0 {
			continue
		}
		q.Scale[j] = m / 127
		inv := 127 / float64(m)
		out := q.I8[j*k : (j+1)*k]
		for i, v := range row {
			out[i] = int8(max(-127, min(127, math.Round(float64(v)*inv))))
		}
	}
	return q
}

// QuantizeBF16 rounds w [n, k] to bfloat16 (nearest, ties to even).
func QuantizeBF16(w []float32, n, k int) *QMatrix {
	q := &QMatrix{Kind: QBF16, N: n, K: k, BF: make([]uint16, n*k)}
	for i, v := range w[:n*k] {
		q.BF[i] = ToBF16(v)
	}
	return q
}

// ToBF16 rounds v to bfloat16 (nearest, ties to even; NaN stays NaN).
func ToBF16(v float32) uint16 {
	b := math.Float32bits(v)
	if v != v {
		return uint16(b>>16) | 0x40 // a quiet NaN
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// FromBF16 widens a bfloat16 to float32 (exactly).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Dequantize returns the float32 matrix the quantised one stands for.
func (q *QMatrix) Dequantize() []float32 {
	out := make([]float32, q.N*q.K)
	for j := 0; j < q.N; j++ {
		for i := 0; i < q.K; i++ {
			switch q.Kind {
			case QInt8:
				out[j*q.K+i] = q.Scale[j] * float32(q.I8[j*q.K+i])
			case QBF16:
				out[j*q.K+i] = FromBF16(q.BF[j*q.K+i])
			}
		}
	}
	return out
}

// qJob computes C = A·Wᵀ + beta·C for a quantised W over column blocks.
type qJob struct {
	m             int
	a, c          []float32
	lda, ldc      int
	beta          float32
	q             *QMatrix
	act           *qAct     // int8: the rows of A quantised
	pairs         []float32 // bf16 with fewer than 4 rows: the rows of A in pair order (pairBF16)
	parts, perCol int
}

var qJobs = sync.Pool{New: func() any { return new(qJob) }}

// QLinear computes C [m, N] = A [m, K]·Wᵀ + beta·C (C not read when beta
// is 0) for a quantised W, columns split over the default pool's threads.
// bf16: each element a float32 dot product of a row of A with a row of W
// widened on the fly, four rows of A sharing each load of W. int8: each
// row of A is rounded to int8 with its own scale (max|a|/127) and the
// dot products are integer (exact), scaled by both scales. With more than
// 16 rows the product is compute-bound: W is widened to float32 in blocks
// and multiplied by the packed GEMM (for int8, with A rounded to the same
// grid, so that a row's result does not depend on the rows beside it).
func QLinear(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	if m == 0 || q.N == 0 {
		return
	}
	if q.K == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+q.N]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	_ = a[(m-1)*lda+q.K-1]
	_ = c[(m-1)*ldc+q.N-1]
	if m > qDotRows {
		qLinearBlocks(m, a, lda, q, beta, c, ldc)
		return
	}
	j := qJobs.Get().(*qJob)
	*j = qJob{m: m, a: a, c: c, lda: lda, ldc: ldc, beta: beta, q: q, parts: 1, perCol: q.N}
	var pairs *[]float32
	if q.Kind == QInt8 {
		j.act = quantizeRows(m, a, lda, q.K)
	} else if m < 4 {
		pairs = qBlocks.Get().(*[]float32)
		j.pairs = pairBF16(m, a, lda, q.K, pairs)
	}
	pool := DefaultPool()
	if want := min(pool.Threads(), 2*m*q.N*q.K/minPartFlops); want > 1 {
		j.perCol = (q.N + want - 1) / want
		j.parts = (q.N + j.perCol - 1) / j.perCol
	}
	if j.parts == 1 {
		j.Do(0)
	} else {
		pool.Run(j.parts, j)
	}
	if j.act != nil {
		qActs.Put(j.act)
	}
	if pairs != nil {
		qBlocks.Put(pairs)
	}
	*j = qJob{}
	qJobs.Put(j)
}

// qDotRows is the most rows of A for which QLinear computes dot products
// with the compact rows of W; above, it widens W for the packed GEMM. The
// dot products widen each weight once per four rows (bf16) or multiply
// each row in integers (int8), so their break-even comes earlier than
// float32's (dotRows).
const qDotRows = 16

// qAct holds rows of activations quantised to int8 for an int8 product:
// per row a scale (its largest magnitude over 127), the int8 values and
// their magnitudes.
type qAct struct {
	scale []float32
	sgn   []int8
	mag   []uint8
}

var qActs = sync.Pool{New: func() any { return new(qAct) }}

// quantizeRows quantises m rows of a (k values, lda apart) symmetrically,
// each with its own scale: what an int8 product with few rows multiplies
// the int8 weights by, in integers (as CTranslate2's and llama.cpp's int8
// do), instead of widening every weight to float32.
func quantizeRows(m int, a []float32, lda, k int) *qAct {
	q := qActs.Get().(*qAct)
	if cap(q.sgn) < m*k {
		q.sgn, q.mag = make([]int8, m*k), make([]uint8, m*k)
	}
	if cap(q.scale) < m {
		q.scale = make([]float32, m)
	}
	q.sgn, q.mag, q.scale = q.sgn[:m*k], q.mag[:m*k], q.scale[:m]
	for i := 0; i < m; i++ {
		row := a[i*lda : i*lda+k]
		mx := maxAbs(row)
		sg, mg := q.sgn[i*k:(i+1)*k], q.mag[i*k:(i+1)*k]
		if mx == 0 || mx != mx || math.IsInf(float64(mx), 0) {
			q.scale[i] = mx // 0, or a non-finite value that makes the row's outputs NaN as float32 would
			clear(sg)
			clear(mg)
			continue
		}
		inv := 127 / mx
		if math.IsInf(float64(inv), 0) { // |a| below 2.7e-37: a zero row, as near as float32 can tell
			q.scale[i] = 0
			clear(sg)
			clear(mg)
			continue
		}
		q.scale[i] = mx / 127
		quantizeRow(row, inv, sg, mg)
	}
	return q
}

// pairBF16 copies m rows of a (k values, lda apart) into buf, each block
// of sixteen values reordered evens first, then odds: the order in which
// a bfloat16 kernel widens sixteen weights from one 32-byte load (the even
// ones by a shift, the odd ones by a mask). A last block of fewer than
// sixteen values stays in order.
func pairBF16(m int, a []float32, lda, k int, buf *[]float32) []float32 {
	if cap(*buf) < m*k {
		*buf = make([]float32, m*k)
	}
	out := (*buf)[:m*k]
	n := k &^ 15
	for i := 0; i < m; i++ {
		src, dst := a[i*lda:i*lda+k], out[i*k:(i+1)*k]
		for b := 0; b < n; b += 16 {
			s, d := src[b:b+16], dst[b:b+16]
			for l := 0; l < 8; l++ {
				d[l], d[8+l] = s[2*l], s[2*l+1]
			}
		}
		copy(dst[n:], src[n:])
	}
	return out
}

// dotBF16PairsGo is dotBF16Pairs in Go: eight partial sums of the even
// weights and eight of the odd ones, added lane by lane.
func dotBF16PairsGo(a []float32, w []uint16) float32 {
	var e, o [8]float32
	n := len(w) &^ 15
	for b := 0; b < n; b += 16 {
		for l := 0; l < 8; l++ {
			e[l] += a[b+l] * FromBF16(w[b+2*l])
			o[l] += a[b+8+l] * FromBF16(w[b+2*l+1])
		}
	}
	var s [8]float32
	for l := range s {
		s[l] = e[l] + o[l]
	}
	t := ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
	for i := n; i < len(w); i++ {
		t += a[i] * FromBF16(w[i])
	}
	return t
}

// maxAbsGo is maxAbs in Go.
func maxAbsGo(x []float32) float32 {
	var mx float32
	for _, v := range x {
		if v != v {
			return v
		}
		if v < 0 {
			v = -v
		}
		if v > mx {
			mx = v
		}
	}
	return mx
}

// quantizeRowGo is quantizeRow in Go: x·inv, which inv keeps within ±127
// (with float32 rounding, below 127.5), rounded half away from zero.
func quantizeRowGo(x []float32, inv float32, sgn []int8, mag []uint8) {
	sgn, mag = sgn[:len(x)], mag[:len(x)]
	for l, v := range x {
		y := v * inv
		var r int8
		if y >= 0 {
			r = int8(y + 0.5)
		} else {
			r = int8(y - 0.5)
		}
		sgn[l] = r
		if r < 0 {
			r = -r
		}
		mag[l] = uint8(r)
	}
}

// qBlockFloats is how much of W is widened to float32 at a time for a
// product with many rows of A (4 MiB: each block is one packed GEMM, which
// packs A again, so blocks must be large).
const qBlockFloats = 1 << 20

var qBlocks = sync.Pool{New: func() any { return new([]float32) }}

// qLinearBlocks is QLinear for many rows of A, where the product is
// compute-bound: blocks of W are widened to float32 and multiplied by the
// packed GEMM (the widening is N·K work against its M·N·K).
func qLinearBlocks(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	bp := qBlocks.Get().(*[]float32)
	k := q.K
	if q.Kind == QInt8 {
		// The same arithmetic as with few rows: each row of A rounded to
		// its int8 grid (a copy: A is the caller's).
		act := quantizeRows(m, a, lda, k)
		ap := qBlocks.Get().(*[]float32)
		if cap(*ap) < m*k {
			*ap = make([]float32, m*k)
		}
		fa := (*ap)[:m*k]
		for i := 0; i < m; i++ {
			sa, sg := act.scale[i], act.sgn[i*k:(i+1)*k]
			row := fa[i*k : (i+1)*k]
			for l, v := range sg {
				row[l] = sa * float32(v)
			}
		}
		qActs.Put(act)
		defer qBlocks.Put(ap)
		a, lda = fa, k
	}
	rows := max(16, qBlockFloats/k)
	if cap(*bp) < rows*k {
		*bp = make([]float32, rows*k)
	}
	for j0 := 0; j0 < q.N; j0 += rows {
		nb := min(rows, q.N-j0)
		buf := (*bp)[:nb*k]
		for r := 0; r < nb; r++ {
			row := buf[r*k : (r+1)*k]
			if q.Kind == QInt8 {
				widenI8(row, q.I8[(j0+r)*k:(j0+r+1)*k], q.Scale[j0+r])
			} else {
				widenBF16(row, q.BF[(j0+r)*k:(j0+r+1)*k])
			}
		}
		Sgemm(false, true, m, nb, k, 1, a, lda, buf, k, beta, c[j0:], ldc)
	}
	qBlocks.Put(bp)
}

// Do computes one block of columns.
func (j *qJob) Do(part int) {
	q := j.q
	k := q.K
	j0 := part * j.perCol
	j1 := min(j0+j.perCol, q.N)
	var four [4]float32
	for col := j0; col < j1; col++ {
		scale := float32(1)
		if q.Kind == QInt8 {
			scale = q.Scale[col]
		}
		if act := j.act; act != nil {
			w := q.I8[col*k : (col+1)*k]
			for i := 0; i < j.m; i++ {
				d := dotQ8(act.mag[i*k:(i+1)*k], act.sgn[i*k:(i+1)*k], w)
				j.set(i, col, scale*act.scale[i]*float32(d))
			}
			continue
		}
		if j.pairs != nil {
			w := q.BF[col*k : (col+1)*k]
			for i := 0; i < j.m; i++ {
				j.set(i, col, dotBF16Pairs(j.pairs[i*k:(i+1)*k], w))
			}
			continue
		}
		if j.m < 4 {
			for i := 0; i < j.m; i++ {
				j.set(i, col, scale*qdot(q, col, j.a[i*j.lda:i*j.lda+k]))
			}
			continue
		}
		for i := 0; i < j.m; i += 4 {
			i0 := min(i, j.m-4)
			qdot4(q, col, j.a[i0*j.lda:], j.lda, &four)
			for r := i - i0; r < 4; r++ {
				j.set(i0+r, col, scale*four[r])
			}
		}
	}
}

func (j *qJob) set(i, col int, v float32) {
	p := &j.c[i*j.ldc+col]
	if j.beta == 0 {
		*p = v
	} else {
		*p = v + j.beta**p
	}
}

// qdot is the dot product of a with row col of W (unscaled for int8).
func qdot(q *QMatrix, col int, a []float32) float32 {
	k := q.K
	if q.Kind == QInt8 {
		return dotI8(a, q.I8[col*k:(col+1)*k])
	}
	return dotBF16(a, q.BF[col*k:(col+1)*k])
}

// qdot4 is qdot for four rows of a (lda apart).
func qdot4(q *QMatrix, col int, a []float32, lda int, out *[4]float32) {
	k := q.K
	if q.Kind == QInt8 {
		dot4I8(a, lda, q.I8[col*k:(col+1)*k], out)
		return
	}
	dot4BF16(a, lda, q.BF[col*k:(col+1)*k], out)
}

// The Go twins: eight interleaved partial sums per row, as the vector
// loops keep them.

func dotI8Go(a []float32, w []int8) float32 {
	var s [8]float32
	n := len(w) &^ 7
	for i := 0; i < n; i += 8 {
		for l := 0; l < 8; l++ {
			s[l] += a[i+l] * float32(w[i+l])
		}
	}
	t := ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
	for i := n; i < len(w); i++ {
		t += a[i] * float32(w[i])
	}
	return t
}

func dotBF16Go(a []float32, w []uint16) float32 {
	var s [8]float32
	n := len(w) &^ 7
	for i := 0; i < n; i += 8 {
		for l := 0; l < 8; l++ {
			s[l] += a[i+l] * FromBF16(w[i+l])
		}
	}
	t := ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
	for i := n; i < len(w); i++ {
		t += a[i] * FromBF16(w[i])
	}
	return t
}

func dot4I8Go(a []float32, lda int, w []int8, out *[4]float32) {
	for r := range out {
		out[r] = dotI8Go(a[r*lda:r*lda+len(w)], w)
	}
}

func dot4BF16Go(a []float32, lda int, w []uint16, out *[4]float32) {
	for r := range out {
		out[r] = dotBF16Go(a[r*lda:r*lda+len(w)], w)
	}
}

func widenI8Go(dst []float32, src []int8, scale float32) {
	for i, v := range src {
		dst[i] = scale * float32(v)
	}
}

func widenBF16Go(dst []float32, src []uint16) {
	for i, v := range src {
		dst[i] = FromBF16(v)
	}
}

// dotQ8Go is dotQ8's Go twin (exact: integers).
func dotQ8Go(mag []uint8, sgn []int8, w []int8) int32 {
	var s int32
	for i, v := range w {
		s += int32(sgn[i]) * int32(v)
	}
	_ = mag
	return s
}
