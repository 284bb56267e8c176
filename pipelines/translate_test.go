package pipelines

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/tensor"
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

// TestOPUSMTDirectory: a directory laid out as the hub serves OPUS-MT
// (source.spm, target.spm, vocab.json, tokenizer_config.json, config.json,
// generation_config.json, weights) loads as a Translator with the Marian
// tokenizer and transformers' generation settings, and bad_words_ids keeps
// <pad> out of the output even where the model prefers it.
func TestOPUSMTDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"source.spm", "target.spm", "vocab.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join("../tokenizer/testdata/marian", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const vocab, pad = 1310, 1309
	m, err := seq2seq.New(seq2seq.Config{ModelType: "marian", VocabSize: vocab, DModel: 16, EncoderLayers: 1, DecoderLayers: 1,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 32, DecoderFFNDim: 32, ActivationFunction: "relu",
		MaxPositionEmbeddings: 64, ScaleEmbedding: true, PadTokenID: pad, EOSTokenID: 0, DecoderStartTokenID: pad}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	gen := `{"bad_words_ids": [[1309]], "decoder_start_token_id": 1309, "eos_token_id": 0, "forced_eos_token_id": 0,
		"max_length": 12, "num_beams": 2, "pad_token_id": 1309}`
	if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(gen), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTranslator(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Tokenizer.(*tokenizer.Marian); !ok || tr.Generation == nil || tr.Generation.NumBeams != 2 ||
		tr.Generation.MaxLength != 12 || !slices.Equal(tr.Generation.BadWords, []int32{pad}) || tr.Generation.Start != pad {
		t.Fatalf("tokenizer %T, generation %+v", tr.Tokenizer, tr.Generation)
	}
	out, err := tr.Translate([]string{"Ein Mann fährt Fahrrad.", "", "Zwei Hunde spielen im Schnee."})
	if err != nil || len(out) != 3 || out[1] != "" {
		t.Fatalf("translate: %q %v", out, err)
	}
	// Make <pad> the model's favourite: without bad_words_ids greedy
	// decoding would emit it at once.
	src, _ := tr.Tokenizer.Encode("Ein Mann fährt Fahrrad.")
	src = append(src, 0)
	f, err := tensor.ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []tensor.NamedTensor
	for _, name := range f.Names() {
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "final_logits_bias" {
			x.Data()[pad] = 100
		}
		ts = append(ts, tensor.NamedTensor{Name: name, Tensor: x})
	}
	if err := tensor.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	m2, err := seq2seq.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := *tr.Generation
	ids, err := m2.Generate([][]int32{src}, o, 0, nil)
	if err != nil || slices.Contains(ids[0], pad) {
		t.Errorf("with bad_words_ids: %v %v", ids, err)
	}
	o.BadWords = nil
	if ids, err = m2.Generate([][]int32{src}, o, 0, nil); err != nil || !slices.Contains(ids[0], pad) {
		t.Errorf("without bad_words_ids the biased model should emit <pad>: %v %v", ids, err)
	}
}

// pegasusDir writes a small Pegasus directory with random weights and the
// test SentencePiece model, as the hub lays one out.
func pegasusDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"spiece.model", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join("../tokenizer/testdata/pegasus", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := seq2seq.New(seq2seq.Config{ModelType: "pegasus", VocabSize: 1003, DModel: 16, EncoderLayers: 1, DecoderLayers: 1,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 32, DecoderFFNDim: 32, ActivationFunction: "relu",
		MaxPositionEmbeddings: 64, ScaleEmbedding: true, PadTokenID: 0, EOSTokenID: 1, DecoderStartTokenID: 0}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPegasusDirectory: a Pegasus directory as the hub lays it out
// (spiece.model, tokenizer_config.json, config.json, weights) loads as a
// Summarizer with Pegasus's tokenizer (ids shifted by 103) and summarises.
func TestPegasusDirectory(t *testing.T) {
	s, err := LoadSummarizer(pegasusDir(t))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := s.Tokenizer.(*tokenizer.Pegasus)
	if !ok {
		t.Fatalf("tokenizer %T", s.Tokenizer)
	}
	ids, _, err := s.Encode("A tool to convert files.")
	want, _ := p.Encode("A tool to convert files.")
	if err != nil || !slices.Equal(ids, append(want, 1)) || want[0] < tokenizer.PegasusOffset {
		t.Errorf("encode: %v %v (tokenizer %v)", ids, err, want)
	}
	s.Options.Generation.MaxLength = 8
	if out, err := s.Summarize([]string{"A tool to convert files between formats.", "Another package."}); err != nil || len(out) != 2 {
		t.Errorf("summarize: %q %v", out, err)
	}
}

// TestOPUSMTMatchesPyTorch: an OPUS-MT directory exactly as the hub lays
// it out, weights only as pytorch_model.bin (scripts/reference/opus_mt.py:
// a MarianMTModel with random weights, generated as transformers'
// generate does, tokenized and decoded as MarianTokenizer), translates
// here to the same ids and text, greedy and with its beams.
func TestOPUSMTMatchesPyTorch(t *testing.T) {
	dir := t.TempDir()
	for _, src := range []string{"../tokenizer/testdata/marian/source.spm", "../tokenizer/testdata/marian/target.spm",
		"../tokenizer/testdata/marian/vocab.json", "../tokenizer/testdata/marian/tokenizer_config.json",
		"testdata/opus-mt/config.json", "testdata/opus-mt/generation_config.json", "testdata/opus-mt/pytorch_model.bin"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/opus-mt/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Sentences []struct {
			Source    string  `json:"source"`
			GreedyIDs []int32 `json:"greedy_ids"`
			Greedy    string  `json:"greedy"`
			BeamIDs   []int32 `json:"beam_ids"`
			Beam      string  `json:"beam"`
		} `json:"sentences"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTranslator(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Generation == nil || tr.Generation.NumBeams != 3 {
		t.Fatalf("generation settings %+v", tr.Generation)
	}
	var src []string
	for _, s := range want.Sentences {
		src = append(src, s.Source)
	}
	for _, beams := range []int{1, 3} {
		tr.Generation.NumBeams = beams
		got, err := tr.Translate(src)
		if err != nil {
			t.Fatal(err)
		}
		var ids [][]int32
		for _, s := range src {
			x, _ := tr.Tokenizer.Encode(s)
			ids = append(ids, append(x, 0))
		}
		gotIDs, err := tr.Model.Generate(ids, *tr.Generation, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want.Sentences {
			wantIDs, wantText := w.GreedyIDs, w.Greedy
			if beams > 1 {
				wantIDs, wantText = w.BeamIDs, w.Beam
			}
			if !slices.Equal(gotIDs[i], wantIDs) || got[i] != wantText {
				t.Errorf("beams %d, %q:\n got %v %q\nwant %v %q", beams, w.Source, gotIDs[i], got[i], wantIDs, wantText)
			}
		}
	}
}
