//go:build !mpi

package dist

const mpiBuilt = false

func openMPI() (Comm, error) { return nil, ErrNoMPI }
