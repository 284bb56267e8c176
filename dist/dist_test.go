package dist

import (
	"errors"
	"sync"
	"testing"
)

// collectives runs every operation on awkward lengths with rank-dependent
// values and checks the results on one rank of a group.
func collectives(t *testing.T, c Comm) {
	t.Helper()
	n, r := c.Size(), c.Rank()
	for _, length := range []int{1, 3, 7, 1000, 100003} {
		buf := make([]float32, length)
		for i := range buf {
			buf[i] = float32(r+1) * float32(i%97+1) / 8
		}
		if err := c.AllreduceSum(buf); err != nil {
			t.Fatal(err)
		}
		for i, v := range buf {
			want := float32(n*(n+1)/2) * float32(i%97+1) / 8
			if v != want {
				t.Fatalf("rank %d: AllreduceSum of %d: element %d is %g, want %g", r, length, i, v, want)
			}
		}
		b64 := make([]float64, length)
		for i := range b64 {
			b64[i] = float64(r) + float64(i)
		}
		if err := c.AllreduceSum64(b64); err != nil {
			t.Fatal(err)
		}
		for i, v := range b64 {
			if want := float64(n*(n-1)/2 + n*i); v != want {
				t.Fatalf("rank %d: AllreduceSum64 of %d: element %d is %g, want %g", r, length, i, v, want)
			}
		}
		root := length % n
		bc := make([]float32, length)
		bb := make([]byte, length)
		for i := range bc {
			bc[i], bb[i] = float32(r*length+i), byte(r+i)
		}
		if err := c.Broadcast(bc, root); err != nil {
			t.Fatal(err)
		}
		if err := c.BroadcastBytes(bb, root); err != nil {
			t.Fatal(err)
		}
		for i := range bc {
			if bc[i] != float32(root*length+i) || bb[i] != byte(root+i) {
				t.Fatalf("rank %d: Broadcast from %d of %d: element %d is %g/%d", r, root, length, i, bc[i], bb[i])
			}
		}
	}
}

func TestLocalCollectives(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		comms := NewLocal(n)
		var wg sync.WaitGroup
		for _, c := range comms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				collectives(t, c)
			}()
		}
		wg.Wait()
	}
}

func TestSingle(t *testing.T) {
	collectives(t, Single())
}

// A rank calling another operation, or another length, fails every rank
// with ErrMismatch instead of mixing buffers.
func TestLocalMismatch(t *testing.T) {
	comms := NewLocal(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = comms[0].AllreduceSum(make([]float32, 4)) }()
	go func() { defer wg.Done(); errs[1] = comms[1].AllreduceSum(make([]float32, 5)) }()
	wg.Wait()
	for r, err := range errs {
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("rank %d: %v, want ErrMismatch", r, err)
		}
	}
}

// Abort releases a rank waiting for one that will never come.
func TestLocalAbort(t *testing.T) {
	comms := NewLocal(2)
	done := make(chan error)
	go func() { done <- comms[0].AllreduceSum(make([]float32, 4)) }()
	comms[1].Abort("rank 1 failed")
	if err := <-done; err == nil {
		t.Fatal("a rank waiting on an aborted group returned no error")
	}
	if err := comms[0].Broadcast(make([]float32, 1), 0); err == nil {
		t.Fatal("an aborted group still broadcasts")
	}
}

func TestFromEnvironment(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "")
	t.Setenv("PMI_SIZE", "")
	t.Setenv("PMIX_SIZE", "")
	c, err := FromEnvironment()
	if err != nil || c.Size() != 1 {
		t.Fatalf("outside mpirun: %v, %v", c, err)
	}
	if mpiBuilt {
		return
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "4")
	if _, err := FromEnvironment(); !errors.Is(err, ErrNoMPI) {
		t.Fatalf("launched as 4 ranks without MPI: %v, want ErrNoMPI", err)
	}
}
