package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
//
// Between runs a helper spins for a short while (spinFor) before it sleeps:
// a training step is a stream of kernels a few hundred microseconds long,
// and waking a sleeping goroutine costs tens of microseconds.
type Pool struct {
	threads int
	busy    sync.Mutex // held by the Run that uses the helpers
	closed  atomic.Bool
	gen     atomic.Uint64 // incremented when a Run hands out work
	run     poolRun
	helpers []*poolHelper
}

type poolRun struct {
	job     Job
	parts   int64
	next    atomic.Int64
	pending atomic.Int32 // helpers still working on this run
}

type poolHelper struct {
	asleep atomic.Bool
	wake   chan struct{}
}

// spinFor is how long an idle helper polls for work before it sleeps.
const spinFor = 200 * time.Microsecond

// MaxThreads bounds a pool's threads: more spinning helpers than this only
// cost memory and scheduling.
const MaxThreads = 1024

// NewPool starts a pool that runs jobs on up to threads goroutines
// (threads < 1 means runtime.GOMAXPROCS(0); more than MaxThreads means
// MaxThreads).
func NewPool(threads int) *Pool {
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, MaxThreads)
	p := &Pool{threads: threads}
	for i := 1; i < threads; i++ {
		h := &poolHelper{wake: make(chan struct{}, 1)}
		p.helpers = append(p.helpers, h)
		go p.loop(h)
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
	if p.closed.Swap(true) {
		return
	}
	p.gen.Add(1)
	p.wakeAll()
}

func (p *Pool) wakeAll() {
	for _, h := range p.helpers {
		if h.asleep.Load() {
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
	}
}

// loop is a helper's life. It starts from generation 0, not from a load of
// gen: a Run may hand out work before the goroutine first runs.
func (p *Pool) loop(h *poolHelper) {
	var seen uint64
	for {
		seen = p.await(h, seen)
		if p.closed.Load() {
			return
		}
		r := &p.run
		r.drain()
		r.pending.Add(-1)
	}
}

// await returns once the generation differs from seen: spinning first, then
// asleep until Run or Close wakes the helper.
func (p *Pool) await(h *poolHelper, seen uint64) uint64 {
	start := time.Now()
	for i := 0; ; i++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if i%64 == 63 && time.Since(start) > spinFor {
			break
		}
		runtime.Gosched()
	}
	for {
		h.asleep.Store(true)
		if g := p.gen.Load(); g != seen { // a Run that saw us awake
			h.asleep.Store(false)
			select { // drop a wake-up that raced with the check
			case <-h.wake:
			default:
			}
			return g
		}
		<-h.wake
		h.asleep.Store(false)
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
	defer p.busy.Unlock()
	if p.closed.Load() {
		runSerial(parts, job)
		return
	}
	r := &p.run
	r.job, r.parts = job, int64(parts)
	r.next.Store(0)
	r.pending.Store(int32(len(p.helpers)))
	p.gen.Add(1)
	p.wakeAll()
	r.drain()
	for r.pending.Load() != 0 {
		runtime.Gosched()
	}
	r.job = nil
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
