// Command gpt_step times a GPT decoding step with 1 and 8 rows (KV cache,
// a prompt of 8 tokens, 32 steps, best of 30) and the prefill of the
// prompts: go run ./scripts/bench/gpt_step [-cpuprofile FILE] [-rows 1,8]
// [-prompt 8] MODEL_DIR. The profile covers the timed loops only.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/goformer/goformer/models/gpt"
)

func main() {
	profile := flag.String("cpuprofile", "", "write a CPU profile of the timed loops to this file")
	rowList := flag.String("rows", "1,8", "the batch sizes to time, comma-separated")
	repeats := flag.Int("repeats", 30, "timed runs of 32 steps per batch size (the best is reported)")
	promptLen := flag.Int("prompt", 8, "prompt tokens per row (the steps attend to these and the steps before)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gpt_step [-cpuprofile FILE] [-rows 1,8] [-repeats 30] [-prompt 8] MODEL_DIR")
		os.Exit(2)
	}
	if *promptLen < 1 {
		fmt.Fprintln(os.Stderr, "gpt_step: -prompt must be at least 1")
		os.Exit(2)
	}
	var batches []int
	for _, f := range strings.Split(*rowList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "gpt_step: -rows: %q is not a batch size\n", f)
			os.Exit(2)
		}
		batches = append(batches, n)
	}
	m, err := gpt.Load(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
	}
	for _, rows := range batches {
		prompts := make([][]int32, rows)
		for i := range prompts {
			prompts[i] = make([]int32, *promptLen)
			for k := range prompts[i] {
				prompts[i][k] = int32(1 + k%7)
			}
		}
		best, pre := time.Duration(1<<62), time.Duration(1<<62)
		for range *repeats {
			t0 := time.Now()
			dec, err := m.NewDecoder(prompts, 1, 32)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			pre = min(pre, time.Since(t0))
			feed := make([]int32, rows)
			t := time.Now()
			for range 32 {
				if _, err := dec.Step(feed, nil); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
			best = min(best, time.Since(t))
			dec.Release()
		}
		fmt.Printf("rows %d, prompt %d: %.3f ms/step, prefill %.3f ms\n", rows, *promptLen, best.Seconds()*1000/32, pre.Seconds()*1000)
	}
}
