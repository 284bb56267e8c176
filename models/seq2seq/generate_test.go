package seq2seq

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/tensor"
)

// TestGenerateMatchesTransformers runs greedy and beam search on the BART
// fixture with the settings scripts/reference/bart.py decoded with (its
// rendering of transformers' generation: BeamSearchScorer, MinLength,
// NoRepeatNGram, ForcedBOS/EOS processors) and wants the same tokens.
func TestGenerateMatchesTransformers(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "bart"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := tensor.ReadSafetensors(filepath.Join("testdata", "bart_ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	src, pad := fixture.IDs(fixture.Get(t, ref, "src")), fixture.Bools(fixture.Get(t, ref, "src_pad"))
	const s = 7
	var sources [][]int32
	for i := 0; i < 2; i++ {
		var row []int32
		for j := 0; j < s; j++ {
			if !pad[i*s+j] {
				row = append(row, src[i*s+j])
			}
		}
		sources = append(sources, row)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "bart_generate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]struct {
		Config struct {
			NumBeams          int                    `json:"num_beams"`
			MaxLength         int                    `json:"max_length"`
			MinLength         int                    `json:"min_length"`
			NoRepeatNgramSize int                    `json:"no_repeat_ngram_size"`
			LengthPenalty     float64                `json:"length_penalty"`
			EarlyStopping     generate.EarlyStopping `json:"early_stopping"`
		} `json:"config"`
		Outputs [][]int32 `json:"outputs"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 5 {
		t.Fatalf("%d cases", len(cases))
	}
	for name, c := range cases {
		o := m.GenerationOptions()
		o.NumBeams, o.MaxLength, o.MinLength = c.Config.NumBeams, c.Config.MaxLength, c.Config.MinLength
		o.NoRepeatNgramSize, o.LengthPenalty, o.EarlyStopping = c.Config.NoRepeatNgramSize, c.Config.LengthPenalty, c.Config.EarlyStopping
		for _, rows := range []int{256, 1} { // together (rows dropped as they finish) and one at a time
			got, err := m.Generate(sources, o, rows*o.NumBeams, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for i, want := range c.Outputs {
				want = want[1:] // the decoder start token
				if n := len(want); n > 0 && want[n-1] == int32(m.Config.EOSTokenID) {
					want = want[:n-1]
				}
				if !slices.Equal(got[i], want) {
					t.Errorf("%s (batch rows %d), source %d: got %v, transformers' semantics %v", name, rows, i, got[i], want)
				}
			}
		}
	}
}

// TestDecoderKeep: after Keep drops a row, the remaining rows' logits are
// those of a decoder that never had it (encoder output, padding mask and
// both caches compacted together).
func TestDecoderKeep(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "bart"))
	if err != nil {
		t.Fatal(err)
	}
	src := [][]int32{{0, 5, 6, 7, 2}, {0, 9, 2}, {0, 11, 12, 13, 14, 15, 2}}
	all, err := m.NewDecoder(src, 2, 6) // two rows per sentence, as beams
	if err != nil {
		t.Fatal(err)
	}
	kept, err := m.NewDecoder([][]int32{src[0], src[2]}, 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	steps := [][]int32{{2, 2, 2, 2, 2, 2}, {0, 0, 0, 0, 0, 0}, {7, 8, 9, 10, 11, 12}}
	parents := []int{1, 0, 2, 3, 5, 4}
	var got, want []float32
	for i, tok := range steps {
		var p []int
		if i == 2 {
			p = parents
		}
		if _, err := all.Step(tok, p); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			break
		}
	}
	if err := all.Keep([]int{0, 1, 4, 5}); err != nil {
		t.Fatal(err)
	}
	if got, err = all.Step([]int32{3, 4, 5, 6}, []int{1, 0, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for i, tok := range steps {
		sel := []int32{tok[0], tok[1], tok[4], tok[5]}
		var p []int
		if i == 2 {
			p = []int{1, 0, 3, 2}
		}
		if _, err := kept.Step(sel, p); err != nil {
			t.Fatal(err)
		}
	}
	if want, err = kept.Step([]int32{3, 4, 5, 6}, []int{1, 0, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("logit %d: %g after Keep, %g without the dropped rows", i, got[i], want[i])
		}
	}
	if err := all.Keep([]int{2, 1}); err == nil {
		t.Error("Keep accepted rows out of order")
	}
}
