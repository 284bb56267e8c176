//go:build mpi

package dist

/*
#cgo pkg-config: ompi-c
#include <mpi.h>

static int gf_init(int *provided) {
	return MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
}
static int gf_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int gf_size(int *s) { return MPI_Comm_size(MPI_COMM_WORLD, s); }
static int gf_reduce_scatter_f32(float *buf, float *part, int per) {
	return MPI_Reduce_scatter_block(buf, part, per, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static int gf_allgather_f32(float *part, float *buf, int per) {
	return MPI_Allgather(part, per, MPI_FLOAT, buf, per, MPI_FLOAT, MPI_COMM_WORLD);
}
static int gf_reduce_scatter_f64(double *buf, double *part, int per) {
	return MPI_Reduce_scatter_block(buf, part, per, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
static int gf_allgather_f64(double *part, double *buf, int per) {
	return MPI_Allgather(part, per, MPI_DOUBLE, buf, per, MPI_DOUBLE, MPI_COMM_WORLD);
}
static int gf_bcast_f32(float *buf, int n, int root) { return MPI_Bcast(buf, n, MPI_FLOAT, root, MPI_COMM_WORLD); }
static int gf_bcast_bytes(void *buf, int n, int root) { return MPI_Bcast(buf, n, MPI_BYTE, root, MPI_COMM_WORLD); }
static void gf_abort(void) { MPI_Abort(MPI_COMM_WORLD, 1); }
static int gf_finalize(void) { return MPI_Finalize(); }
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"sync"
	"unsafe"
)

const mpiBuilt = true

// mpiComm is MPI_COMM_WORLD. Its calls are serialised by mu (MPI was
// initialised for MPI_THREAD_SERIALIZED: any goroutine may call, one at a
// time).
type mpiComm struct {
	mu         sync.Mutex
	rank, size int
	pad32      []float32 // a sum's buffer padded to a multiple of size
	part32     []float32 // this rank's share of a sum
	pad64      []float64
	part64     []float64
	closed     bool
}

var (
	mpiOnce  sync.Once
	mpiWorld *mpiComm
	mpiErr   error
)

// openMPI initialises MPI (once per process) and returns its world.
func openMPI() (Comm, error) {
	mpiOnce.Do(func() {
		var provided C.int
		if rc := C.gf_init(&provided); rc != C.MPI_SUCCESS {
			mpiErr = fmt.Errorf("dist: MPI_Init_thread failed (code %d)", int(rc))
			return
		}
		if provided < C.MPI_THREAD_SERIALIZED {
			mpiErr = fmt.Errorf("dist: this MPI gives thread level %d, goformer needs MPI_THREAD_SERIALIZED", int(provided))
			return
		}
		var r, s C.int
		C.gf_rank(&r)
		C.gf_size(&s)
		mpiWorld = &mpiComm{rank: int(r), size: int(s)}
	})
	if mpiErr != nil {
		return nil, mpiErr
	}
	return mpiWorld, nil
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

func check(op string, rc C.int) error {
	if rc != C.MPI_SUCCESS {
		return fmt.Errorf("dist: %s failed (MPI error %d)", op, int(rc))
	}
	return nil
}

func tooLong(op string, n int) error {
	if n > math.MaxInt32 {
		return fmt.Errorf("dist: %s of %d elements: more than MPI's int count allows", op, n)
	}
	return nil
}

// AllreduceSum sums by a reduce-scatter (each rank adds up one share of
// the elements) and an all-gather (every rank receives every share), so the
// bits are the same on every rank.
func (c *mpiComm) AllreduceSum(buf []float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(buf) == 0 || c.size == 1 {
		return nil
	}
	per := (len(buf) + c.size - 1) / c.size
	if err := tooLong("AllreduceSum", per*c.size); err != nil {
		return err
	}
	full := buf
	if per*c.size != len(buf) {
		if cap(c.pad32) < per*c.size {
			c.pad32 = make([]float32, per*c.size)
		}
		full = c.pad32[:per*c.size]
		copy(full, buf)
		clear(full[len(buf):])
	}
	if cap(c.part32) < per {
		c.part32 = make([]float32, per)
	}
	part := c.part32[:per]
	if err := check("MPI_Reduce_scatter_block", C.gf_reduce_scatter_f32((*C.float)(unsafe.Pointer(&full[0])), (*C.float)(unsafe.Pointer(&part[0])), C.int(per))); err != nil {
		return err
	}
	if err := check("MPI_Allgather", C.gf_allgather_f32((*C.float)(unsafe.Pointer(&part[0])), (*C.float)(unsafe.Pointer(&full[0])), C.int(per))); err != nil {
		return err
	}
	if &full[0] != &buf[0] {
		copy(buf, full)
	}
	return nil
}

// AllreduceSum64 is AllreduceSum for float64.
func (c *mpiComm) AllreduceSum64(buf []float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(buf) == 0 || c.size == 1 {
		return nil
	}
	per := (len(buf) + c.size - 1) / c.size
	if err := tooLong("AllreduceSum64", per*c.size); err != nil {
		return err
	}
	if cap(c.pad64) < per*c.size {
		c.pad64 = make([]float64, per*c.size)
	}
	full := c.pad64[:per*c.size]
	copy(full, buf)
	clear(full[len(buf):])
	if cap(c.part64) < per {
		c.part64 = make([]float64, per)
	}
	part := c.part64[:per]
	if err := check("MPI_Reduce_scatter_block", C.gf_reduce_scatter_f64((*C.double)(unsafe.Pointer(&full[0])), (*C.double)(unsafe.Pointer(&part[0])), C.int(per))); err != nil {
		return err
	}
	if err := check("MPI_Allgather", C.gf_allgather_f64((*C.double)(unsafe.Pointer(&part[0])), (*C.double)(unsafe.Pointer(&full[0])), C.int(per))); err != nil {
		return err
	}
	copy(buf, full)
	return nil
}

// Broadcast copies the root's buf to every rank.
func (c *mpiComm) Broadcast(buf []float32, root int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(buf) == 0 || c.size == 1 {
		return nil
	}
	if err := tooLong("Broadcast", len(buf)); err != nil {
		return err
	}
	return check("MPI_Bcast", C.gf_bcast_f32((*C.float)(unsafe.Pointer(&buf[0])), C.int(len(buf)), C.int(root)))
}

// BroadcastBytes copies the root's bytes to every rank.
func (c *mpiComm) BroadcastBytes(buf []byte, root int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(buf) == 0 || c.size == 1 {
		return nil
	}
	if err := tooLong("BroadcastBytes", len(buf)); err != nil {
		return err
	}
	return check("MPI_Bcast", C.gf_bcast_bytes(unsafe.Pointer(&buf[0]), C.int(len(buf)), C.int(root)))
}

// Abort prints msg and ends every rank of the job (MPI_Abort). It does not
// wait for a call in progress on another goroutine: a rank stuck in a
// collective is exactly what it must not wait for.
func (c *mpiComm) Abort(msg string) {
	fmt.Fprintf(os.Stderr, "rank %d of %d: %s\n", c.rank, c.size, msg)
	C.gf_abort()
	os.Exit(1)
}

// Close finalises MPI.
func (c *mpiComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return check("MPI_Finalize", C.gf_finalize())
}
