package generate

import (
	"hash/fnv"
	"math"
	"reflect"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// historyDecoder is a RowDecoder whose logits depend on each row's
// sentence and the tokens it has been fed: what a real decoder's do.
type historyDecoder struct {
	vocab int
	sent  []int
	hist  [][]int32
}

func (d *historyDecoder) logits(sent int, hist []int32) []float32 {
	out := make([]float32, d.vocab)
	for j := range out {
		h := fnv.New32a()
		h.Write([]byte{byte(sent), byte(j)})
		for _, t := range hist {
			h.Write([]byte{byte(t)})
		}
		out[j] = float32(h.Sum32()%1000) / 100
	}
	out[1] += float32(len(hist)) / 2 // EOS (1) grows likelier with length
	return out
}

func (d *historyDecoder) Step(tokens []int32, parents []int) ([]float32, error) {
	if parents != nil { // row r continues the history of row parents[r]
		hist := make([][]int32, len(parents))
		for r, p := range parents {
			hist[r] = append([]int32(nil), d.hist[p]...)
		}
		d.hist = hist
	}
	var out []float32
	for r, t := range tokens {
		d.hist[r] = append(d.hist[r], t)
		out = append(out, d.logits(d.sent[r], d.hist[r])...)
	}
	return out, nil
}

func (d *historyDecoder) Keep(rows []int) error {
	var sent []int
	var hist [][]int32
	for _, r := range rows {
		sent, hist = append(sent, d.sent[r]), append(hist, d.hist[r])
	}
	d.sent, d.hist = sent, hist
	return nil
}

// TestRowMatchesSearchAndSample: a sentence decoded step by step through
// Row gives the tokens Search (transformers' processors: no repeated
// 2-gram, a minimum length, forced BOS and EOS) and Sample (greedy and
// seeded sampling) give it.
func TestRowMatchesSearchAndSample(t *testing.T) {
	const vocab = 23
	drive := func(sent int, row *Row) []int32 {
		d := &historyDecoder{vocab: vocab, sent: []int{sent}, hist: [][]int32{nil}}
		feed := row.Start
		for step := 0; step < 100; step++ {
			logits, _ := d.Step([]int32{feed}, nil)
			tok, done := row.Next(logits)
			if done {
				return row.Out
			}
			feed = tok
		}
		t.Fatal("the row never ended")
		return nil
	}
	opts := []Options{
		{MaxNewTokens: 9, Start: 0, EOS: 1, ForcedBOS: -1, ForcedEOS: -1},
		{MaxLength: 12, MinLength: 6, NoRepeatNgramSize: 2, Start: 0, EOS: 1, ForcedBOS: 5, ForcedEOS: 7, BadWords: []int32{3}},
		{MaxNewTokens: 15, Start: 2, EOS: 1, ForcedBOS: -1, ForcedEOS: -1, Sampler: &Sampler{Temperature: 0.8, TopP: 0.9}},
		{MaxNewTokens: 10, Start: 0, EOS: 1, ForcedBOS: -1, ForcedEOS: -1, EncoderRepetitionPenalty: 3, EncoderInputs: [][]int32{{4, 9, 9, 17}}},
	}
	ended := 0
	for i, o := range opts {
		for sent := range 6 {
			want, err := Search(&historyDecoder{vocab: vocab, sent: []int{sent}, hist: [][]int32{nil}}, 1, vocab, withSeed(o, sent))
			if err != nil {
				t.Fatal(err)
			}
			row, err := withSeed(o, sent).NewRow(vocab)
			if err != nil {
				t.Fatal(err)
			}
			got := drive(sent, row)
			if !reflect.DeepEqual(got, want[0]) {
				t.Errorf("options %d, sentence %d: Row gives %v, Search %v", i, sent, got, want[0])
			}
			if len(got) < o.maxNew() {
				ended++
			}
		}
	}
	if ended == 0 {
		t.Error("no sentence ended by EOS: the test does not check that path")
	}
	for _, s := range []*Sampler{nil, {Temperature: 1.2, TopK: 5}} {
		for sent := range 6 {
			fresh := seeded(s, sent)
			want, err := Sample(&historyDecoder{vocab: vocab, sent: []int{sent}, hist: [][]int32{nil}}, 1, SearchConfig{Vocab: vocab, Start: 0, EOS: 1, MaxLen: 8}, fresh)
			if err != nil {
				t.Fatal(err)
			}
			fresh = seeded(s, sent)
			row, err := NewSampleRow(0, 1, 8, fresh)
			if err != nil {
				t.Fatal(err)
			}
			if got := drive(sent, row); !reflect.DeepEqual(got, want[0]) {
				t.Errorf("sampler %v, sentence %d: Row gives %v, Sample %v", s, sent, got, want[0])
			}
		}
	}
	if _, err := (Options{NumBeams: 2, Start: 0, EOS: 1}).NewRow(vocab); err == nil {
		t.Error("a Row with 2 beams was accepted")
	}
	row, _ := NewSampleRow(0, 1, 0, nil)
	if tok, done := row.Next([]float32{0, 0, math.MaxFloat32}); !done || len(row.Out) != 0 || tok != 1 {
		t.Errorf("a row of at most 0 tokens: Next = %d, %v with %v", tok, done, row.Out)
	}
}

// seeded returns a copy of s with a random stream of its own from seed
// (nil for nil).
func seeded(s *Sampler, seed int) *Sampler {
	if s == nil {
		return nil
	}
	c := *s
	c.RNG = tensor.NewRNG(uint64(seed) + 1)
	return &c
}

// withSeed is o with seeded(o.Sampler, seed).
func withSeed(o Options, seed int) Options {
	o.Sampler = seeded(o.Sampler, seed)
	return o
}

// TestBeamRowMatchesSearch: a sentence's beam search run a step at a time
// through BeamRow (its rows' tokens and parents fed back to the decoder)
// gives the hypothesis Search gives it, for each early-stopping rule and
// with processors.
func TestBeamRowMatchesSearch(t *testing.T) {
	const vocab = 23
	for _, o := range []Options{
		{NumBeams: 3, MaxNewTokens: 9, Start: 0, EOS: 1, ForcedBOS: -1, ForcedEOS: -1, LengthPenalty: 1},
		{NumBeams: 4, MaxLength: 12, MinLength: 4, NoRepeatNgramSize: 2, Start: 0, EOS: 1, ForcedBOS: 5, ForcedEOS: 7, LengthPenalty: 2, EarlyStopping: StopEarly},
		{NumBeams: 2, MaxNewTokens: 15, Start: 2, EOS: 1, ForcedBOS: -1, ForcedEOS: -1, LengthPenalty: 0.5, EarlyStopping: StopNever},
		{NumBeams: 3, MaxNewTokens: 3, Start: 0, EOS: 1, ForcedBOS: -1, ForcedEOS: -1, LengthPenalty: 1, EarlyStopping: StopNever}, // ends at the length limit
		{NumBeams: 3, MaxNewTokens: 8, Start: 0, EOS: 1, ForcedBOS: -1, ForcedEOS: -1, LengthPenalty: 1, EncoderRepetitionPenalty: 2, EncoderInputs: [][]int32{{4, 9, 9, 17}}},
	} {
		for sent := range 6 {
			k := o.NumBeams
			sents := make([]int, k)
			for i := range sents {
				sents[i] = sent
			}
			want, err := Search(&historyDecoder{vocab: vocab, sent: sents, hist: make([][]int32, k)}, 1, vocab, o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := o.NewBeamRow(vocab)
			if err != nil {
				t.Fatal(err)
			}
			driveBeams(t, b, &historyDecoder{vocab: vocab, sent: sents, hist: make([][]int32, k)})
			if !reflect.DeepEqual(b.Out(), want[0]) {
				t.Errorf("%d beams, sentence %d: BeamRow gives %v, Search %v", k, sent, b.Out(), want[0])
			}
		}
	}
	if _, err := (Options{NumBeams: 1, Start: 0, EOS: 1}).NewBeamRow(vocab); err == nil {
		t.Error("a BeamRow with one beam was accepted")
	}
}

// TestBeamRowMatchesBeamSearch: the same for BeamSearch's settings (GNMT's
// length penalty, early stopping or not, a model without EOS).
func TestBeamRowMatchesBeamSearch(t *testing.T) {
	const vocab = 23
	for _, cfg := range []SearchConfig{
		{Vocab: vocab, Start: 0, EOS: 1, MaxLen: 8, Beam: 3, LengthPenalty: 0.6, EarlyStopping: true},
		{Vocab: vocab, Start: 0, EOS: 1, MaxLen: 12, Beam: 4, LengthPenalty: 1},
		{Vocab: vocab, Start: 2, EOS: 1, MaxLen: 3, Beam: 2, LengthPenalty: 0.6},
		{Vocab: vocab, Start: 2, EOS: -1, MaxLen: 5, Beam: 3, LengthPenalty: 0.6},
	} {
		for sent := range 5 {
			k := cfg.Beam
			sents := make([]int, k)
			for i := range sents {
				sents[i] = sent
			}
			want, err := BeamSearch(&historyDecoder{vocab: vocab, sent: sents, hist: make([][]int32, k)}, 1, cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := cfg.NewBeamRow()
			if err != nil {
				t.Fatal(err)
			}
			driveBeams(t, b, &historyDecoder{vocab: vocab, sent: sents, hist: make([][]int32, k)})
			if !reflect.DeepEqual(b.Out(), want[0]) {
				t.Errorf("%d beams, max %d, sentence %d: BeamRow gives %v, BeamSearch %v", k, cfg.MaxLen, sent, b.Out(), want[0])
			}
		}
	}
}

// driveBeams runs b's search on d: its rows' tokens and parents fed back
// to the decoder at every step until it ends.
func driveBeams(t *testing.T, b *BeamRow, d *historyDecoder) {
	t.Helper()
	k := b.Beams()
	tokens, parents := make([]int32, k), make([]int, k)
	for i := range tokens {
		tokens[i] = b.Start()
	}
	var use []int
	for step := 0; ; step++ {
		if step > 100 {
			t.Fatal("the beam search never ended")
		}
		logits, _ := d.Step(tokens, use)
		done, err := b.Next(logits, tokens, parents)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		use = parents
	}
}
