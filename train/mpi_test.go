//go:build mpi

package train

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/goformer/goformer/dist"
)

// TestMPIMatchesAccumulation is TestDataParallelMatchesAccumulation on
// Open MPI's ranks (separate processes): run it under mpirun (.ci/mpi),
//
//	go test -c -tags mpi -o train.test ./train && mpirun -np 2 ./train.test -test.run MPI
//
// Each rank also trains the one-process reference itself and compares.
func TestMPIMatchesAccumulation(t *testing.T) {
	if _, ok := dist.LaunchedSize(); !ok {
		t.Skip("not launched by mpirun")
	}
	comm, err := dist.FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	const steps = 50
	ref, _ := dpTrainer(t, t.TempDir(), steps, nil, comm.Size(), 0)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // each rank's own: only rank 0 writes into it
	tr, m := dpTrainer(t, dir, steps, comm, 1, 4096)
	if err := tr.Run(context.Background()); err != nil {
		comm.Abort(err.Error())
	}
	worst := 0.0
	for i, want := range ref.History {
		got := tr.History[i]
		e := math.Abs(got.Loss-want.Loss) / want.Loss
		worst = max(worst, e)
		if e > 1e-5 {
			t.Errorf("rank %d, step %d: loss %.7f; one process %.7f", comm.Rank(), i+1, got.Loss, want.Loss)
		}
	}
	t.Logf("rank %d of %d: loss %.4f → %.4f, worst relative difference from one process %.2g", comm.Rank(), comm.Size(),
		ref.History[0].Loss, ref.History[steps-1].Loss, worst)
	// Every rank holds the same weights: their sum over the ranks is Size
	// times rank 0's, exactly (a sum of equal float32 values ≤ 4 ranks).
	for _, p := range m.Params.List() {
		sum := append([]float32(nil), p.Value.Data()...)
		if err := comm.AllreduceSum(sum); err != nil {
			t.Fatal(err)
		}
		for j, v := range p.Value.Data() {
			if comm.Size() <= 4 && sum[j] != v*float32(comm.Size()) {
				t.Fatalf("rank %d: %s[%d] differs between ranks", comm.Rank(), p.Name, j)
			}
		}
	}
	if _, err := os.Stat(dir + "/" + CheckpointFile); (err == nil) != (comm.Rank() == 0) {
		t.Errorf("rank %d: checkpoint present = %v; only rank 0 writes", comm.Rank(), err == nil)
	}
}

// TestMain finalises MPI after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if _, ok := dist.LaunchedSize(); ok {
		if c, err := dist.FromEnvironment(); err == nil {
			c.Close()
		}
	}
	os.Exit(code)
}
