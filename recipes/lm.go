package recipes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
	"github.com/goformer/goformer/train"
)

// LMConfig is a character-level language-model run: the model, the data
// and the optimisation, with nanoGPT's names. Presets hold it and JSON
// config files override it (LoadConfig).
type LMConfig struct {
	Layers      int     `json:"n_layer"`
	Heads       int     `json:"n_head"`
	Embd        int     `json:"n_embd"`
	Block       int     `json:"block_size"`
	Batch       int     `json:"batch_size"`
	Steps       int     `json:"max_iters"`
	LR          float64 `json:"learning_rate"`
	MinLR       float64 `json:"min_lr"`
	Warmup      int     `json:"warmup_iters"`
	DecaySteps  int     `json:"lr_decay_iters"`
	Beta1       float32 `json:"beta1"`
	Beta2       float32 `json:"beta2"`
	WeightDecay float32 `json:"weight_decay"`
	ClipNorm    float64 `json:"grad_clip"`
	Dropout     float32 `json:"dropout"`
	Bias        bool    `json:"bias"` // biases in linear layers and layer norms (GPT-2 has them; nanoGPT defaults to none)
	GradAccum   int     `json:"gradient_accumulation_steps"`
	EvalEvery   int     `json:"eval_interval"`
	EvalBatches int     `json:"eval_iters"`
	Seed        uint64  `json:"seed"`
	Data        string  `json:"data,omitempty"` // a text file; empty: the built-in Tiny Shakespeare
}

// LMPresets are nanoGPT's Shakespeare character-level runs.
var LMPresets = map[string]LMConfig{
	// nanoGPT's CPU configuration (its README reports val loss ≈ 1.88), with biases: measured
	// here, they do slightly better than nanoGPT's bias-free default (1.9045 against 1.9164).
	"shakespeare-char-small": {Layers: 4, Heads: 4, Embd: 128, Block: 64, Batch: 12, Steps: 2000, LR: 1e-3, MinLR: 1e-4,
		Warmup: 100, DecaySteps: 2000, Beta1: 0.9, Beta2: 0.99, WeightDecay: 0.1, ClipNorm: 1, EvalEvery: 250, EvalBatches: 20, Seed: 1337, Bias: true},
	// nanoGPT's train_shakespeare_char (val ≈ 1.47 on a GPU). Dropout applies to the embeddings and
	// residual branches; attention-probability dropout is not implemented.
	"shakespeare-char": {Layers: 6, Heads: 6, Embd: 384, Block: 256, Batch: 64, Steps: 5000, LR: 1e-3, MinLR: 1e-4,
		Warmup: 100, DecaySteps: 5000, Beta1: 0.9, Beta2: 0.99, WeightDecay: 0.1, ClipNorm: 1, Dropout: 0.2, EvalEvery: 250, EvalBatches: 20, Seed: 1337, Bias: true},
	// A few minutes on two cores.
	"shakespeare-char-quick": {Layers: 4, Heads: 4, Embd: 128, Block: 64, Batch: 12, Steps: 600, LR: 2e-3, MinLR: 2e-4,
		Warmup: 50, DecaySteps: 600, Beta1: 0.9, Beta2: 0.99, WeightDecay: 0.1, ClipNorm: 1, EvalEvery: 100, EvalBatches: 10, Seed: 1337, Bias: true},
}

// Validate reports the first setting that makes no sense.
func (c *LMConfig) Validate() error {
	var err error
	switch {
	case c.Layers < 1 || c.Heads < 1 || c.Embd < 1 || c.Embd%c.Heads != 0:
		err = fmt.Errorf("n_embd (%d) must be a positive multiple of n_head (%d), with n_layer ≥ 1 (%d)", c.Embd, c.Heads, c.Layers)
	case c.Block < 1 || c.Batch < 1 || c.Steps < 1:
		err = fmt.Errorf("block_size, batch_size and max_iters must be positive (got %d, %d, %d)", c.Block, c.Batch, c.Steps)
	case c.Dropout < 0 || c.Dropout >= 1:
		err = fmt.Errorf("dropout must be in [0, 1), got %g", c.Dropout)
	default:
		err = optim.WarmupCosine{Max: c.LR, Min: c.MinLR, Warmup: c.Warmup, DecaySteps: c.DecaySteps}.Validate()
	}
	if err != nil {
		return &ConfigError{err}
	}
	return nil
}

// LMSetup is an LM run assembled but not started: what TrainLM runs and
// what benchmarks time.
type LMSetup struct {
	Model     *gpt.Model
	Tokenizer *tokenizer.Char
	Trainer   *train.Trainer
	Tokens    int // characters in the corpus
}

// NewLM builds the run of cfg in dir: the corpus, its character
// vocabulary, the GPT, its AdamW and schedule, and the Trainer.
func NewLM(cfg LMConfig, dir string) (*LMSetup, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	text := data.TinyShakespeare()
	if cfg.Data != "" {
		b, err := os.ReadFile(cfg.Data)
		if err != nil {
			return nil, &ConfigError{err}
		}
		text = string(b)
	}
	tok, err := tokenizer.NewChar(text)
	if err != nil {
		return nil, configErrorf("%s: %v", cfg.Data, err)
	}
	ids, err := tok.Encode(text)
	if err != nil {
		return nil, err
	}
	trainIDs, valIDs := data.Split(ids, 0.9)
	if len(valIDs) <= cfg.Block {
		return nil, configErrorf("the text is too short: %d characters of validation data for windows of %d", len(valIDs), cfg.Block)
	}
	model, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), NPositions: cfg.Block, NEmbd: cfg.Embd, NLayer: cfg.Layers,
		NHead: cfg.Heads, ResidPdrop: cfg.Dropout, EmbdPdrop: cfg.Dropout, Bias: &cfg.Bias}, cfg.Seed)
	if err != nil {
		return nil, &ConfigError{err}
	}
	task := &train.LMTask{Model: model, Parameters: model.Params.List(), Train: trainIDs, Val: valIDs, Batch: cfg.Batch, Block: cfg.Block}
	opt := optim.NewAdamW(task.Params(), cfg.Beta1, cfg.Beta2, cfg.WeightDecay)
	sched := optim.WarmupCosine{Max: cfg.LR, Min: cfg.MinLR, Warmup: cfg.Warmup, DecaySteps: cfg.DecaySteps}
	tr, err := train.NewTrainer(train.Config{Steps: cfg.Steps, GradAccum: cfg.GradAccum, ClipNorm: cfg.ClipNorm,
		EvalEvery: cfg.EvalEvery, EvalBatches: cfg.EvalBatches, CheckpointEvery: cfg.EvalEvery, Dir: dir, Seed: cfg.Seed}, task, opt, sched)
	if err != nil {
		return nil, err
	}
	tr.Dropout = cfg.Dropout > 0
	return &LMSetup{Model: model, Tokenizer: tok, Trainer: tr, Tokens: len(ids)}, nil
}

// TrainLM runs a character-level GPT to the end (or until ctx is
// cancelled, leaving a checkpoint to resume from) and writes OUT/model (a
// GPT-2 directory with a character tokenizer.json), metrics.jsonl and
// loss.png.
func TrainLM(ctx context.Context, cfg LMConfig, o Options) (*Result, error) {
	s, err := NewLM(cfg, o.Out)
	if err != nil {
		return nil, err
	}
	if o.root() {
		if err := prepareDir(&o, cfg); err != nil {
			return nil, err
		}
	}
	tr, model, tok := s.Trainer, s.Model, s.Tokenizer
	tr.Cfg.Comm, tr.Cfg.BucketBytes, tr.Cfg.Timeout = o.Comm, o.BucketBytes, o.Timeout
	if o.Resume {
		if err := tr.Resume(); err != nil {
			return nil, err
		}
		o.logf("resuming %s at step %d of %d\n", o.Out, tr.Step(), cfg.Steps)
	}
	o.logf("training a %d-layer, %d-wide GPT (%.2fM parameters) on %d characters (vocabulary %d), %d steps of %d×%d tokens%s, %d threads%s\n",
		cfg.Layers, cfg.Embd, float64(model.Params.Count())/1e6, s.Tokens, tok.VocabSize(), cfg.Steps, cfg.Batch, cfg.Block,
		accumNote(cfg.GradAccum, o.Comm), cpu.Threads(), ranksNote(o.Comm, model.Params.Count()))
	tr.OnStep = func(m train.Metrics) {
		if o.OnStep != nil {
			o.OnStep(m)
		}
		if m.ValLoss != nil && o.Samples {
			sample := sampleText(model, tok, 160, cfg.Seed+uint64(m.Step))
			o.logf("step %d: val loss %.4f\n  %s\n%s\n", m.Step, *m.ValLoss, strings.ReplaceAll(sample, "\n", "\n  "), strings.Repeat("-", 40))
		}
	}
	res := &Result{ModelDir: filepath.Join(o.Out, "model")}
	runErr := tr.Run(ctx)
	res.History = tr.History
	if errors.Is(runErr, context.Canceled) {
		res.Interrupted = true
		return res, nil
	}
	if runErr != nil {
		return nil, runErr
	}
	if !o.root() {
		return res, nil
	}
	if err := model.Save(res.ModelDir); err != nil {
		return nil, err
	}
	if err := tok.SaveHF(filepath.Join(res.ModelDir, tokenizer.HFFile)); err != nil {
		return nil, err
	}
	// transformers' AutoTokenizer then loads the fast tokenizer, and decodes
	// characters back exactly (no clean-up of spaces before punctuation).
	if err := writeFile(filepath.Join(res.ModelDir, "tokenizer_config.json"), fmt.Appendf(nil,
		"{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n  \"clean_up_tokenization_spaces\": false,\n  \"model_max_length\": %d\n}\n", cfg.Block)); err != nil {
		return nil, err
	}
	return res, PlotLoss(o.Out, tr.History)
}

// sampleText generates n characters after a newline.
func sampleText(m *gpt.Model, tok *tokenizer.Char, n int, seed uint64) string {
	prompt, err := tok.Encode("\n")
	if err != nil {
		return ""
	}
	s := &generate.Sampler{Temperature: 0.8, TopK: 40, RNG: tensor.NewRNG(seed)}
	out, err := generate.Generate(m, prompt, n, m.Config.NPositions, s, nil)
	if err != nil {
		return err.Error()
	}
	text, _ := tok.Decode(out)
	return text
}
