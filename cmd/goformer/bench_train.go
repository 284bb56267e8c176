package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
	"github.com/goformer/goformer/train"
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

func benchTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench train",
		"Times training steps (forward, backward, AdamW) of a preset's GPT on Tiny Shakespeare and prints\n"+
			"milliseconds per step and tokens per second. FLOPs per step are counted as nanoGPT does:\n"+
			"6·params·tokens for the matrix products plus 12·layers·width·block·tokens for attention.",
		"  goformer bench train --preset shakespeare-char-small\n  goformer bench train --preset shakespeare-char --batch 16 --iters 5 --json", stderr)
	preset := fs.String("preset", "shakespeare-char-small", "preset: "+presetNames())
	iters := fs.Int("iters", 20, "timed steps (after 2 warm-up steps)")
	batch := fs.Int("batch", 0, "override the preset's batch size")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "worker threads")
	asJSON := fs.Bool("json", false, "print one JSON object")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, ok := presets[*preset]
	if !ok {
		return usagef("bench train: unknown preset %q (want one of: %s)", *preset, presetNames())
	}
	if *batch != 0 {
		cfg.Batch = *batch
	}
	if *iters < 1 || cfg.Batch < 1 || *threads < 1 {
		return usagef("bench train: --iters, --batch and --threads must be positive")
	}
	cpu.SetThreads(*threads)
	text := data.TinyShakespeare()
	tok, err := tokenizer.NewChar(text)
	if err != nil {
		return err
	}
	ids, _ := tok.Encode(text)
	trainIDs, valIDs := data.Split(ids, 0.9)
	model, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), NPositions: cfg.Block, NEmbd: cfg.Embd, NLayer: cfg.Layers,
		NHead: cfg.Heads, ResidPdrop: cfg.Dropout, EmbdPdrop: cfg.Dropout, Bias: &cfg.Bias}, 1)
	if err != nil {
		return err
	}
	task := &train.LMTask{Model: model, Parameters: model.Params.List(), Train: trainIDs, Val: valIDs, Batch: cfg.Batch, Block: cfg.Block}
	params := task.Params()
	opt := optim.NewAdamW(params, cfg.Beta1, cfg.Beta2, cfg.WeightDecay)
	g := autograd.NewGraph(1)
	g.Training = cfg.Dropout > 0
	rng := tensor.NewRNG(1)
	step := func() error {
		for _, p := range params {
			p.ZeroGrad()
		}
		g.Reset()
		loss, _, err := task.Loss(g, rng, train.TrainSplit)
		if err != nil {
			return err
		}
		if err := g.Backward(loss); err != nil {
			return err
		}
		optim.ClipGradNorm(params, cfg.ClipNorm)
		opt.Step(float32(cfg.LR))
		return nil
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
