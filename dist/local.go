package dist

import (
	"errors"
	"fmt"
	"sync"
)

// NewLocal returns a group of n ranks that live in this process, one Comm
// per rank, each to be used by its own goroutine: what the tests use to
// train "on n machines" without MPI. Sums add the ranks' buffers in rank
// order. Abort makes every rank's pending and later calls fail with msg
// instead of ending the process.
func NewLocal(n int) []Comm {
	g := &localGroup{n: n, f32: make([][]float32, n), f64: make([][]float64, n), b: make([][]byte, n)}
	g.cond = sync.NewCond(&g.mu)
	out := make([]Comm, n)
	for r := range out {
		out[r] = &localComm{g: g, rank: r}
	}
	return out
}

type localGroup struct {
	mu      sync.Mutex
	cond    *sync.Cond
	n       int
	gen     int // operations completed
	arrived int // ranks waiting in the current operation
	// each rank's buffer in the current operation, by type
	f32   [][]float32
	f64   [][]float64
	b     [][]byte
	sum32 []float32 // reused sums
	sum64 []float64
	root  int
	kind  string
	err   error // set by Abort or a mismatch: every later call fails
}

type localComm struct {
	g    *localGroup
	rank int
}

func (c *localComm) Rank() int { return c.rank }
func (c *localComm) Size() int { return c.g.n }

func (c *localComm) AllreduceSum(buf []float32) error {
	return c.do("allreduce", 0, func(g *localGroup) { g.f32[c.rank] = buf })
}

func (c *localComm) AllreduceSum64(buf []float64) error {
	return c.do("allreduce64", 0, func(g *localGroup) { g.f64[c.rank] = buf })
}

func (c *localComm) Broadcast(buf []float32, root int) error {
	return c.do("broadcast", root, func(g *localGroup) { g.f32[c.rank] = buf })
}

func (c *localComm) BroadcastBytes(buf []byte, root int) error {
	return c.do("broadcast-bytes", root, func(g *localGroup) { g.b[c.rank] = buf })
}

// Abort fails every rank's pending and later calls with msg.
func (c *localComm) Abort(msg string) {
	g := c.g
	g.mu.Lock()
	if g.err == nil {
		g.err = fmt.Errorf("dist: rank %d aborted the group: %s", c.rank, msg)
	}
	g.cond.Broadcast()
	g.mu.Unlock()
}

func (c *localComm) Close() error { return nil }

// ErrMismatch is the error of ranks that called different operations, or
// the same one on buffers of different lengths, at the same point.
var ErrMismatch = errors.New("dist: ranks disagree on the collective operation")

func (c *localComm) do(kind string, root int, set func(*localGroup)) error {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	if root < 0 || root >= g.n {
		return fmt.Errorf("dist: %s: root %d of a group of %d", kind, root, g.n)
	}
	if g.arrived == 0 {
		g.kind, g.root = kind, root
	} else if g.kind != kind || g.root != root {
		g.err = fmt.Errorf("%w: rank %d called %s (root %d) while others called %s (root %d)", ErrMismatch, c.rank, kind, root, g.kind, g.root)
		g.cond.Broadcast()
		return g.err
	}
	set(g)
	g.arrived++
	gen := g.gen
	if g.arrived == g.n {
		if err := g.combine(); err != nil {
			g.err = err
			g.cond.Broadcast()
			return err
		}
		g.arrived = 0
		clear(g.f32)
		clear(g.f64)
		clear(g.b)
		g.gen++
		g.cond.Broadcast()
		return nil
	}
	for g.gen == gen && g.err == nil {
		g.cond.Wait()
	}
	if g.gen == gen {
		return g.err
	}
	return nil
}

// combine does the current operation on every rank's buffer (the lock held).
func (g *localGroup) combine() error {
	switch g.kind {
	case "allreduce":
		return reduceInto(g, g.f32, &g.sum32)
	case "allreduce64":
		return reduceInto(g, g.f64, &g.sum64)
	case "broadcast":
		return broadcastFrom(g, g.f32)
	default:
		return broadcastFrom(g, g.b)
	}
}

func sameLengths[T any](g *localGroup, bufs [][]T) error {
	for r, b := range bufs {
		if len(b) != len(bufs[0]) {
			return fmt.Errorf("%w: %s of %d elements on rank 0, %d on rank %d", ErrMismatch, g.kind, len(bufs[0]), len(b), r)
		}
	}
	return nil
}

// reduceInto adds the ranks' buffers in rank order and gives every rank
// the sums.
func reduceInto[T float32 | float64](g *localGroup, bufs [][]T, scratch *[]T) error {
	if err := sameLengths(g, bufs); err != nil {
		return err
	}
	n := len(bufs[0])
	if cap(*scratch) < n {
		*scratch = make([]T, n)
	}
	sum := (*scratch)[:n]
	clear(sum)
	for _, b := range bufs {
		for i, v := range b {
			sum[i] += v
		}
	}
	for _, b := range bufs {
		copy(b, sum)
	}
	return nil
}

func broadcastFrom[T any](g *localGroup, bufs [][]T) error {
	if err := sameLengths(g, bufs); err != nil {
		return err
	}
	for r, b := range bufs {
		if r != g.root {
			copy(b, bufs[g.root])
		}
	}
	return nil
}
