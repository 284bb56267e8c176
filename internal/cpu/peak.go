package cpu

import (
	"sync"
	"time"
)

// PeakGFLOPS measures this CPU's float32 FMA ceiling: every thread of the
// default pool runs chains of independent fused multiply-adds on
// registers (no memory traffic) for about d; an FMA counts two FLOPs. It
// is the number the kernels' GFLOPS are fractions of.
func PeakGFLOPS(d time.Duration) float64 {
	const iters = 1 << 16
	pool := DefaultPool()
	var mu sync.Mutex
	total := 0.0
	start := time.Now()
	rounds := 0
	for time.Since(start) < d || rounds == 0 {
		pool.Run(pool.Threads(), jobFunc(func(int) {
			flops := fmaChains(iters)
			mu.Lock()
			total += flops
			mu.Unlock()
		}))
		rounds++
	}
	return total / time.Since(start).Seconds() / 1e9
}

// StreamGBps measures the read bandwidth of memory: every thread of the
// default pool sums its share of a buffer of the given bytes (far larger
// than the caches), repeatedly, for about d.
func StreamGBps(bytes int, d time.Duration) float64 {
	buf := make([]float32, bytes/4)
	for i := range buf {
		buf[i] = 1
	}
	pool := DefaultPool()
	parts := pool.Threads()
	per := (len(buf) + parts - 1) / parts
	read := 0
	var sink float32
	var mu sync.Mutex
	pass := func() {
		pool.Run(parts, jobFunc(func(p int) {
			lo, hi := p*per, min((p+1)*per, len(buf))
			s := dot(buf[lo:hi], buf[lo:hi]) // one stream: the second load hits L1
			mu.Lock()
			sink += s
			mu.Unlock()
		}))
	}
	pass() // fault the pages in
	start := time.Now()
	for time.Since(start) < d || read == 0 {
		pass()
		read += 4 * len(buf)
	}
	if sink == -1 {
		println(sink)
	}
	return float64(read) / time.Since(start).Seconds() / 1e9
}

// jobFunc adapts a function to Job.
type jobFunc func(part int)

func (f jobFunc) Do(part int) { f(part) }

var fmaSink float32

// fmaChainsGo is the portable loop: eight independent scalar chains.
func fmaChainsGo(iters int) float64 {
	var a [8]float32
	for i := range a {
		a[i] = float32(i)
	}
	const x, y = 0.999, 1e-3
	for range iters {
		for l := range a {
			a[l] = a[l]*x + y
		}
	}
	fmaSink = a[0] + a[7]
	return float64(iters) * 8 * 2
}
