package pipelines_test

import (
	"fmt"
	"log"

	"github.com/goformer/goformer/pipelines"
)

// Translate with a model directory that `goformer train --preset
// multi30k-de-en` wrote: text in, text out. (Compiled by go test; it needs
// the trained model to run.)
func ExampleTranslator() {
	t, err := pipelines.LoadTranslator("runs/multi30k-de-en/model")
	if err != nil {
		log.Fatal(err)
	}
	t.Options.Beam, t.Options.LengthPenalty = 4, 0.6
	out, err := t.Translate([]string{"Zwei Hunde spielen im Schnee.", "Ein Mann fährt Fahrrad."})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range out {
		fmt.Println(s)
	}
}

// Summarise with a model directory that `goformer train --preset
// debian-summarize` wrote (or a BART checkpoint with a byte-level BPE):
// generation follows the directory's generation_config.json, overridden
// here. (Compiled by go test; it needs the trained model to run.)
func ExampleSummarizer() {
	s, err := pipelines.LoadSummarizer("runs/debian-summarize/model")
	if err != nil {
		log.Fatal(err)
	}
	s.Options.Generation.NumBeams, s.Options.Generation.NoRepeatNgramSize = 4, 3
	out, err := s.Summarize([]string{"GNU Wget is a free utility for non-interactive download of files from the Web. " +
		"It supports HTTP, HTTPS, and FTP protocols, as well as retrieval through HTTP proxies."})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out[0])
}

// Answer a question about a text with a BERT, RoBERTa or DistilBERT
// directory that has a question-answering head. (Compiled by go test; it
// needs a model to run.)
func ExampleQuestionAnswerer() {
	qa, err := pipelines.LoadQuestionAnswerer("runs/debian-qa/model")
	if err != nil {
		log.Fatal(err)
	}
	qa.Options.TopK = 3
	answers, err := qa.Answer("What does wget download?", "GNU Wget is a free utility for non-interactive download of files from the Web.")
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range answers {
		fmt.Printf("%q %.3f [%d, %d)\n", a.Text, a.Score, a.Start, a.End)
	}
}

// Embed sentences with a sentence-transformers directory (here a small
// random one from the tests; all-MiniLM-L6-v2 or bge-small load the same
// way) and compare them by cosine similarity.
func ExampleEmbedder() {
	e, err := pipelines.LoadEmbedder("testdata/encoders/st-mean")
	if err != nil {
		log.Fatal(err)
	}
	vecs, err := e.Embed([]string{"A fast web server.", "A fast web server.", "How do I bake bread?"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(vecs), "vectors of", e.Dimension())
	fmt.Printf("same text: %.3f\n", pipelines.Cosine(vecs[0], vecs[1]))
	// Output:
	// 3 vectors of 16
	// same text: 1.000
}

// Classify texts with a sequence-classification directory; every label
// comes back with its score, best first.
func ExampleClassifier() {
	c, err := pipelines.LoadClassifier("testdata/encoders/sentiment")
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Classify([]string{"A great movie!"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Function, len(res[0]), "labels:", c.Labels)
	// Output: softmax 3 labels: [NEGATIVE NEUTRAL POSITIVE]
}

// Tag entities with a token-classification directory, words grouped as
// the "first" aggregation strategy does.
func ExampleTagger() {
	tg, err := pipelines.LoadTagger("testdata/encoders/ner")
	if err != nil {
		log.Fatal(err)
	}
	tg.Aggregation = pipelines.AggregateFirst
	ents, err := tg.Tag("John Smith lives in Paris.")
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range ents {
		fmt.Printf("%s %q [%d, %d)\n", e.EntityGroup, e.Word, e.Start, e.End)
	}
}
