package bench

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/models/gpt"
)

// DecodeConfigs are the model shapes `goformer bench decode --config`
// knows: GPT-2's published sizes (random weights: speed does not depend on
// their values).
var DecodeConfigs = map[string]gpt.Config{
	"gpt2":        {VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12},
	"gpt2-medium": {VocabSize: 50257, NPositions: 1024, NEmbd: 1024, NLayer: 24, NHead: 16},
}

// DecodeResult is one decoding measurement.
type DecodeResult struct {
	Config            string  `json:"config"`
	DType             string  `json:"dtype"`
	Batch             int     `json:"batch"`
	Prompt            int     `json:"prompt"`
	New               int     `json:"new"`
	Threads           int     `json:"threads"`
	TokensPerS        float64 `json:"tokens_per_s"`         // new tokens, every row counted
	PrefillTokensPerS float64 `json:"prefill_tokens_per_s"` // prompt tokens
	WeightBytes       int     `json:"weight_bytes"`         // the weights a step reads (every projection and the output layer)
	BytesPerToken     float64 `json:"bytes_per_token"`      // weights and KV cache read per step, over the rows
	GBPerS            float64 `json:"gb_per_s"`             // bytes read per second while decoding
	// BandwidthGBPerS is the read bandwidth measured in the same run
	// (StreamGBps), and FractionOfBandwidth the tokens/s against the
	// limit it sets (bandwidth ÷ bytes per token).
	BandwidthGBPerS     float64 `json:"bandwidth_gb_per_s,omitempty"`
	FractionOfBandwidth float64 `json:"fraction_of_bandwidth,omitempty"`
	// GFLOPS counts 2 FLOPs per weight per row of a step, and attention's
	// 4·d per cached position per row.
	GFLOPS float64 `json:"gflops"`
}

// Decode times greedy decoding of a GPT of the named shape with random
// weights: batch rows of prompt random tokens are prefilled, then newTokens
// steps decode, each feeding every row its argmax. dtype is "fp32",
// "bf16" or "int8" (weights quantised for inference); bandwidth, if
// positive, is the measured read bandwidth to compare against.
func Decode(config string, batch, prompt, newTokens int, dtype string, bandwidth float64) (DecodeResult, error) {
	cfg, ok := DecodeConfigs[config]
	if !ok {
		return DecodeResult{}, fmt.Errorf("unknown config %q (want gpt2 or gpt2-medium)", config)
	}
	if prompt+newTokens > cfg.NPositions {
		return DecodeResult{}, fmt.Errorf("a prompt of %d and %d new tokens exceed the context of %d", prompt, newTokens, cfg.NPositions)
	}
	m, err := gpt.New(cfg, 1)
	if err != nil {
		return DecodeResult{}, err
	}
	if _, err := m.Params.Quantize(dtype); err != nil {
		return DecodeResult{}, err
	}
	weights := 0
	for _, p := range m.Params.List() {
		if p.Value.Dims() != 2 || p.Name == "wpe.weight" { // positions: one row looked up per token
			continue
		}
		if b := p.QuantizedBytes(); b > 0 {
			weights += b
		} else {
			weights += 4 * p.Value.Len()
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	prompts := make([][]int32, batch)
	for r := range prompts {
		prompts[r] = make([]int32, prompt)
		for i := range prompts[r] {
			prompts[r][i] = int32(rng.IntN(cfg.VocabSize))
		}
	}
	start := time.Now()
	d, err := m.NewDecoder(prompts, 1, newTokens)
	if err != nil {
		return DecodeResult{}, err
	}
	prefill := time.Since(start).Seconds()
	tokens := append([]int32(nil), d.Starts()...)
	start = time.Now()
	for range newTokens {
		logits, err := d.Step(tokens, nil)
		if err != nil {
			return DecodeResult{}, err
		}
		for r := range tokens {
			row := logits[r*cfg.VocabSize : (r+1)*cfg.VocabSize]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			tokens[r] = int32(best)
		}
	}
	secs := time.Since(start).Seconds()
	// The cache read by step s (0-based): prompt-1+s+1 positions of keys
	// and values per layer and row, float32.
	avgLen := float64(prompt) + float64(newTokens-1)/2
	cache := 2 * float64(cfg.NLayer) * avgLen * float64(cfg.NEmbd) * 4 * float64(batch)
	stepBytes := float64(weights) + cache
	res := DecodeResult{Config: config, DType: dtype, Batch: batch, Prompt: prompt, New: newTokens, Threads: cpu.Threads(),
		TokensPerS: float64(batch*newTokens) / secs, WeightBytes: weights,
		BytesPerToken: stepBytes / float64(batch), GBPerS: stepBytes * float64(newTokens) / secs / 1e9}
	if prompt > 1 {
		res.PrefillTokensPerS = float64(batch*(prompt-1)) / prefill
	}
	params := 0
	for _, p := range m.Params.List() {
		if p.Value.Dims() == 2 && p.Name != "wpe.weight" {
			params += p.Value.Len()
		}
	}
	flopsPerStep := float64(batch) * (2*float64(params) + 4*float64(cfg.NEmbd)*float64(cfg.NLayer)*avgLen)
	res.GFLOPS = flopsPerStep * float64(newTokens) / secs / 1e9
	if bandwidth > 0 {
		res.BandwidthGBPerS = bandwidth
		res.FractionOfBandwidth = res.TokensPerS / (bandwidth * 1e9 / res.BytesPerToken)
	}
	return res, nil
}
