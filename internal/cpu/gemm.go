package cpu

import (
	"fmt"
	"sync"
	"unsafe"
)

// microKernel computes one MR×NR tile of C from packed micro-panels of A
// (kc×MR, row index fastest) and B (kc×NR, column index fastest):
// C = alpha·A·B + beta·C, where C is read only when beta != 0 and ldc is the
// row stride of C in elements.
type microKernelFunc func(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// gemmImpl is one way of running GEMM: a micro-kernel, its tile shape and
// the cache blocking that suits it.
type gemmImpl struct {
	name string
	mr   int // tile rows (values of A broadcast per k step)
	nr   int // tile columns (values of B loaded per k step)
	kc   int // depth of a packed block
	nc   int // columns of B packed at once (a multiple of nr)
	fn   microKernelFunc

	mu   sync.Mutex
	free []*gemmScratch // scratch not in use; kept (unlike a sync.Pool) across GCs
}

type gemmScratch struct {
	a, b, tile []float32
}

// scratch returns packing buffers with room for na floats of packed A and
// nb of packed B. Buffers are reused (see release) and only grow, so that a steady
// stream of GEMMs, as in training, allocates nothing.
func (g *gemmImpl) scratch(na, nb int) *gemmScratch {
	var s *gemmScratch
	g.mu.Lock()
	if n := len(g.free); n > 0 {
		s = g.free[n-1]
		g.free = g.free[:n-1]
	}
	g.mu.Unlock()
	if s == nil {
		s = &gemmScratch{tile: make([]float32, g.mr*g.nr)}
	}
	if len(s.a) < na {
		s.a = make([]float32, na)
	}
	if len(s.b) < nb {
		s.b = make([]float32, nb)
	}
	return s
}

func (g *gemmImpl) release(s *gemmScratch) {
	g.mu.Lock()
	g.free = append(g.free, s)
	g.mu.Unlock()
}

// goImpl is the portable GEMM; asmImpls (per architecture) lists the
// assembly ones this CPU can run, best first.
var goImpl = &gemmImpl{name: "go", mr: 4, nr: 4, kc: 256, nc: 4096, fn: kernelGo4x4}

var gemmCur = bestImpl()

func bestImpl() *gemmImpl {
	if len(asmImpls) > 0 {
		return asmImpls[0]
	}
	return goImpl
}

// GemmImpls lists the GEMM implementations this CPU can run, best first;
// "go" (portable Go) is always last.
func GemmImpls() []string {
	var names []string
	for _, g := range asmImpls {
		names = append(names, g.name)
	}
	return append(names, goImpl.name)
}

// GemmImpl reports the GEMM implementation in use.
func GemmImpl() string { return gemmCur.name }

// SetGemmImpl selects a GEMM implementation by name (one of GemmImpls) and
// returns the previous one's name. It is meant for tests and benchmarks and
// must not be called while GEMMs are running.
func SetGemmImpl(name string) (string, error) {
	prev := gemmCur.name
	for _, g := range append(asmImpls[:len(asmImpls):len(asmImpls)], goImpl) {
		if g.name == name {
			gemmCur = g
			return prev, nil
		}
	}
	return prev, fmt.Errorf("cpu: GEMM implementation %q not available on this CPU (have %v)", name, GemmImpls())
}

// view is a matrix as a slice and two strides: element (i, j) is
// data[i*rs+j*cs].
type view struct {
	data   []float32
	rs, cs int
}

func (v view) t() view { return view{v.data, v.cs, v.rs} }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(A) is m×k and op(B) is k×n: op(X) is X, or Xᵀ when the
// matching trans flag is set. lda, ldb and ldc are the row strides (leading
// dimensions) of A, B and C as stored: A is m×k (k×m when transposed) with
// lda ≥ its width, and likewise for B and C. When beta is 0, C is not read
// (NaNs in it are overwritten). The work is spread over DefaultPool.
//
// Sgemm panics if a size is negative, a leading dimension is smaller than
// the width of its matrix, or a slice is too short: these are programming
// errors in the caller, which the tensor layer reports as errors first.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)
}

// SgemmStridedBatched computes batch independent products
// C_i = alpha·op(A_i)·op(B_i) + beta·C_i, where A_i starts at a[i*strideA],
// B_i at b[i*strideB] and C_i at c[i*strideC]; each is laid out as for
// Sgemm. This is the form attention uses for its heads. A stride of 0 shares
// one A or B among all products; C matrices must not overlap.
func SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC int, batch int) {
	sgemm(DefaultPool(), transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

// sgemmSerial is Sgemm on the calling goroutine only, for kernels that
// already run in parallel over larger pieces (attention tiles).
func sgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(nil, transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)
}

// sgemm runs a batched GEMM over pool, or serially when pool is nil.
func sgemm(pool *Pool, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC int, batch int) {
	if m < 0 || n < 0 || k < 0 || batch < 0 {
		panic(fmt.Sprintf("cpu.Sgemm: negative size m=%d n=%d k=%d batch=%d", m, n, k, batch))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("A", a, ar, ac, lda, strideA, batch)
	checkMatrix("B", b, br, bc, ldb, strideB, batch)
	checkMatrix("C", c, m, n, ldc, strideC, batch)
	if m == 0 || n == 0 || batch == 0 {
		return
	}
	if batch > 1 {
		// The C matrices must be disjoint: stacked one after another, or
		// interleaved side by side within the rows (heads in a
		// [T, heads·d] layout).
		stacked := strideC >= (m-1)*ldc+n
		sideBySide := strideC >= n && (batch-1)*strideC+n <= ldc
		if !stacked && !sideBySide {
			panic(fmt.Sprintf("cpu.Sgemm: C matrices overlap: %d of %d×%d with ldc=%d and strideC=%d", batch, m, n, ldc, strideC))
		}
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < batch; i++ {
			scaleMatrix(c[i*strideC:], m, n, ldc, beta)
		}
		return
	}

	if m <= dotRows && !transA && transB && batch == 1 {
		sgemmDot(pool, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	av := view{a, lda, 1}
	if transA {
		av = view{a, 1, lda}
	}
	bv := view{b, ldb, 1}
	if transB {
		bv = view{b, 1, ldb}
	}
	cv := view{c, ldc, 1}

	g := gemmCur
	j := getGemmJob()
	// Pick the orientation that wastes the least work on padded tiles:
	// C = A·B directly, or Cᵀ = Bᵀ·Aᵀ, which turns a narrow C (n < nr, as in
	// a projection to a small vocabulary) into a wide one.
	direct := padded(m, g.mr) * padded(n, g.nr)
	swapped := padded(n, g.mr) * padded(m, g.nr)
	if 20*swapped < 19*direct { // the transposed form stores through a tile copy: ask for 5% gain
		*j = gemmJob{g: g, m: n, n: m, k: k, alpha: alpha, beta: beta,
			a: bv.t(), b: av.t(), c: cv.t(), sa: strideB, sb: strideA, sc: strideC, batch: batch}
	} else {
		*j = gemmJob{g: g, m: m, n: n, k: k, alpha: alpha, beta: beta,
			a: av, b: bv, c: cv, sa: strideA, sb: strideB, sc: strideC, batch: batch}
	}
	if pool == nil {
		j.plan(1)
		runSerial(j.batch*j.rowParts*j.colParts, j)
	} else {
		j.plan(pool.Threads())
		pool.Run(j.batch*j.rowParts*j.colParts, j)
	}
	*j = gemmJob{}
	putGemmJob(j)
}

func padded(n, block int) int { return (n + block - 1) / block * block }

func checkMatrix(name string, x []float32, rows, cols, ld, stride, batch int) {
	if rows == 0 || cols == 0 || batch == 0 {
		return // an empty matrix is never read
	}
	if ld < cols {
		panic(fmt.Sprintf("cpu.Sgemm: leading dimension of %s is %d, less than its width %d", name, ld, cols))
	}
	if stride < 0 {
		panic(fmt.Sprintf("cpu.Sgemm: negative batch stride %d for %s", stride, name))
	}
	need := (batch-1)*stride + (rows-1)*ld + cols
	if len(x) < need {
		panic(fmt.Sprintf("cpu.Sgemm: %s has %d elements, needs %d for %d×%d with leading dimension %d (batch %d, stride %d)",
			name, len(x), need, rows, cols, ld, batch, stride))
	}
}

func scaleMatrix(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

var (
	gemmJobsMu sync.Mutex
	gemmJobs   []*gemmJob // free jobs, kept across GCs
)

func getGemmJob() *gemmJob {
	gemmJobsMu.Lock()
	defer gemmJobsMu.Unlock()
	if n := len(gemmJobs); n > 0 {
		j := gemmJobs[n-1]
		gemmJobs = gemmJobs[:n-1]
		return j
	}
	return new(gemmJob)
}

func putGemmJob(j *gemmJob) {
	gemmJobsMu.Lock()
	gemmJobs = append(gemmJobs, j)
	gemmJobsMu.Unlock()
}

// gemmJob is one (batched) GEMM split into parts for the pool: the batch
// times a grid of rowParts × colParts blocks of C, each a whole number of
// micro-tiles. Each part packs its own panels, so parts share nothing but
// the read-only inputs, and every element of C is summed in the same order
// however the work is split.
type gemmJob struct {
	g           *gemmImpl
	m, n, k     int
	alpha, beta float32
	a, b, c     view
	sa, sb, sc  int
	batch       int

	rowParts, colParts int
	rowsPer, colsPer   int // rows and columns of C per part
}

// minPartFlops is the least work worth handing to another thread.
const minPartFlops = 1 << 18

func (j *gemmJob) plan(threads int) {
	j.rowParts, j.colParts = 1, 1
	flops := 2 * j.m * j.n * j.k
	want := 1
	if threads > 1 && j.batch < threads*2 {
		want = min(threads, max(1, flops/minPartFlops))
	}
	tilesM := (j.m + j.g.mr - 1) / j.g.mr
	tilesN := (j.n + j.g.nr - 1) / j.g.nr
	if want > 1 {
		// Split the dimension with more tiles; each part packs all of the
		// other operand, so splitting rows costs repacking B and vice versa.
		if tilesM >= tilesN {
			j.rowParts = min(want, tilesM)
		} else {
			j.colParts = min(want, tilesN)
		}
	}
	j.rowsPer = (tilesM + j.rowParts - 1) / j.rowParts * j.g.mr
	j.colsPer = (tilesN + j.colParts - 1) / j.colParts * j.g.nr
	j.rowParts = (j.m + j.rowsPer - 1) / j.rowsPer
	j.colParts = (j.n + j.colsPer - 1) / j.colsPer
}

// Do computes one part: a block of C in one matrix of the batch.
func (j *gemmJob) Do(part int) {
	per := j.rowParts * j.colParts
	bi, p := part/per, part%per
	i0 := (p / j.colParts) * j.rowsPer
	j0 := (p % j.colParts) * j.colsPer
	a := view{j.a.data[bi*j.sa:], j.a.rs, j.a.cs}
	b := view{j.b.data[bi*j.sb:], j.b.rs, j.b.cs}
	c := view{j.c.data[bi*j.sc:], j.c.rs, j.c.cs}
	j1 := min(j0+j.colsPer, j.n)
	var s *gemmScratch
	if j.smallM() {
		s = j.g.scratch(padded(j.m, j.g.mr)*j.k, j.k*j.g.nr)
	} else {
		s = j.g.scratch(j.g.kc*j.g.mr, min(j.g.kc, j.k)*padded(min(j.g.nc, j1-j0), j.g.nr))
	}
	j.block(s, a, b, c, i0, min(i0+j.rowsPer, j.m), j0, j1)
	j.g.release(s)
}

// A product whose C has at most smallMPanels micro-panels of rows, and whose
// packed A is at most smallMFloats, takes the small-M path (see block).
const (
	smallMPanels = 8
	smallMFloats = 1 << 18
)

// smallM reports whether the product takes the small-M path. It depends on
// the whole product's shape only, never on how it is split over threads, so
// that results do not depend on the number of threads.
func (j *gemmJob) smallM() bool {
	return padded(j.m, j.g.mr) <= smallMPanels*j.g.mr && padded(j.m, j.g.mr)*j.k <= smallMFloats
}

// block computes rows [i0, i1) and columns [j0, j1) of C.
//
// The usual loop order is BLIS's: blocks of nc columns of B, blocks of kc of
// the depth (B's block packed once), micro-panels of mr rows of A (packed,
// kept in L1), then the micro-kernel along the block of B. nc is large (4096
// columns: up to 4 MiB packed, living in L3): measuring showed that packing A
// fewer times is worth more than keeping B's block in L2, since the kernel
// reads B's micro-panels sequentially and the prefetchers keep up.
//
// When C has few rows (a tall-skinny product, or a narrow C computed
// transposed), each micro-panel of B would be used only a few times per pack
// and C would be stored once per depth block. Then all rows of A are packed
// at once over the whole depth (they fit in L2), and B one micro-panel at a
// time, which every panel of A passes over in one kernel call each.
func (j *gemmJob) block(s *gemmScratch, a, b, c view, i0, i1, j0, j1 int) {
	g := j.g
	mr, nr := g.mr, g.nr
	if j.smallM() {
		j.blockSmallM(s, a, b, c, i0, i1, j0, j1)
		return
	}
	for jc := j0; jc < j1; jc += g.nc {
		nc := min(g.nc, j1-jc)
		panels := (nc + nr - 1) / nr
		for pc := 0; pc < j.k; pc += g.kc {
			kc := min(g.kc, j.k-pc)
			packB(s.b, b, pc, kc, jc, nc, nr)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			for ir := i0; ir < i1; ir += mr {
				rows := min(mr, i1-ir)
				packA(s.a, a, ir, rows, pc, kc, mr)
				for jp := 0; jp < panels; jp++ {
					jj := jc + jp*nr
					j.tile(s, s.a, s.b[jp*kc*nr:], c, kc, ir, rows, jj, min(nr, jc+nc-jj), beta)
				}
			}
		}
	}
}

func (j *gemmJob) blockSmallM(s *gemmScratch, a, b, c view, i0, i1, j0, j1 int) {
	mr, nr, k := j.g.mr, j.g.nr, j.k
	rowPanels := (i1 - i0 + mr - 1) / mr
	for q := 0; q < rowPanels; q++ {
		ir := i0 + q*mr
		packA(s.a[q*k*mr:], a, ir, min(mr, i1-ir), 0, k, mr)
	}
	for jj := j0; jj < j1; jj += nr {
		cols := min(nr, j1-jj)
		packB(s.b, b, 0, k, jj, cols, nr)
		for q := 0; q < rowPanels; q++ {
			ir := i0 + q*mr
			j.tile(s, s.a[q*k*mr:], s.b, c, k, ir, min(mr, i1-ir), jj, cols, j.beta)
		}
	}
}

// tile runs the micro-kernel for the tile of C at (ir, jj): straight into C
// when the tile is whole and C's rows are contiguous, else into scratch and
// then through storeTile.
func (j *gemmJob) tile(s *gemmScratch, ap, bp []float32, c view, kc, ir, rows, jj, cols int, beta float32) {
	g := j.g
	if rows == g.mr && cols == g.nr && c.cs == 1 {
		g.fn(kc, &ap[0], &bp[0], &c.data[ir*c.rs+jj], c.rs, j.alpha, beta)
		return
	}
	g.fn(kc, &ap[0], &bp[0], &s.tile[0], g.nr, 1, 0)
	storeTile(s.tile, g.nr, rows, cols, c, ir, jj, j.alpha, beta)
}

// storeTile writes C[i0+r][j0+q] = alpha·t[r][q] + beta·C[...] for the valid
// part of a tile computed into scratch.
func storeTile(t []float32, nr, rows, cols int, c view, i0, j0 int, alpha, beta float32) {
	if c.rs == 1 && c.cs != 1 {
		// C is transposed: walk down the tile's columns, which are
		// contiguous in C.
		for q := 0; q < cols; q++ {
			dst := c.data[i0+(j0+q)*c.cs : i0+(j0+q)*c.cs+rows]
			if beta == 0 {
				for r := range dst {
					dst[r] = alpha * t[r*nr+q]
				}
				continue
			}
			for r := range dst {
				dst[r] = alpha*t[r*nr+q] + beta*dst[r]
			}
		}
		return
	}
	for r := 0; r < rows; r++ {
		tr := t[r*nr : r*nr+cols]
		base := (i0+r)*c.rs + j0*c.cs
		if beta == 0 {
			for q, v := range tr {
				c.data[base+q*c.cs] = alpha * v
			}
			continue
		}
		for q, v := range tr {
			x := &c.data[base+q*c.cs]
			*x = alpha*v + beta**x
		}
	}
}

// packA packs rows [i, i+rows) and depth [p0, p0+kc) of a into dst as a
// micro-panel: dst[p*mr+r] = a(i+r, p0+p), rows past the end zero.
func packA(dst []float32, a view, i, rows, p0, kc, mr int) {
	dst = dst[:kc*mr]
	switch {
	case a.cs == 1 && rows == 14 && mr == 14:
		packARows14(dst, a.data, i*a.rs+p0, a.rs, kc)
	case a.cs == 1:
		for r := 0; r < rows; r++ {
			off := (i+r)*a.rs + p0
			src := a.data[off : off+kc]
			for p, v := range src {
				dst[p*mr+r] = v
			}
		}
	case a.rs == 1 && rows == 14 && mr == 14:
		// Fixed-size copies through a local: a direct *dst = *src between
		// two slices may overlap, so the compiler would call memmove for
		// every 56 bytes.
		for p := 0; p < kc; p++ {
			t := *(*[14]float32)(a.data[(p0+p)*a.cs+i:])
			*(*[14]float32)(dst[p*14:]) = t
		}
	case a.rs == 1:
		for p := 0; p < kc; p++ {
			off := (p0+p)*a.cs + i
			copy(dst[p*mr:p*mr+rows], a.data[off:off+rows])
		}
	default:
		for r := 0; r < rows; r++ {
			for p := 0; p < kc; p++ {
				dst[p*mr+r] = a.data[(i+r)*a.rs+(p0+p)*a.cs]
			}
		}
	}
	if rows < mr {
		for p := 0; p < kc; p++ {
			clear(dst[p*mr+rows : (p+1)*mr])
		}
	}
}

// packB packs depth [p0, p0+kc) and columns [j0, j0+nc) of b into
// micro-panels of nr columns: panel q holds dst[q*kc*nr + p*nr + c] =
// b(p0+p, j0+q*nr+c), columns past the end zero.
func packB(dst []float32, b view, p0, kc, j0, nc, nr int) {
	panels := (nc + nr - 1) / nr
	dst = dst[:panels*kc*nr]
	switch {
	case b.cs == 1:
		for p := 0; p < kc; p++ {
			off := (p0+p)*b.rs + j0
			row := b.data[off : off+nc]
			q := 0
			if nr == 32 { // whole panels as fixed-size copies through a local, without a call (see packA)
				for ; (q+1)*32 <= nc; q++ {
					t := *(*[32]float32)(row[q*32:])
					*(*[32]float32)(dst[q*kc*32+p*32:]) = t
				}
			}
			for ; q < panels; q++ {
				d := dst[q*kc*nr+p*nr : q*kc*nr+(p+1)*nr]
				n := copy(d, row[q*nr:])
				clear(d[n:])
			}
		}
		return
	case b.rs == 1:
		col := 0
		for ; col+8 <= nc; col += 8 {
			if col%nr+8 > nr {
				break // nr is not a multiple of 8
			}
			interleave8(dst[(col/nr)*kc*nr+col%nr:], nr, b.data, (j0+col)*b.cs+p0, b.cs, kc)
		}
		for ; col < nc; col++ {
			off := (j0+col)*b.cs + p0
			src := b.data[off : off+kc]
			d := dst[(col/nr)*kc*nr+col%nr:]
			for p, v := range src {
				d[p*nr] = v
			}
		}
	default:
		for col := 0; col < nc; col++ {
			d := dst[(col/nr)*kc*nr+col%nr:]
			for p := 0; p < kc; p++ {
				d[p*nr] = b.data[(p0+p)*b.rs+(j0+col)*b.cs]
			}
		}
	}
	if rem := nc % nr; rem != 0 {
		last := dst[(panels-1)*kc*nr:]
		for p := 0; p < kc; p++ {
			clear(last[p*nr+rem : (p+1)*nr])
		}
	}
}

// kernelGo4x4 is the portable micro-kernel: a 4×4 tile held in sixteen
// local accumulators.
func kernelGo4x4(kc int, a, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, kc*4)
	bs := unsafe.Slice(b, kc*4)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		ap := as[p*4 : p*4+4 : p*4+4]
		bp := bs[p*4 : p*4+4 : p*4+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	acc := [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
	for r := 0; r < 4; r++ {
		row := cs[r*ldc : r*ldc+4 : r*ldc+4]
		for q := 0; q < 4; q++ {
			if beta == 0 {
				row[q] = alpha * acc[r*4+q]
			} else {
				row[q] = alpha*acc[r*4+q] + beta*row[q]
			}
		}
	}
}
