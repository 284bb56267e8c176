package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goformer/goformer/dist"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/internal/progress"
	"github.com/goformer/goformer/recipes"
)

func runTrain(args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("goformer train",
		"Trains a character-level GPT on Tiny Shakespeare (built in) or a text file, or (--preset multi30k-de-en)\n"+
			"a German→English translation model on Multi30k (built in), with a progress line,\n"+
			"samples as it improves, metrics.jsonl, checkpoints, and at the end a Hugging Face model directory\n"+
			"(OUT/model) and a loss plot (OUT/loss.png). Ctrl-C writes a checkpoint and stops; --resume continues.",
		"  goformer train                                   # nanoGPT's small Shakespeare run, a few minutes\n"+
			"  goformer train --preset shakespeare-char-small --out runs/small\n"+
			"  goformer train --config my.json --steps 100\n"+
			"  goformer train --out runs/small --resume\n"+
			"  mpirun -np 4 goformer-mpi train --preset multi30k-de-en   # data-parallel on 4 ranks (a binary built with -tags mpi)", stderr)
	preset := fs.String("preset", "shakespeare-char-small", "preset: "+strings.Join(recipes.PresetNames(), ", "))
	configPath := fs.String("config", "", "JSON file of settings over the preset (n_layer, batch_size, max_iters, ...)")
	out := fs.String("out", "", "run directory (default runs/<preset>)")
	steps := intFlag(fs, "steps", 0, 1, 1<<30, "override the number of steps")
	batch := intFlag(fs, "batch", 0, 1, 1<<16, "override batch_size (language models)")
	seed := fs.Int64("seed", -1, "override the seed")
	dataPath := fs.String("data", "", "train on this UTF-8 text file instead of Tiny Shakespeare (language models)")
	resume := fs.Bool("resume", false, "continue the run in --out from its checkpoint")
	threads := threadsFlag(fs, 0)
	samples := fs.Bool("samples", true, "print a short sample at each evaluation (language models)")
	initDir := fs.String("init", "", "start question-answering or embedding training from this pretrained model directory (debian-mlm's)")
	bucketMB := floatFlag(fs, "mpi-bucket-mb", 1, 0, 1<<20, "data-parallel runs: gradients are summed in buckets of this many MB as the backward pass completes them; 0: in one bucket after it")
	mpiTimeout := fs.Duration("mpi-timeout", 10*time.Minute, "data-parallel runs: how long a rank waits for the others in a step before giving up")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof reads it)")
	if err := parseFlags(fs, args); err != nil {
		return err
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
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *out == "" {
		*out = filepath.Join("runs", *preset)
	}
	// Under mpirun: one rank of a data-parallel run.
	comm, err := dist.FromEnvironment()
	if err != nil {
		return err
	}
	if comm.Size() > 1 {
		defer func() {
			if err != nil { // the other ranks must not wait for this one
				comm.Abort(fmt.Sprintf("goformer: %v", err))
			}
			err = comm.Close()
		}()
		if !set["threads"] {
			*threads = ranksThreads()
		}
	}
	cpu.SetThreads(*threads)
	progOut := stderr
	if comm.Rank() != 0 {
		progOut, stdout = io.Discard, io.Discard
	}
	prog := progress.New(progOut, 0)
	opt := recipes.Options{Out: *out, Resume: *resume, Log: prog, Samples: *samples, OnStep: prog.Update, Comm: comm,
		BucketBytes: int(*bucketMB * (1 << 20)), Timeout: *mpiTimeout}
	if *bucketMB == 0 {
		opt.BucketBytes = -1
	}
	// Ctrl-C, or mpirun's SIGTERM on its way to stopping the job: a
	// checkpoint of the last step, then out.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var res *recipes.Result
	var total int
	summarizer := false
	encoder := ""
	if cfg, ok := recipes.TranslationPresets[*preset]; ok {
		for _, f := range []string{"batch", "data", "samples"} {
			if set[f] {
				return usagef("train: --%s does not apply to the translation preset %s (use --config for its settings)", f, *preset)
			}
		}
		if err := loadConfig(*configPath, &cfg); err != nil {
			return err
		}
		if set["steps"] {
			cfg.Steps = *steps
		}
		if set["seed"] {
			cfg.Seed = uint64(*seed)
		}
		prog.Reset(cfg.Steps)
		prog.Limit = minutes(cfg.MaxMinutes)
		total = cfg.Steps
		res, err = recipes.TrainTranslation(ctx, cfg, opt)
	} else if cfg, ok := recipes.EncoderPresets[*preset]; ok {
		for _, f := range []string{"batch", "data", "samples"} {
			if set[f] {
				return usagef("train: --%s does not apply to the encoder preset %s (use --config for its settings)", f, *preset)
			}
		}
		if err := loadConfig(*configPath, &cfg); err != nil {
			return err
		}
		if set["steps"] {
			cfg.Steps = *steps
		}
		if set["seed"] {
			cfg.Seed = uint64(*seed)
		}
		if set["init"] {
			if cfg.Task == "mlm" {
				return usagef("train: --init is for the question-answering and embedding presets")
			}
			if err := modelDir("train", *initDir); err != nil {
				return err
			}
			cfg.Init = *initDir
		}
		prog.Reset(cfg.Steps)
		prog.Limit = minutes(cfg.MaxMinutes)
		prog.RateUnit = map[string]string{"mlm": "masked tok", "qa": "windows", "embed": "pairs"}[cfg.Task]
		total = cfg.Steps
		encoder = cfg.Task
		res, err = recipes.TrainEncoder(ctx, cfg, opt)
	} else if cfg, ok := recipes.SummarizationPresets[*preset]; ok {
		for _, f := range []string{"batch", "data", "samples"} {
			if set[f] {
				return usagef("train: --%s does not apply to the summarisation preset %s (use --config for its settings)", f, *preset)
			}
		}
		if err := loadConfig(*configPath, &cfg); err != nil {
			return err
		}
		if set["steps"] {
			cfg.Steps = *steps
		}
		if set["seed"] {
			cfg.Seed = uint64(*seed)
		}
		prog.Reset(cfg.Steps)
		prog.Limit = minutes(cfg.MaxMinutes)
		total = cfg.Steps
		summarizer = true
		res, err = recipes.TrainSummarization(ctx, cfg, opt)
	} else if cfg, ok := recipes.LMPresets[*preset]; ok {
		if err := loadConfig(*configPath, &cfg); err != nil {
			return err
		}
		if set["steps"] {
			cfg.Steps = *steps
			if cfg.DecaySteps > cfg.Steps || *configPath == "" {
				cfg.DecaySteps = max(cfg.Steps, cfg.Warmup)
			}
		}
		if set["batch"] {
			cfg.Batch = *batch
		}
		if set["seed"] {
			cfg.Seed = uint64(*seed)
		}
		if set["data"] {
			cfg.Data = *dataPath
		}
		prog.Reset(cfg.Steps)
		total = cfg.Steps
		res, err = recipes.TrainLM(ctx, cfg, opt)
	} else {
		return usagef("train: unknown preset %q (want one of: %s)", *preset, strings.Join(recipes.PresetNames(), ", "))
	}
	prog.Clear()
	if errors.Is(err, recipes.ErrRunExists) {
		return usagef("train: %s already holds a run; use --resume to continue it or --out for a new one", *out)
	}
	if err != nil {
		return err
	}
	last := res.Last()
	if res.Interrupted {
		if comm.Rank() != 0 {
			return nil
		}
		fmt.Fprintf(stderr, "interrupted: checkpoint of step %d written to %s; continue with: goformer train --preset %s --out %s --resume\n", last.Step, *out, *preset, *out)
		return nil
	}
	fmt.Fprintf(stdout, "done: step %d of %d in %.1f minutes, train loss %.4f, val loss %.4f", last.Step, total, last.Elapsed/60, last.Loss, valueOr(last.ValLoss))
	if res.Best != nil && res.Best.BestStep > 0 {
		name, best := "BLEU", res.Best.Best
		switch {
		case summarizer:
			name = "ROUGE-L"
		case encoder == "qa":
			name = "exact match"
		case encoder == "embed":
			name = "Recall@1"
		case res.Best.ByLoss: // Best holds the negated loss
			name, best = "loss", -best
		}
		fmt.Fprintf(stdout, ", best val %s %.2f (step %d)", name, best, res.Best.BestStep)
		if a := res.Average; a != nil {
			fmt.Fprintf(stdout, "; on all %d validation documents, %s %.2f against the best step's %.2f",
				a.Documents, a, a.Score, a.BestScore)
			if a.Kept {
				fmt.Fprint(stdout, " (kept)")
			}
		}
	}
	fmt.Fprintf(stdout, "; model in %s, curves in %s; peak resident memory %.0f MiB\n", res.ModelDir, filepath.Join(*out, "loss.png"), peakRSSMiB())
	switch {
	case encoder == "mlm":
		fmt.Fprintf(stdout, "fine-tune it with: goformer train --preset debian-qa --init %s\n", res.ModelDir)
	case encoder == "embed":
		fmt.Fprintf(stdout, "search with: goformer eval --model %s --retrieval debian:test; embed with: goformer embed --model %s < lines.txt\n", res.ModelDir, res.ModelDir)
	case encoder == "qa":
		fmt.Fprintf(stdout, "answer with: goformer answer --model %s --question \"...\" --context FILE\n", res.ModelDir)
	case summarizer:
		fmt.Fprintf(stdout, "summarize with: goformer summarize --model %s < documents.txt   # its generation_config.json: 8 beams\n", res.ModelDir)
	case res.Best != nil:
		fmt.Fprintf(stdout, "translate with: goformer translate --model %s --beam 4 < input.de > output.en\n", res.ModelDir)
	default:
		fmt.Fprintf(stdout, "generate with: goformer generate --model %s --prompt \"ROMEO:\"\n", res.ModelDir)
	}
	return nil
}

// ranksThreads is the default threads of one rank of a data-parallel run:
// the cores shared among the ranks mpirun started on this machine.
func ranksThreads() int {
	local, _ := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_LOCAL_SIZE"))
	return max(1, runtime.NumCPU()/max(local, 1))
}

// loadConfig reads a --config file over a preset (nothing when path is "").
func loadConfig(path string, cfg any) error {
	if path == "" {
		return nil
	}
	return recipes.LoadConfig(path, cfg)
}

func valueOr(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// minutes is a recipe's max_minutes as a duration (0: no limit).
func minutes(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }
