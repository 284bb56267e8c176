package seq2seq

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/tensor"
)

func tinyModel(t *testing.T, modelType string) *Model {
	t.Helper()
	cfg := Config{ModelType: modelType, VocabSize: 37, DModel: 32, EncoderLayers: 2, DecoderLayers: 2,
		EncoderAttentionHeads: 4, DecoderAttentionHeads: 4, EncoderFFNDim: 64, DecoderFFNDim: 64,
		MaxPositionEmbeddings: 64, ScaleEmbedding: true, InitStd: 0.3, PadTokenID: 0, EOSTokenID: 1}
	m, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDecoderMatchesFullRecompute: logits of the cached decoder equal the
// last position of the full decoder, step by step, for a batch of
// sentences of different lengths (padding in the source), and greedy
// search gives the same tokens as Model.Greedy, which recomputes.
func TestDecoderMatchesFullRecompute(t *testing.T) {
	for _, mt := range []string{"marian", "pegasus"} {
		m := tinyModel(t, mt)
		src := [][]int32{{5, 9, 12, 7, 1}, {3, 1}, {20, 21, 22, 1}}
		dec, err := m.NewDecoder(src, 1, 12)
		if err != nil {
			t.Fatal(err)
		}
		prefixes := make([][]int32, len(src))
		tokens := make([]int32, len(src))
		for step := 0; step < 8; step++ {
			for i := range src {
				tokens[i] = int32((step*7 + i*3) % 37)
				if step == 0 {
					tokens[i] = 0
				}
				prefixes[i] = append(prefixes[i], tokens[i])
			}
			logits, err := dec.Step(tokens, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range src {
				g := autograd.NewGraph(0)
				g.NoGrad = true
				mem, err := m.Encode(g, src[i], 1, len(src[i]), nil)
				if err != nil {
					t.Fatal(err)
				}
				full, err := m.Decode(g, mem, prefixes[i], 1, len(prefixes[i]), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				V := m.Config.VocabSize
				want := full.Value.Data()[(step)*V : (step+1)*V]
				got := logits[i*V : (i+1)*V]
				for j := range want {
					if math.Abs(float64(want[j]-got[j])) > 1e-4*(1+math.Abs(float64(want[j]))) {
						t.Fatalf("%s step %d sentence %d logit %d: cached %g, full %g", mt, step, i, j, got[j], want[j])
					}
				}
			}
		}
		// Greedy with the cache = greedy recomputing.
		dec, err = m.NewDecoder(src, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		cfg := generate.SearchConfig{Vocab: 37, Start: 0, EOS: 1, MaxLen: 9, Beam: 1}
		got, err := generate.Greedy(dec, len(src), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range src {
			want, err := m.Greedy(s, 9)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) > 9 {
				want = want[:9]
			}
			if !reflect.DeepEqual(got[i], want) && !(len(got[i]) == 0 && len(want) == 0) {
				t.Errorf("%s sentence %d: cached greedy %v, recomputed %v", mt, i, got[i], want)
			}
		}
		// Beam search with beam 1 is greedy.
		dec, _ = m.NewDecoder(src, 1, 10)
		beam1, err := generate.BeamSearch(dec, len(src), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range src {
			if !reflect.DeepEqual(beam1[i], got[i]) && !(len(got[i]) == 0 && len(beam1[i]) == 0) {
				t.Errorf("%s sentence %d: beam 1 %v, greedy %v", mt, i, beam1[i], got[i])
			}
		}
	}
}

// TestBeamSearchFindsBetterScores: with 4 beams the returned hypothesis
// scores at least as well (log-probability under the model, length
// normalised) as greedy's, computed independently by full recomputation.
func TestBeamSearchFindsBetterScores(t *testing.T) {
	m := tinyModel(t, "pegasus")
	src := [][]int32{{5, 9, 12, 7, 1}, {3, 1}, {20, 21, 22, 1}, {30, 2, 8, 1}}
	alpha := 0.6
	cfg := generate.SearchConfig{Vocab: 37, Start: 0, EOS: 1, MaxLen: 12, Beam: 4, LengthPenalty: alpha, EarlyStopping: true}
	dec, err := m.NewDecoder(src, 4, 13)
	if err != nil {
		t.Fatal(err)
	}
	beam, err := generate.BeamSearch(dec, len(src), cfg)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ = m.NewDecoder(src, 1, 13)
	cfg.Beam = 1
	greedy, err := generate.Greedy(dec, len(src), cfg)
	if err != nil {
		t.Fatal(err)
	}
	score := func(s, y []int32) float64 {
		g := autograd.NewGraph(0)
		g.NoGrad = true
		mem, _ := m.Encode(g, s, 1, len(s), nil)
		in := append([]int32{0}, y...)
		full, err := m.Decode(g, mem, in, 1, len(in), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		V := 37
		var lp float64
		for i := range in {
			next := int32(1)
			if i < len(y) {
				next = y[i]
			}
			row := full.Value.Data()[i*V : (i+1)*V]
			mx := row[0]
			for _, v := range row {
				mx = max(mx, v)
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v - mx))
			}
			lp += float64(row[next]-mx) - math.Log(sum)
		}
		return lp / math.Pow((5+float64(len(y)+1))/6, alpha)
	}
	better := 0
	for i, s := range src {
		b, gr := score(s, beam[i]), score(s, greedy[i])
		if b < gr-1e-4 {
			t.Errorf("sentence %d: beam %v scores %g, below greedy %v at %g", i, beam[i], b, greedy[i], gr)
		}
		if b > gr+1e-4 {
			better++
		}
	}
	t.Logf("beam search beat greedy on %d of %d sentences", better, len(src))
}

// TestSampleIsSeededAndGreedyAtZero: sampling with the same seed gives the
// same tokens; at temperature 0 it is greedy search.
func TestSampleIsSeededAndGreedyAtZero(t *testing.T) {
	m := tinyModel(t, "marian")
	src := [][]int32{{5, 9, 12, 7, 1}, {3, 1}}
	run := func(temp float64, seed uint64) [][]int32 {
		out, err := m.Translate(src, TranslateOptions{Sampler: &generate.Sampler{Temperature: temp, TopK: 10, RNG: tensor.NewRNG(seed)}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := run(1, 7), run(1, 7)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different samples: %v, %v", a, b)
	}
	greedy, err := m.Translate(src, TranslateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if z := run(0, 1); !reflect.DeepEqual(z, greedy) {
		t.Errorf("temperature 0 gave %v, greedy %v", z, greedy)
	}
}

// TestDecoderJoinMatchesAlone: sources that join a running batch between
// steps (continuous batching) and rows that leave it get, at every step,
// the logits their source gets decoded alone — for sinusoidal (Marian,
// post-LN; Pegasus, pre-LN) and learned (BART) positions, with sources
// longer and shorter than those already in the batch.
func TestDecoderJoinMatchesAlone(t *testing.T) {
	for _, mt := range []string{"marian", "pegasus", "bart"} {
		t.Run(mt, func(t *testing.T) {
			m := tinyModel(t, mt)
			src := [][]int32{{5, 9, 12, 7, 1}, {3, 1}, {20, 21, 22, 23, 24, 25, 26, 27, 1}, {8, 8, 1}}
			fixture.CheckJoin(t, func(src [][]int32, maxLen int) (fixture.JoinDecoder, error) {
				return m.NewDecoder(src, 1, maxLen)
			}, src, m.Config.VocabSize, 2)
			fixture.CheckJoinBeams(t, func(src [][]int32, copies, maxLen int) (fixture.BeamDecoder, error) {
				return m.NewDecoder(src, copies, maxLen)
			}, src, m.Config.VocabSize, 2)
		})
	}
}

// TestNumReturnSequences: sampling n sequences per source, the source
// encoded once, draws what sampling the source repeated n times draws (the
// same rows in the same batches, in the same order from the same
// generator); with batches that hold a part of a source's n rows it still
// returns n per source; beam search returns its n best finished hypotheses, the first its
// answer; greedy search and more sequences than beams are refused.
func TestNumReturnSequences(t *testing.T) {
	m := tinyModel(t, "marian")
	src := [][]int32{{5, 9, 12, 7, 1}, {3, 1}, {8, 8, 2, 1}}
	const n = 5
	var rep [][]int32
	for _, s := range src {
		for range n {
			rep = append(rep, s)
		}
	}
	base := m.GenerationOptions()
	base.MaxLength = 9
	for _, rows := range []int{0, 10, 7} {
		o := base
		o.Sampler = &generate.Sampler{Temperature: 1, RNG: tensor.NewRNG(4)}
		o.NumReturnSequences = n
		got, err := m.Generate(src, o, rows, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.Sampler = &generate.Sampler{Temperature: 1, RNG: tensor.NewRNG(4)}
		o.NumReturnSequences = 0
		want, err := m.Generate(rep, o, rows, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(src)*n || rows%n == 0 && !reflect.DeepEqual(got, want) {
			t.Errorf("batch rows %d: %d sequences %v, the repeated sources drew %v", rows, len(got), got, want)
		}
		distinct := map[string]bool{}
		for _, s := range got {
			distinct[fmt.Sprint(s)] = true
		}
		if len(distinct) < 3 {
			t.Errorf("batch rows %d: %d distinct samples of %d: %v", rows, len(distinct), len(got), got)
		}
	}

	o := base
	o.NumBeams, o.NumReturnSequences = 4, 3
	nbest := make([][]generate.Hypothesis, len(src))
	o.NBest = func(i int, h []generate.Hypothesis) { nbest[i] = h }
	got, err := m.Generate(src, o, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.NumReturnSequences, o.NBest = 0, nil
	best, err := m.Generate(src, o, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3*len(src) {
		t.Fatalf("beam search returned %d sequences for %d sources × 3", len(got), len(src))
	}
	for i := range src {
		if !reflect.DeepEqual(got[3*i], best[i]) {
			t.Errorf("source %d: first of 3 %v, beam search's answer %v", i, got[3*i], best[i])
		}
		for j := range 3 {
			if !reflect.DeepEqual(got[3*i+j], nbest[i][j].Tokens) {
				t.Errorf("source %d, sequence %d: %v, n-best %v", i, j, got[3*i+j], nbest[i][j].Tokens)
			}
		}
	}

	for _, c := range []struct {
		beams, n int
		want     string
	}{{1, 2, "needs sampling"}, {4, 5, "at least as many beams"}, {1, -1, "≥ 0"}} {
		o := base
		o.NumBeams, o.NumReturnSequences = c.beams, c.n
		if _, err := m.Generate(src, o, 0, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d beams, %d sequences: %v, want an error with %q", c.beams, c.n, err, c.want)
		}
	}
}
