package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/serve"
)

// modelFlags collects repeated --model DIR or --model NAME=DIR.
type modelFlags map[string]string

func (m modelFlags) String() string { return fmt.Sprint(map[string]string(m)) }

func (m modelFlags) Set(v string) error {
	name, dir, ok := strings.Cut(v, "=")
	if !ok {
		name, dir = "", v
	}
	if dir == "" {
		return fmt.Errorf("want DIR or NAME=DIR, got %q", v)
	}
	if _, dup := m[name]; dup {
		return fmt.Errorf("two models named %q", name)
	}
	m[name] = dir
	return nil
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer serve",
		"Serves models over HTTP: POST /v1/completions (OpenAI's completions API, streamed with \"stream\": true, for\n"+
			"GPT models), POST /v1/translate, /v1/summarize, /v1/answer (encoder-decoders, T5, extractive QA models;\n"+
			"GPT and encoder-decoder requests are decoded with continuous batching: they join the running batch\n"+
			"at the next step), POST /v1/attention, GET /v1/models, /healthz, /readyz, /metrics\n"+
			"(Prometheus) and / (a playground page). Loopback only unless --addr says otherwise. SIGTERM or SIGINT\n"+
			"drains: new requests get 503, those in flight finish (within --grace), then it exits 0.",
		"  goformer serve --model runs/shakespeare-char-small/model\n"+
			"  goformer serve --model gpt=runs/shakespeare-char-small/model --model de-en=runs/multi30k-de-en/model --addr 127.0.0.1:8080\n"+
			"  curl -s localhost:8080/v1/completions -d '{\"model\": \"gpt\", \"prompt\": \"ROMEO:\", \"max_tokens\": 50}'", stderr)
	models := modelFlags{}
	fs.Var(models, "model", "a model directory, or NAME=DIR; repeat for several (the name defaults to the directory's)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	dtype := dtypeFlag(fs)
	apiKey := fs.String("api-key", "", "require \"Authorization: Bearer KEY\" on /v1/ (default: the GOFORMER_API_KEY environment variable, or none)")
	maxRows := intFlag(fs, "max-rows", 16, 1, 1024, "sequences decoded together per model")
	maxQueue := intFlag(fs, "max-queue", 64, 1, 1<<16, "requests waiting per model before 429")
	kvMiB := intFlag(fs, "kv-budget-mib", 2048, 1, 1<<20, "KV cache memory per language model, MiB")
	maxTokens := intFlag(fs, "max-tokens", 0, 0, 1<<20, "the largest max_tokens accepted (0: the model's context)")
	maxBody := intFlag(fs, "max-body-kib", 1024, 1, 1<<20, "the largest request body, KiB")
	timeout := floatFlag(fs, "timeout", 300, 0.1, 86400, "seconds a request may take")
	grace := floatFlag(fs, "grace", 30, 0, 3600, "seconds in-flight requests get to finish on shutdown")
	threads := threadsFlag(fs, 0)
	logJSON := fs.Bool("log-json", false, "log as JSON lines (default: text) on stderr")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole run, to its drain, to this file (go tool pprof reads it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(models) == 0 {
		return usagef("serve: --model is required")
	}
	for _, dir := range models {
		if err := modelDir("serve", dir); err != nil {
			return err
		}
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("GOFORMER_API_KEY")
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil {
		return usagef("serve: --addr %q: %v", *addr, err)
	} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) && *apiKey == "" {
		fmt.Fprintf(stderr, "serve: listening on %s, beyond this machine, without --api-key\n", *addr)
	}
	cpu.SetThreads(*threads)
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if *logJSON {
		h = slog.NewJSONHandler(stderr, nil)
	}
	s, err := serve.New(serve.Config{MaxBodyBytes: int64(*maxBody) << 10, MaxQueue: *maxQueue, MaxRows: *maxRows,
		KVBudget: int64(*kvMiB) << 20, MaxTokens: *maxTokens, RequestTimeout: time.Duration(*timeout * float64(time.Second)),
		APIKey: *apiKey, Logger: slog.New(h), DType: *dtype}, models)
	if err != nil {
		return usageError{err.Error()}
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return usagef("serve: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = s.ListenAndServe(ctx, *addr, time.Duration(*grace*float64(time.Second)), func(a net.Addr) {
		fmt.Fprintf(stdout, "serving on http://%s/\n", a)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "drained; bye")
	return nil
}
