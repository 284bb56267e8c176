package bench

import (
	"encoding/json"
	"io"
	"os"
	"strings"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/recipes"
	"github.com/goformer/goformer/tensor"
)

// TranslationBatches is what `bench train --write-batches` writes for
// scripts/bench/train_translation_vs_torch.py: the preset, the vocabulary's
// size and special tokens, and the batches of the timed steps in order (the
// first two are the warm-up).
type TranslationBatches struct {
	Preset  string                    `json:"preset"`
	Config  recipes.TranslationConfig `json:"config"`
	Vocab   int                       `json:"vocab_size"`
	Pad     int32                     `json:"pad"`
	EOS     int32                     `json:"eos"`
	Batches []data.Batch              `json:"batches"`
}

// TrainTranslation times iters steps (after 2 warm-up steps) of a
// translation preset's Trainer on fixed batches: iters+2 of the preset's
// own training batches drawn once with a fixed seed, taken in that order
// (so that a peer can run exactly the same ones). FLOPs are counted on the
// padded batches: 6 per weight per token for the matrix products (each
// stack's weights on its own tokens, the cross-attention keys and values on
// the source tokens, the tied output layer on the labelled target tokens
// alone, as the loss computes it) and, for
// attention, 12·d per query-key pair per layer (forward and backward; the
// decoder's causal attention counted whole, as nanoGPT counts it).
// Tokens per second count the target tokens of the loss (no padding).
// writeBatches, if not empty, receives the batches as JSON.
func TrainTranslation(name string, cfg recipes.TranslationConfig, iters int, profile, writeBatches string) (TrainResult, error) {
	cfg.Steps = max(cfg.Steps, iters+2)
	cfg.MaxMinutes = 0
	dir, err := os.MkdirTemp("", "goformer-bench-")
	if err != nil {
		return TrainResult{}, err
	}
	defer os.RemoveAll(dir)
	s, err := recipes.NewTranslation(cfg, recipes.Options{Out: dir})
	if err != nil {
		return TrainResult{}, err
	}
	rng := tensor.NewRNG(7)
	order := make([]int, iters+2)
	for i := range order {
		order[i] = rng.IntN(len(s.Task.Train))
	}
	s.Task.Order = order
	if writeBatches != "" {
		out := TranslationBatches{Preset: name, Config: cfg, Vocab: s.Tokenizer.VocabSize(), Pad: s.Pad, EOS: s.EOS}
		for _, i := range order {
			out.Batches = append(out.Batches, s.Task.Train[i])
		}
		b, err := json.Marshal(out)
		if err != nil {
			return TrainResult{}, err
		}
		if err := tensor.WriteFileAtomic(writeBatches, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return TrainResult{}, err
		}
	}
	el, allocs, err := timeSteps(s.Trainer, iters, profile)
	if err != nil {
		return TrainResult{}, err
	}
	d, L, ffn := float64(cfg.DModel), float64(cfg.Layers), float64(cfg.FFN)
	ffnMats := 2.0
	if strings.HasPrefix(cfg.Activation, "gated") {
		ffnMats = 3
	}
	enc := L * (4*d*d + ffnMats*d*ffn)  // per source token
	decT := L * (6*d*d + ffnMats*d*ffn) // per target token: self-attention, cross q and o, FFN
	decS := L * 2 * d * d               // cross-attention keys and values, per source token
	out := d * float64(s.Tokenizer.VocabSize())
	var flops, tokens float64
	for _, i := range order[2:] {
		b := s.Task.Train[i]
		B, S, T := float64(b.B), float64(b.SrcLen), float64(b.TgtLen)
		flops += 6 * (B*S*(enc+decS) + B*T*decT + float64(b.Tokens)*out)
		flops += 12 * d * L * B * (S*S + T*T + T*S)
		tokens += float64(b.Tokens)
	}
	sec := el.Seconds() / float64(iters)
	return TrainResult{Preset: name, Batch: cfg.MaxTokens, Params: s.Params(), Threads: cpu.Threads(), Iters: iters,
		MsPerStep: sec * 1e3, TokensPerS: tokens / el.Seconds(), FLOPs: flops / float64(iters), GFLOPS: flops / el.Seconds() / 1e9,
		Allocs: allocs}, nil
}
