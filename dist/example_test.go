package dist_test

import (
	"fmt"
	"sync"

	"github.com/goformer/goformer/dist"
)

// Two ranks, as goroutines, sum their gradients: each ends with the same
// sums. Under mpirun the ranks are processes and the group comes from
// dist.FromEnvironment instead (a binary built with -tags mpi).
func ExampleNewLocal() {
	comms := dist.NewLocal(2)
	grads := [][]float32{{1, 2, 3}, {10, 20, 30}}
	var wg sync.WaitGroup
	for _, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.AllreduceSum(grads[c.Rank()]); err != nil {
				c.Abort(err.Error())
			}
		}()
	}
	wg.Wait()
	fmt.Println(grads[0], grads[1])
	// Output: [11 22 33] [11 22 33]
}
