// Command goformer builds, trains and runs Transformer models in pure Go.
//
// Usage:
//
//	goformer <command> [flags]
//
// Commands:
//
//	train             train a character-level GPT (Tiny Shakespeare built in) or,
//	                  with --preset multi30k-de-en, a German→English translation model
//	generate          sample text from a trained GPT
//	translate         translate text (greedy, beam search or sampling, KV cache)
//	eval              a language model's cross-entropy and perplexity, or a
//	                  translation model's BLEU and chrF2
//	info              describe a model directory
//	attention         attention heatmaps (PNG) and word alignments
//	embed             sentence vectors (JSONL) from a sentence-transformers directory
//	classify          text classification; zero-shot with an NLI model
//	rerank            documents by relevance to a query (cross-encoder)
//	ner               named entities (token classification)
//	serve             an HTTP server: OpenAI completions, task endpoints, playground
//	tokenizer train   train a byte-level BPE; write a Hugging Face tokenizer.json
//	tokenizer encode  text to token ids (tokenizer.json, GPT-2 files or characters)
//	tokenizer decode  token ids to text
//	bleu              score translations: corpus BLEU and chrF2 (sacreBLEU's defaults)
//	bench gemm        measure float32 matrix multiplication (GFLOPS)
//	bench attention   measure flash attention: time, GFLOPS, extra memory
//	bench train       measure training steps of a GPT preset
//
// Run "goformer <command> --help" for a command's flags. Errors go to
// stderr as one line naming what is wrong; the exit code is 0 on success, 1
// when the work itself fails, 2 for bad input (an unknown command or flag,
// a bad value, a damaged or inconsistent file) and 3 for an internal error
// (a bug, reported with its stack).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/goformer/goformer/recipes"
)

// usageError marks an error in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand: its name, a one-line summary and its entry
// point, which gets the arguments after the name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
	sub     []command
}

func commands() []command {
	return []command{
		{name: "train", summary: "train a character-level GPT (Tiny Shakespeare), a translation model (Multi30k) or a summariser (Debian), all built in", run: runTrain},
		{name: "generate", summary: "sample text from a trained GPT", run: runGenerate},
		{name: "translate", summary: "translate text, one sentence per line, with an encoder-decoder model", run: runTranslate},
		{name: "answer", summary: "answer a question about a text: extractive (BERT, RoBERTa, DistilBERT) or generative (T5)", run: runAnswer},
		{name: "summarize", summary: "summarise documents with an encoder-decoder model (BART, Pegasus, T5), as transformers generates", run: runSummarize},
		{name: "embed", summary: "embed texts as vectors (JSONL) with a sentence-transformers or BERT-family directory", run: runEmbed},
		{name: "classify", summary: "classify texts with a sequence-classification model, or zero-shot with an NLI model (--labels)", run: runClassify},
		{name: "rerank", summary: "rerank documents by relevance to a query with a cross-encoder", run: runRerank},
		{name: "ner", summary: "tag entities with a token-classification model (transformers' aggregation strategies)", run: runNER},
		{name: "serve", summary: "serve models over HTTP: OpenAI completions (streamed, continuous batching), task endpoints, metrics, a playground", run: runServe},
		{name: "attention", summary: "draw where a model looks: attention heatmaps per layer and head, word alignments", run: runAttention},
		{name: "tokenizer", summary: "train, encode and decode with a tokenizer", sub: []command{
			{name: "train", summary: "train a byte-level BPE on text files; write tokenizer.json", run: runTokenizerTrain},
			{name: "encode", summary: "text on stdin to token ids", run: runTokenizerEncode},
			{name: "decode", summary: "token ids on stdin to text", run: runTokenizerDecode},
		}},
		{name: "bleu", summary: "score translations: corpus BLEU and chrF2, as sacreBLEU", run: runBLEU},
		{name: "rouge", summary: "score summaries: ROUGE-1/2/L/Lsum, as rouge-score", run: runRouge},
		{name: "squad", summary: "score question answering: SQuAD v1.1 exact match and F1, as the official script", run: runSQuAD},
		{name: "convert", summary: "write model.safetensors for a directory of PyTorch weights (pytorch_model.bin, shards)", run: runConvert},
		{name: "info", summary: "describe a model directory: family, architecture, parameters", run: runInfo},
		{name: "eval", summary: "evaluate a model: perplexity (language), BLEU (translation), ROUGE (summarisation), Recall@1 (search)", run: runEval},
		{name: "bench", summary: "measure the speed of kernels and models", sub: []command{
			{name: "gemm", summary: "float32 matrix multiplication: GFLOPS", run: benchGemm},
			{name: "train", summary: "training steps of a preset GPT: ms/step, tokens/s", run: benchTrain},
			{name: "attention", summary: "scaled dot-product attention (flash or plain): time, GFLOPS, memory", run: benchAttention},
			{name: "embed", summary: "sentence embedding of a BERT-family model: sentences/s at a batch size", run: benchEmbed},
			{name: "serve", summary: "load a running goformer serve: latency, time to first token, tokens/s per concurrency", run: benchServe},
			{name: "decode", summary: "decoding a GPT-2-sized model (fp32, bf16, int8 weights): tokens/s against the bandwidth limit", run: benchDecode},
			{name: "peak", summary: "this CPU's float32 FMA ceiling: GFLOPS", run: benchPeak},
			{name: "membw", summary: "memory read bandwidth: GB/s", run: benchMemBW},
		}},
	}
}

func main() {
	// The big allocations here are training arenas and weights: float32
	// slabs without pointers, which the garbage collector need not scan, so
	// collecting often costs little. At Go's default (a heap twice the live
	// data before a collection) a 3 GB arena lets 3 GB of decoding garbage
	// pile up; at 25% the peak stays near the live data. GOGC still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes: 0 success, 1 the work failed (a file could not be written,
// a loss went NaN), 2 bad input (flags, files, configs), 3 an internal
// error (a bug: please report it).
const (
	exitFailed   = 1
	exitBadInput = 2
	exitInternal = 3
)

// run executes the command line and returns the process exit code. A panic
// is a bug, not bad input: it is reported as an internal error with its
// stack, and exit code 3.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "goformer: internal error: %v\nThis is a bug in goformer; please report it with the command line and this trace:\n%s", r, debug.Stack())
			code = exitInternal
		}
	}()
	err := dispatch(commands(), "goformer", args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)), errors.As(err, new(*recipes.ConfigError)):
		fmt.Fprintf(stderr, "goformer: %v\n", err)
		return exitBadInput
	default:
		fmt.Fprintf(stderr, "goformer: %v\n", err)
		return exitFailed
	}
}

func dispatch(cmds []command, prefix string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		listCommands(cmds, prefix, stdout)
		if len(args) == 0 {
			return usagef("%s: missing command", prefix)
		}
		return nil
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		if c.sub != nil {
			return dispatch(c.sub, prefix+" "+c.name, args[1:], stdout, stderr)
		}
		return c.run(args[1:], stdout, stderr)
	}
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	return usagef("%s: unknown command %q (want one of: %s)", prefix, args[0], strings.Join(names, ", "))
}

func listCommands(cmds []command, prefix string, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", prefix)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for the flags of a command.\n", prefix)
}

// helps holds each flag set's help printer: the flag package itself
// writes nothing (a bad flag is one line of error, not the whole usage).
var helps sync.Map // *flag.FlagSet → func()

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints usage with the given examples when asked for --help.
func newFlagSet(name, summary, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	helps.Store(fs, func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if examples != "" {
			fmt.Fprintf(stderr, "\nExamples:\n%s\n", examples)
		}
	})
	return fs
}

// parseFlags parses args, turning flag errors into usage errors and
// rejecting stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseFlagsWithArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// parseFlagsWithArgs is parseFlags for commands that take positional
// arguments (files) after their flags.
func parseFlagsWithArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if h, ok := helps.Load(fs); ok {
				h.(func())()
			}
			return err
		}
		// The message quotes the user's flag, which may hold line breaks:
		// escape them, so that an error stays one line.
		return usageError{fs.Name() + ": " + strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(err.Error())}
	}
	return nil
}
