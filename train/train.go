// Package train is the training loop any model can use: draw a batch,
// compute the loss, backward, clip, step the optimizer on a schedule;
// gradient accumulation, periodic evaluation on held-out data, metrics as
// JSON lines, atomic checkpoints and exact resumption.
package train

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/tensor"
)

// Split names the data a batch is drawn from.
type Split int

const (
	TrainSplit Split = iota // the training data
	ValSplit                // the held-out data of evaluations
)

// Task is the model side of training.
type Task interface {
	// Params returns the trainable parameters.
	Params() []*autograd.Var
	// Loss draws a batch of the given split using rng, runs the model on
	// g and returns the mean loss and the number of tokens in the batch.
	Loss(g *autograd.Graph, rng *tensor.RNG, split Split) (loss *autograd.Var, tokens int, err error)
}

// ValidationSet is a Task whose validation loss is computed over its whole
// held-out set in a fixed order (deterministic, and the same at every
// evaluation), rather than estimated from random batches.
type ValidationSet interface {
	// ValLoss returns the mean loss per token over every validation batch.
	ValLoss(g *autograd.Graph) (float64, error)
}

// Config controls a run.
type Config struct {
	Steps           int     // optimizer steps in all
	GradAccum       int     // micro-batches per step (0 or 1: none)
	ClipNorm        float64 // global gradient-norm limit; 0: none
	EvalEvery       int     // evaluate every N steps (and at the end); 0: only at the end
	EvalBatches     int     // batches per evaluation
	CheckpointEvery int     // checkpoint every N steps (and at the end); 0: only at the end
	Dir             string  // run directory
	Seed            uint64
	// MaxDuration, if positive, ends the run after this much training time
	// (measured from Run's start), as if the last step were reached: a
	// final evaluation and checkpoint follow.
	MaxDuration time.Duration
}

// A Hook runs after every step (after the step's evaluation, if any, and
// before its checkpoint) and keeps its state in the checkpoint, so that a
// resumed run continues it exactly: KeepBest and Snapshots are hooks.
type Hook interface {
	// Name keys the hook's state in the checkpoint's metadata.
	Name() string
	AfterStep(m Metrics) error
	// State and SetState save and restore what the hook has done so far.
	State() ([]byte, error)
	SetState([]byte) error
}

// Metrics is one line of metrics.jsonl.
type Metrics struct {
	Step       int      `json:"step"`
	Loss       float64  `json:"loss"`
	ValLoss    *float64 `json:"val_loss,omitempty"`
	LR         float64  `json:"lr"`
	TokensPerS float64  `json:"tokens_per_s"`
	GradNorm   float64  `json:"grad_norm"`
	// Score is Trainer.Score's value at evaluations (a translation
	// model's validation BLEU), named by ScoreName.
	Score     *float64 `json:"score,omitempty"`
	ScoreName string   `json:"score_name,omitempty"`
	Elapsed   float64  `json:"elapsed_s"` // seconds of training, over every resumed run
}

// Trainer runs the loop.
type Trainer struct {
	Cfg   Config
	Task  Task
	Opt   optim.Optimizer
	Sched optim.Schedule
	// OnStep, if set, is called after every step (progress display).
	OnStep func(m Metrics)
	// Dropout turns the graph's Training mode on.
	Dropout bool
	// Score, if set, is called at each evaluation (a translation model's
	// BLEU on held-out data); its value goes in Metrics.Score, named
	// ScoreName.
	Score     func(step int) (float64, error)
	ScoreName string
	// Hooks run after every step, in order; their state is checkpointed.
	Hooks []Hook

	step    int
	dataRNG *tensor.RNG
	graph   *autograd.Graph
	lastCkp int
	trained time.Duration // training time before the current Run (resumed runs)
	// stepElapsed is the training time at the end of the last step, which
	// the checkpoint keeps: a resumed run continues from there.
	stepElapsed time.Duration
	runFrom     time.Time // when the current Run started
	scale       *tensor.Tensor
	History     []Metrics
}

// CheckpointFile is the name of the checkpoint in the run directory.
const CheckpointFile = "checkpoint.safetensors"

// MetricsFile is the name of the metrics log in the run directory.
const MetricsFile = "metrics.jsonl"

// NewTrainer returns a trainer at step 0.
func NewTrainer(cfg Config, task Task, opt optim.Optimizer, sched optim.Schedule) (*Trainer, error) {
	if cfg.Steps < 1 {
		return nil, fmt.Errorf("train: steps must be positive, got %d", cfg.Steps)
	}
	if cfg.GradAccum < 1 {
		cfg.GradAccum = 1
	}
	if cfg.EvalBatches < 1 {
		cfg.EvalBatches = 1
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("train: no run directory")
	}
	t := &Trainer{Cfg: cfg, Task: task, Opt: opt, Sched: sched,
		dataRNG: tensor.NewRNG(cfg.Seed), graph: autograd.NewGraph(cfg.Seed ^ 0x5eed),
		scale: tensor.Full(1/float32(cfg.GradAccum), 1)} // the loss's gradient, shared by the micro-batches
	return t, nil
}

// Elapsed returns the training time so far, over every resumed run.
func (t *Trainer) Elapsed() time.Duration {
	if t.runFrom.IsZero() {
		return t.trained
	}
	return t.trained + time.Since(t.runFrom)
}

// Step returns the number of steps done.
func (t *Trainer) Step() int { return t.step }

// ErrNonFinite is returned (wrapped) when the loss stops being a number.
var ErrNonFinite = errors.New("loss is not finite")

// Run trains until Cfg.Steps or until ctx is cancelled; either way it
// writes a checkpoint of the last completed step before returning (not
// after a non-finite loss, which leaves the last good checkpoint).
func (t *Trainer) Run(ctx context.Context) error {
	if err := os.MkdirAll(t.Cfg.Dir, 0o755); err != nil {
		return err
	}
	mf, err := os.OpenFile(filepath.Join(t.Cfg.Dir, MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer mf.Close()
	enc := json.NewEncoder(mf)
	t.runFrom = time.Now()
	defer func() { t.trained, t.runFrom = t.Elapsed(), time.Time{} }()
	for t.step < t.Cfg.Steps {
		if ctx.Err() != nil {
			if t.lastCkp != t.step {
				if err := t.SaveCheckpoint(); err != nil {
					return err
				}
			}
			return ctx.Err()
		}
		m, err := t.TrainStep()
		if err != nil {
			return err
		}
		last := t.step == t.Cfg.Steps || t.Cfg.MaxDuration > 0 && t.Elapsed() >= t.Cfg.MaxDuration
		if last || t.Cfg.EvalEvery > 0 && t.step%t.Cfg.EvalEvery == 0 {
			v, err := t.Evaluate()
			if err != nil {
				return err
			}
			m.ValLoss = &v
			if t.Score != nil {
				b, err := t.Score(t.step)
				if err != nil {
					return fmt.Errorf("train: scoring at step %d: %w", t.step, err)
				}
				m.Score, m.ScoreName = &b, t.ScoreName
			}
		}
		for _, h := range t.Hooks {
			if err := h.AfterStep(m); err != nil {
				return fmt.Errorf("train: step %d: %s: %w", t.step, h.Name(), err)
			}
		}
		t.History = append(t.History, m)
		if err := enc.Encode(m); err != nil {
			return err
		}
		if t.OnStep != nil {
			t.OnStep(m)
		}
		if last || t.Cfg.CheckpointEvery > 0 && t.step%t.Cfg.CheckpointEvery == 0 {
			if err := t.SaveCheckpoint(); err != nil {
				return err
			}
		}
		if last {
			break
		}
	}
	return nil
}

// TrainStep does one optimizer step: Cfg.GradAccum micro-batches of
// forward and backward, gradient clipping, the optimizer's update at the
// scheduled learning rate. It is the whole of a step's work that Run
// repeats (benchmarks time it), and after the first it allocates nothing.
// A non-finite loss or gradient norm is an error wrapping ErrNonFinite.
func (t *Trainer) TrainStep() (Metrics, error) {
	start := time.Now()
	params := t.Task.Params()
	g := t.graph
	g.Training = t.Dropout
	for _, p := range params {
		p.ZeroGrad()
	}
	var lossSum float64
	tokens := 0
	for micro := 0; micro < t.Cfg.GradAccum; micro++ {
		g.Reset()
		loss, n, err := t.Task.Loss(g, t.dataRNG, TrainSplit)
		if err != nil {
			return Metrics{}, fmt.Errorf("train: step %d: %w", t.step+1, err)
		}
		l := float64(loss.Value.Item())
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return Metrics{}, fmt.Errorf("train: step %d: %w (%g); the last good checkpoint, of step %d, is in %s",
				t.step+1, ErrNonFinite, l, t.lastCkp, t.Cfg.Dir)
		}
		lossSum += l
		tokens += n
		if err := g.BackwardWithGrad(loss, t.scale); err != nil {
			return Metrics{}, fmt.Errorf("train: step %d: %w", t.step+1, err)
		}
	}
	norm := optim.ClipGradNorm(params, t.Cfg.ClipNorm)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return Metrics{}, fmt.Errorf("train: step %d: gradient norm %g: %w; the last good checkpoint, of step %d, is in %s",
			t.step+1, norm, ErrNonFinite, t.lastCkp, t.Cfg.Dir)
	}
	lr := t.Sched.LR(t.step)
	t.Opt.Step(lr)
	t.step++
	t.stepElapsed = t.Elapsed()
	return Metrics{Step: t.step, Loss: lossSum / float64(t.Cfg.GradAccum), LR: float64(lr),
		TokensPerS: float64(tokens) / time.Since(start).Seconds(), GradNorm: norm, Elapsed: t.stepElapsed.Seconds()}, nil
}

// Evaluate returns the validation loss: over the whole validation set for
// a Task that is a ValidationSet, else the mean over Cfg.EvalBatches
// validation batches drawn from a generator seeded by the seed and step
// (the same batches whatever happened before, so that resumed runs
// evaluate identically).
//
// It runs on the Trainer's own graph (without a tape or dropout), whose
// arena the training steps have already sized: a second graph would hold
// a second copy of the largest step's memory.
func (t *Trainer) Evaluate() (float64, error) {
	g := t.graph
	noGrad, training := g.NoGrad, g.Training
	g.NoGrad, g.Training = true, false
	defer func() { g.NoGrad, g.Training = noGrad, training; g.Reset() }()
	if vs, ok := t.Task.(ValidationSet); ok {
		v, err := vs.ValLoss(g)
		if err != nil {
			return 0, fmt.Errorf("train: evaluating at step %d: %w", t.step, err)
		}
		return v, nil
	}
	rng := tensor.NewRNG(t.Cfg.Seed*1000003 + uint64(t.step))
	var sum float64
	for i := 0; i < t.Cfg.EvalBatches; i++ {
		g.Reset()
		loss, _, err := t.Task.Loss(g, rng, ValSplit)
		if err != nil {
			return 0, fmt.Errorf("train: evaluating at step %d: %w", t.step, err)
		}
		sum += float64(loss.Value.Item())
	}
	return sum / float64(t.Cfg.EvalBatches), nil
}

// SaveCheckpoint writes the parameters, the optimizer state, the step and
// the random generators' states to the run directory atomically (a
// temporary file, synced, renamed over the old checkpoint). The data
// section's SHA-256 goes in the metadata, so that a damaged file is refused.
func (t *Trainer) SaveCheckpoint() error {
	var tensors []tensor.NamedTensor
	for _, p := range t.Task.Params() {
		tensors = append(tensors, tensor.NamedTensor{Name: "param." + p.Name, Tensor: p.Value})
	}
	optState, optStep := t.Opt.State()
	tensors = append(tensors, optState...)
	dataRNG, err := t.dataRNG.MarshalBinary()
	if err != nil {
		return err
	}
	graphRNG, err := t.graph.RNG().MarshalBinary()
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, nt := range tensors {
		for _, v := range nt.Tensor.Data() {
			b := math.Float32bits(v)
			h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
		}
	}
	meta := map[string]string{
		"step":      strconv.Itoa(t.step),
		"opt_step":  strconv.Itoa(optStep),
		"data_rng":  base64.StdEncoding.EncodeToString(dataRNG),
		"graph_rng": base64.StdEncoding.EncodeToString(graphRNG),
		"elapsed_s": strconv.FormatFloat(t.stepElapsed.Seconds(), 'g', -1, 64),
	}
	for _, hk := range t.Hooks {
		st, err := hk.State()
		if err != nil {
			return fmt.Errorf("train: checkpoint: %s: %w", hk.Name(), err)
		}
		meta["hook."+hk.Name()] = string(st)
	}
	// The checksum covers the metadata too (in key order), so that hook
	// state and elapsed time are as safe as the tensors.
	writeMeta(h, meta)
	meta["sha256"] = hex.EncodeToString(h.Sum(nil))
	if err := tensor.WriteSafetensors(filepath.Join(t.Cfg.Dir, CheckpointFile), tensors, meta); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	t.lastCkp = t.step
	return nil
}

// Resume restores the state saved in the run directory's checkpoint and
// truncates metrics.jsonl to the steps it covers. A truncated or damaged
// checkpoint is refused with an error naming the file and the problem, and
// nothing is changed.
func (t *Trainer) Resume() error {
	path := filepath.Join(t.Cfg.Dir, CheckpointFile)
	f, err := tensor.ReadSafetensors(path)
	if err != nil {
		return fmt.Errorf("train: cannot resume: %w", err)
	}
	// Verify the checksum over the tensors in the order they were written.
	h := sha256.New()
	for _, name := range f.Names() {
		x, err := f.Tensor(name)
		if err != nil {
			return fmt.Errorf("train: cannot resume: %w", err)
		}
		for _, v := range x.Data() {
			b := math.Float32bits(v)
			h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
		}
	}
	meta := maps.Clone(f.Metadata)
	delete(meta, "sha256")
	if _, ok := meta["elapsed_s"]; ok { // checkpoints before elapsed_s did not checksum their metadata
		writeMeta(h, meta)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.Metadata["sha256"] {
		return fmt.Errorf("train: cannot resume: %s is damaged (its data does not match the checksum it was written with)", path)
	}
	step, err1 := strconv.Atoi(f.Metadata["step"])
	optStep, err2 := strconv.Atoi(f.Metadata["opt_step"])
	dataRNG, err3 := base64.StdEncoding.DecodeString(f.Metadata["data_rng"])
	graphRNG, err4 := base64.StdEncoding.DecodeString(f.Metadata["graph_rng"])
	var elapsed float64
	var err5 error
	if e, ok := f.Metadata["elapsed_s"]; ok {
		elapsed, err5 = strconv.ParseFloat(e, 64)
	}
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return fmt.Errorf("train: cannot resume: %s: bad metadata: %w", path, err)
	}
	for _, hk := range t.Hooks {
		if _, ok := f.Metadata["hook."+hk.Name()]; !ok {
			return fmt.Errorf("train: cannot resume: %s has no state for %s (was it written by a run with other settings?)", path, hk.Name())
		}
	}
	get := func(name string) (*tensor.Tensor, error) { return f.Tensor(name) }
	// Check every tensor before changing anything.
	for _, p := range t.Task.Params() {
		x, err := f.Tensor("param." + p.Name)
		if err != nil {
			return fmt.Errorf("train: cannot resume: %w", err)
		}
		if !x.SameShape(p.Value) {
			return fmt.Errorf("train: cannot resume: %s: %q has shape %v, the model %v", path, p.Name, x.Shape(), p.Value.Shape())
		}
	}
	if err := t.Opt.SetState(get, optStep); err != nil {
		return fmt.Errorf("train: cannot resume: %s: %w", path, err)
	}
	for _, p := range t.Task.Params() {
		x, _ := f.Tensor("param." + p.Name)
		copy(p.Value.Data(), x.Data())
	}
	if err := t.dataRNG.UnmarshalBinary(dataRNG); err != nil {
		return err
	}
	if err := t.graph.RNG().UnmarshalBinary(graphRNG); err != nil {
		return err
	}
	for _, hk := range t.Hooks {
		st := f.Metadata["hook."+hk.Name()]
		if err := hk.SetState([]byte(st)); err != nil {
			return fmt.Errorf("train: cannot resume: %s: %s: %w", path, hk.Name(), err)
		}
	}
	t.step, t.lastCkp = step, step
	t.trained = time.Duration(elapsed * float64(time.Second))
	t.stepElapsed = t.trained
	return truncateMetrics(filepath.Join(t.Cfg.Dir, MetricsFile), step, &t.History)
}

// writeMeta feeds metadata to a hash in key order, each key and value
// followed by a zero byte.
func writeMeta(h io.Writer, meta map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		io.WriteString(h, k)
		h.Write([]byte{0})
		io.WriteString(h, meta[k])
		h.Write([]byte{0})
	}
}

// truncateMetrics keeps the lines of steps ≤ step (a run that died after
// its last checkpoint logged steps the resumed run will do again).
func truncateMetrics(path string, step int, history *[]Metrics) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept []Metrics
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var m Metrics
		if err := dec.Decode(&m); err != nil {
			break // the end, or a line cut off by a crash
		}
		if m.Step <= step {
			kept = append(kept, m)
		}
	}
	*history = kept
	return tensor.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, m := range kept {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	})
}
