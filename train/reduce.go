package train

import (
	"fmt"
	"time"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/dist"
)

// reducer sums the gradients of every rank, PyTorch DDP's way: the
// parameters are cut into buckets of about BucketBytes, in reverse order
// (the order in which the backward pass finishes their gradients); as the
// last micro-batch's backward pass completes every gradient of a bucket,
// the bucket is copied into a flat buffer and handed to the communication
// goroutine, which sums it over the ranks and copies the sums back while
// the backward pass goes on. Buckets go out in the same order on every
// rank (a bucket waits for the one before it), so the collective calls
// always pair up.
//
// Every collective goes through the one goroutine, in order; the trainer
// waits for each with a timeout, so that a rank that died or hangs stops
// the others with an error instead of a hang.
//
// A step allocates nothing: each bucket's job, and the job that sums the
// step's scalars, are made once.
type reducer struct {
	comm    dist.Comm
	timeout time.Duration
	buckets []*bucket
	of      map[*autograd.Var]int // parameter → its bucket
	next    int                   // the next bucket to launch
	jobs    chan *job
	// scalars are a step's loss sum, tokens, stop and last flags, summed
	// over the ranks by sumScalars.
	scalars    [4]float64
	sumScalars *job
	timer      *time.Timer
	onReady    func(*autograd.Var) // ready, as a method value made once
}

type bucket struct {
	params  []*autograd.Var
	buf     []float32
	missing int  // parameters not yet ready this step
	job     *job // sums buf over the ranks and copies it back
}

type job struct {
	what string
	fn   func() error
	done chan error
}

func newReducer(comm dist.Comm, params []*autograd.Var, bucketBytes int, timeout time.Duration) *reducer {
	r := &reducer{comm: comm, timeout: timeout, of: map[*autograd.Var]int{}, jobs: make(chan *job, 64)}
	limit := bucketBytes / 4
	var b *bucket
	for i := len(params) - 1; i >= 0; i-- {
		p := params[i]
		if b == nil || bucketBytes > 0 && len(b.buf) > 0 && len(b.buf)+p.Value.Len() > limit {
			b = &bucket{}
			r.buckets = append(r.buckets, b)
		}
		b.params = append(b.params, p)
		b.buf = append(b.buf, make([]float32, p.Value.Len())...)
		r.of[p] = len(r.buckets) - 1
	}
	for k, b := range r.buckets {
		b.job = newJob(fmt.Sprintf("summing gradient bucket %d of %d (%.1f MB)", k+1, len(r.buckets), float64(4*len(b.buf))/1e6), func() error {
			if err := r.comm.AllreduceSum(b.buf); err != nil {
				return err
			}
			off := 0
			for _, p := range b.params {
				off += copy(p.Grad.Data(), b.buf[off:])
			}
			return nil
		})
	}
	r.onReady = r.ready
	r.sumScalars = newJob("summing the losses", func() error { return r.comm.AllreduceSum64(r.scalars[:]) })
	go func() {
		for j := range r.jobs {
			j.done <- j.fn()
		}
	}()
	return r
}

// close stops the communication goroutine (after its pending jobs).
func (r *reducer) close() { close(r.jobs) }

func newJob(what string, fn func() error) *job {
	return &job{what: what, fn: fn, done: make(chan error, 1)}
}

// wait waits for j, at most timeout (on the trainer's goroutine: the
// timer is the reducer's, reset for each wait).
func (r *reducer) wait(j *job, timeout time.Duration) error {
	if r.timer == nil {
		r.timer = time.NewTimer(timeout)
	} else {
		r.timer.Reset(timeout)
	}
	t := r.timer
	defer t.Stop()
	select {
	case err := <-j.done:
		if err != nil {
			return fmt.Errorf("%s: %w", j.what, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s: no answer from the other ranks in %v (one has failed or hangs; rank %d of %d is giving up)",
			j.what, timeout, r.comm.Rank(), r.comm.Size())
	}
}

// collective runs fn on the communication goroutine and waits for it.
func (r *reducer) collective(what string, timeout time.Duration, fn func() error) error {
	return r.run(newJob(what, fn), timeout)
}

// run queues j on the communication goroutine and waits for it.
func (r *reducer) run(j *job, timeout time.Duration) error {
	r.jobs <- j
	return r.wait(j, timeout)
}

// start prepares a step's last backward pass.
func (r *reducer) start() {
	for _, b := range r.buckets {
		b.missing = len(b.params)
	}
	r.next = 0
}

// ready is the backward pass's OnParamReady: it launches the buckets it
// completes, in order.
func (r *reducer) ready(p *autograd.Var) {
	i, ok := r.of[p]
	if !ok {
		return
	}
	r.buckets[i].missing--
	for r.next < len(r.buckets) && r.buckets[r.next].missing == 0 {
		r.launch()
	}
}

// launch hands the next bucket to the communication goroutine.
func (r *reducer) launch() {
	b := r.buckets[r.next]
	r.next++
	off := 0
	for _, p := range b.params {
		off += copy(b.buf[off:], p.Grad.Data())
	}
	r.jobs <- b.job
}

// finish launches the buckets not launched yet (parameters the backward
// pass did not reach) and waits for every bucket.
func (r *reducer) finish() error {
	for r.next < len(r.buckets) {
		r.launch()
	}
	for _, b := range r.buckets {
		if err := r.wait(b.job, r.timeout); err != nil {
			return err
		}
	}
	return nil
}
