// Command translate_batch times a translator on the sentences goformer bench
// serve sends to /v1/translate, decoded one at a time and in batches, with
// no server in between: go run ./scripts/bench/translate_batch [-rows 1,8]
// [-repeats 20] [-sentences 48] MODEL_DIR. It prints, for each batch size,
// the best time over the repeats and the target tokens a second that gives
// (tokens counted by re-encoding each translation, EOS included as the
// server counts it).
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/goformer/goformer/pipelines"
)

// sentences are goformer bench serve's built-in /v1/translate prompts.
var sentences = []string{"Ein Hund läuft im Schnee.", "Zwei Männer spielen Fußball auf einem Feld.", "Eine Frau sitzt auf einer Bank und liest ein Buch.",
	"Ein kleines Mädchen klettert in ein Spielhaus aus Holz.", "Ein Mann in einem blauen Hemd steht auf einer Leiter.", "Kinder spielen im Wasser am Strand."}

func main() {
	rowList := flag.String("rows", "1,8", "the batch sizes to time, comma-separated")
	repeats := flag.Int("repeats", 20, "timed runs per batch size (the best is reported)")
	n := flag.Int("sentences", 48, "sentences translated per run (the six prompts in turn)")
	flag.Parse()
	if flag.NArg() != 1 || *repeats < 1 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: translate_batch [-rows 1,8] [-repeats 20] [-sentences 48] MODEL_DIR")
		os.Exit(2)
	}
	tr, err := pipelines.LoadTranslator(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lines := make([]string, *n)
	for i := range lines {
		lines[i] = sentences[i%len(sentences)]
	}
	for _, f := range strings.Split(*rowList, ",") {
		rows, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || rows < 1 {
			fmt.Fprintf(os.Stderr, "translate_batch: -rows: %q is not a batch size\n", f)
			os.Exit(2)
		}
		tr.Options.BatchRows = rows
		best := time.Duration(1 << 62)
		var out []string
		for range *repeats {
			t0 := time.Now()
			if out, err = tr.Translate(lines); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			best = min(best, time.Since(t0))
		}
		tokens := 0
		for _, s := range out {
			ids, err := tr.Tokenizer.Encode(s)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			tokens += len(ids) + 1
		}
		fmt.Printf("rows %d: %d sentences, %d target tokens in %.2f ms: %.0f tokens/s\n", rows, *n, tokens, best.Seconds()*1000, float64(tokens)/best.Seconds())
	}
}
