package generate

import (
	"math"
	"os"
	"path/filepath"
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
	write("generation_config.json", `{"num_beams": 3, "eos_token_id": [5], "early_stopping": "never"}`)
	if o, err = ReadOptions(dir, "", base); err != nil {
		t.Fatal(err)
	}
	if o.NumBeams != 3 || o.MaxLength != 20 || o.EOS != 5 || o.EarlyStopping != StopNever {
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
	o.process(scores, nil)
	if !math.IsInf(float64(scores[2]), -1) || scores[0] != 0.1 || scores[1] != 0.5 || scores[3] != 0.2 {
		t.Errorf("scores after processing: %v", scores)
	}
}
