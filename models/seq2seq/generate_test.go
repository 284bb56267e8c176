package seq2seq

import (
	"encoding/json"
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
