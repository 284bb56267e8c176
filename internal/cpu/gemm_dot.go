package cpu

import "sync"

// dotRows is the most rows of A for which a product with a transposed B
// (x·Wᵀ with W [n, k], every projection of a decoding step) is computed as
// dot products instead of through packed panels: with so few rows, packing
// W costs as much as the product itself, and a dot product reads W's rows
// where they are (eight rows sharing each load). Measured on GPT-2 124M
// decoding (AVX2): at 32 rows the dot products are 1.47× the packed GEMM,
// at 64 they are even, at 128 (beam search over 32 sentences) 10% slower.
// With AVX-512VL the dot products stay ahead up to 64 rows: measured with
// dot8x2 (two weight rows per load of eight rows, 256-bit; k = 384, Zen 4)
// at 64 rows 152 against 125 GFLOPS with W in cache, 147 against 73
// streaming W from memory, and at 96 the packed GEMM faster in cache.
// dot8x4 (four weight rows, two of dot8's eight-lane sums to a 512-bit
// register) has since replaced it: 235 GFLOPS at 64 rows on Zen 5.
var dotRows = 32

func init() {
	if hasDot8x2 {
		dotRows = 64
	}
}

// dotJob computes C = alpha·A·Bᵀ + beta·C as m·n dot products of length k,
// over column blocks of C.
type dotJob struct {
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	parts, colsPer int
}

var dotJobs = sync.Pool{New: func() any { return new(dotJob) }}

// sgemmDot is sgemm for !transA, transB and m ≤ dotRows, batch 1. Each
// element is one dot product whatever the split, so results do not depend
// on the number of threads.
func sgemmDot(pool *Pool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	j := dotJobs.Get().(*dotJob)
	*j = dotJob{m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, parts: 1, colsPer: n}
	if pool != nil && pool.Threads() > 1 {
		if want := min(pool.Threads(), 2*m*n*k/minPartFlops); want > 1 {
			j.colsPer = (n + want - 1) / want
			if m < 4 {
				j.colsPer = (j.colsPer + 7) &^ 7 // fewRows takes weight rows eight at a time
			} else {
				j.colsPer = (j.colsPer + 3) &^ 3 // dot8x4 takes them four at a time
			}
			j.parts = (n + j.colsPer - 1) / j.colsPer
		}
	}
	if j.parts == 1 {
		j.Do(0)
	} else {
		pool.Run(j.parts, j)
	}
	*j = dotJob{}
	dotJobs.Put(j)
}

// Do computes the columns of one part.
func (j *dotJob) Do(part int) {
	j0 := part * j.colsPer
	j1 := min(j0+j.colsPer, j.n)
	k := j.k
	var four [4]float32
	var eight [8]float32
	jj := j0
	if j.m >= dot8From && hasDot8x2 {
		j.blocksOf8(j0, j1)
		return
	}
	if j.m < 4 {
		j.fewRows(j0, j1)
		return
	}
	for ; jj < j1; jj++ {
		w := j.b[jj*j.ldb : jj*j.ldb+k]
		// Eight rows, then four (rowsFrom), share each load of w.
		i := 0
		for ; i+8 <= j.m; i += 8 {
			dot8(j.a[i*j.lda:], j.lda, w, &eight)
			for r := range 8 {
				j.set(i+r, jj, eight[r])
			}
		}
		j.rowsFrom(i, jj, &four)
	}
}

// fewRows computes columns [j0, j1) for fewer than four rows of A: eight
// weight rows at a time (the last eight taken together even when they
// overlap the group before, or copied beside zero rows when B has fewer
// than eight), each against every row of A while they are in cache.
func (j *dotJob) fewRows(j0, j1 int) {
	var eight [8]float32
	k, b, ldb, n := j.k, j.b, j.ldb, j.n
	if n < 8 {
		buf := fewRowsScratch.Get().(*[]float32)
		defer fewRowsScratch.Put(buf)
		b, ldb, n = eightRows(buf, b, ldb, n, k), k, 8
	}
	for jj := j0; jj < j1; jj += 8 {
		c0 := min(jj, n-8)
		w := b[c0*ldb:]
		for i := 0; i < j.m; i++ {
			dot1x8(j.a[i*j.lda:], w, ldb, k, &eight)
			for c := jj; c < min(jj+8, j1); c++ {
				j.set(i, c, eight[c-c0])
			}
		}
	}
}

var fewRowsScratch = sync.Pool{New: func() any { return new([]float32) }}

// eightRows copies n < 8 rows of k values (ld apart) from x into buf,
// followed by zero rows up to eight, and returns them (8×k).
func eightRows(buf *[]float32, x []float32, ld, n, k int) []float32 {
	if cap(*buf) < 8*k {
		*buf = make([]float32, 8*k)
	}
	p := (*buf)[:8*k]
	for r := range n {
		copy(p[r*k:(r+1)*k], x[r*ld:r*ld+k])
	}
	clear(p[n*k:])
	return p
}

// rowsFrom sets rows i.. of column jj (m ≥ 4), four at a time; the last
// four are taken together even when they overlap the group before (a
// row's dot product is the same in any group), and only the rows not yet
// set are stored.
func (j *dotJob) rowsFrom(i, jj int, four *[4]float32) {
	w := j.b[jj*j.ldb : jj*j.ldb+j.k]
	for ; i < j.m; i += 4 {
		i0 := min(i, j.m-4)
		dot4(j.a[i0*j.lda:], j.lda, w, four)
		for r := i - i0; r < 4; r++ {
			j.set(i0+r, jj, four[r])
		}
	}
}

// dot8From is the fewest rows of A that blocksOf8 takes (fewer than eight
// are copied beside zero rows).
const dot8From = 4

// blocksOf8 computes columns [j0, j1) with AVX-512 (dot8x4, dot8x2, dot8):
// blocks of eight rows of A against four weight rows at a time, then two,
// then one. When the rows are not a multiple of eight, the last block
// overlaps the one before it; fewer than eight rows in all are copied
// beside zero rows. A row's sums are the same in any block (each formed as
// dot8 forms it), so a batch computes each row as it would alone; only the
// rows a block adds are stored.
func (j *dotJob) blocksOf8(j0, j1 int) {
	a, lda, m, k := j.a, j.lda, j.m, j.k
	if m < 8 {
		buf := fewRowsScratch.Get().(*[]float32)
		defer fewRowsScratch.Put(buf)
		a, lda = eightRows(buf, a, lda, m, k), k
	}
	last := max(m, 8) - 8 // the last block's first row
	var out [32]float32
	var acc [256]float32
	for jj := j0; jj < j1; {
		cols := 4 // weight rows at a time: four, then two, then one
		if j1-jj < 4 {
			cols = min(2, j1-jj)
		}
		w := j.b[jj*j.ldb:]
		for i := 0; i < m; i += 8 {
			i0 := min(i, last)
			switch cols {
			case 4:
				dot8x4(a[i0*lda:], lda, w, j.ldb, k, &acc, &out)
			case 2:
				dot8x2(a[i0*lda:], lda, w, j.ldb, k, (*[16]float32)(out[:16]))
			default:
				dot8(a[i0*lda:], lda, w[:k], (*[8]float32)(out[:8]))
			}
			j.store8(i0, i, min(i0+8, m), jj, cols, &out)
		}
		jj += cols
	}
}

// store8 stores rows [from, to) of a block of eight rows from row i0, in
// columns jj..jj+cols-1 (v[c*8+r] for row i0+r, column jj+c), as set does,
// a row at a time.
func (j *dotJob) store8(i0, from, to, jj, cols int, v *[32]float32) {
	alpha, beta := j.alpha, j.beta
	for r := from - i0; r < to-i0; r++ {
		row := j.c[(i0+r)*j.ldc+jj:][:cols:cols]
		if beta == 0 {
			for c := range row {
				row[c] = alpha * v[c*8+r]
			}
			continue
		}
		for c := range row {
			row[c] = alpha*v[c*8+r] + beta*row[c]
		}
	}
}

// set stores alpha·v + beta·C into C[i][jj] (C not read when beta is 0).
func (j *dotJob) set(i, jj int, v float32) {
	p := &j.c[i*j.ldc+jj]
	if j.beta == 0 {
		*p = j.alpha * v
	} else {
		*p = j.alpha*v + j.beta**p
	}
}
