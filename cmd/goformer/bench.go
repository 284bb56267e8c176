package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sort"
	"time"

	"github.com/goformer/goformer/internal/cpu"
)

// timeIt calls f once to warm up, then in batches of calls lasting at least
// minBatch each, and returns the best batch's mean seconds per call over
// repeats batches: the figure least disturbed by the rest of the machine.
func timeIt(f func(), repeats int, minBatch time.Duration) float64 {
	f()
	n := 1
	for {
		start := time.Now()
		for i := 0; i < n; i++ {
			f()
		}
		if el := time.Since(start); el >= minBatch/4 || n >= 1<<20 {
			n = max(1, int(float64(n)*float64(minBatch)/float64(max(el, time.Microsecond))))
			break
		}
		n *= 4
	}
	times := make([]float64, repeats)
	for r := range times {
		start := time.Now()
		for i := 0; i < n; i++ {
			f()
		}
		times[r] = time.Since(start).Seconds() / float64(n)
	}
	sort.Float64s(times)
	return times[0]
}

type gemmResult struct {
	M       int     `json:"m"`
	N       int     `json:"n"`
	K       int     `json:"k"`
	TransA  bool    `json:"trans_a"`
	TransB  bool    `json:"trans_b"`
	Threads int     `json:"threads"`
	Impl    string  `json:"impl"`
	Ms      float64 `json:"ms"`
	GFLOPS  float64 `json:"gflops"`
}

func benchGemm(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench gemm",
		"Times C = A·B for float32 m×k by k×n matrices (2·m·n·k FLOPs per call) and prints GFLOPS.",
		"  goformer bench gemm -m 1024 -n 1024 -k 1024\n  goformer bench gemm -m 768 -n 384 -k 128 -ta --threads 1 --json", stderr)
	m := fs.Int("m", 1024, "rows of A and C")
	n := fs.Int("n", 1024, "columns of B and C")
	k := fs.Int("k", 1024, "columns of A, rows of B")
	ta := fs.Bool("ta", false, "A is stored k×m and used transposed")
	tb := fs.Bool("tb", false, "B is stored n×k and used transposed")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "worker threads")
	impl := fs.String("impl", cpu.GemmImpl(), fmt.Sprintf("kernel implementation, one of %v", cpu.GemmImpls()))
	seconds := fs.Float64("seconds", 0.25, "length of each of the 5 timed batches")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *m < 1 || *n < 1 || *k < 1 {
		return usagef("bench gemm: sizes must be positive, got -m %d -n %d -k %d", *m, *n, *k)
	}
	if *threads < 1 {
		return usagef("bench gemm: --threads must be at least 1, got %d", *threads)
	}
	if _, err := cpu.SetGemmImpl(*impl); err != nil {
		return usageError{err.Error()}
	}
	cpu.SetThreads(*threads)

	rng := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = rng.Float32()
		}
		return x
	}
	a, b, c := fill(*m**k), fill(*k**n), make([]float32, *m**n)
	lda, ldb := *k, *n
	if *ta {
		lda = *m
	}
	if *tb {
		ldb = *k
	}
	sec := timeIt(func() {
		cpu.Sgemm(*ta, *tb, *m, *n, *k, 1, a, lda, b, ldb, 0, c, *n)
	}, 5, time.Duration(*seconds*float64(time.Second)))
	r := gemmResult{M: *m, N: *n, K: *k, TransA: *ta, TransB: *tb, Threads: *threads, Impl: cpu.GemmImpl(),
		Ms: sec * 1e3, GFLOPS: 2 * float64(*m) * float64(*n) * float64(*k) / sec / 1e9}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	_, err := fmt.Fprintf(stdout, "gemm %s%s m=%d n=%d k=%d: %.3f ms/call, %.1f GFLOPS (%s, %d threads)\n",
		t(*ta), t(*tb), r.M, r.N, r.K, r.Ms, r.GFLOPS, r.Impl, r.Threads)
	return err
}
