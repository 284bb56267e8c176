// Package dist is how goformer trains on several processes at once (data
// parallelism): a Comm is a group of ranks that can sum buffers over every
// rank (AllreduceSum) and copy one rank's buffer to all (Broadcast).
//
// Three implementations share the interface: Single (one process, every
// operation a no-op), NewLocal (ranks as goroutines of one process, for
// tests and for reasoning about the trainer without a cluster) and, in a
// binary built with `-tags mpi`, Open MPI (MPI). The default build has no
// cgo: FromEnvironment then refuses a launch by mpirun with a message that
// says how to build the binary that can take part.
//
// Every implementation gives every rank the same bits: a sum is computed
// once per element and copied to every rank (a reduce-scatter followed by
// an all-gather for MPI, the ring allreduce's pattern), so parameters
// updated from reduced gradients stay identical on every rank without
// being re-broadcast.
package dist

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Comm is a group of processes (ranks) taking part in the same collective
// operations, in the same order. Its methods block until every rank has
// called them; they are not safe for concurrent use (one goroutine at a
// time calls them: train's reducer serialises them).
type Comm interface {
	// Rank is this process's number, 0 … Size-1; rank 0 is the root
	// that writes files.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// AllreduceSum replaces buf, on every rank, by the elementwise sum of
	// every rank's buf (all of the same length), identical on every rank.
	AllreduceSum(buf []float32) error
	// AllreduceSum64 is AllreduceSum for float64 (losses, counts, flags).
	AllreduceSum64(buf []float64) error
	// Broadcast copies the root's buf into every rank's buf (same length).
	Broadcast(buf []float32, root int) error
	// BroadcastBytes is Broadcast for bytes.
	BroadcastBytes(buf []byte, root int) error
	// Abort stops every rank of the job, printing msg (a failed rank's
	// reason) first; it does not return for MPI. Use it when a rank cannot
	// go on, so that the others do not wait for it.
	Abort(msg string)
	// Close leaves the group (MPI_Finalize); after it no method may be called.
	Close() error
}

// single is the group of one process.
type single struct{}

// Single returns the group of this process alone: sums and broadcasts
// leave the buffers as they are.
func Single() Comm { return single{} }

func (single) Rank() int                        { return 0 }
func (single) Size() int                        { return 1 }
func (single) AllreduceSum([]float32) error     { return nil }
func (single) AllreduceSum64([]float64) error   { return nil }
func (single) Broadcast([]float32, int) error   { return nil }
func (single) BroadcastBytes([]byte, int) error { return nil }
func (single) Abort(msg string)                 { fmt.Fprintln(os.Stderr, msg); os.Exit(1) }
func (single) Close() error                     { return nil }

// LaunchedSize returns the number of ranks a launcher (Open MPI's mpirun,
// or another MPI's through PMI_SIZE) started this process among, and
// whether it was launched by one at all.
func LaunchedSize() (int, bool) {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"} {
		if s := os.Getenv(v); s != "" {
			n, err := strconv.Atoi(s)
			if err == nil && n > 0 {
				return n, true
			}
		}
	}
	return 0, false
}

// ErrNoMPI is returned (wrapped) by FromEnvironment in a binary built
// without MPI that mpirun launched.
var ErrNoMPI = errors.New("this goformer was built without MPI")

// FromEnvironment returns the group this process was launched in: MPI's
// world when mpirun started it (a binary built with -tags mpi), else
// Single. A binary without MPI that mpirun started among several ranks
// gets an error wrapping ErrNoMPI rather than N copies of the same
// single-process run.
func FromEnvironment() (Comm, error) {
	n, launched := LaunchedSize()
	if !launched {
		return Single(), nil
	}
	if !mpiBuilt {
		if n == 1 {
			return Single(), nil
		}
		return nil, fmt.Errorf("dist: launched by mpirun as one of %d ranks, but %w; build it with `go build -tags mpi ./cmd/goformer` (needs Open MPI's libopenmpi-dev and a C compiler)", n, ErrNoMPI)
	}
	return openMPI()
}

// BroadcastBlob copies the root's b (of any length) to every rank and
// returns it; the other ranks' b is ignored.
func BroadcastBlob(c Comm, b []byte, root int) ([]byte, error) {
	n := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	if c.Rank() == root {
		for i := range n {
			n[i] = byte(uint64(len(b)) >> (8 * i))
		}
	}
	if err := c.BroadcastBytes(n, root); err != nil {
		return nil, err
	}
	var size uint64
	for i := range n {
		size |= uint64(n[i]) << (8 * i)
	}
	if c.Rank() != root {
		b = make([]byte, size)
	}
	if err := c.BroadcastBytes(b, root); err != nil {
		return nil, err
	}
	return b, nil
}
