package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goformer/goformer/internal/fixture"
)

// TestT5Commands runs translate, summarize, answer and info on the
// t5-small- and flan-t5-small-shaped directories of models/t5/testdata and
// checks the text against scripts/reference/t5.py's (pipelines.json).
func TestT5Commands(t *testing.T) {
	td := filepath.Join("..", "..", "models", "t5", "testdata")
	ref := fixture.ReadT5Pipelines(t, "../..")
	defer func() { stdinReader = os.Stdin }()
	ctx := filepath.Join(t.TempDir(), "context.txt")
	if err := os.WriteFile(ctx, []byte(ref.Prompts.Answer[0][1]), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"t5-small", "flan-t5-small"} {
		dir := filepath.Join(td, name)
		want := ref.Outputs[name]
		for _, c := range []struct {
			args  []string
			stdin string
			want  []string
		}{
			{[]string{"translate", "--model", dir}, strings.Join(ref.Prompts.Translate, "\n") + "\n", want["translate"]},
			{[]string{"summarize", "--model", dir}, ref.Prompts.Summarize[0] + "\n", want["summarize"]},
			{[]string{"answer", "--model", dir, "--question", ref.Prompts.Answer[0][0], "--context", ctx}, "", want["answer"]},
		} {
			stdinReader = strings.NewReader(c.stdin)
			var out, errb bytes.Buffer
			if code := run(c.args, &out, &errb); code != 0 {
				t.Fatalf("%v: exit %d: %s", c.args, code, errb.String())
			}
			if got := strings.Split(strings.TrimRight(out.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("%s %s:\n got %q\nwant %q", name, c.args[0], got, c.want)
			}
		}
		code, out, errs := runCLI("info", "--model", dir)
		variant := map[string]string{"t5-small": "T5 v1.0", "flan-t5-small": "T5 v1.1 / FLAN-T5"}[name]
		if code != 0 || !strings.Contains(out, variant) {
			t.Errorf("info %s: exit %d, %q %q; want the variant %q", name, code, out, errs, variant)
		}
	}
	// --encoder-repetition-penalty reaches transformers' generation: the
	// command's translations are the pipeline's with the penalty.
	tr, err := loadTranslator("translate", filepath.Join(td, "t5-small"), "")
	if err != nil {
		t.Fatal(err)
	}
	tr.Generation.EncoderRepetitionPenalty = 3
	wantPen, err := tr.Translate(ref.Prompts.Translate)
	if err != nil {
		t.Fatal(err)
	}
	stdinReader = strings.NewReader(strings.Join(ref.Prompts.Translate, "\n") + "\n")
	code, outPen, errPen := runCLI("translate", "--model", filepath.Join(td, "t5-small"), "--encoder-repetition-penalty", "3")
	if got := strings.TrimRight(outPen, "\n"); code != 0 || got != strings.Join(wantPen, "\n") {
		t.Errorf("translate --encoder-repetition-penalty 3: exit %d %q, %q; want %q", code, errPen, got, wantPen)
	}
	stdinReader = strings.NewReader("The house is wonderful.\n")
	var out, errb bytes.Buffer
	if code := run([]string{"translate", "--model", filepath.Join(td, "t5-small"), "--task", "translation_en_to_xx"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "translation_en_to_fr") {
		t.Errorf("an unknown task: exit %d, %q; want 2 and the tasks there are", code, errb.String())
	}
}
