// Command gpt_step times a GPT decoding step with 1 and 8 rows (KV cache,
// a prompt of 8 tokens, 32 steps, best of 30) and the prefill of the
// prompts: go run ./scripts/bench/gpt_step MODEL_DIR
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/goformer/goformer/models/gpt"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gpt_step MODEL_DIR")
		os.Exit(2)
	}
	m, err := gpt.Load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, rows := range []int{1, 8} {
		prompts := make([][]int32, rows)
		for i := range prompts {
			prompts[i] = []int32{1, 2, 3, 4, 5, 6, 7, 8}
		}
		best, pre := time.Duration(1<<62), time.Duration(1<<62)
		for range 30 {
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
		fmt.Printf("rows %d: %.3f ms/step, prefill %.3f ms\n", rows, best.Seconds()*1000/32, pre.Seconds()*1000)
	}
}
