package pipelines

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/tokenizer"
)

// TestTranslatorLinesAndLimits: a saved model directory loads as a
// Translator; empty lines stay empty and in place, the others are
// translated as TranslateIDs translates them, and a line too long for the
// model is refused with its line number before any decoding.
func TestTranslatorLinesAndLimits(t *testing.T) {
	bt := &tokenizer.BPETrainer{VocabSize: 300, Special: []string{"<pad>", "</s>"}}
	for _, s := range []string{"ein hund läuft", "a dog runs", "zwei katzen schlafen", "two cats sleep"} {
		if err := bt.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := bt.Train()
	if err != nil {
		t.Fatal(err)
	}
	pad, _ := tok.ID("<pad>")
	eos, _ := tok.ID("</s>")
	m, err := seq2seq.New(seq2seq.Config{ModelType: "pegasus", VocabSize: tok.VocabSize(), DModel: 16, EncoderLayers: 1, DecoderLayers: 1,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 32, DecoderFFNDim: 32, ActivationFunction: "relu",
		MaxPositionEmbeddings: 24, ScaleEmbedding: true, InitStd: 0.5, PadTokenID: int(pad), EOSTokenID: int(eos), DecoderStartTokenID: int(pad)}, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveHF(filepath.Join(dir, tokenizer.HFFile)); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTranslator(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr.Options.MaxLenB = 5
	lines := []string{"ein hund läuft", "", "  ", "zwei katzen schlafen"}
	out, err := tr.Translate(lines)
	if err != nil {
		t.Fatal(err)
	}
	ids1, _ := tok.Encode(lines[0])
	ids4, _ := tok.Encode(lines[3])
	want, err := tr.TranslateIDs([][]int32{ids1, ids4})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 || out[1] != "" || out[2] != "" || out[0] != want[0] || out[3] != want[1] {
		t.Fatalf("translations %q, want %q around two empty lines", out, want)
	}
	long := strings.Repeat("hund ", 40)
	if _, err := tr.Translate([]string{"ein hund", long}); err == nil || !strings.Contains(err.Error(), "line 2 has") {
		t.Fatalf("an over-long line: %v", err)
	}
}
