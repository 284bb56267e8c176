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
	"encoding/binary"
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
	"github.com/goformer/goformer/dist"
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

	// Comm, if it has more than one rank, makes the run data-parallel:
	// each rank computes GradAccum micro-batches of every step (rank r
	// those numbered r·GradAccum … (r+1)·GradAccum−1 of the step's
	// Size·GradAccum), the gradients are summed over the ranks as the last
	// backward pass produces them, and every rank takes the same optimizer
	// step. The losses are those of one process with Size·GradAccum
	// micro-batches per step. Rank 0 alone evaluates, scores, runs the
	// hooks and writes metrics and checkpoints; Run starts by copying rank
	// 0's parameters and optimizer state (a resumed run's) to every rank.
	Comm dist.Comm
	// BucketBytes is the size of the buckets in which gradients are summed
	// (0: 1 MiB); negative: one bucket, summed after the backward pass.
	BucketBytes int
	// Timeout bounds the wait for any collective operation of a step (0:
	// 10 minutes): a rank that died or hangs stops the others with an
	// error naming the operation.
	Timeout time.Duration
	// WaitTimeout bounds the waits for rank 0 working alone: at the start
	// (reading a checkpoint) and at each evaluation (0: 1 hour).
	WaitTimeout time.Duration
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
	// CommWait is, in a data-parallel run, the seconds this step waited
	// for the other ranks after its backward pass: the communication the
	// backward pass did not hide (and any imbalance between the ranks).
	CommWait float64 `json:"comm_wait_s,omitempty"`
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

	comm    dist.Comm // Cfg.Comm (or Single) during Run
	red     *reducer  // data-parallel runs, during Run
	stopAll bool      // a rank was interrupted: every rank stops after this step
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
		scale: tensor.New(1)} // the loss's gradient, shared by the micro-batches
	return t, nil
}

// group is Cfg.Comm, or this process alone.
func (t *Trainer) group() dist.Comm {
	if t.Cfg.Comm == nil {
		return dist.Single()
	}
	return t.Cfg.Comm
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// microSeed derives the seed of one stream (data, dropout) of one
// micro-batch of one step: every micro-batch draws from its own generator,
// so that which rank computes it, and what ran before, changes nothing.
func microSeed(seed uint64, step, micro int, stream uint64) uint64 {
	x := seed
	for _, v := range [3]uint64{uint64(step), uint64(micro), stream} {
		x += 0x9e3779b97f4a7c15 ^ v*0xbf58476d1ce4e5b9 // SplitMix64's mixing
		x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
		x = (x ^ x>>27) * 0x94d049bb133111eb
		x ^= x >> 31
	}
	return x
}

// Root reports whether this process writes the run's files: always, but
// in a data-parallel run only rank 0.
func (t *Trainer) Root() bool { return t.group().Rank() == 0 }

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
//
// In a data-parallel run (Cfg.Comm) every rank calls Run: an interruption
// of any rank (ctx) stops every rank after the same step, rank 0 writing
// the checkpoint, and each returns context.Canceled.
func (t *Trainer) Run(ctx context.Context) error {
	t.comm = t.group()
	root := t.Root()
	var enc *json.Encoder
	if root {
		if err := os.MkdirAll(t.Cfg.Dir, 0o755); err != nil {
			return err
		}
		mf, err := os.OpenFile(filepath.Join(t.Cfg.Dir, MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer mf.Close()
		enc = json.NewEncoder(mf)
	}
	if t.comm.Size() > 1 {
		bucket := t.Cfg.BucketBytes
		if bucket == 0 {
			bucket = 1 << 20
		}
		t.red = newReducer(t.comm, t.Task.Params(), bucket, orDefault(t.Cfg.Timeout, 10*time.Minute))
		defer func() { t.red.close(); t.red = nil }()
		if err := t.syncFromRoot(); err != nil {
			return err
		}
	}
	t.stopAll = false
	t.runFrom = time.Now()
	defer func() { t.trained, t.runFrom = t.Elapsed(), time.Time{} }()
	for t.step < t.Cfg.Steps {
		if ctx.Err() != nil && t.red == nil || t.stopAll {
			if root && t.lastCkp != t.step {
				if err := t.SaveCheckpoint(); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return context.Canceled
		}
		m, last, err := t.trainStep(ctx)
		if err != nil {
			return err
		}
		if last || t.Cfg.EvalEvery > 0 && t.step%t.Cfg.EvalEvery == 0 {
			if err := t.evaluateStep(&m); err != nil {
				return err
			}
		}
		if root {
			for _, h := range t.Hooks {
				if err := h.AfterStep(m); err != nil {
					return fmt.Errorf("train: step %d: %s: %w", t.step, h.Name(), err)
				}
			}
		}
		t.History = append(t.History, m)
		if root {
			if err := enc.Encode(m); err != nil {
				return err
			}
			if t.OnStep != nil {
				t.OnStep(m)
			}
		}
		if root && (last || t.Cfg.CheckpointEvery > 0 && t.step%t.Cfg.CheckpointEvery == 0) {
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

// evaluateStep fills m's validation loss and score: rank 0 computes them
// and, in a data-parallel run, sends them to the others, which wait.
func (t *Trainer) evaluateStep(m *Metrics) error {
	var res [3]float64 // validation loss, score, whether scored
	if t.Root() {
		v, err := t.Evaluate()
		if err != nil {
			return err
		}
		res[0] = v
		if t.Score != nil {
			b, err := t.Score(t.step)
			if err != nil {
				return fmt.Errorf("train: scoring at step %d: %w", t.step, err)
			}
			res[1], res[2] = b, 1
		}
	}
	if t.red != nil {
		buf := make([]byte, 8*len(res))
		for i, v := range res {
			binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
		}
		if err := t.red.collective(fmt.Sprintf("train: step %d: waiting for rank 0's evaluation", t.step), orDefault(t.Cfg.WaitTimeout, time.Hour),
			func() error { return t.comm.BroadcastBytes(buf, 0) }); err != nil {
			return err
		}
		for i := range res {
			res[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
		}
	}
	m.ValLoss = &res[0]
	if res[2] != 0 {
		m.Score, m.ScoreName = &res[1], t.ScoreName
	}
	return nil
}

// syncFromRoot copies rank 0's step, training time, parameters and
// optimizer state to every rank: a fresh run starts from the same weights
// everywhere, a resumed one (only rank 0 reads the checkpoint) from the
// checkpoint's.
func (t *Trainer) syncFromRoot() error {
	what := "train: receiving rank 0's parameters and optimizer state"
	meta := make([]byte, 32)
	optState, optStep := t.Opt.State()
	binary.LittleEndian.PutUint64(meta[0:], uint64(t.step))
	binary.LittleEndian.PutUint64(meta[8:], uint64(optStep))
	binary.LittleEndian.PutUint64(meta[16:], uint64(t.trained))
	binary.LittleEndian.PutUint64(meta[24:], uint64(t.lastCkp))
	if err := t.red.collective(what, orDefault(t.Cfg.WaitTimeout, time.Hour), func() error { return t.comm.BroadcastBytes(meta, 0) }); err != nil {
		return err
	}
	for _, p := range t.Task.Params() {
		if err := t.red.collective(what, t.red.timeout, func() error { return t.comm.Broadcast(p.Value.Data(), 0) }); err != nil {
			return err
		}
	}
	for _, nt := range optState {
		if err := t.red.collective(what, t.red.timeout, func() error { return t.comm.Broadcast(nt.Tensor.Data(), 0) }); err != nil {
			return err
		}
	}
	get := func(name string) (*tensor.Tensor, error) {
		for _, nt := range optState {
			if nt.Name == name {
				return nt.Tensor, nil
			}
		}
		return nil, fmt.Errorf("no optimizer state %q", name)
	}
	if err := t.Opt.SetState(get, int(binary.LittleEndian.Uint64(meta[8:]))); err != nil {
		return fmt.Errorf("train: rank %d: %w", t.comm.Rank(), err)
	}
	t.step = int(binary.LittleEndian.Uint64(meta[0:]))
	t.trained = time.Duration(binary.LittleEndian.Uint64(meta[16:]))
	t.stepElapsed = t.trained
	t.lastCkp = int(binary.LittleEndian.Uint64(meta[24:]))
	return nil
}

// TrainStep does one optimizer step: Cfg.GradAccum micro-batches of
// forward and backward, gradient clipping, the optimizer's update at the
// scheduled learning rate. It is the whole of a step's work that Run
// repeats (benchmarks time it), and after the first it allocates nothing.
// A non-finite loss or gradient norm is an error wrapping ErrNonFinite.
//
// Micro-batch i of step s draws its data and its dropout from generators
// seeded by (Cfg.Seed, s, i), whatever ran before: the same batches
// whether one process draws them all or several ranks share them.
func (t *Trainer) TrainStep() (Metrics, error) {
	if t.comm == nil {
		t.comm = t.group()
	}
	m, _, err := t.trainStep(nil)
	return m, err
}

// trainStep is TrainStep; in a data-parallel run it also agrees with the
// other ranks on stopping (ctx cancelled on any rank) and on whether this
// is the last step (Cfg.MaxDuration reached on any rank).
func (t *Trainer) trainStep(ctx context.Context) (Metrics, bool, error) {
	start := time.Now()
	params := t.Task.Params()
	g := t.graph
	g.Training = t.Dropout
	for _, p := range params {
		p.ZeroGrad()
	}
	var lossSum float64
	tokens := 0
	rank, accum := t.comm.Rank(), t.Cfg.GradAccum
	t.scale.Data()[0] = 1 / float32(accum*t.comm.Size())
	for micro := 0; micro < accum; micro++ {
		i := rank*accum + micro
		t.dataRNG.Seed(microSeed(t.Cfg.Seed, t.step, i, 1))
		g.RNG().Seed(microSeed(t.Cfg.Seed, t.step, i, 2))
		g.Reset()
		loss, n, err := t.Task.Loss(g, t.dataRNG, TrainSplit)
		if err != nil {
			return Metrics{}, false, fmt.Errorf("train: step %d: %w", t.step+1, err)
		}
		l := float64(loss.Value.Item())
		if t.red == nil && (math.IsNaN(l) || math.IsInf(l, 0)) { // data-parallel: checked on the sum, by every rank
			return Metrics{}, false, fmt.Errorf("train: step %d: %w (%g); the last good checkpoint, of step %d, is in %s",
				t.step+1, ErrNonFinite, l, t.lastCkp, t.Cfg.Dir)
		}
		lossSum += l
		tokens += n
		if t.red != nil && micro == accum-1 {
			t.red.start()
			g.OnParamReady = t.red.onReady
		}
		err = g.BackwardWithGrad(loss, t.scale)
		g.OnParamReady = nil
		if err != nil {
			return Metrics{}, false, fmt.Errorf("train: step %d: %w", t.step+1, err)
		}
	}
	micros := accum
	last := t.step+1 == t.Cfg.Steps || t.Cfg.MaxDuration > 0 && t.Elapsed() >= t.Cfg.MaxDuration
	var commWait time.Duration
	if t.red != nil {
		waitFrom := time.Now()
		if err := t.red.finish(); err != nil {
			return Metrics{}, false, fmt.Errorf("train: step %d: %w", t.step+1, err)
		}
		sc := &t.red.scalars
		*sc = [4]float64{lossSum, float64(tokens), 0, 0}
		if ctx != nil && ctx.Err() != nil {
			sc[2] = 1
		}
		if last {
			sc[3] = 1
		}
		if err := t.red.run(t.red.sumScalars, t.red.timeout); err != nil {
			return Metrics{}, false, fmt.Errorf("train: step %d: %w", t.step+1, err)
		}
		commWait = time.Since(waitFrom)
		lossSum, tokens = sc[0], int(sc[1])
		t.stopAll, last = sc[2] > 0, sc[3] > 0
		micros *= t.comm.Size()
		if math.IsNaN(lossSum) || math.IsInf(lossSum, 0) {
			return Metrics{}, false, fmt.Errorf("train: step %d: %w (%g summed over the ranks); the last good checkpoint, of step %d, is in %s",
				t.step+1, ErrNonFinite, lossSum, t.lastCkp, t.Cfg.Dir)
		}
	}
	norm := optim.ClipGradNorm(params, t.Cfg.ClipNorm)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return Metrics{}, false, fmt.Errorf("train: step %d: gradient norm %g: %w; the last good checkpoint, of step %d, is in %s",
			t.step+1, norm, ErrNonFinite, t.lastCkp, t.Cfg.Dir)
	}
	lr := t.Sched.LR(t.step)
	t.Opt.Step(lr)
	t.step++
	t.stepElapsed = t.Elapsed()
	return Metrics{Step: t.step, Loss: lossSum / float64(micros), LR: float64(lr),
		TokensPerS: float64(tokens) / time.Since(start).Seconds(), GradNorm: norm, Elapsed: t.stepElapsed.Seconds(),
		CommWait: commWait.Seconds()}, last, nil
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
//
// In a data-parallel run only rank 0 writes; on the others it does nothing.
func (t *Trainer) SaveCheckpoint() error {
	if !t.Root() {
		return nil
	}
	var tensors []tensor.NamedTensor
	for _, p := range t.Task.Params() {
		tensors = append(tensors, tensor.NamedTensor{Name: "param." + p.Name, Tensor: p.Value})
	}
	optState, optStep := t.Opt.State()
	tensors = append(tensors, optState...)
	for _, hk := range t.Hooks {
		if th, ok := hk.(TensorHook); ok {
			for _, nt := range th.Tensors() {
				tensors = append(tensors, tensor.NamedTensor{Name: "hook." + hk.Name() + "." + nt.Name, Tensor: nt.Tensor})
			}
		}
	}
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
//
// In a data-parallel run only rank 0 reads the checkpoint (the others may
// not see the run directory at all): on the others Resume does nothing,
// and Run starts by receiving rank 0's state.
func (t *Trainer) Resume() error {
	if !t.Root() {
		return nil
	}
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
		if th, ok := hk.(TensorHook); ok {
			prefix := "hook." + hk.Name() + "."
			if err := th.SetTensors(func(name string) (*tensor.Tensor, error) { return f.Tensor(prefix + name) }); err != nil {
				return fmt.Errorf("train: cannot resume: %s: %s: %w", path, hk.Name(), err)
			}
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
