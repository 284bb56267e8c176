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
