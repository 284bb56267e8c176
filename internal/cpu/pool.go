package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// A Job is work split into independent parts, numbered 0..n-1, that may run
// in any order and on any goroutine. Do must be safe to call concurrently for
// different parts. Passing a pointer to a struct that implements Job lets a
// caller hand work to the pool without allocating.
type Job interface {
	Do(part int)
}

// Pool is a fixed set of worker goroutines that run the parts of a Job. The
// goroutine that calls Run works too, so a pool of n threads has n-1 helpers.
// Runs from different goroutines are safe: while one Run holds the helpers,
// another runs its parts on its own goroutine, which also makes a Run nested
// inside a Job's part safe.
type Pool struct {
	threads int
	busy    sync.Mutex // held by the Run that uses the helpers
	closed  bool       // guarded by busy
	work    chan *poolRun
	run     poolRun
}

type poolRun struct {
	job   Job
	parts int64
	next  atomic.Int64
	done  sync.WaitGroup
}

// NewPool starts a pool that runs jobs on up to threads goroutines
// (threads < 1 means runtime.GOMAXPROCS(0)).
func NewPool(threads int) *Pool {
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, work: make(chan *poolRun, threads)}
	for i := 1; i < threads; i++ {
		go p.helper()
	}
	return p
}

// Threads reports how many goroutines the pool runs jobs on.
func (p *Pool) Threads() int { return p.threads }

// Close stops the pool's helpers once the Run in flight, if any, has
// finished. Runs after Close do their parts on the calling goroutine.
func (p *Pool) Close() {
	p.busy.Lock()
	defer p.busy.Unlock()
	if !p.closed {
		p.closed = true
		close(p.work)
	}
}

func (p *Pool) helper() {
	for r := range p.work {
		r.drain()
		r.done.Done()
	}
}

func (r *poolRun) drain() {
	for {
		i := r.next.Add(1) - 1
		if i >= r.parts {
			return
		}
		r.job.Do(int(i))
	}
}

// Run calls job.Do(i) for every i in [0, parts) and returns when all are done.
func (p *Pool) Run(parts int, job Job) {
	if parts <= 0 {
		return
	}
	if parts == 1 || p.threads == 1 || !p.busy.TryLock() {
		runSerial(parts, job)
		return
	}
	if p.closed {
		p.busy.Unlock()
		runSerial(parts, job)
		return
	}
	r := &p.run
	r.job, r.parts = job, int64(parts)
	r.next.Store(0)
	helpers := min(p.threads-1, parts-1)
	r.done.Add(helpers)
	for i := 0; i < helpers; i++ {
		p.work <- r
	}
	r.drain()
	r.done.Wait()
	r.job = nil
	p.busy.Unlock()
}

func runSerial(parts int, job Job) {
	for i := 0; i < parts; i++ {
		job.Do(i)
	}
}

var (
	poolMu      sync.Mutex
	defaultPool atomic.Pointer[Pool]
)

// DefaultPool returns the pool the kernels use, starting it on first use with
// runtime.GOMAXPROCS(0) threads.
func DefaultPool() *Pool {
	if p := defaultPool.Load(); p != nil {
		return p
	}
	poolMu.Lock()
	defer poolMu.Unlock()
	if p := defaultPool.Load(); p != nil {
		return p
	}
	p := NewPool(0)
	defaultPool.Store(p)
	return p
}

// SetThreads replaces the kernels' pool with one of n threads (n < 1 means
// runtime.GOMAXPROCS(0)). The old pool's helpers stop once its Run in
// flight, if any, has finished.
func SetThreads(n int) {
	poolMu.Lock()
	defer poolMu.Unlock()
	if old := defaultPool.Swap(NewPool(n)); old != nil {
		old.Close()
	}
}

// Threads reports how many threads the kernels' pool uses.
func Threads() int { return DefaultPool().Threads() }
