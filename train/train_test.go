package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/tensor"
)

func tinyTask(t *testing.T, seed uint64) (*LMTask, *gpt.Model) {
	m, err := gpt.New(gpt.Config{VocabSize: 12, NPositions: 16, NEmbd: 32, NLayer: 2, NHead: 2}, seed)
	if err != nil {
		t.Fatal(err)
	}
	stream := make([]int32, 400)
	for i := range stream {
		stream[i] = int32((i*7 + i/13) % 12) // a learnable pattern
	}
	return &LMTask{Model: m, Parameters: m.Params.List(), Train: stream[:360], Val: stream[360:], Batch: 4, Block: 16}, m
}

func newTrainer(t *testing.T, dir string, steps int) (*Trainer, *gpt.Model) {
	return newTrainerDropout(t, dir, steps, 0)
}

// newTrainerDropout is newTrainer with dropout p on the embeddings and
// residual branches (the presets use it).
func newTrainerDropout(t *testing.T, dir string, steps int, p float32) (*Trainer, *gpt.Model) {
	m, err := gpt.New(gpt.Config{VocabSize: 12, NPositions: 16, NEmbd: 32, NLayer: 2, NHead: 2, ResidPdrop: p, EmbdPdrop: p}, 3)
	if err != nil {
		t.Fatal(err)
	}
	task, _ := tinyTask(t, 3)
	task.Model, task.Parameters = m, m.Params.List()
	cfg := Config{Steps: steps, ClipNorm: 1, EvalEvery: 5, EvalBatches: 2, CheckpointEvery: 5, Dir: dir, Seed: 9, GradAccum: 2}
	tr, err := NewTrainer(cfg, task, optim.NewAdamW(task.Params(), 0.9, 0.99, 0.1), optim.WarmupCosine{Max: 3e-3, Min: 3e-4, Warmup: 3, DecaySteps: steps})
	if err != nil {
		t.Fatal(err)
	}
	tr.Dropout = p > 0
	return tr, m
}

func TestTinyGPTLearns(t *testing.T) {
	tr, _ := newTrainer(t, t.TempDir(), 60)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	first, last := tr.History[0].Loss, tr.History[len(tr.History)-1]
	if !(last.Loss < 0.3*first) || last.ValLoss == nil || !(*last.ValLoss < 0.5*first) {
		t.Fatalf("loss went from %.3f to %.3f (val %v): not learning", first, last.Loss, last.ValLoss)
	}
}

// TestResumeIsBitIdentical runs 10 steps straight, and 7 + resume + 3, and
// compares every logged loss bit for bit, without dropout and with it (the
// dropout masks come from the graph's generator, which the checkpoint
// carries), and the hooks' state carries over too.
func TestResumeIsBitIdentical(t *testing.T) {
	for _, p := range []float32{0, 0.2} {
		testResume(t, p)
	}
}

// recordHook keeps the steps it saw; its state is that list.
type recordHook struct{ Steps []int }

func (h *recordHook) Name() string              { return "record" }
func (h *recordHook) AfterStep(m Metrics) error { h.Steps = append(h.Steps, m.Step); return nil }
func (h *recordHook) State() ([]byte, error)    { return json.Marshal(h.Steps) }
func (h *recordHook) SetState(b []byte) error   { return json.Unmarshal(b, &h.Steps) }

func testResume(t *testing.T, p float32) {
	newTrainer := func(t *testing.T, dir string, steps int) (*Trainer, *gpt.Model) {
		tr, m := newTrainerDropout(t, dir, steps, p)
		tr.Hooks = []Hook{&recordHook{}}
		return tr, m
	}
	straight, _ := newTrainer(t, t.TempDir(), 10)
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, _ := newTrainer(t, dir, 10)
	ctx, cancel := context.WithCancel(context.Background())
	var atStep7 float64 // the training time the checkpoint of step 7 carries
	first.OnStep = func(m Metrics) {
		if m.Step == 7 {
			atStep7 = m.Elapsed
			cancel() // interrupted after step 7: the last periodic checkpoint is step 5, Run saves step 7
		}
	}
	if err := first.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	resumed, _ := newTrainer(t, dir, 10)
	if err := resumed.Resume(); err != nil {
		t.Fatal(err)
	}
	if resumed.Step() != 7 {
		t.Fatalf("resumed at step %d, want 7", resumed.Step())
	}
	if err := resumed.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(resumed.History) != 10 {
		t.Fatalf("history has %d steps after resume", len(resumed.History))
	}
	for i, m := range straight.History {
		r := resumed.History[i]
		if m.Loss != r.Loss || (m.ValLoss == nil) != (r.ValLoss == nil) || m.ValLoss != nil && *m.ValLoss != *r.ValLoss {
			t.Fatalf("step %d: straight loss %v val %v, resumed %v val %v", m.Step, m.Loss, m.ValLoss, r.Loss, r.ValLoss)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
	if n := strings.Count(string(b), "\n"); n != 10 {
		t.Fatalf("metrics.jsonl has %d lines, want 10", n)
	}
	if got := resumed.Hooks[0].(*recordHook).Steps; len(got) != 10 || got[9] != 10 {
		t.Fatalf("dropout %g: the hook saw steps %v after resuming, want 1..10", p, got)
	}
	// The resumed run starts from the time of step 7 (not from the moment the
	// interrupted run returned, which also counts its last save).
	if last := resumed.History[9].Elapsed; !(last > atStep7) || resumed.Elapsed().Seconds() < last {
		t.Fatalf("training time went from %vs at step 7 to %vs at step 10 (%v in all) on resume", atStep7, last, resumed.Elapsed())
	}
}

// TestHooksKeepBestAndSnapshots: KeepBest saves at each better score only,
// Snapshots fire once each as the training time passes them, and a resumed
// run continues from their checkpointed state and the time already
// trained.
func TestHooksKeepBestAndSnapshots(t *testing.T) {
	dir := t.TempDir()
	scores := map[int]float64{5: 3, 10: 7, 15: 5, 20: 9}
	var saved []int
	var snaps []time.Duration
	build := func(steps int) *Trainer {
		tr, _ := newTrainer(t, dir, steps)
		tr.Score, tr.ScoreName = func(step int) (float64, error) { return scores[step], nil }, "bleu"
		tr.Hooks = []Hook{
			&KeepBest{Save: func(m Metrics) error { saved = append(saved, m.Step); return nil }},
			&Snapshots{Times: []time.Duration{time.Nanosecond, time.Hour}, Save: func(at time.Duration, m Metrics) error {
				snaps = append(snaps, at)
				return nil
			}},
		}
		return tr
	}
	tr := build(12)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Step 12 ends the run with an evaluation scoring 0: not a new best.
	if fmt.Sprint(saved) != "[5 10]" || len(snaps) != 1 {
		t.Fatalf("first run: saved at %v, snapshots %v", saved, snaps)
	}
	trained := time.Duration(tr.History[len(tr.History)-1].Elapsed * float64(time.Second))
	tr = build(20)
	if err := tr.Resume(); err != nil {
		t.Fatal(err)
	}
	if d := tr.Elapsed() - trained; d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("resumed with %v of training time, want %v", tr.Elapsed(), trained)
	}
	kb := tr.Hooks[0].(*KeepBest)
	if kb.Best != 7 || kb.BestStep != 10 || tr.Hooks[1].(*Snapshots).Done != 1 {
		t.Fatalf("resumed hooks: best %v at %d, snapshots done %d", kb.Best, kb.BestStep, tr.Hooks[1].(*Snapshots).Done)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(saved) != "[5 10 20]" || len(snaps) != 1 {
		t.Fatalf("after resuming: saved at %v, snapshots %v", saved, snaps)
	}
}

func TestDamagedCheckpointIsRefused(t *testing.T) {
	dir := t.TempDir()
	tr, _ := newTrainer(t, dir, 5)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, CheckpointFile)
	good, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"truncated", good[:len(good)-100], "past the data section"},
		{"flipped bit", func() []byte { b := append([]byte(nil), good...); b[len(b)-10] ^= 0x40; return b }(), "damaged"},
	} {
		os.WriteFile(path, tc.file, 0o644)
		fresh, m := newTrainer(t, dir, 5)
		before := append([]float32(nil), m.Params.List()[0].Value.Data()...)
		err := fresh.Resume()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), CheckpointFile) {
			t.Errorf("%s: error %v, want one naming the file and %q", tc.name, err, tc.want)
		}
		for i, v := range m.Params.List()[0].Value.Data() {
			if v != before[i] {
				t.Fatalf("%s: a refused checkpoint changed the model", tc.name)
			}
		}
	}
}

func TestTinyGPTOverfitsOneBatch(t *testing.T) {
	task, m := tinyTask(t, 5)
	x := []int32{1, 5, 2, 9, 3, 3, 7, 0, 11, 4, 6, 8, 2, 2, 10, 1}
	y := []int32{5, 2, 9, 3, 3, 7, 0, 11, 4, 6, 8, 2, 2, 10, 1, 7}
	opt := optim.NewAdamW(task.Params(), 0.9, 0.99, 0)
	g := autograd.NewGraph(1)
	var last float32
	for step := 0; step < 150; step++ {
		m.Params.ZeroGrad()
		g.Reset()
		_, loss, err := m.Forward(g, x, 1, 16, y)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		opt.Step(3e-3)
		last = loss.Value.Item()
	}
	if last > 0.05 {
		t.Fatalf("after 150 steps on one batch the loss is %.4f, want near zero", last)
	}
}

// nanTask wraps a task and poisons the loss from a given step on.
type nanTask struct {
	*LMTask
	calls, from int
}

func (n *nanTask) Loss(g *autograd.Graph, rng *tensor.RNG, s Split) (*autograd.Var, int, error) {
	loss, k, err := n.LMTask.Loss(g, rng, s)
	if s == TrainSplit {
		n.calls++
		if n.calls >= n.from {
			loss.Value.Data()[0] = float32(math.NaN())
		}
	}
	return loss, k, err
}

func TestNaNLossStopsTheRun(t *testing.T) {
	dir := t.TempDir()
	task, _ := tinyTask(t, 3)
	nt := &nanTask{LMTask: task, from: 8}
	tr, err := NewTrainer(Config{Steps: 20, CheckpointEvery: 5, Dir: dir, Seed: 1}, nt, optim.NewAdamW(task.Params(), 0.9, 0.99, 0), optim.Constant(1e-3))
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Run(context.Background())
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 8") || !strings.Contains(err.Error(), "checkpoint, of step 5") {
		t.Fatalf("error = %v", err)
	}
	f, err := tensor.ReadSafetensors(filepath.Join(dir, CheckpointFile))
	if err != nil || f.Metadata["step"] != "5" {
		t.Fatalf("the last good checkpoint is gone: %v %v", err, f.Metadata)
	}
}

// TestMaxDurationAndScore: a time budget ends the run like its last step
// (evaluation, score, checkpoint), and the score lands in the metrics.
func TestMaxDurationAndScore(t *testing.T) {
	dir := t.TempDir()
	tr, _ := newTrainer(t, dir, 1000)
	tr.Cfg.MaxDuration = time.Nanosecond
	calls := 0
	tr.Score, tr.ScoreName = func(step int) (float64, error) { calls++; return 12.5, nil }, "bleu"
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr.Step() != 1 || len(tr.History) != 1 {
		t.Fatalf("ran %d steps (%d logged), want 1", tr.Step(), len(tr.History))
	}
	m := tr.History[0]
	if m.ValLoss == nil || m.Score == nil || *m.Score != 12.5 || m.ScoreName != "bleu" || calls != 1 || m.Elapsed <= 0 {
		t.Fatalf("final metrics %+v, score calls %d", m, calls)
	}
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err != nil {
		t.Fatal("no checkpoint at the end of the time budget")
	}
	b, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
	if !strings.Contains(string(b), `"score":12.5,"score_name":"bleu"`) {
		t.Errorf("metrics.jsonl lacks the score: %s", b)
	}
	tr2, _ := newTrainer(t, t.TempDir(), 3)
	tr2.Score = func(int) (float64, error) { return 0, errors.New("decoder broke") }
	if err := tr2.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "decoder broke") {
		t.Errorf("a failing score gave %v", err)
	}
}
