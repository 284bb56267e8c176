//go:build mpi

package dist

import (
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
