package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/goformer/goformer/internal/bench"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/recipes"
	"github.com/goformer/goformer/tensor"
)

// printResult prints r as one JSON object, or its line of text.
func printResult(w io.Writer, asJSON bool, r any, format string, args ...any) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	_, err := fmt.Fprintf(w, format, args...)
	return err
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func benchGemm(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench gemm",
		"Times C = A·B for float32 m×k by k×n matrices (2·m·n·k FLOPs per call) and prints GFLOPS.",
		"  goformer bench gemm -m 1024 -n 1024 -k 1024\n  goformer bench gemm -m 768 -n 384 -k 128 -ta --threads 1 --json", stderr)
	m := intFlag(fs, "m", 1024, 1, maxSize, "rows of A and C")
	n := intFlag(fs, "n", 1024, 1, maxSize, "columns of B and C")
	k := intFlag(fs, "k", 1024, 1, maxSize, "columns of A, rows of B")
	ta := fs.Bool("ta", false, "A is stored k×m and used transposed")
	tb := fs.Bool("tb", false, "B is stored n×k and used transposed")
	threads := intFlag(fs, "threads", runtime.GOMAXPROCS(0), 1, maxThreads, "worker threads")
	impl := fs.String("impl", cpu.GemmImpl(), fmt.Sprintf("kernel implementation, one of %v", cpu.GemmImpls()))
	secs := floatFlag(fs, "seconds", 0.25, 0.001, 60, "length of each of the 5 timed batches")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *threads < 1 {
		return usagef("bench gemm: --threads must be at least 1, got %d", *threads)
	}
	if _, err := cpu.SetGemmImpl(*impl); err != nil {
		return usageError{err.Error()}
	}
	cpu.SetThreads(*threads)
	r, err := bench.Gemm(*m, *n, *k, *ta, *tb, seconds(*secs))
	if err != nil {
		return usagef("bench gemm: %v", err)
	}
	op := map[bool]string{false: "N", true: "T"}
	return printResult(stdout, *asJSON, r, "gemm %s%s m=%d n=%d k=%d: %.3f ms/call, %.1f GFLOPS (%s, %d threads)\n",
		op[r.TransA], op[r.TransB], r.M, r.N, r.K, r.Ms, r.GFLOPS, r.Impl, r.Threads)
}

func benchAttention(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench attention",
		"Times scaled dot-product attention softmax(QKᵀ/√d)V on [batch, heads, seq, dim] tensors and prints\n"+
			"milliseconds per call, GFLOPS and the extra memory the call allocates beyond its inputs and outputs.\n"+
			"FLOPs are those of the matrix products over the visible (query, key) pairs: 4·d per pair forward,\n"+
			"8·d more for the backward pass (not counting the flash kernel's recomputation), the same for every kernel.",
		"  goformer bench attention --seq 1024 --causal --backward\n  goformer bench attention --seq 32768 --tq 1 --causal      # one decoding step\n  goformer bench attention --seq 16384 --causal --backward --json\n  goformer bench attention --seq 1024 --causal --plain\n  goformer bench attention --seq 4096 --causal --backward --bias   # T5's relative bias", stderr)
	batch := intFlag(fs, "batch", 1, 1, maxSize, "batch size")
	heads := intFlag(fs, "heads", 8, 1, 1024, "heads")
	seq := intFlag(fs, "seq", 1024, 1, 1<<20, "sequence length (keys, and queries unless --tq)")
	tq := intFlag(fs, "tq", 0, 0, 1<<20, "number of queries, aligned to the end of the keys (default --seq; 1 = one decoding step against a KV cache)")
	dim := intFlag(fs, "dim", 64, 1, 1024, "head dimension")
	causal := fs.Bool("causal", false, "causal mask")
	backward := fs.Bool("backward", false, "time forward + backward")
	plain := fs.Bool("plain", false, "the plain attention that materialises the seq×seq matrix, instead of flash")
	relBias := fs.Bool("bias", false, "add a relative position bias (T5's: one value per head and key−query offset), and its gradient with --backward")
	threads := intFlag(fs, "threads", runtime.GOMAXPROCS(0), 1, maxThreads, "worker threads")
	secs := floatFlag(fs, "seconds", 0.5, 0.001, 60, "length of each of the 5 timed batches")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *heads < 1 || *seq < 1 || *dim < 1 {
		return usagef("bench attention: sizes must be positive, got --batch %d --heads %d --seq %d --dim %d", *batch, *heads, *seq, *dim)
	}
	if *tq == 0 {
		*tq = *seq
	}
	if *tq < 1 || *tq > *seq {
		return usagef("bench attention: --tq must be between 1 and --seq (%d), got %d", *seq, *tq)
	}
	if *threads < 1 {
		return usagef("bench attention: --threads must be at least 1, got %d", *threads)
	}
	need := float64(*batch) * float64(*heads) * float64(*seq) * float64(*seq) * 4 // one score matrix, twice with its gradient
	if *backward {
		need *= 2
	}
	if *plain && need > 16<<30 {
		return usagef("bench attention: --plain at --seq %d needs %.1f GiB for its score matrices; that is the point of flash attention", *seq, need/(1<<30))
	}
	cpu.SetThreads(*threads)
	a := cpu.Attention{Batch: *batch, Heads: *heads, Tq: *tq, Tk: *seq, Dim: *dim, Causal: *causal}
	if *relBias {
		a.RelBias = make([]float32, *heads*(*tq+*seq-1))
		for i := range a.RelBias {
			a.RelBias[i] = float32(i%17)/17 - 0.5
		}
	}
	r := bench.Attention(a, *backward, *plain, seconds(*secs))
	pass := map[bool]string{false: "forward", true: "forward+backward"}[r.Backward]
	return printResult(stdout, *asJSON, r, "attention %s %s B=%d H=%d Tq=%d Tk=%d d=%d causal=%v bias=%v: %.3f ms/call, %.1f GFLOPS, %.1f MiB extra (%d threads)\n",
		r.Kernel, pass, r.Batch, r.Heads, r.Tq, r.Seq, r.Dim, r.Causal, r.Bias, r.Ms, r.GFLOPS, r.ExtraMiB, r.Threads)
}

func benchTrain(args []string, stdout, stderr io.Writer) error {
	var names []string
	for _, n := range recipes.PresetNames() {
		_, lm := recipes.LMPresets[n]
		_, mt := recipes.TranslationPresets[n]
		if lm || mt {
			names = append(names, n)
		}
	}
	fs := newFlagSet("goformer bench train",
		"Times training steps (forward, backward, AdamW: the Trainer's own step) of a preset and prints\n"+
			"milliseconds per step, tokens per second and GFLOPS. Language-model presets (a GPT on Tiny Shakespeare):\n"+
			"FLOPs counted as nanoGPT does, 6·params·tokens for the matrix products plus 12·layers·width·block·tokens\n"+
			"for attention. Translation presets (Multi30k): fixed batches of the preset drawn once with a fixed seed,\n"+
			"FLOPs counted the same way on the padded batches (each stack's weights on its own tokens, the output\n"+
			"layer on the labelled target tokens, the only ones the loss projects); tokens/s\n"+
			"counts target tokens. --write-batches saves those batches for scripts/bench/train_translation_vs_torch.py.",
		"  goformer bench train --preset shakespeare-char-small\n  goformer bench train --preset shakespeare-char --batch 16 --iters 5 --json\n"+
			"  goformer bench train --preset multi30k-de-en --iters 10", stderr)
	preset := fs.String("preset", "shakespeare-char-small", "preset: "+strings.Join(names, ", "))
	iters := intFlag(fs, "iters", 20, 1, 1<<20, "timed steps (after 2 warm-up steps)")
	batch := intFlag(fs, "batch", 0, 0, 1<<16, "override a language-model preset's batch size; 0: the preset's")
	threads := intFlag(fs, "threads", runtime.GOMAXPROCS(0), 1, maxThreads, "worker threads")
	asJSON := fs.Bool("json", false, "print one JSON object")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	writeBatches := fs.String("write-batches", "", "translation presets: write the warm-up and timed batches (JSON) to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cpu.SetThreads(*threads)
	if mt, ok := recipes.TranslationPresets[*preset]; ok {
		if *batch != 0 {
			return usagef("bench train: --batch is for language-model presets (a translation preset's batches hold max_tokens tokens)")
		}
		r, err := bench.TrainTranslation(*preset, mt, *iters, *profile, *writeBatches)
		if err != nil {
			return err
		}
		return printResult(stdout, *asJSON, r, "train %s: batches of ≤ %d tokens, %.2fM params: %.1f ms/step, %.0f target tokens/s, %.1f GFLOPS, %.0f allocations/step (%d threads)\n",
			r.Preset, r.Batch, float64(r.Params)/1e6, r.MsPerStep, r.TokensPerS, r.GFLOPS, r.Allocs, r.Threads)
	}
	cfg, ok := recipes.LMPresets[*preset]
	if !ok {
		return usagef("bench train: unknown preset %q (want one of: %s)", *preset, strings.Join(names, ", "))
	}
	if *writeBatches != "" {
		return usagef("bench train: --write-batches is for translation presets")
	}
	if *batch != 0 {
		cfg.Batch = *batch
	}
	r, err := bench.TrainLM(*preset, cfg, *iters, *profile)
	if err != nil {
		return err
	}
	return printResult(stdout, *asJSON, r, "train %s: batch %d × %d tokens, %.2fM params: %.1f ms/step, %.0f tokens/s, %.1f GFLOPS, %.0f allocations/step (%d threads)\n",
		r.Preset, r.Batch, r.Block, float64(r.Params)/1e6, r.MsPerStep, r.TokensPerS, r.GFLOPS, r.Allocs, r.Threads)
}

func benchServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench serve",
		"Puts a load on a running `goformer serve`: for each concurrency, that many clients send --requests requests\n"+
			"in all (streamed completions, or translations), each client its next when the last ends. Prints p50/p99\n"+
			"latency, time to the first token (completions), tokens/s (the server's goformer_tokens_generated_total),\n"+
			"requests refused with 429 and errors.",
		"  goformer bench serve --model shakespeare --concurrency 1,8,64 --requests 128\n"+
			"  goformer bench serve --model de-en --endpoint translate --concurrency 1,8 --requests 64 --json", stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "the server")
	model := fs.String("model", "", "the served model's name (required)")
	endpoint := fs.String("endpoint", "completions", "completions (streamed) or translate")
	levels := fs.String("concurrency", "1,8,64", "comma-separated numbers of concurrent clients")
	requests := intFlag(fs, "requests", 64, 1, 1<<20, "requests per concurrency level")
	maxTokens := intFlag(fs, "max-tokens", 64, 1, 1<<16, "completions: max_tokens")
	minTokens := intFlag(fs, "min-tokens", 0, 0, 1<<16, "completions: if set, each request's max_tokens is drawn from min-tokens..max-tokens (the same draws every run), so that requests end at different steps")
	temp := floatFlag(fs, "temperature", 0.8, 0, 2, "completions: temperature")
	beams := intFlag(fs, "beams", 0, 0, 16, "translate: beams per request (0: the model's default)")
	promptFile := fs.String("prompts", "", "a file of prompts (or sentences), one per line (default: built in)")
	apiKey := fs.String("api-key", "", "the server's API key")
	asJSON := fs.Bool("json", false, "print one JSON object per level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return usagef("bench serve: --model is required")
	}
	if *minTokens > *maxTokens {
		return usagef("bench serve: --min-tokens %d is above --max-tokens %d", *minTokens, *maxTokens)
	}
	if *endpoint != "completions" && *endpoint != "translate" {
		return usagef("bench serve: --endpoint %q (want completions or translate)", *endpoint)
	}
	var conc []int
	for _, f := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return usagef("bench serve: --concurrency %q: want numbers from 1 to 4096", *levels)
		}
		conc = append(conc, n)
	}
	prompts := []string{"ROMEO:", "JULIET:\nO Romeo,", "First Citizen:\nBefore we proceed", "KING HENRY:", "To be, or not", "MENENIUS:\nWhat is"}
	if *endpoint == "translate" {
		prompts = []string{"Ein Hund läuft im Schnee.", "Zwei Männer spielen Fußball auf einem Feld.", "Eine Frau sitzt auf einer Bank und liest ein Buch.",
			"Ein kleines Mädchen klettert in ein Spielhaus aus Holz.", "Ein Mann in einem blauen Hemd steht auf einer Leiter.", "Kinder spielen im Wasser am Strand."}
	}
	if *promptFile != "" {
		b, err := os.ReadFile(*promptFile)
		if err != nil {
			return usageError{"bench serve: " + err.Error()}
		}
		prompts = nil
		for _, l := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(l) != "" {
				prompts = append(prompts, l)
			}
		}
		if len(prompts) == 0 {
			return usagef("bench serve: %s has no prompts", *promptFile)
		}
	}
	for _, c := range conc {
		r, err := bench.Serve(context.Background(), bench.ServeLoad{URL: *url, Model: *model, Endpoint: *endpoint, Prompts: prompts,
			MaxTokens: *maxTokens, MinTokens: *minTokens, Temperature: *temp, Beams: *beams, Concurrency: c, Requests: *requests, APIKey: *apiKey})
		if err != nil {
			return fmt.Errorf("bench serve: %w", err)
		}
		if err := printResult(stdout, *asJSON, r, "serve %s c=%d: %d ok, %d refused (429), %d errors in %.1fs; %.1f tokens/s, %.2f requests/s; latency p50 %.0f ms p99 %.0f ms; first token p50 %.0f ms p99 %.0f ms\n",
			r.Endpoint, r.Concurrency, r.OK, r.Refused, r.Errors, r.Seconds, r.TokensPerSec, r.RequestsPerS, r.P50Ms, r.P99Ms, r.TTFTP50Ms, r.TTFTP99Ms); err != nil {
			return err
		}
		if r.FirstError != "" {
			fmt.Fprintf(stderr, "bench serve: c=%d: first error: %s\n", c, r.FirstError)
		}
	}
	return nil
}

// embedBench is one batch size's measurement.
type embedBench struct {
	Model      string  `json:"model"`
	Batch      int     `json:"batch"`
	Sentences  int     `json:"sentences"`
	Tokens     int     `json:"tokens"` // with the specials, not the padding
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"sentences_per_s"`
	Threads    int     `json:"threads"`
	HiddenSize int     `json:"hidden_size"`
	Layers     int     `json:"layers"`
}

func benchEmbed(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench embed",
		"Times Embedder.Embed (tokenizing, the encoder, pooling, normalising) on the lines of --data at each\n"+
			"batch size and prints sentences per second: the best of --rounds passes over the sentences, after one\n"+
			"warm-up pass. scripts/bench/embed_vs_torch.py runs PyTorch on the same model and sentences beside it.",
		"  goformer bench embed --model DIR --data sentences.txt --batch 1,64 --json", stderr)
	dir := fs.String("model", "", "model directory (required): sentence-transformers or a bare encoder")
	dataPath := fs.String("data", "", "sentences, one per line (required)")
	batches := fs.String("batch", "1,64", "batch sizes, comma-separated")
	limit := intFlag(fs, "sentences", 0, 0, 1<<24, "sentences used (0: all the lines)")
	rounds := intFlag(fs, "rounds", 3, 1, 100, "timed passes; the best counts")
	threads := intFlag(fs, "threads", runtime.GOMAXPROCS(0), 1, maxThreads, "worker threads")
	asJSON := fs.Bool("json", false, "print one JSON object per batch size")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof reads it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *dataPath == "" {
		return usagef("bench embed: --model and --data are required")
	}
	cpu.SetThreads(*threads)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return usagef("bench embed: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	e, err := pipelines.LoadEmbedder(*dir)
	if err != nil {
		return usageError{"bench embed: " + err.Error()}
	}
	f, err := os.Open(*dataPath)
	if err != nil {
		return usageError{"bench embed: " + err.Error()}
	}
	lines, err := readLines(f, *dataPath)
	f.Close()
	if err != nil {
		return err
	}
	var texts []string
	tokens := 0
	for _, l := range lines {
		if strings.TrimSpace(l) != "" && (*limit == 0 || len(texts) < *limit) {
			texts = append(texts, l)
			ids, _, err := e.Tokens(l)
			if err != nil {
				return usagef("bench embed: %s: %v", *dataPath, err)
			}
			tokens += len(ids)
		}
	}
	if len(texts) == 0 {
		return usagef("bench embed: %s has no sentence", *dataPath)
	}
	for _, s := range strings.Split(*batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || b < 1 {
			return usagef("bench embed: --batch %q: want positive integers", *batches)
		}
		e.Options.BatchSize = b
		best := 0.0
		for round := 0; round <= *rounds; round++ {
			start := time.Now()
			if _, err := e.Embed(texts); err != nil {
				return err
			}
			if el := time.Since(start).Seconds(); round > 0 && (best == 0 || el < best) {
				best = el
			}
		}
		r := embedBench{Model: *dir, Batch: b, Sentences: len(texts), Tokens: tokens, Seconds: best, PerSecond: float64(len(texts)) / best,
			Threads: *threads, HiddenSize: e.Model.Config.HiddenSize, Layers: e.Model.Config.NumHiddenLayers}
		if err := printResult(stdout, *asJSON, r, "embed batch %d: %d sentences (%d tokens) in %.3fs: %.1f sentences/s (%d threads)\n",
			r.Batch, r.Sentences, r.Tokens, r.Seconds, r.PerSecond, r.Threads); err != nil {
			return err
		}
	}
	return nil
}

// ceilings is what bench peak and bench membw print.
type ceilings struct {
	Threads int     `json:"threads"`
	GFLOPS  float64 `json:"peak_gflops,omitempty"`
	GBPerS  float64 `json:"read_gb_per_s,omitempty"`
}

func benchPeak(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench peak",
		"Measures this CPU's float32 FMA ceiling: every thread runs independent chains of fused\n"+
			"multiply-adds on registers (AVX2 here; 2 FLOPs each). GEMM and training GFLOPS are fractions of it.",
		"  goformer bench peak\n  goformer bench peak --threads 1 --json", stderr)
	threads := threadsFlag(fs, 0)
	secs := floatFlag(fs, "seconds", 1, 0.01, 60, "how long to measure")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cpu.SetThreads(*threads)
	r := ceilings{Threads: cpu.Threads(), GFLOPS: cpu.PeakGFLOPS(seconds(*secs))}
	return printResult(stdout, *asJSON, r, "peak: %.1f GFLOPS float32 FMA (%d threads)\n", r.GFLOPS, r.Threads)
}

func benchMemBW(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench membw",
		"Measures memory's read bandwidth: every thread sums its share of a buffer far larger than the\n"+
			"caches, repeatedly. Decoding one token at a time reads every weight once: bandwidth ÷ the bytes of\n"+
			"the weights is its speed limit.",
		"  goformer bench membw\n  goformer bench membw --mib 2048 --threads 1 --json", stderr)
	threads := threadsFlag(fs, 0)
	mib := intFlag(fs, "mib", 1024, 64, 1<<16, "buffer size in MiB")
	secs := floatFlag(fs, "seconds", 2, 0.01, 60, "how long to measure")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cpu.SetThreads(*threads)
	r := ceilings{Threads: cpu.Threads(), GBPerS: cpu.StreamGBps(*mib<<20, seconds(*secs))}
	return printResult(stdout, *asJSON, r, "memory read bandwidth: %.1f GB/s (%d MiB buffer, %d threads)\n", r.GBPerS, *mib, r.Threads)
}

func benchDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer bench decode",
		"Times greedy decoding with a KV cache of a GPT-2-shaped model (random weights: speed does not depend\n"+
			"on their values): a batch of random prompts is prefilled, then --new tokens are decoded per row.\n"+
			"Prints tokens/s, the bytes a step reads (weights and cache) per token, the GB/s that makes, and,\n"+
			"against the memory bandwidth measured in the same run, the fraction of the limit it sets.\n"+
			"--config opus-mt-base times translation instead: beam search (--beam) of an OPUS-MT-base-shaped Marian\n"+
			"over the first --sentences Multi30k test sentences, --batch sentences at a time, each made to produce\n"+
			"as many tokens as its reference translation, and prints target tokens/s; --write-model saves its\n"+
			"weights and inputs for scripts/bench/opus_vs_torch.py, which runs PyTorch on the same.",
		"  goformer bench decode --config gpt2 --batch 1 --dtype int8\n"+
			"  goformer bench decode --config gpt2 --batch 32 --prompt 64 --new 64 --json\n"+
			"  goformer bench decode --config opus-mt-base --batch 32 --beam 4 --sentences 256 --dtype int8", stderr)
	config := fs.String("config", "gpt2", "model shape: gpt2 (124M), gpt2-medium (355M) or opus-mt-base (a 74M Marian translator: beam search over Multi30k test sentences)")
	batch := intFlag(fs, "batch", 1, 1, 1024, "rows decoded together (opus-mt-base: sentences, each with --beam rows)")
	beam := intFlag(fs, "beam", 4, 1, 64, "opus-mt-base: beams per sentence")
	sentences := intFlag(fs, "sentences", 256, 1, 1<<20, "opus-mt-base: Multi30k test sentences translated")
	model := fs.String("model", "", "opus-mt-base: a Marian checkpoint directory of that shape instead of random weights")
	inputs := fs.String("inputs", "", "opus-mt-base: source ids and output lengths (JSON written by --write-model) instead of tokenising Multi30k here")
	writeModel := fs.String("write-model", "", "opus-mt-base: write random weights (config.json, model.safetensors) and the inputs (inputs.json) to this directory, then stop")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof reads it)")
	hyps := fs.String("hyps", "", "opus-mt-base: write each sentence's best hypothesis ({\"tokens\": ids, \"score\": summed log-probability}, a line each) to this file")
	prompt := intFlag(fs, "prompt", 16, 1, 1024, "prompt tokens per row")
	newTokens := intFlag(fs, "new", 64, 1, 1024, "tokens decoded per row")
	dtype := dtypeFlag(fs)
	threads := threadsFlag(fs, 0)
	bw := fs.Bool("bandwidth", true, "measure the memory bandwidth first, to compare against")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dtype != "fp32" && *dtype != "bf16" && *dtype != "int8" {
		return usagef("bench decode: --dtype must be fp32, bf16 or int8, not %q", *dtype)
	}
	cpu.SetThreads(*threads)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return usagef("bench decode: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *config == "opus-mt-base" {
		return benchTranslate(stdout, *dtype, *batch, *beam, *sentences, *model, *inputs, *writeModel, *hyps, *asJSON)
	}
	if *model != "" || *inputs != "" || *writeModel != "" || *hyps != "" {
		return usagef("bench decode: --model, --inputs, --write-model and --hyps are for --config opus-mt-base")
	}
	var bandwidth float64
	if *bw {
		bandwidth = cpu.StreamGBps(1<<30, 2*time.Second)
	}
	r, err := bench.Decode(*config, *batch, *prompt, *newTokens, *dtype, bandwidth)
	if err != nil {
		return usagef("bench decode: %v", err)
	}
	if err := printResult(stdout, *asJSON, r, "decode %s %s, batch %d, prompt %d, %d new: %.1f tokens/s (prefill %.0f tokens/s), %.1f MB read per token, %.1f GB/s, %.1f GFLOPS",
		r.Config, r.DType, r.Batch, r.Prompt, r.New, r.TokensPerS, r.PrefillTokensPerS, r.BytesPerToken/1e6, r.GBPerS, r.GFLOPS); err != nil {
		return err
	}
	if *asJSON {
		return nil
	}
	if r.BandwidthGBPerS > 0 {
		fmt.Fprintf(stdout, "; %.0f%% of the %.1f GB/s bandwidth limit", 100*r.FractionOfBandwidth, r.BandwidthGBPerS)
	}
	_, err = fmt.Fprintf(stdout, " (%d threads)\n", r.Threads)
	return err
}

// benchTranslate is `bench decode --config opus-mt-base`: beam search of
// an OPUS-MT-base-shaped translator over Multi30k test sentences, each
// made to produce as many tokens as its reference translation.
func benchTranslate(stdout io.Writer, dtype string, batch, beam, sentences int, modelDir, inputsPath, writeDir, hypsPath string, asJSON bool) error {
	var in *bench.TranslateInputs
	var err error
	if inputsPath != "" {
		in, err = bench.ReadTranslateInputs(inputsPath)
		if err == nil && sentences < len(in.Source) {
			in.Source, in.Steps = in.Source[:sentences], in.Steps[:sentences]
		}
	} else {
		in, err = bench.Multi30kInputs(sentences)
	}
	if err != nil {
		return usagef("bench decode: %v", err)
	}
	var m *seq2seq.Model
	if modelDir != "" {
		if m, err = seq2seq.Load(modelDir); err != nil {
			return usagef("bench decode: %v", err)
		}
	} else if m, err = seq2seq.New(bench.OpusMTBase(), 1); err != nil {
		return err
	}
	for i, src := range in.Source {
		for _, id := range src {
			if int(id) >= m.Config.VocabSize {
				return usagef("bench decode: %s: source %d: token id %d is outside the vocabulary of %d", inputsPath, i, id, m.Config.VocabSize)
			}
		}
		if in.Steps[i] > m.Config.MaxPositionEmbeddings || len(src) > m.Config.MaxPositionEmbeddings {
			return usagef("bench decode: %s: sentence %d (%d source tokens, %d steps) exceeds max_position_embeddings %d", inputsPath, i, len(src), in.Steps[i], m.Config.MaxPositionEmbeddings)
		}
	}
	if writeDir != "" {
		if err := m.Save(writeDir); err != nil {
			return err
		}
		return in.WriteFile(filepath.Join(writeDir, "inputs.json"))
	}
	if _, err := m.Quantize(dtype); err != nil {
		return err
	}
	var out []string
	var keep func(int, []int32, float64)
	if hypsPath != "" {
		out = make([]string, len(in.Source))
		keep = func(i int, tokens []int32, score float64) {
			b, _ := json.Marshal(map[string]any{"tokens": tokens, "score": score})
			out[i] = string(b)
		}
	}
	r, err := bench.Translate(m, in, batch, beam, keep)
	if err != nil {
		return err
	}
	r.Config, r.DType = "opus-mt-base", dtype
	if modelDir != "" {
		r.Config = modelDir
	}
	if hypsPath != "" {
		if err := tensor.WriteFileAtomic(hypsPath, func(w io.Writer) error {
			_, err := io.WriteString(w, strings.Join(out, "\n")+"\n")
			return err
		}); err != nil {
			return err
		}
	}
	return printResult(stdout, asJSON, r, "translate %s %s, %d sentences, batch %d, beam %d: %.1f target tokens/s (%.1f per thread), %.2f sentences/s, %.1f GFLOPS (%d threads)\n",
		r.Config, r.DType, r.Sentences, r.Batch, r.Beam, r.TokensPerS, r.TokensPerSPerThread, r.SentencesPerS, r.GFLOPS, r.Threads)
}
