package generate

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReadOptionsLayers: generation_config.json is read instead of
// config.json's generation fields when present; task_specific_params
// overrides either; eos_token_id may be a list of one.
func TestReadOptionsLayers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) { os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644) }
	write("config.json", `{"num_beams": 6, "max_length": 142, "min_length": 56, "length_penalty": 2.0, "no_repeat_ngram_size": 3,
		"early_stopping": true, "eos_token_id": 2, "decoder_start_token_id": 2, "forced_bos_token_id": 0,
		"task_specific_params": {"summarization": {"num_beams": 4, "max_length": 62}}}`)
	base := DefaultOptions()
	o, err := ReadOptions(dir, "summarization", base)
	if err != nil {
		t.Fatal(err)
	}
	if o.NumBeams != 4 || o.MaxLength != 62 || o.MinLength != 56 || o.LengthPenalty != 2 || o.NoRepeatNgramSize != 3 ||
		o.EarlyStopping != StopEarly || o.EOS != 2 || o.Start != 2 || o.ForcedBOS != 0 || o.ForcedEOS != -1 {
		t.Errorf("config.json + task_specific_params: %+v", o)
	}
	write("generation_config.json", `{"num_beams": 3, "eos_token_id": [5], "early_stopping": "never", "encoder_repetition_penalty": 1.3, "repetition_penalty": 1.2}`)
	if o, err = ReadOptions(dir, "", base); err != nil {
		t.Fatal(err)
	}
	if o.NumBeams != 3 || o.MaxLength != 20 || o.EOS != 5 || o.EarlyStopping != StopNever || o.EncoderRepetitionPenalty != 1.3 ||
		o.RepetitionPenalty != 1.2 {
		t.Errorf("generation_config.json: %+v", o)
	}
	write("generation_config.json", `{"eos_token_id": [5, 6]}`)
	if _, err := ReadOptions(dir, "", base); err == nil || !strings.Contains(err.Error(), "generation_config.json") {
		t.Errorf("two end tokens: %v", err)
	}
	write("generation_config.json", `{"bad_words_ids": [[7], [9]]}`)
	if o, err = ReadOptions(dir, "", base); err != nil || len(o.BadWords) != 2 || o.BadWords[0] != 7 || o.BadWords[1] != 9 {
		t.Errorf("bad_words_ids [[7], [9]]: %v %v", o.BadWords, err)
	}
	write("generation_config.json", `{"bad_words_ids": [[7, 8]]}`)
	if _, err := ReadOptions(dir, "", base); err == nil || !strings.Contains(err.Error(), "bad_words_ids") {
		t.Errorf("a bad word of two tokens: %v", err)
	}
	write("generation_config.json", `{"early_stopping": "sometimes"}`)
	if _, err := ReadOptions(dir, "", base); err == nil || !strings.Contains(err.Error(), "early_stopping") {
		t.Errorf("early_stopping sometimes: %v", err)
	}
}

// TestOptionsValidate refuses what makes no sense before decoding.
func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.MaxLength = 1 }, "max_length"},
		{func(o *Options) { o.NumBeams = 100 }, "num_beams"},
		{func(o *Options) { o.EOS = 50 }, "eos"},
		{func(o *Options) { o.ForcedBOS = 50 }, "forced_bos_token_id"},
		{func(o *Options) { o.BadWords = []int32{3, 10} }, "bad_words_ids"},
		{func(o *Options) { o.NumBeams, o.Sampler = 2, &Sampler{Temperature: 1} }, "beam_sample"},
		{func(o *Options) { o.EncoderRepetitionPenalty = -1 }, "encoder_repetition_penalty"},
		{func(o *Options) { o.EncoderRepetitionPenalty = math.NaN() }, "encoder_repetition_penalty"},
		{func(o *Options) { o.EncoderRepetitionPenalty, o.EncoderInputs = 2, [][]int32{{2, 3}, {4, 10}} }, "encoder input 1: token 10"},
		{func(o *Options) { o.RepetitionPenalty = -1 }, "repetition_penalty -1"},
		{func(o *Options) { o.RepetitionPenalty = math.Inf(1) }, "repetition_penalty +Inf"},
	} {
		o := DefaultOptions()
		tc.edit(&o)
		if err := o.Validate(10); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error about %s, got %v", tc.want, err)
		}
	}
}

// TestBadWordsNeverChosen: a suppressed token scores -Inf whatever its
// logit, and nothing else changes.
func TestBadWordsNeverChosen(t *testing.T) {
	o := DefaultOptions()
	o.BadWords = []int32{2}
	scores := []float32{0.1, 0.5, 9, 0.2}
	o.process(scores, nil, nil)
	if !math.IsInf(float64(scores[2]), -1) || scores[0] != 0.1 || scores[1] != 0.5 || scores[3] != 0.2 {
		t.Errorf("scores after processing: %v", scores)
	}
}

// TestEncoderRepetitionPenalty checks the processor against the values of
// transformers' own test of EncoderRepetitionPenaltyLogitsProcessor
// (penalty 2: a negative score is halved, a positive one doubled, tokens
// not in the source unchanged), a repeated source token changed once, and
// that greedy and beam search apply it (a source token just behind
// another wins with the penalty and not without).
func TestEncoderRepetitionPenalty(t *testing.T) {
	const vocab = 10
	o := DefaultOptions()
	o.EncoderRepetitionPenalty = 2
	o.EncoderInputs = [][]int32{{0, 1, 1, 0}, {5, 0}}
	srcs, err := o.sources(2)
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]float32{make([]float32, vocab), make([]float32, vocab)}
	for _, r := range rows {
		for j := range r {
			r[j] = 1.0 / vocab
		}
	}
	rows[0][0], rows[1][5] = -1.0/vocab, 4.0/vocab
	o.process(rows[0], nil, srcs[0])
	o.process(rows[1], nil, srcs[1])
	near := func(got, want float32) bool { return math.Abs(float64(got-want)) < 1e-7 }
	if !near(rows[0][0], -0.1/2) || !near(rows[0][1], 0.1*2) || !near(rows[1][0], 0.1*2) || !near(rows[1][5], 0.4*2) ||
		!near(rows[0][2], 0.1) || !near(rows[1][2], 0.1) || !near(rows[1][1], 0.1) {
		t.Errorf("processed scores: %v / %v", rows[0], rows[1])
	}
	if _, err := o.sources(3); err == nil {
		t.Error("two encoder inputs for three sentences were accepted")
	}

	// Token 4 scores just under token 3 at every step; the source holds 4.
	flat := &fixedDecoder{vocab: vocab, row: []float32{0, 0.5, 0, 2, 1.9, 0, 0, 0, 0, 0}}
	for _, beams := range []int{1, 3} {
		plain, boosted := searchTwice(t, flat, beams, func(o *Options) { o.EncoderRepetitionPenalty, o.EncoderInputs = 1.5, [][]int32{{4, 7}} })
		if len(plain) == 0 || plain[0] != 3 || len(boosted) == 0 || boosted[0] != 4 {
			t.Errorf("%d beams: without the penalty %v, with it %v (want 3… and 4…)", beams, plain, boosted)
		}
		o := DefaultOptions()
		o.Start, o.EOS, o.MaxNewTokens, o.NumBeams, o.EncoderRepetitionPenalty = 0, 1, 3, beams, 1.5
		if _, err := Search(flat, 1, vocab, o); err == nil || !strings.Contains(err.Error(), "encoder inputs") {
			t.Errorf("%d beams: the penalty without encoder inputs: %v", beams, err)
		}
	}
}

// TestRepetitionPenalty checks the processor against the values of
// transformers' own test of RepetitionPenaltyLogitsProcessor (decoder
// inputs [0 1] and [5 0], penalty 2: a negative score is doubled, a
// positive one halved, the start token's too), a token generated three
// times changed once, and that greedy and beam search apply it: where one
// token always scores best, the output stops repeating it.
func TestRepetitionPenalty(t *testing.T) {
	const vocab = 10
	uniform := func() []float32 {
		r := make([]float32, vocab)
		for j := range r {
			r[j] = 1.0 / vocab
		}
		return r
	}
	near := func(got, want float32) bool { return math.Abs(float64(got-want)) < 1e-7 }
	o := DefaultOptions()
	o.RepetitionPenalty = 2
	row0, row1 := uniform(), uniform()
	row0[0], row1[5] = -1.0/vocab, 4.0/vocab
	o.Start = 0
	o.process(row0, []int32{1}, nil)
	o.Start = 5
	o.process(row1, []int32{0}, nil)
	if !near(row0[0], -0.1*2) || !near(row0[1], 0.1/2) || !near(row1[0], 0.1/2) || !near(row1[5], 0.4/2) ||
		!near(row0[2], 0.1) || !near(row1[1], 0.1) || !near(row1[9], 0.1) {
		t.Errorf("processed scores: %v / %v", row0, row1)
	}
	o.Start = 0
	row := uniform()
	o.process(row, []int32{1, 1, 0, 1}, nil)
	if !near(row[1], 0.1/2) || !near(row[0], 0.1/2) || !near(row[2], 0.1) {
		t.Errorf("tokens fed several times: %v (want each halved once)", row)
	}

	// Token 3 scores best at every step, token 4 just under it.
	flat := &fixedDecoder{vocab: vocab, row: []float32{0, 0.5, 0, 2, 1.9, 0, 0, 0, 0, 0}}
	for _, beams := range []int{1, 3} {
		plain, penalised := searchTwice(t, flat, beams, func(o *Options) { o.RepetitionPenalty = 1.2 })
		if !slices.Equal(plain, []int32{3, 3, 3}) || !slices.Equal(penalised, []int32{3, 4, 3}) {
			t.Errorf("%d beams: without the penalty %v, with it %v (want [3 3 3] and [3 4 3])", beams, plain, penalised)
		}
	}
}

// searchTwice decodes one sentence of d (start 0, EOS 1, three new tokens,
// the given beams) with transformers' defaults, then again with edit
// applied to the options.
func searchTwice(t *testing.T, d *fixedDecoder, beams int, edit func(*Options)) (plain, edited []int32) {
	t.Helper()
	o := DefaultOptions()
	o.Start, o.EOS, o.MaxNewTokens, o.NumBeams = 0, 1, 3, beams
	a, err := Search(d, 1, d.vocab, o)
	if err != nil {
		t.Fatal(err)
	}
	edit(&o)
	b, err := Search(d, 1, d.vocab, o)
	if err != nil {
		t.Fatal(err)
	}
	return a[0], b[0]
}

// fixedDecoder returns the same logits for every row at every step.
type fixedDecoder struct {
	vocab int
	row   []float32
}

func (d *fixedDecoder) Step(tokens []int32, parents []int) ([]float32, error) {
	out := make([]float32, 0, len(tokens)*d.vocab)
	for range tokens {
		out = append(out, d.row...)
	}
	return out, nil
}

func (d *fixedDecoder) Keep(rows []int) error { return nil }
