package cpu

import "sync"

// Splitting the training step's light kernels (element-wise maps, row
// normalisations, dropout, the loss) over the pool: a step of a small
// model spends a third of its time in them, and run on one thread they
// leave the other cores idle. The jobs come from free lists, so a kernel
// split this way allocates nothing in steady state (a closure handed to
// the pool would escape to the heap at every call).

// spans splits [0, n) into parts spans whose bounds are multiples of
// align (except the end, n).
type spans struct{ n, parts, align int }

// newSpans chooses the parts for n elements: one per thread, none smaller
// than grain elements.
func newSpans(n, grain, align int) spans {
	units := (n + align - 1) / align
	parts := min(DefaultPool().Threads(), n/max(grain, 1), units)
	return spans{n: n, parts: max(parts, 1), align: align}
}

// at returns the bounds of span part.
func (s spans) at(part int) (lo, hi int) {
	units := (s.n + s.align - 1) / s.align
	lo = part * units / s.parts * s.align
	hi = min((part+1)*units/s.parts*s.align, s.n)
	return lo, hi
}

// run calls job.Do for each part, on the pool when there is more than one.
func (s spans) run(job Job) {
	if s.parts == 1 {
		job.Do(0)
		return
	}
	DefaultPool().Run(s.parts, job)
}

// jobs is a free list of job structs of type T.
type jobs[T any] struct{ p sync.Pool }

func (f *jobs[T]) get() *T {
	if v := f.p.Get(); v != nil {
		return v.(*T)
	}
	return new(T)
}

// put clears j (so the free list holds no slices alive) and returns it.
func (f *jobs[T]) put(j *T) {
	var zero T
	*j = zero
	f.p.Put(j)
}

// mapJob applies fn, a function of up to three equal-length slices
// (unused ones nil), span by span.
type mapJob struct {
	spans
	fn      func(a, b, c []float32)
	a, b, c []float32
}

func (j *mapJob) Do(part int) {
	lo, hi := j.at(part)
	j.fn(j.a[lo:hi], sub(j.b, lo, hi), sub(j.c, lo, hi))
}

func sub(x []float32, lo, hi int) []float32 {
	if x == nil {
		return nil
	}
	return x[lo:hi]
}

var mapJobs jobs[mapJob]

// parallelMap runs fn(a, b, c) over spans of len(a) elements on the
// kernels' threads when a is long enough to pay for them. fn must be
// element-wise (each output element depends on the same index only) and a
// top-level function, not a closure.
func parallelMap(fn func(a, b, c []float32), a, b, c []float32) {
	s := newSpans(len(a), elementwiseGrain, 16)
	if s.parts == 1 {
		fn(a, b, c)
		return
	}
	j := mapJobs.get()
	*j = mapJob{spans: s, fn: fn, a: a, b: b, c: c}
	s.run(j)
	mapJobs.put(j)
}

// rowsJob runs fn over spans of whole rows; the other fields carry the
// kernel's arguments.
type rowsJob struct {
	spans
	fn         func(j *rowsJob, r0, r1 int)
	cols       int
	f          [6][]float32
	eps        float32
	ids        []int32 // targets, for the loss
	ignore     int32
	losses     []float64
	scale      float32
	accumulate bool
}

func (j *rowsJob) Do(part int) {
	lo, hi := j.at(part)
	j.fn(j, lo, hi)
}

var rowsJobs jobs[rowsJob]

// runRows runs j.fn over spans of rows rows (j.cols values each) on the
// kernels' threads when there are enough values to pay for them, then
// returns j to the free list. j.fn must be a top-level function.
func (j *rowsJob) runRows(rows int) {
	parts := max(min(DefaultPool().Threads(), rows*j.cols/elementwiseGrain, rows), 1)
	j.spans = spans{n: rows, parts: parts, align: 1}
	j.run(j)
	rowsJobs.put(j)
}

// parallelRows runs fn over the rows with the arguments f and eps.
func parallelRows(rows, cols int, fn func(j *rowsJob, r0, r1 int), f [6][]float32, eps float32) {
	j := rowsJobs.get()
	*j = rowsJob{fn: fn, cols: cols, f: f, eps: eps}
	j.runRows(rows)
}

// FillRows copies row into each of the first rows rows of dst (rows of
// len(row) values), split over the kernels' threads: the bias a linear
// layer's product then adds to.
func FillRows(dst, row []float32, rows int) {
	checkLen("FillRows", rows*len(row), dst)
	parallelRows(rows, len(row), fillRows, [6][]float32{dst, row}, 0)
}

func fillRows(j *rowsJob, r0, r1 int) {
	dst, row := j.f[0], j.f[1]
	n := len(row)
	for r := r0; r < r1; r++ {
		copy(dst[r*n:(r+1)*n], row)
	}
}
