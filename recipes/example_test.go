package recipes_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/goformer/goformer/recipes"
)

// Train the Shakespeare preset from Go, as `goformer train` does, with a
// change of settings. (Compiled by go test; running it trains for minutes.)
func ExampleTrainLM() {
	cfg := recipes.LMPresets["shakespeare-char-small"]
	cfg.Steps, cfg.DecaySteps = 500, 500
	res, err := recipes.TrainLM(context.Background(), cfg, recipes.Options{Out: "runs/small-500", Log: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("val loss %.3f; model in %s\n", *res.Last().ValLoss, res.ModelDir)
}

// The translation preset with a time budget: the best model by validation
// BLEU is kept in OUT/model.
func ExampleTrainTranslation() {
	cfg := recipes.TranslationPresets["multi30k-de-en"]
	cfg.MaxMinutes = 20
	res, err := recipes.TrainTranslation(context.Background(), cfg, recipes.Options{Out: "runs/mt-20min", Log: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("best val BLEU %.2f at step %d; model in %s\n", res.Best.Best, res.Best.BestStep, res.ModelDir)
}
