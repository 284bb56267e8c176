package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/recipes"
)

type trainBenchResult struct {
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

func lmPresetNames() string {
	var names []string
	for _, n := range recipes.PresetNames() {
		if _, ok := recipes.LMPresets[n]; ok {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

func benchTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench train",
		"Times training steps (forward, backward, AdamW) of a preset's GPT on Tiny Shakespeare and prints\n"+
			"milliseconds per step and tokens per second. FLOPs per step are counted as nanoGPT does:\n"+
			"6·params·tokens for the matrix products plus 12·layers·width·block·tokens for attention.",
		"  goformer bench train --preset shakespeare-char-small\n  goformer bench train --preset shakespeare-char --batch 16 --iters 5 --json", stderr)
	preset := fs.String("preset", "shakespeare-char-small", "preset: "+lmPresetNames())
	iters := fs.Int("iters", 20, "timed steps (after 2 warm-up steps)")
	batch := fs.Int("batch", 0, "override the preset's batch size")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "worker threads")
	asJSON := fs.Bool("json", false, "print one JSON object")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, ok := recipes.LMPresets[*preset]
	if !ok {
		return usagef("bench train: unknown preset %q (want one of: %s)", *preset, lmPresetNames())
	}
	if *batch != 0 {
		cfg.Batch = *batch
	}
	if *iters < 1 || cfg.Batch < 1 || *threads < 1 {
		return usagef("bench train: --iters, --batch and --threads must be positive")
	}
	cpu.SetThreads(*threads)
	// The preset's own run, built as goformer train builds it; the timed
	// work is the Trainer's own step.
	cfg.Steps = max(cfg.Steps, *iters+2)
	dir, err := os.MkdirTemp("", "goformer-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := recipes.NewLM(cfg, dir)
	if err != nil {
		return err
	}
	model := s.Model
	step := func() error {
		_, err := s.Trainer.TrainStep()
		return err
	}
	for i := 0; i < 2; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := 0; i < *iters; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	el := time.Since(start)
	runtime.ReadMemStats(&after)
	tokens := float64(cfg.Batch * cfg.Block)
	n := float64(model.Params.Count() - cfg.Block*cfg.Embd) // nanoGPT leaves position embeddings out
	flops := 6*n*tokens + 12*float64(cfg.Layers*cfg.Embd*cfg.Block)*tokens
	sec := el.Seconds() / float64(*iters)
	r := trainBenchResult{Preset: *preset, Batch: cfg.Batch, Block: cfg.Block, Params: model.Params.Count(), Threads: *threads, Iters: *iters,
		MsPerStep: sec * 1e3, TokensPerS: tokens / sec, FLOPs: flops, GFLOPS: flops / sec / 1e9,
		Allocs: float64(after.Mallocs-before.Mallocs) / float64(*iters)}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err = fmt.Fprintf(stdout, "train %s: batch %d × %d tokens, %.2fM params: %.1f ms/step, %.0f tokens/s, %.1f GFLOPS, %.0f allocations/step (%d threads)\n",
		r.Preset, r.Batch, r.Block, float64(r.Params)/1e6, r.MsPerStep, r.TokensPerS, r.GFLOPS, r.Allocs, r.Threads)
	return err
}
