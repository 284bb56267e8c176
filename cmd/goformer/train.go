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
	"strings"
	"time"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/recipes"
	"github.com/goformer/goformer/train"
)

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer train",
		"Trains a character-level GPT on Tiny Shakespeare (built in) or a text file, or (--preset multi30k-de-en)\n"+
			"a German→English translation model on Multi30k (built in), with a progress line,\n"+
			"samples as it improves, metrics.jsonl, checkpoints, and at the end a Hugging Face model directory\n"+
			"(OUT/model) and a loss plot (OUT/loss.png). Ctrl-C writes a checkpoint and stops; --resume continues.",
		"  goformer train                                   # nanoGPT's small Shakespeare run, a few minutes\n"+
			"  goformer train --preset shakespeare-char-small --out runs/small\n"+
			"  goformer train --config my.json --steps 100\n"+
			"  goformer train --out runs/small --resume", stderr)
	preset := fs.String("preset", "shakespeare-char-small", "preset: "+strings.Join(recipes.PresetNames(), ", "))
	configPath := fs.String("config", "", "JSON file of settings over the preset (n_layer, batch_size, max_iters, ...)")
	out := fs.String("out", "", "run directory (default runs/<preset>)")
	steps := fs.Int("steps", 0, "override the number of steps")
	batch := fs.Int("batch", 0, "override batch_size (language models)")
	seed := fs.Int64("seed", -1, "override the seed")
	dataPath := fs.String("data", "", "train on this UTF-8 text file instead of Tiny Shakespeare (language models)")
	resume := fs.Bool("resume", false, "continue the run in --out from its checkpoint")
	threads := fs.Int("threads", 0, "worker threads (default: all cores)")
	samples := fs.Bool("samples", true, "print a short sample at each evaluation (language models)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *threads < 0 {
		return usagef("train: --threads must be ≥ 0, got %d", *threads)
	}
	if *out == "" {
		*out = filepath.Join("runs", *preset)
	}
	cpu.SetThreads(*threads)
	prog := newProgress(stderr, 0, 0)
	opt := recipes.Options{Out: *out, Resume: *resume, Log: prog, Samples: *samples, OnStep: prog.update}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var res *recipes.Result
	var err error
	var total int
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
		prog.reset(cfg.Steps)
		total = cfg.Steps
		res, err = recipes.TrainTranslation(ctx, cfg, opt)
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
		prog.reset(cfg.Steps)
		total = cfg.Steps
		res, err = recipes.TrainLM(ctx, cfg, opt)
	} else {
		return usagef("train: unknown preset %q (want one of: %s)", *preset, strings.Join(recipes.PresetNames(), ", "))
	}
	prog.clear()
	if errors.Is(err, recipes.ErrRunExists) {
		return usagef("train: %s already holds a run; use --resume to continue it or --out for a new one", *out)
	}
	if err != nil {
		return err
	}
	last := res.Last()
	if res.Interrupted {
		fmt.Fprintf(stderr, "interrupted: checkpoint of step %d written to %s; continue with: goformer train --preset %s --out %s --resume\n", last.Step, *out, *preset, *out)
		return nil
	}
	fmt.Fprintf(stdout, "done: step %d of %d in %.1f minutes, train loss %.4f, val loss %.4f", last.Step, total, last.Elapsed/60, last.Loss, valueOr(last.ValLoss))
	if res.Best != nil && res.Best.BestStep > 0 {
		fmt.Fprintf(stdout, ", best val BLEU %.2f (step %d)", res.Best.Best, res.Best.BestStep)
	}
	fmt.Fprintf(stdout, "; model in %s, curves in %s\n", res.ModelDir, filepath.Join(*out, "loss.png"))
	if res.Best != nil {
		fmt.Fprintf(stdout, "translate with: goformer translate --model %s --beam 4 < input.de > output.en\n", res.ModelDir)
	} else {
		fmt.Fprintf(stdout, "generate with: goformer generate --model %s --prompt \"ROMEO:\"\n", res.ModelDir)
	}
	return nil
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

// progress shows steps, loss, tokens/s and the time left: one rewritten
// line on a terminal, a plain line every few seconds otherwise. As an
// io.Writer it passes messages through, clearing its line first.
type progress struct {
	w         io.Writer
	tty       bool
	total     int
	start     time.Time
	startStep int
	lastPrint time.Time
	shown     bool
	unit      string // what is counted, for updateCount
}

func newProgress(w io.Writer, total, from int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, total: total, start: time.Now(), startStep: from}
}

// reset starts counting again towards total.
func (p *progress) reset(total int) { p.total, p.start, p.startStep = total, time.Now(), -1 }

func (p *progress) Write(b []byte) (int, error) {
	p.clear()
	return p.w.Write(b)
}

func (p *progress) update(m train.Metrics) {
	if p.startStep < 0 { // the first step seen: a resumed run counts from there
		p.startStep, p.start = m.Step-1, time.Now()
	}
	now := time.Now()
	if !p.tty && now.Sub(p.lastPrint) < 5*time.Second && m.Step != p.total {
		return
	}
	p.lastPrint = now
	done := m.Step - p.startStep
	eta := time.Duration(float64(now.Sub(p.start)) / float64(done) * float64(p.total-m.Step)).Round(time.Second)
	p.line(fmt.Sprintf("step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  ETA %s", m.Step, p.total, m.Loss, m.LR, m.TokensPerS, eta))
}

// updateCount shows done of total items (sentences) with their rate.
func (p *progress) updateCount(done int) {
	now := time.Now()
	if !p.tty && now.Sub(p.lastPrint) < 5*time.Second && done != p.total {
		return
	}
	p.lastPrint = now
	secs := now.Sub(p.start).Seconds()
	eta := time.Duration(0)
	if done > 0 {
		eta = time.Duration(secs / float64(done) * float64(p.total-done) * float64(time.Second)).Round(time.Second)
	}
	p.line(fmt.Sprintf("%d/%d %s  %.1f/s  ETA %s", done, p.total, p.unit, float64(done)/secs, eta))
}

func (p *progress) line(s string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
		p.shown = true
	} else {
		fmt.Fprintln(p.w, s)
	}
}

func (p *progress) clear() {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
