package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/goformer/goformer/internal/cpu"
)

type attentionResult struct {
	Batch    int     `json:"batch"`
	Heads    int     `json:"heads"`
	Seq      int     `json:"seq"`
	Tq       int     `json:"tq"`
	Dim      int     `json:"dim"`
	Causal   bool    `json:"causal"`
	Backward bool    `json:"backward"`
	Kernel   string  `json:"kernel"`
	Threads  int     `json:"threads"`
	Ms       float64 `json:"ms"`
	FLOPs    float64 `json:"flops"`
	GFLOPS   float64 `json:"gflops"`
	ExtraMiB float64 `json:"extra_mib"`
}

func benchAttention(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench attention",
		"Times scaled dot-product attention softmax(QKᵀ/√d)V on [batch, heads, seq, dim] tensors and prints\n"+
			"milliseconds per call, GFLOPS and the extra memory the call allocates beyond its inputs and outputs.\n"+
			"FLOPs are those of the matrix products over the visible (query, key) pairs: 4·d per pair forward,\n"+
			"8·d more for the backward pass (not counting the flash kernel's recomputation), the same for every kernel.",
		"  goformer bench attention --seq 1024 --causal --backward\n  goformer bench attention --seq 32768 --tq 1 --causal      # one decoding step\n  goformer bench attention --seq 16384 --causal --backward --json\n  goformer bench attention --seq 1024 --causal --plain", stderr)
	batch := fs.Int("batch", 1, "batch size")
	heads := fs.Int("heads", 8, "heads")
	seq := fs.Int("seq", 1024, "sequence length (keys, and queries unless --tq)")
	tq := fs.Int("tq", 0, "number of queries, aligned to the end of the keys (default --seq; 1 = one decoding step against a KV cache)")
	dim := fs.Int("dim", 64, "head dimension")
	causal := fs.Bool("causal", false, "causal mask")
	backward := fs.Bool("backward", false, "time forward + backward")
	plain := fs.Bool("plain", false, "the plain attention that materialises the seq×seq matrix, instead of flash")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "worker threads")
	seconds := fs.Float64("seconds", 0.5, "length of each of the 5 timed batches")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *heads < 1 || *seq < 1 || *dim < 1 {
		return usagef("bench attention: sizes must be positive, got --batch %d --heads %d --seq %d --dim %d", *batch, *heads, *seq, *dim)
	}
	if *tq == 0 {
		*tq = *seq
	}
	if *tq < 1 || *tq > *seq {
		return usagef("bench attention: --tq must be between 1 and --seq (%d), got %d", *seq, *tq)
	}
	if *threads < 1 {
		return usagef("bench attention: --threads must be at least 1, got %d", *threads)
	}
	if *plain {
		need := float64(*batch) * float64(*heads) * float64(*seq) * float64(*seq) * 4
		if *backward {
			need *= 2
		}
		if need > 16<<30 {
			return usagef("bench attention: --plain at --seq %d needs %.1f GiB for its score matrices; that is the point of flash attention", *seq, need/(1<<30))
		}
	}
	cpu.SetThreads(*threads)

	a := &cpu.Attention{Batch: *batch, Heads: *heads, Tq: *tq, Tk: *seq, Dim: *dim, Causal: *causal}
	n := *batch * *heads * *tq * *dim
	nk := *batch * *heads * *seq * *dim
	rng := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		return x
	}
	q, k, v, dout := fill(n), fill(nk), fill(nk), fill(n)
	out, lse := make([]float32, n), make([]float32, *batch**heads**tq)
	dq, dk, dv := make([]float32, n), make([]float32, nk), make([]float32, nk)
	var probs []float32
	call := func() {
		if *plain {
			probs = make([]float32, *batch**heads**tq**seq) // materialised anew each call, as a framework would
			a.ForwardPlain(out, probs, q, k, v)
			if *backward {
				a.BackwardPlain(dq, dk, dv, q, k, v, probs, dout)
			}
			probs = nil
			return
		}
		a.Forward(out, lse, q, k, v)
		if *backward {
			a.Backward(dq, dk, dv, q, k, v, out, lse, dout)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	call()
	runtime.ReadMemStats(&after)
	extra := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	sec := timeIt(call, 5, time.Duration(*seconds*float64(time.Second)))

	var pairs float64
	for i := 0; i < *tq; i++ {
		if *causal {
			pairs += float64(i + 1 + *seq - *tq)
		} else {
			pairs += float64(*seq)
		}
	}
	perPair := 4.0
	if *backward {
		perPair += 8
	}
	flops := perPair * float64(*dim) * pairs * float64(*batch**heads)
	kernel := "flash"
	if *plain {
		kernel = "plain"
	}
	r := attentionResult{Batch: *batch, Heads: *heads, Seq: *seq, Tq: *tq, Dim: *dim, Causal: *causal, Backward: *backward,
		Kernel: kernel, Threads: *threads, Ms: sec * 1e3, FLOPs: flops, GFLOPS: flops / sec / 1e9, ExtraMiB: extra}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	pass := "forward"
	if *backward {
		pass = "forward+backward"
	}
	_, err := fmt.Fprintf(stdout, "attention %s %s B=%d H=%d Tq=%d Tk=%d d=%d causal=%v: %.3f ms/call, %.1f GFLOPS, %.1f MiB extra (%d threads)\n",
		kernel, pass, r.Batch, r.Heads, r.Tq, r.Seq, r.Dim, r.Causal, r.Ms, r.GFLOPS, r.ExtraMiB, r.Threads)
	return err
}
