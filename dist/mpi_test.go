//go:build mpi

package dist

import (
	"fmt"
	"os"
	"testing"
)

// TestMPICollectives checks every operation on Open MPI's world; run it
// under mpirun (.ci/mpi):
//
//	go test -c -tags mpi -o dist.test ./dist && mpirun -np 2 ./dist.test -test.run MPI
func TestMPICollectives(t *testing.T) {
	if _, ok := LaunchedSize(); !ok {
		t.Skip("not launched by mpirun")
	}
	c, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	collectives(t, c)
}

// TestMain finalises MPI after the tests (mpirun counts a rank that exits
// without MPI_Finalize as failed).
func TestMain(m *testing.M) {
	code := m.Run()
	if mpiWorld != nil {
		mpiWorld.Close()
	}
	os.Exit(code)
}

// BenchmarkMPIAllreduce times AllreduceSum of gradient-sized buffers
// between the ranks: the bytes per second are one rank's buffer over the
// time of a sum. Run it under mpirun with a fixed count, so that every rank
// runs the same rounds:
//
//	mpirun -np 2 ./dist.test -test.run XXX -test.bench MPI -test.benchtime 40x
func BenchmarkMPIAllreduce(b *testing.B) {
	if _, ok := LaunchedSize(); !ok {
		b.Skip("not launched by mpirun")
	}
	c, err := FromEnvironment()
	if err != nil {
		b.Fatal(err)
	}
	for _, mb := range []int{1, 4, 32} {
		buf := make([]float32, mb<<18)
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			b.SetBytes(int64(4 * len(buf)))
			for range b.N {
				if err := c.AllreduceSum(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
