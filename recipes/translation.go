package recipes

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/dist"
	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/models/t5"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tokenizer"
	"github.com/goformer/goformer/train"
)

// TranslationConfig is a translation run: a joint byte-level BPE
// vocabulary, an encoder-decoder Transformer and its optimisation. Presets
// hold it and JSON config files override it (LoadConfig).
type TranslationConfig struct {
	// Architecture is "" (or "transformer") for the paper's Transformer
	// (a Marian or Pegasus model, by PreLN), or "t5" for T5's: relative
	// position bias, RMS norm before each sub-layer, no biases (Heads heads
	// of DModel/Heads each; Activation "relu" or "gated-gelu").
	Architecture   string  `json:"architecture,omitempty"`
	VocabSize      int     `json:"vocab_size"` // joint BPE vocabulary, special tokens included
	DModel         int     `json:"d_model"`
	Layers         int     `json:"layers"` // encoder and decoder layers each
	Heads          int     `json:"heads"`
	FFN            int     `json:"ffn_dim"`
	Activation     string  `json:"activation_function"`
	PreLN          bool    `json:"pre_ln"` // pre-LN (a Pegasus model) or post-LN (Marian)
	Dropout        float32 `json:"dropout"`
	InitStd        float32 `json:"init_std"`
	LabelSmoothing float32 `json:"label_smoothing"`
	MaxTokens      int     `json:"max_tokens"` // padded tokens per batch
	// GradAccum is the batches per step (each rank's, in a data-parallel
	// run); 0 or 1: one.
	GradAccum   int     `json:"gradient_accumulation_steps,omitempty"`
	MaxLen      int     `json:"max_len"` // longer training pairs are skipped
	Steps       int     `json:"max_steps"`
	MaxMinutes  float64 `json:"max_minutes"` // stop after this much training time, over resumed runs too (0: none)
	LR          float64 `json:"learning_rate"`
	MinLR       float64 `json:"min_lr"`
	Warmup      int     `json:"warmup_steps"`
	Beta1       float32 `json:"beta1"`
	Beta2       float32 `json:"beta2"`
	WeightDecay float32 `json:"weight_decay"`
	ClipNorm    float64 `json:"grad_clip"`
	EvalEvery   int     `json:"eval_interval"`
	Seed        uint64  `json:"seed"`
	// Snapshots: minutes of training at which to save a copy of the model
	// (OUT/model-<m>min), to compare quality against training time.
	Snapshots []float64 `json:"snapshot_minutes,omitempty"`
	// Parallel corpora (plain or gzip); empty: the built-in Multi30k de→en.
	TrainSrc string `json:"train_src,omitempty"`
	TrainTgt string `json:"train_tgt,omitempty"`
	ValSrc   string `json:"val_src,omitempty"`
	ValTgt   string `json:"val_tgt,omitempty"`
}

// TranslationPresets are the Multi30k German→English runs.
var TranslationPresets = map[string]TranslationConfig{
	// Multi30k German→English within an hour on two cores.
	"multi30k-de-en": {VocabSize: 8000, DModel: 256, Layers: 3, Heads: 4, FFN: 1024, Activation: "relu", PreLN: true,
		Dropout: 0.1, InitStd: 0.02, LabelSmoothing: 0.1, MaxTokens: 2500, MaxLen: 100, Steps: 3100, MaxMinutes: 60,
		LR: 1e-3, MinLR: 5e-5, Warmup: 500, Beta1: 0.9, Beta2: 0.98, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 500,
		Seed: 1, Snapshots: []float64{15, 30}},
	// A minute's run for tests and the README.
	// The same data, sizes and optimisation with T5's architecture: the
	// backward pass of the relative bias at work.
	"multi30k-de-en-t5": {Architecture: "t5", VocabSize: 8000, DModel: 256, Layers: 3, Heads: 4, FFN: 1024, Activation: "relu", PreLN: true,
		Dropout: 0.1, LabelSmoothing: 0.1, MaxTokens: 2500, MaxLen: 100, Steps: 3100, MaxMinutes: 60,
		LR: 1e-3, MinLR: 5e-5, Warmup: 500, Beta1: 0.9, Beta2: 0.98, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 500,
		Seed: 1, Snapshots: []float64{15, 30}},
	"multi30k-de-en-t5-quick": {Architecture: "t5", VocabSize: 2000, DModel: 64, Layers: 1, Heads: 2, FFN: 128, Activation: "relu", PreLN: true,
		Dropout: 0.1, LabelSmoothing: 0.1, MaxTokens: 2048, MaxLen: 100, Steps: 60, MaxMinutes: 0,
		LR: 2e-3, MinLR: 1e-4, Warmup: 20, Beta1: 0.9, Beta2: 0.98, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 60, Seed: 1},
	"multi30k-de-en-quick": {VocabSize: 2000, DModel: 64, Layers: 1, Heads: 2, FFN: 128, Activation: "relu", PreLN: true,
		Dropout: 0.1, InitStd: 0.02, LabelSmoothing: 0.1, MaxTokens: 2048, MaxLen: 100, Steps: 60, MaxMinutes: 0,
		LR: 2e-3, MinLR: 1e-4, Warmup: 20, Beta1: 0.9, Beta2: 0.98, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 60, Seed: 1},
}

// Validate reports the first setting that makes no sense.
func (c *TranslationConfig) Validate() error {
	var err error
	switch {
	case c.VocabSize < 258:
		err = fmt.Errorf("vocab_size must be at least 258 (256 bytes + 2 special tokens), got %d", c.VocabSize)
	case c.DModel < 2 || c.Heads < 1 || c.DModel%c.Heads != 0 || c.Layers < 1 || c.FFN < 1:
		err = fmt.Errorf("d_model (%d) must be a multiple of heads (%d), with layers ≥ 1 (%d) and ffn_dim ≥ 1 (%d)", c.DModel, c.Heads, c.Layers, c.FFN)
	case c.MaxTokens < 1 || c.Steps < 1 || c.MaxLen < 1:
		err = fmt.Errorf("max_tokens, max_steps and max_len must be positive (got %d, %d, %d)", c.MaxTokens, c.Steps, c.MaxLen)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		err = fmt.Errorf("label_smoothing must be in [0, 1), got %g", c.LabelSmoothing)
	case c.Architecture != "" && c.Architecture != "transformer" && c.Architecture != "t5":
		err = fmt.Errorf("architecture %q (want transformer or t5)", c.Architecture)
	case (c.TrainSrc == "") != (c.TrainTgt == "") || (c.ValSrc == "") != (c.ValTgt == ""):
		err = fmt.Errorf("train_src/train_tgt and val_src/val_tgt come in pairs")
	case c.MaxMinutes < 0:
		err = fmt.Errorf("max_minutes must be ≥ 0, got %g", c.MaxMinutes)
	default:
		err = optim.WarmupCosine{Max: c.LR, Min: c.MinLR, Warmup: c.Warmup, DecaySteps: c.Steps}.Validate()
	}
	if err != nil {
		return &ConfigError{err}
	}
	return nil
}

func readPairs(srcPath, tgtPath, split string) ([]string, []string, error) {
	var r *data.ParallelReader
	var err error
	if srcPath == "" {
		r, err = data.Multi30k(split)
	} else {
		r, err = data.OpenParallel(srcPath, tgtPath)
	}
	if err != nil {
		return nil, nil, &ConfigError{err}
	}
	src, tgt, err := r.ReadAll()
	if err != nil {
		return nil, nil, &ConfigError{err}
	}
	return src, tgt, nil
}

// TranslationSetup is a translation run made ready to train, as
// TrainTranslation makes it: the tokenizer (trained, or read back from the
// output directory), the batches, the model and its Trainer. Benchmarks
// time its Trainer's steps.
type TranslationSetup struct {
	Config    TranslationConfig
	Tokenizer *tokenizer.ByteBPE
	Task      *train.TranslationTask
	Trainer   *train.Trainer
	ModelType string // marian, pegasus or t5 (variant)
	Pad, EOS  int32

	model          translationModel
	maxPos, pairs  int
	valSrc, valTgt []string
	valEx          []data.Example
}

// NewTranslation reads the corpora, trains or reads the tokenizer (in
// o.Out, which it prepares), tokenises and buckets the pairs, and builds
// the model and its Trainer; nothing is trained yet.
func NewTranslation(cfg TranslationConfig, o Options) (*TranslationSetup, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	trainSrc, trainTgt, err := readPairs(cfg.TrainSrc, cfg.TrainTgt, "train")
	if err != nil {
		return nil, err
	}
	valSrc, valTgt, err := readPairs(cfg.ValSrc, cfg.ValTgt, "val")
	if err != nil {
		return nil, err
	}
	if o.root() {
		if err := prepareDir(&o, cfg); err != nil {
			return nil, err
		}
	}
	tok, err := sharedBPE(cfg, trainSrc, trainTgt, &o)
	if err != nil {
		return nil, err
	}
	pad, _ := tok.ID("<pad>")
	eos, _ := tok.ID("</s>")
	sp := data.Special{Pad: pad, EOS: eos, Start: pad}
	trainEx, err := data.Tokenize(trainSrc, trainTgt, tok.Encode, cfg.MaxLen)
	if err != nil {
		return nil, err
	}
	valEx, err := data.Tokenize(valSrc, valTgt, tok.Encode, 0)
	if err != nil {
		return nil, err
	}
	trainBatches, valBatches := data.Bucket(trainEx, cfg.MaxTokens, sp), data.Bucket(valEx, cfg.MaxTokens, sp)
	maxPos := 256
	for _, e := range trainEx {
		maxPos = max(maxPos, len(e.Src)+2, len(e.Tgt)+2)
	}
	model, modelType, err := newTranslationModel(cfg, tok.VocabSize(), pad, eos, maxPos)
	if err != nil {
		return nil, &ConfigError{err}
	}
	task := &train.TranslationTask{Model: model, Parameters: model.params(), Train: trainBatches, Val: valBatches, LabelSmoothing: cfg.LabelSmoothing}
	tr, err := train.NewTrainer(train.Config{Steps: cfg.Steps, GradAccum: cfg.GradAccum, ClipNorm: cfg.ClipNorm, EvalEvery: cfg.EvalEvery,
		CheckpointEvery: cfg.EvalEvery, Dir: o.Out, Seed: cfg.Seed, MaxDuration: time.Duration(cfg.MaxMinutes * float64(time.Minute)),
		Comm: o.Comm, BucketBytes: o.BucketBytes, Timeout: o.Timeout},
		task, optim.NewAdamW(task.Params(), cfg.Beta1, cfg.Beta2, cfg.WeightDecay),
		optim.WarmupCosine{Max: cfg.LR, Min: cfg.MinLR, Warmup: cfg.Warmup, DecaySteps: cfg.Steps})
	if err != nil {
		return nil, err
	}
	tr.Dropout = cfg.Dropout > 0
	return &TranslationSetup{Config: cfg, Tokenizer: tok, Task: task, Trainer: tr, ModelType: modelType, Pad: pad, EOS: eos,
		model: model, maxPos: maxPos, pairs: len(trainEx), valSrc: valSrc, valTgt: valTgt, valEx: valEx}, nil
}

// Params returns the model's parameter count.
func (s *TranslationSetup) Params() int { return countParams(s.model.params()) }

// TrainTranslation trains an encoder-decoder on parallel text: a joint
// byte-level BPE trained on the corpus (or read back when resuming), a
// pre-LN (Pegasus) or post-LN (Marian) model, validation loss over the
// whole validation set and greedy validation BLEU at each evaluation. The
// model with the best BLEU is kept in OUT/model, copies at the snapshot
// times in OUT/model-<m>min and the last in OUT/model-last, each a Hugging
// Face directory with tokenizer.json; curves in loss.png and bleu.png.
// The best score and the snapshots done are kept in the checkpoint, and the
// time budget counts the time trained before a resume.
func TrainTranslation(ctx context.Context, cfg TranslationConfig, o Options) (*Result, error) {
	s, err := NewTranslation(cfg, o)
	if err != nil {
		return nil, err
	}
	model, tok, maxPos, tr := s.model, s.Tokenizer, s.maxPos, s.Trainer
	valEx, valSrc, valTgt, modelType := s.valEx, s.valSrc, s.valTgt, s.ModelType
	save := func(dir string) error { return saveTranslator(model, tok, maxPos, dir) }
	res := &Result{ModelDir: filepath.Join(o.Out, "model")}
	res.Best = &train.KeepBest{Save: func(train.Metrics) error { return save(res.ModelDir) },
		OnSave: func(m train.Metrics) { o.logf("  (the best so far: saved to %s)\n", res.ModelDir) }}
	snaps := snapshots(&o, cfg.Snapshots, save)
	tr.Hooks = []train.Hook{res.Best, snaps}
	// Validation BLEU, greedy, at each evaluation.
	tl := &pipelines.Translator{Model: model.pipeline(), Tokenizer: tok, Options: seq2seq.TranslateOptions{Beam: 1}}
	if _, ok := model.(t5Model); ok {
		gen := t5Generation(model.pipeline(), maxPos)
		tl.Generation = &gen
	}
	valIDs, refs := make([][]int32, len(valEx)), make([]string, len(valEx))
	for i, e := range valEx {
		valIDs[i], refs[i] = e.Src, valTgt[e.Index]
	}
	tr.ScoreName = "bleu"
	tr.Score = func(step int) (float64, error) {
		start := time.Now()
		hyp, err := tl.TranslateIDs(valIDs)
		if err != nil {
			return 0, err
		}
		bleu, err := metrics.CorpusBLEU(hyp, [][]string{refs})
		if err != nil {
			return 0, err
		}
		o.logf("step %d: val BLEU %.2f, greedy, %d sentences in %.1fs\n  %s\n  → %s\n", step, bleu.Score,
			len(hyp), time.Since(start).Seconds(), valSrc[valEx[0].Index], hyp[0])
		return bleu.Score, nil
	}
	if o.Resume {
		if err := tr.Resume(); err != nil {
			return nil, err
		}
		o.logf("resuming %s at step %d of %d, after %.1f minutes of training\n", o.Out, tr.Step(), cfg.Steps, tr.Elapsed().Minutes())
	}
	o.logf("training a %s encoder-decoder (%d+%d layers, d_model %d, %.2fM parameters) on %d pairs (%d batches of ≤%d tokens), %d steps",
		modelType, cfg.Layers, cfg.Layers, cfg.DModel, float64(s.Params())/1e6, s.pairs, len(s.Task.Train), cfg.MaxTokens, cfg.Steps)
	if cfg.MaxMinutes > 0 {
		o.logf(" or %g minutes", cfg.MaxMinutes)
	}
	o.logf("%s, %d threads%s\n", accumNote(cfg.GradAccum, o.Comm), cpu.Threads(), ranksNote(o.Comm, countParams(model.params())))
	tr.OnStep = o.OnStep
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
	if err := save(filepath.Join(o.Out, "model-last")); err != nil {
		return nil, err
	}
	return res, PlotLoss(o.Out, tr.History)
}

// sharedBPE is jointBPE on rank 0, whose tokenizer the other ranks of a
// data-parallel run receive (they may not see the run directory).
func sharedBPE(cfg TranslationConfig, src, tgt []string, o *Options) (*tokenizer.ByteBPE, error) {
	if o.Comm == nil || o.Comm.Size() == 1 {
		return jointBPE(cfg, src, tgt, o)
	}
	var blob []byte
	if o.root() {
		tok, err := jointBPE(cfg, src, tgt, o)
		if err != nil {
			return nil, err
		}
		blob = tok.MarshalHF()
	}
	blob, err := dist.BroadcastBlob(o.Comm, blob, 0)
	if err != nil {
		return nil, fmt.Errorf("sharing the tokenizer: %w", err)
	}
	t, err := tokenizer.ParseHF(blob, "rank 0's tokenizer")
	if err != nil {
		return nil, err
	}
	tok, ok := t.(*tokenizer.ByteBPE)
	if !ok {
		return nil, fmt.Errorf("rank 0's tokenizer is not a byte-level BPE")
	}
	return tok, nil
}

// jointBPE trains the run's byte-level BPE on both sides of the corpus and
// saves it in the run directory, or reads it back when resuming.
func jointBPE(cfg TranslationConfig, src, tgt []string, o *Options) (*tokenizer.ByteBPE, error) {
	path := filepath.Join(o.Out, tokenizer.HFFile)
	if o.Resume {
		t, err := tokenizer.LoadHF(path)
		if err != nil {
			return nil, err
		}
		tok, ok := t.(*tokenizer.ByteBPE)
		if !ok {
			return nil, fmt.Errorf("%s is not a byte-level BPE tokenizer", path)
		}
		return tok, nil
	}
	start := time.Now()
	bt := &tokenizer.BPETrainer{VocabSize: cfg.VocabSize, Special: []string{"<pad>", "</s>"}}
	for i := range src {
		if err := bt.Add(src[i] + "\n" + tgt[i]); err != nil {
			return nil, configErrorf("training pair %d: %v", i+1, err)
		}
	}
	tok, err := bt.Train()
	if err != nil {
		return nil, err
	}
	if err := tok.SaveHF(path); err != nil {
		return nil, err
	}
	o.logf("trained a joint byte-level BPE of %d tokens on %d sentence pairs in %.1fs\n", tok.VocabSize(), len(src), time.Since(start).Seconds())
	return tok, nil
}

// translationModel is what a translation run trains: a seq2seq.Model or
// a t5.Model.
type translationModel interface {
	train.Seq2SeqModel
	Save(dir string) error
	params() []*autograd.Var
	// pipeline returns the model itself, for pipelines.Translator.
	pipeline() pipelines.Seq2SeqModel
}

type seq2seqModel struct{ *seq2seq.Model }

func (m seq2seqModel) params() []*autograd.Var          { return m.Params.List() }
func (m seq2seqModel) pipeline() pipelines.Seq2SeqModel { return m.Model }

type t5Model struct{ *t5.Model }

func (m t5Model) params() []*autograd.Var          { return m.Params.List() }
func (m t5Model) pipeline() pipelines.Seq2SeqModel { return m.Model }

// newTranslationModel builds the run's model: the paper's Transformer as
// a Marian (post-LN) or Pegasus (pre-LN) model, or T5's, and names it.
func newTranslationModel(cfg TranslationConfig, vocab int, pad, eos int32, maxPos int) (translationModel, string, error) {
	if cfg.Architecture == "t5" {
		tie := true
		m, err := t5.New(t5.Config{VocabSize: vocab, DModel: cfg.DModel, DKV: cfg.DModel / cfg.Heads, DFF: cfg.FFN,
			NumLayers: cfg.Layers, NumHeads: cfg.Heads, DropoutRate: cfg.Dropout, FeedForwardProj: cfg.Activation,
			TieWordEmbeddings: &tie, PadTokenID: int(pad), EOSTokenID: int(eos), DecoderStartTokenID: int(pad), NPositions: maxPos}, cfg.Seed)
		if err != nil {
			return nil, "", err
		}
		return t5Model{m}, "t5 (" + m.Config.Variant() + ")", nil
	}
	modelType := "marian"
	if cfg.PreLN {
		modelType = "pegasus"
	}
	m, err := seq2seq.New(seq2seq.Config{ModelType: modelType, VocabSize: vocab, DModel: cfg.DModel, EncoderLayers: cfg.Layers,
		DecoderLayers: cfg.Layers, EncoderAttentionHeads: cfg.Heads, DecoderAttentionHeads: cfg.Heads, EncoderFFNDim: cfg.FFN,
		DecoderFFNDim: cfg.FFN, ActivationFunction: cfg.Activation, Dropout: cfg.Dropout, MaxPositionEmbeddings: maxPos,
		ScaleEmbedding: true, InitStd: cfg.InitStd, PadTokenID: int(pad), EOSTokenID: int(eos), DecoderStartTokenID: int(pad)}, cfg.Seed)
	if err != nil {
		return nil, "", err
	}
	return seq2seqModel{m}, modelType, nil
}

// t5Generation is how a T5 model trained here translates: greedy, up to
// the longest training sentence's length.
func t5Generation(m pipelines.Seq2SeqModel, maxPos int) generate.Options {
	o := m.GenerationOptions()
	o.MaxLength = maxPos
	return o
}

func countParams(ps []*autograd.Var) int {
	n := 0
	for _, p := range ps {
		n += p.Value.Len()
	}
	return n
}

// saveTranslator writes a Hugging Face directory: the model, its
// tokenizer.json, and a tokenizer_config.json with which transformers'
// AutoTokenizer picks the fast tokenizer with the right special tokens; a
// T5 model gets a generation_config.json (greedy, up to maxPos tokens),
// which its pipelines read.
func saveTranslator(m translationModel, tok *tokenizer.ByteBPE, maxPos int, dir string) error {
	if err := m.Save(dir); err != nil {
		return err
	}
	if t, ok := m.(t5Model); ok {
		if err := writeFile(filepath.Join(dir, "generation_config.json"), fmt.Appendf(nil,
			"{\n  \"decoder_start_token_id\": %d,\n  \"eos_token_id\": %d,\n  \"pad_token_id\": %d,\n  \"max_length\": %d\n}\n",
			t.Config.DecoderStartTokenID, t.Config.EOSTokenID, t.Config.PadTokenID, maxPos)); err != nil {
			return err
		}
	}
	if err := tok.SaveHF(filepath.Join(dir, tokenizer.HFFile)); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "tokenizer_config.json"), fmt.Appendf(nil,
		"{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n  \"pad_token\": \"<pad>\",\n  \"eos_token\": \"</s>\",\n  \"clean_up_tokenization_spaces\": false,\n  \"model_max_length\": %d\n}\n", maxPos))
}
