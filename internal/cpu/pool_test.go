package cpu

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countJob struct {
	hits []atomic.Int32
	pool *Pool
	nest bool
}

func (j *countJob) Do(i int) {
	j.hits[i].Add(1)
	if j.nest { // a Run inside a part must not deadlock
		inner := &countJob{hits: make([]atomic.Int32, 3)}
		j.pool.Run(3, inner)
		for k := range inner.hits {
			if inner.hits[k].Load() != 1 {
				panic("nested run missed a part")
			}
		}
	}
}

func TestPoolRunsEveryPartOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		p := NewPool(threads)
		for _, parts := range []int{0, 1, 2, 7, 100} {
			for _, nest := range []bool{false, true} {
				j := &countJob{hits: make([]atomic.Int32, parts), pool: p, nest: nest}
				p.Run(parts, j)
				for i := range j.hits {
					if n := j.hits[i].Load(); n != 1 {
						t.Fatalf("threads=%d parts=%d nest=%v: part %d ran %d times", threads, parts, nest, i, n)
					}
				}
			}
		}
		// After the helpers have gone to sleep, a Run must wake them.
		time.Sleep(2 * spinFor)
		j := &countJob{hits: make([]atomic.Int32, 50)}
		p.Run(50, j)
		for i := range j.hits {
			if j.hits[i].Load() != 1 {
				t.Fatalf("after sleep: part %d ran %d times", i, j.hits[i].Load())
			}
		}
		p.Close()
		p.Close()
		j = &countJob{hits: make([]atomic.Int32, 5)}
		p.Run(5, j) // after Close: runs on the caller
		for i := range j.hits {
			if j.hits[i].Load() != 1 {
				t.Fatalf("after Close: part %d ran %d times", i, j.hits[i].Load())
			}
		}
	}
}

func TestPoolConcurrentRuns(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 200; r++ {
				j := &countJob{hits: make([]atomic.Int32, 9)}
				p.Run(9, j)
				for i := range j.hits {
					if j.hits[i].Load() != 1 {
						t.Errorf("part %d ran %d times", i, j.hits[i].Load())
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
