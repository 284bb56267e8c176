// Package recipes holds goformer's training runs as library calls: each
// preset goes from a corpus to a tokenizer, a model configuration and a
// Trainer with its hooks, and ends with a Hugging Face model directory,
// metrics.jsonl and plots. `goformer train` is flags around these calls; a
// Go program runs the same preset in a few lines:
//
//	cfg := recipes.LMPresets["shakespeare-char-small"]
//	res, err := recipes.TrainLM(ctx, cfg, recipes.Options{Out: "runs/small", Log: os.Stderr})
package recipes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/goformer/goformer/dist"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/train"
)

// ConfigError is a mistake in what the caller asked for (a bad setting, a
// missing file, a run directory already in use), as opposed to a failure
// of the work itself.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{fmt.Errorf(format, args...)}
}

// ErrRunExists is the error (wrapped) of a new run into a directory that
// holds one: resume it (Options.Resume) or choose another directory.
var ErrRunExists = errors.New("already holds a run")

// Options are how a recipe runs, apart from what it trains.
type Options struct {
	Out    string    // the run directory (required)
	Resume bool      // continue the run in Out from its checkpoint
	Log    io.Writer // messages and samples; nil: none
	// OnStep, if set, is called after every step (a progress display).
	OnStep func(train.Metrics)
	// Samples prints a short generated text at each evaluation (language
	// models).
	Samples bool
	// Comm, if it has more than one rank, trains data-parallel (the
	// language-model and translation recipes): every rank calls the recipe
	// with the same configuration; rank 0 alone logs and writes the run
	// directory (see train.Config.Comm).
	Comm dist.Comm
	// BucketBytes and Timeout are train.Config's, for a data-parallel run
	// (0: its defaults).
	BucketBytes int
	Timeout     time.Duration
}

// root reports whether this process writes the run (rank 0, or the only one).
func (o *Options) root() bool { return o.Comm == nil || o.Comm.Rank() == 0 }

// single refuses a data-parallel run of a recipe that has none.
func (o *Options) single(recipe string) error {
	if o.Comm != nil && o.Comm.Size() > 1 {
		return configErrorf("%s trains on one process; data-parallel runs (%d ranks) are for the language-model and translation presets", recipe, o.Comm.Size())
	}
	return nil
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil && o.root() {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// Result is what a finished (or interrupted) run reports.
type Result struct {
	ModelDir    string          // the Hugging Face model directory written
	History     []train.Metrics // every step's metrics, resumed runs included
	Interrupted bool            // the context was cancelled: a checkpoint was written, resume with Options.Resume
	Best        *train.KeepBest // the best-by-score model's score and step, where the recipe keeps one
	Average     *AverageResult  // what the checkpoint average scored, where the run ended with one
}

// Last returns the last step's metrics.
func (r *Result) Last() train.Metrics {
	if len(r.History) == 0 {
		return train.Metrics{}
	}
	return r.History[len(r.History)-1]
}

// LoadConfig reads a JSON file of settings over cfg (a preset), refusing
// unknown fields and wrong types with the file's name and the field.
func LoadConfig(path string, cfg any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &ConfigError{err}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return configErrorf("%s: field %q must be a %s, not a JSON %s", path, te.Field, te.Type, te.Value)
		}
		return configErrorf("%s: %v", path, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// PresetNames lists every preset, sorted.
func PresetNames() []string {
	var names []string
	for n := range LMPresets {
		names = append(names, n)
	}
	for n := range TranslationPresets {
		names = append(names, n)
	}
	for n := range SummarizationPresets {
		names = append(names, n)
	}
	for n := range EncoderPresets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// prepareDir checks that a new run does not overwrite an old one, creates
// the directory and writes the run's settings there (atomically).
func prepareDir(o *Options, cfg any) error {
	if o.Out == "" {
		return configErrorf("no run directory")
	}
	if !o.Resume {
		if _, err := os.Stat(filepath.Join(o.Out, train.CheckpointFile)); err == nil {
			return &ConfigError{fmt.Errorf("%s %w", o.Out, ErrRunExists)}
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return writeFile(filepath.Join(o.Out, "train_config.json"), append(b, '\n'))
}

func writeFile(path string, b []byte) error {
	return tensor.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// snapshots is the hook that saves OUT/model-<m>min when the training time
// first reaches each of the minutes.
func snapshots(o *Options, minutes []float64, save func(dir string) error) *train.Snapshots {
	s := &train.Snapshots{Save: func(at time.Duration, m train.Metrics) error {
		dir := filepath.Join(o.Out, fmt.Sprintf("model-%gmin", at.Minutes()))
		o.logf("%g minutes: step %d, snapshot in %s\n", at.Minutes(), m.Step, dir)
		return save(dir)
	}}
	for _, m := range minutes {
		s.Times = append(s.Times, time.Duration(m*float64(time.Minute)))
	}
	return s
}

// accumNote describes a step's batches beyond the first: ", ×A batches per
// step" (per rank in a data-parallel run), or nothing.
func accumNote(accum int, c dist.Comm) string {
	if accum <= 1 {
		return ""
	}
	if c != nil && c.Size() > 1 {
		return fmt.Sprintf(", %d batches per step on each rank", accum)
	}
	return fmt.Sprintf(", %d batches per step", accum)
}

// ranksNote describes a data-parallel run of a model of params
// parameters (or nothing for one process): the ranks, and the bytes each
// sends per step to sum the gradients (a ring allreduce's 2(N−1)/N of
// them: a reduce-scatter and an all-gather).
func ranksNote(c dist.Comm, params int) string {
	if c == nil || c.Size() == 1 {
		return ""
	}
	n := c.Size()
	grad := 4 * float64(params)
	return fmt.Sprintf(" on each of %d ranks (data-parallel: the step's batch is every rank's; %.1f MB of gradients summed per step, %.1f MB sent by each rank)",
		n, grad/1e6, grad*2*float64(n-1)/float64(n)/1e6)
}
