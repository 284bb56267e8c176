// Package bench measures goformer's kernels and models: GEMM, attention
// and training steps, each as a result with its FLOP count and GFLOPS, for
// `goformer bench` and for programs that want the same figures.
package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/recipes"
	"github.com/goformer/goformer/train"
)

// TimeIt calls f once to warm up, then in batches of calls lasting at least
// minBatch each, and returns the best batch's mean seconds per call over
// repeats batches: the figure least disturbed by the rest of the machine.
func TimeIt(f func(), repeats int, minBatch time.Duration) float64 {
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

func fill(rng *rand.Rand, n int, lo, hi float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + (hi-lo)*rng.Float32()
	}
	return x
}

// GemmResult is one GEMM measurement: C = A·B, 2·m·n·k FLOPs a call.
type GemmResult struct {
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

// Gemm times float32 C = op(A)·op(B) for m×k by k×n operands with the
// current kernel and threads, in 5 batches of at least batch each.
func Gemm(m, n, k int, ta, tb bool, batch time.Duration) (GemmResult, error) {
	if m < 1 || n < 1 || k < 1 {
		return GemmResult{}, fmt.Errorf("sizes must be positive, got m=%d n=%d k=%d", m, n, k)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	a, b, c := fill(rng, m*k, 0, 1), fill(rng, k*n, 0, 1), make([]float32, m*n)
	lda, ldb := k, n
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	sec := TimeIt(func() { cpu.Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n) }, 5, batch)
	return GemmResult{M: m, N: n, K: k, TransA: ta, TransB: tb, Threads: cpu.Threads(), Impl: cpu.GemmImpl(),
		Ms: sec * 1e3, GFLOPS: 2 * float64(m) * float64(n) * float64(k) / sec / 1e9}, nil
}

// AttentionResult is one attention measurement.
type AttentionResult struct {
	Batch    int     `json:"batch"`
	Heads    int     `json:"heads"`
	Seq      int     `json:"seq"`
	Tq       int     `json:"tq"`
	Dim      int     `json:"dim"`
	Causal   bool    `json:"causal"`
	Bias     bool    `json:"bias"` // a relative position bias (RelBias), and its gradient backward
	Backward bool    `json:"backward"`
	Kernel   string  `json:"kernel"`
	Threads  int     `json:"threads"`
	Ms       float64 `json:"ms"`
	FLOPs    float64 `json:"flops"`
	GFLOPS   float64 `json:"gflops"`
	ExtraMiB float64 `json:"extra_mib"`
}

// Attention times softmax(QKᵀ/√d)V on [batch, heads, seq, dim] tensors (tq
// queries aligned to the end of seq keys), flash or plain (materialising
// the score matrix), forward or forward+backward. FLOPs are those of the
// matrix products over the visible (query, key) pairs: 4·d per pair
// forward, 8·d more backward (not counting the flash kernel's
// recomputation), the same for both kernels.
func Attention(a cpu.Attention, backward, plain bool, batch time.Duration) AttentionResult {
	n := a.Batch * a.Heads * a.Tq * a.Dim
	nk := a.Batch * a.Heads * a.Tk * a.Dim
	rng := rand.New(rand.NewPCG(1, 1))
	q, k, v, dout := fill(rng, n, -1, 1), fill(rng, nk, -1, 1), fill(rng, nk, -1, 1), fill(rng, n, -1, 1)
	out, lse := make([]float32, n), make([]float32, a.Batch*a.Heads*a.Tq)
	dq, dk, dv := make([]float32, n), make([]float32, nk), make([]float32, nk)
	var dbias []float32
	if a.RelBias != nil {
		dbias = make([]float32, a.Batch*len(a.RelBias))
	}
	call := func() {
		if plain {
			probs := make([]float32, a.Batch*a.Heads*a.Tq*a.Tk) // materialised anew each call, as a framework would
			a.ForwardPlain(out, probs, q, k, v)
			if backward {
				a.BackwardPlain(dq, dk, dv, dbias, q, k, v, probs, dout)
			}
			return
		}
		a.Forward(out, lse, q, k, v)
		if backward {
			a.BackwardBias(dq, dk, dv, dbias, q, k, v, out, lse, dout)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	call()
	runtime.ReadMemStats(&after)
	extra := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	sec := TimeIt(call, 5, batch)
	var pairs float64
	for i := 0; i < a.Tq; i++ {
		if a.Causal {
			pairs += float64(i + 1 + a.Tk - a.Tq)
		} else {
			pairs += float64(a.Tk)
		}
	}
	perPair := 4.0
	if backward {
		perPair += 8
	}
	flops := perPair * float64(a.Dim) * pairs * float64(a.Batch*a.Heads)
	kernel := "flash"
	if plain {
		kernel = "plain"
	}
	return AttentionResult{Batch: a.Batch, Heads: a.Heads, Seq: a.Tk, Tq: a.Tq, Dim: a.Dim, Causal: a.Causal, Bias: a.RelBias != nil, Backward: backward,
		Kernel: kernel, Threads: cpu.Threads(), Ms: sec * 1e3, FLOPs: flops, GFLOPS: flops / sec / 1e9, ExtraMiB: extra}
}

// TrainResult is a training-step measurement.
type TrainResult struct {
	Preset     string  `json:"preset"`
	Batch      int     `json:"batch"`
	Block      int     `json:"block"`
	Params     int     `json:"params"`
	Threads    int     `json:"threads"`
	Iters      int     `json:"iters"`
	MsPerStep  float64 `json:"ms_per_step"`
	TokensPerS float64 `json:"tokens_per_s"`
	FLOPs      float64 `json:"flops_per_step"`
	GFLOPS     float64 `json:"gflops"`
	Allocs     float64 `json:"allocs_per_step"`
}

// TrainLM times iters steps (after 2 warm-up steps) of a language-model
// preset's own run, built as goformer train builds it: the timed work is
// the Trainer's step. FLOPs per step are counted as nanoGPT does:
// 6·params·tokens for the matrix products (position embeddings left out)
// plus 12·layers·width·block·tokens for attention. With a profile path, the
// timed steps are CPU-profiled there.
func TrainLM(name string, cfg recipes.LMConfig, iters int, profile string) (TrainResult, error) {
	cfg.Steps = max(cfg.Steps, iters+2)
	dir, err := os.MkdirTemp("", "goformer-bench-")
	if err != nil {
		return TrainResult{}, err
	}
	defer os.RemoveAll(dir)
	s, err := recipes.NewLM(cfg, dir)
	if err != nil {
		return TrainResult{}, err
	}
	el, allocs, err := timeSteps(s.Trainer, iters, profile)
	if err != nil {
		return TrainResult{}, err
	}
	tokens := float64(cfg.Batch * cfg.Block)
	params := s.Model.Params.Count()
	n := float64(params - cfg.Block*cfg.Embd)
	flops := 6*n*tokens + 12*float64(cfg.Layers*cfg.Embd*cfg.Block)*tokens
	sec := el.Seconds() / float64(iters)
	return TrainResult{Preset: name, Batch: cfg.Batch, Block: cfg.Block, Params: params, Threads: cpu.Threads(), Iters: iters,
		MsPerStep: sec * 1e3, TokensPerS: tokens / sec, FLOPs: flops, GFLOPS: flops / sec / 1e9,
		Allocs: allocs}, nil
}

// timeSteps runs 2 warm-up steps, then times iters steps of tr (CPU-profiled
// into profile, if given) and counts their allocations per step.
func timeSteps(tr *train.Trainer, iters int, profile string) (time.Duration, float64, error) {
	for range 2 {
		if _, err := tr.TrainStep(); err != nil {
			return 0, 0, err
		}
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, 0, err
		}
		defer pprof.StopCPUProfile()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for range iters {
		if _, err := tr.TrainStep(); err != nil {
			return 0, 0, err
		}
	}
	el := time.Since(start)
	runtime.ReadMemStats(&after)
	return el, float64(after.Mallocs-before.Mallocs) / float64(iters), nil
}
