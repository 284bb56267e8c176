package pipelines

import (
	"path/filepath"
	"testing"

	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/models/t5"
)

// TestT5PipelinesMatchPyTorch runs translate, summarize and answer on the
// t5-small- and flan-t5-small-shaped directories of models/t5/testdata (as
// the hub lays them out: config.json with task_specific_params,
// generation_config.json, spiece.model, safetensors or pytorch_model.bin)
// and compares the text with what scripts/reference/t5.py produced: the
// task prefix, T5Tokenizer's ids, transformers' generation with the task's
// settings, and decoding without special tokens.
func TestT5PipelinesMatchPyTorch(t *testing.T) {
	ref := fixture.ReadT5Pipelines(t, "..")
	for _, name := range []string{"t5-small", "flan-t5-small"} {
		dir := filepath.Join("..", "models", "t5", "testdata", name)
		want := ref.Outputs[name]
		check := func(task string, got []string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s %s: %v", name, task, err)
			}
			for i := range want[task] {
				if got[i] != want[task][i] {
					t.Errorf("%s %s %d:\n got %q\nwant %q", name, task, i, got[i], want[task][i])
				}
			}
		}
		tr, err := LoadTranslator(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tr.Model.(*t5.Model); !ok || tr.Prefix != "translate English to German: " || tr.Generation == nil || tr.Generation.NumBeams != 4 || tr.Generation.MaxLength != 300 {
			t.Fatalf("%s: translator %T, prefix %q, generation %+v", name, tr.Model, tr.Prefix, tr.Generation)
		}
		got, err := tr.Translate(ref.Prompts.Translate)
		check("translate", got, err)
		if fr, err := LoadTranslatorTask(dir, "translation_en_to_fr"); err != nil || fr.Prefix != "translate English to French: " {
			t.Errorf("%s: translation_en_to_fr: prefix %q, %v", name, fr.Prefix, err)
		}
		if _, err := LoadTranslatorTask(dir, "translation_en_to_xx"); err == nil {
			t.Errorf("%s: an unknown task was accepted", name)
		}
		s, err := LoadSummarizer(dir)
		if err != nil {
			t.Fatal(err)
		}
		if s.Prefix != "summarize: " || s.Options.Generation.MinLength != 30 || s.Options.Generation.NoRepeatNgramSize != 3 {
			t.Fatalf("%s: summarizer prefix %q, generation %+v", name, s.Prefix, s.Options.Generation)
		}
		got, err = s.Summarize(ref.Prompts.Summarize)
		check("summarize", got, err)
		tt, err := LoadText2Text(dir)
		if err != nil {
			t.Fatal(err)
		}
		var answers []string
		for _, qc := range ref.Prompts.Answer {
			a, err := tt.Answer(qc[0], qc[1])
			if err != nil {
				t.Fatal(err)
			}
			answers = append(answers, a)
		}
		check("answer", answers, nil)
	}
}
