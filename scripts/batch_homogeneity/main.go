// Command batch_homogeneity measures how alike the documents of the
// summariser's training batches are: data.Bucket sorts stably by length,
// so a corpus sorted by package name gives batches of alphabetical
// neighbours unless it is shuffled first.
//
//	go run ./scripts/batch_homogeneity -tokenizer RUN/model
//
// For the corpus order and for a shuffle before bucketing (the pairs made
// as the recipe makes them, recipes.SummarizationExamples), it prints the mean over batches of the share of a
// batch's documents whose package name begins with the batch's most
// common 4-character prefix, and the first packages of every 100th batch.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/recipes"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
)

func main() {
	tokDir := flag.String("tokenizer", "", "a summariser's model directory (its tokenizer is used)")
	path := flag.String("data", "", "a JSON Lines corpus (plain or gzip) with description and synopsis fields; empty: the built-in Debian training split")
	maxTokens := flag.Int("max-tokens", 8192, "padded tokens per batch")
	maxSource := flag.Int("max-source-len", 128, "documents are cut to this many tokens, <s> and </s> included")
	maxTarget := flag.Int("max-target-len", 40, "pairs with a longer summary are skipped")
	seed := flag.Uint64("seed", 763845, "the shuffle's seed (763845 = 1^0xba7c4, the shuffled-batches pilot's)")
	flag.Parse()
	if *tokDir == "" {
		fmt.Fprintln(os.Stderr, "usage: batch_homogeneity -tokenizer MODEL_DIR [-data FILE.jsonl[.gz]]")
		os.Exit(2)
	}
	if err := run(*tokDir, *path, *maxTokens, *maxSource, *maxTarget, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "batch_homogeneity:", err)
		os.Exit(1)
	}
}

func run(tokDir, path string, maxTokens, maxSource, maxTarget int, seed uint64) error {
	tok, err := tokenizer.LoadDir(tokDir)
	if err != nil {
		return err
	}
	docs, err := readDocs(path)
	if err != nil {
		return err
	}
	ex, err := recipes.SummarizationExamples(tok, docs, maxSource, maxTarget)
	if err != nil {
		return err
	}
	for _, shuffled := range []bool{false, true} {
		e := append([]data.Example(nil), ex...)
		name := "corpus order"
		if shuffled {
			data.Shuffle(e, tensor.NewRNG(seed))
			name = "shuffled before bucketing"
		}
		groups := data.BucketGroups(e, maxTokens)
		share := 0.0
		for _, g := range groups {
			share += prefixShare(docs, g)
		}
		fmt.Printf("%s: %d batches; mean share of a batch's most common 4-character package prefix %.3f\n",
			name, len(groups), share/float64(len(groups)))
		for i := 0; i < len(groups); i += 100 {
			fmt.Printf("  batch %d (%d documents): %s ...\n", i, len(groups[i]), firstNames(docs, groups[i], 6))
		}
	}
	return nil
}

func readDocs(path string) ([]data.Document, error) {
	if path == "" {
		return data.Debian("train")
	}
	r, err := data.OpenText(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return data.ReadDocuments(r, path, "description", "synopsis")
}

func prefixShare(docs []data.Document, g []data.Example) float64 {
	count := map[string]int{}
	most := 0
	for _, e := range g {
		id := docs[e.Index].ID
		p := id[:min(4, len(id))]
		count[p]++
		most = max(most, count[p])
	}
	return float64(most) / float64(len(g))
}

func firstNames(docs []data.Document, g []data.Example, n int) string {
	var s []string
	for _, e := range g[:min(n, len(g))] {
		s = append(s, docs[e.Index].ID)
	}
	return strings.Join(s, " ")
}
