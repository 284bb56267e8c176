package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
	"github.com/goformer/goformer/train"
)

// MTConfig is a translation run: a joint byte-level BPE vocabulary, an
// encoder-decoder Transformer and its optimisation. Presets hold it and
// --config files override it (JSON, these field names).
type MTConfig struct {
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
	MaxLen         int     `json:"max_len"`    // longer training pairs are skipped
	Steps          int     `json:"max_steps"`
	MaxMinutes     float64 `json:"max_minutes"` // stop after this much training time (0: none)
	LR             float64 `json:"learning_rate"`
	MinLR          float64 `json:"min_lr"`
	Warmup         int     `json:"warmup_steps"`
	Beta1          float32 `json:"beta1"`
	Beta2          float32 `json:"beta2"`
	WeightDecay    float32 `json:"weight_decay"`
	ClipNorm       float64 `json:"grad_clip"`
	EvalEvery      int     `json:"eval_interval"`
	Seed           uint64  `json:"seed"`
	// Snapshots: minutes of training at which to save a copy of the model
	// (OUT/model-<m>min), to compare quality against training time.
	Snapshots []float64 `json:"snapshot_minutes,omitempty"`
	// Parallel corpora (plain or gzip); empty: the built-in Multi30k de→en.
	TrainSrc string `json:"train_src,omitempty"`
	TrainTgt string `json:"train_tgt,omitempty"`
	ValSrc   string `json:"val_src,omitempty"`
	ValTgt   string `json:"val_tgt,omitempty"`
}

var mtPresets = map[string]MTConfig{
	// Multi30k German→English within an hour on two cores.
	"multi30k-de-en": {VocabSize: 8000, DModel: 256, Layers: 3, Heads: 4, FFN: 1024, Activation: "relu", PreLN: true,
		Dropout: 0.1, InitStd: 0.02, LabelSmoothing: 0.1, MaxTokens: 2500, MaxLen: 100, Steps: 3100, MaxMinutes: 60,
		LR: 1e-3, MinLR: 5e-5, Warmup: 500, Beta1: 0.9, Beta2: 0.98, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 500,
		Seed: 1, Snapshots: []float64{15, 30}},
	// A minute's run for tests and the README.
	"multi30k-de-en-quick": {VocabSize: 2000, DModel: 64, Layers: 1, Heads: 2, FFN: 128, Activation: "relu", PreLN: true,
		Dropout: 0.1, InitStd: 0.02, LabelSmoothing: 0.1, MaxTokens: 2048, MaxLen: 100, Steps: 60, MaxMinutes: 0,
		LR: 2e-3, MinLR: 1e-4, Warmup: 20, Beta1: 0.9, Beta2: 0.98, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 60, Seed: 1},
}

func (c *MTConfig) validate() error {
	switch {
	case c.VocabSize < 258:
		return fmt.Errorf("vocab_size must be at least 258 (256 bytes + 2 special tokens), got %d", c.VocabSize)
	case c.DModel < 2 || c.Heads < 1 || c.DModel%c.Heads != 0 || c.Layers < 1 || c.FFN < 1:
		return fmt.Errorf("d_model (%d) must be a multiple of heads (%d), with layers ≥ 1 (%d) and ffn_dim ≥ 1 (%d)", c.DModel, c.Heads, c.Layers, c.FFN)
	case c.MaxTokens < 1 || c.Steps < 1 || c.MaxLen < 1:
		return fmt.Errorf("max_tokens, max_steps and max_len must be positive (got %d, %d, %d)", c.MaxTokens, c.Steps, c.MaxLen)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return fmt.Errorf("label_smoothing must be in [0, 1), got %g", c.LabelSmoothing)
	case (c.TrainSrc == "") != (c.TrainTgt == "") || (c.ValSrc == "") != (c.ValTgt == ""):
		return fmt.Errorf("train_src/train_tgt and val_src/val_tgt come in pairs")
	case c.MaxMinutes < 0:
		return fmt.Errorf("max_minutes must be ≥ 0, got %g", c.MaxMinutes)
	}
	return optim.WarmupCosine{Max: c.LR, Min: c.MinLR, Warmup: c.Warmup, DecaySteps: c.Steps}.Validate()
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
		return nil, nil, err
	}
	return r.ReadAll()
}

// runTrainMT is `goformer train` with a translation preset.
func runTrainMT(preset string, cfg MTConfig, configPath string, set map[string]bool, steps int, seed int64,
	out string, resume bool, stdout, stderr io.Writer) error {
	if configPath != "" {
		if err := decodeStrict(configPath, &cfg); err != nil {
			return usageError{"train: " + err.Error()}
		}
	}
	if set["steps"] {
		cfg.Steps = steps
	}
	if set["seed"] {
		cfg.Seed = uint64(seed)
	}
	if err := cfg.validate(); err != nil {
		return usagef("train: %v", err)
	}
	if out == "" {
		out = filepath.Join("runs", preset)
	}
	if !resume {
		if _, err := os.Stat(filepath.Join(out, train.CheckpointFile)); err == nil {
			return usagef("train: %s already holds a run; use --resume to continue it or --out for a new one", out)
		}
	}
	trainSrc, trainTgt, err := readPairs(cfg.TrainSrc, cfg.TrainTgt, "train")
	if err != nil {
		return usageError{"train: " + err.Error()}
	}
	valSrc, valTgt, err := readPairs(cfg.ValSrc, cfg.ValTgt, "val")
	if err != nil {
		return usageError{"train: " + err.Error()}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// The tokenizer: trained once, then read back when resuming.
	tokPath := filepath.Join(out, "tokenizer.json")
	var tok *tokenizer.ByteBPE
	if resume {
		t, err := tokenizer.LoadHF(tokPath)
		if err != nil {
			return err
		}
		var ok bool
		if tok, ok = t.(*tokenizer.ByteBPE); !ok {
			return fmt.Errorf("train: %s is not a byte-level BPE tokenizer", tokPath)
		}
	} else {
		start := time.Now()
		bt := &tokenizer.BPETrainer{VocabSize: cfg.VocabSize, Special: []string{"<pad>", "</s>"}}
		for i := range trainSrc {
			if err := bt.Add(trainSrc[i] + "\n" + trainTgt[i]); err != nil {
				return usagef("train: training pair %d: %v", i+1, err)
			}
		}
		if tok, err = bt.Train(); err != nil {
			return err
		}
		if err := tok.SaveHF(tokPath); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "trained a joint byte-level BPE of %d tokens on %d sentence pairs in %.1fs\n", tok.VocabSize(), len(trainSrc), time.Since(start).Seconds())
	}
	pad, _ := tok.ID("<pad>")
	eos, _ := tok.ID("</s>")
	sp := data.Special{Pad: pad, EOS: eos, Start: pad}
	trainEx, err := data.Tokenize(trainSrc, trainTgt, tok.Encode, cfg.MaxLen)
	if err != nil {
		return err
	}
	valEx, err := data.Tokenize(valSrc, valTgt, tok.Encode, 0)
	if err != nil {
		return err
	}
	trainBatches := data.Bucket(trainEx, cfg.MaxTokens, sp)
	valBatches := data.Bucket(valEx, cfg.MaxTokens, sp)
	valIDs := make([][]int32, len(valEx))
	for i, e := range valEx {
		valIDs[i] = e.Src
	}
	maxPos := 256
	for _, e := range trainEx {
		maxPos = max(maxPos, len(e.Src)+2, len(e.Tgt)+2)
	}
	modelType := "marian"
	if cfg.PreLN {
		modelType = "pegasus"
	}
	mcfg := seq2seq.Config{ModelType: modelType, VocabSize: tok.VocabSize(), DModel: cfg.DModel, EncoderLayers: cfg.Layers,
		DecoderLayers: cfg.Layers, EncoderAttentionHeads: cfg.Heads, DecoderAttentionHeads: cfg.Heads, EncoderFFNDim: cfg.FFN,
		DecoderFFNDim: cfg.FFN, ActivationFunction: cfg.Activation, Dropout: cfg.Dropout, MaxPositionEmbeddings: maxPos,
		ScaleEmbedding: true, InitStd: cfg.InitStd, PadTokenID: int(pad), EOSTokenID: int(eos), DecoderStartTokenID: int(pad)}
	model, err := seq2seq.New(mcfg, cfg.Seed)
	if err != nil {
		return usagef("train: %v", err)
	}
	task := &train.TranslationTask{Model: model, Parameters: model.Params.List(), Train: trainBatches, Val: valBatches, LabelSmoothing: cfg.LabelSmoothing}
	opt := optim.NewAdamW(task.Params(), cfg.Beta1, cfg.Beta2, cfg.WeightDecay)
	sched := optim.WarmupCosine{Max: cfg.LR, Min: cfg.MinLR, Warmup: cfg.Warmup, DecaySteps: cfg.Steps}
	tr, err := train.NewTrainer(train.Config{Steps: cfg.Steps, ClipNorm: cfg.ClipNorm, EvalEvery: cfg.EvalEvery,
		EvalBatches: len(valBatches), CheckpointEvery: cfg.EvalEvery, Dir: out, Seed: cfg.Seed,
		MaxDuration: time.Duration(cfg.MaxMinutes * float64(time.Minute))}, task, opt, sched)
	if err != nil {
		return err
	}
	tr.Dropout = cfg.Dropout > 0
	if resume {
		if err := tr.Resume(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "resuming %s at step %d of %d\n", out, tr.Step(), cfg.Steps)
	}
	cfgJSON, _ := json.MarshalIndent(cfg, "", "  ")
	if err := tensor.WriteFileAtomic(filepath.Join(out, "train_config.json"), func(w io.Writer) error {
		_, err := w.Write(append(cfgJSON, '\n'))
		return err
	}); err != nil {
		return err
	}
	modelDir := filepath.Join(out, "model")
	saveModel := func(dir string) error {
		if err := model.Save(dir); err != nil {
			return err
		}
		if err := tok.SaveHF(filepath.Join(dir, "tokenizer.json")); err != nil {
			return err
		}
		// So that transformers' AutoTokenizer.from_pretrained(dir) picks
		// the fast tokenizer with the right special tokens.
		tc, _ := json.MarshalIndent(map[string]any{"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>",
			"eos_token": "</s>", "model_max_length": maxPos}, "", "  ")
		return tensor.WriteFileAtomic(filepath.Join(dir, "tokenizer_config.json"), func(w io.Writer) error {
			_, err := w.Write(append(tc, '\n'))
			return err
		})
	}
	best := -1.0
	if b, err := os.ReadFile(filepath.Join(out, "best_bleu.txt")); err == nil && resume {
		fmt.Sscan(string(b), &best)
	}
	tr.Score = func(step int) (float64, error) {
		start := time.Now()
		hyp, err := translateIDs(model, tok, valIDs, seq2seq.TranslateOptions{Beam: 1})
		if err != nil {
			return 0, err
		}
		refs := make([]string, len(valEx))
		for i, e := range valEx {
			refs[i] = valTgt[e.Index]
		}
		bleu, err := metrics.CorpusBLEU(hyp, [][]string{refs})
		if err != nil {
			return 0, err
		}
		note := ""
		if bleu.Score > best {
			best = bleu.Score
			if err := saveModel(modelDir); err != nil {
				return 0, err
			}
			if err := os.WriteFile(filepath.Join(out, "best_bleu.txt"), fmt.Appendf(nil, "%.2f\n", best), 0o644); err != nil {
				return 0, err
			}
			note = " (best: saved to " + modelDir + ")"
		}
		fmt.Fprintf(stderr, "\r\033[Kstep %d: val BLEU %.2f, greedy, %d sentences in %.1fs%s\n  %s\n  → %s\n", step, bleu.Score,
			len(hyp), time.Since(start).Seconds(), note, valSrc[valEx[0].Index], hyp[0])
		return bleu.Score, nil
	}

	params := model.Params.Count()
	fmt.Fprintf(stderr, "training a %s encoder-decoder (%d+%d layers, d_model %d, %.2fM parameters) on %d pairs (%d batches of ≤%d tokens), %d steps",
		modelType, cfg.Layers, cfg.Layers, cfg.DModel, float64(params)/1e6, len(trainEx), len(trainBatches), cfg.MaxTokens, cfg.Steps)
	if cfg.MaxMinutes > 0 {
		fmt.Fprintf(stderr, " or %g minutes", cfg.MaxMinutes)
	}
	fmt.Fprintf(stderr, ", %d threads\n", cpu.Threads())
	prog := newProgress(stderr, cfg.Steps, tr.Step())
	snaps := append([]float64(nil), cfg.Snapshots...)
	var snapErr error
	tr.OnStep = func(m train.Metrics) {
		prog.update(m)
		for len(snaps) > 0 && m.Elapsed >= snaps[0]*60 {
			dir := filepath.Join(out, fmt.Sprintf("model-%gmin", snaps[0]))
			if err := saveModel(dir); err != nil {
				snapErr = err
			}
			prog.clear()
			fmt.Fprintf(stderr, "%g minutes: step %d, snapshot in %s\n", snaps[0], m.Step, dir)
			snaps = snaps[1:]
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	runErr := tr.Run(ctx)
	prog.clear()
	if errors.Is(runErr, context.Canceled) {
		fmt.Fprintf(stderr, "interrupted: checkpoint of step %d written to %s; continue with: goformer train --preset %s --out %s --resume\n", tr.Step(), out, preset, out)
		return nil
	}
	if runErr != nil {
		return runErr
	}
	if snapErr != nil {
		return snapErr
	}
	if err := saveModel(filepath.Join(out, "model-last")); err != nil {
		return err
	}
	if err := plotLoss(filepath.Join(out, "loss.png"), tr.History); err != nil {
		return err
	}
	last := tr.History[len(tr.History)-1]
	fmt.Fprintf(stdout, "done: step %d in %.1f minutes, train loss %.4f, val loss %.4f, best val BLEU %.2f; model in %s, curves in %s\n",
		last.Step, last.Elapsed/60, last.Loss, valueOr(last.ValLoss), best, modelDir, filepath.Join(out, "loss.png"))
	fmt.Fprintf(stdout, "translate with: goformer translate --model %s --beam 4 < input.de > output.en\n", modelDir)
	return nil
}

// translateIDs translates tokenized sentences and returns detokenized text
// (special tokens dropped).
func translateIDs(m *seq2seq.Model, tok *tokenizer.ByteBPE, src [][]int32, opt seq2seq.TranslateOptions) ([]string, error) {
	out, err := m.Translate(src, opt)
	if err != nil {
		return nil, err
	}
	text := make([]string, len(out))
	for i, ids := range out {
		kept := ids[:0:0]
		for _, id := range ids {
			if !tok.IsSpecial(id) {
				kept = append(kept, id)
			}
		}
		s, err := tok.Decode(kept)
		if err != nil {
			return nil, err
		}
		text[i] = strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	}
	return text, nil
}
