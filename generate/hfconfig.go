package generate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/goformer/goformer/tensor"
)

// HFConfig is the part of transformers' generation settings that Options
// holds, as generation_config.json, config.json and config.json's
// task_specific_params write them; absent fields are nil.
type HFConfig struct {
	MaxLength           *int            `json:"max_length"`
	MaxNewTokens        *int            `json:"max_new_tokens"`
	MinLength           *int            `json:"min_length"`
	MinNewTokens        *int            `json:"min_new_tokens"`
	NumBeams            *int            `json:"num_beams"`
	LengthPenalty       *float64        `json:"length_penalty"`
	EarlyStopping       *EarlyStopping  `json:"early_stopping"`
	NoRepeatNgramSize   *int            `json:"no_repeat_ngram_size"`
	EncoderRepetition   *float64        `json:"encoder_repetition_penalty"`
	Repetition          *float64        `json:"repetition_penalty"`
	BadWordsIDs         [][]int         `json:"bad_words_ids"`
	DecoderStartTokenID *int            `json:"decoder_start_token_id"`
	EOSTokenID          json.RawMessage `json:"eos_token_id"` // an id or a list of one
	ForcedBOSTokenID    *int            `json:"forced_bos_token_id"`
	ForcedEOSTokenID    *int            `json:"forced_eos_token_id"`
	DoSample            *bool           `json:"do_sample"`
	Temperature         *float64        `json:"temperature"`
	TopK                *int            `json:"top_k"`
	TopP                *float64        `json:"top_p"`
	EpsilonCutoff       *float64        `json:"epsilon_cutoff"`
}

// DefaultOptions are transformers' defaults: max_length 20, one beam,
// length_penalty 1, early_stopping false, nothing forced.
func DefaultOptions() Options {
	return Options{MaxLength: 20, NumBeams: 1, LengthPenalty: 1, EarlyStopping: StopHeuristic, ForcedBOS: -1, ForcedEOS: -1}
}

// Apply sets the fields of o that c holds. A sampler is made (seeded with
// seed) when do_sample is true.
func (c *HFConfig) Apply(o *Options, seed uint64) error {
	setInt := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setInt(&o.MaxLength, c.MaxLength)
	setInt(&o.MaxNewTokens, c.MaxNewTokens)
	setInt(&o.MinLength, c.MinLength)
	setInt(&o.MinNewTokens, c.MinNewTokens)
	setInt(&o.NumBeams, c.NumBeams)
	setInt(&o.NoRepeatNgramSize, c.NoRepeatNgramSize)
	if c.BadWordsIDs != nil {
		o.BadWords = nil
		for _, seq := range c.BadWordsIDs {
			if len(seq) != 1 {
				return fmt.Errorf("bad_words_ids %v: only single tokens are supported", seq)
			}
			o.BadWords = append(o.BadWords, int32(seq[0]))
		}
	}
	if c.LengthPenalty != nil {
		o.LengthPenalty = *c.LengthPenalty
	}
	if c.EarlyStopping != nil {
		o.EarlyStopping = *c.EarlyStopping
	}
	if c.Repetition != nil {
		o.RepetitionPenalty = *c.Repetition
	}
	if c.EncoderRepetition != nil {
		o.EncoderRepetitionPenalty = *c.EncoderRepetition
	}
	id := func(dst *int32, src *int) {
		if src != nil {
			*dst = int32(*src)
		}
	}
	id(&o.Start, c.DecoderStartTokenID)
	id(&o.ForcedBOS, c.ForcedBOSTokenID)
	id(&o.ForcedEOS, c.ForcedEOSTokenID)
	if len(c.EOSTokenID) > 0 && string(c.EOSTokenID) != "null" {
		var one int
		var list []int
		switch {
		case json.Unmarshal(c.EOSTokenID, &one) == nil:
			o.EOS = int32(one)
		case json.Unmarshal(c.EOSTokenID, &list) == nil && len(list) == 1:
			o.EOS = int32(list[0])
		default:
			return fmt.Errorf("eos_token_id %s: want one id (several end tokens are not supported)", c.EOSTokenID)
		}
	}
	if c.DoSample != nil && *c.DoSample {
		s := &Sampler{Temperature: 1, TopK: 50, TopP: 1}
		if c.Temperature != nil {
			s.Temperature = *c.Temperature
		}
		if c.TopK != nil {
			s.TopK = *c.TopK
		}
		if c.TopP != nil {
			s.TopP = *c.TopP
		}
		if c.EpsilonCutoff != nil {
			s.EpsilonCutoff = *c.EpsilonCutoff
		}
		s.RNG = tensor.NewRNG(seed)
		o.Sampler = s
	}
	return nil
}

// ReadOptions returns the generation settings of a model directory as
// transformers' pipelines read them: o (DefaultOptions with the model's
// start and end tokens), then
// generation_config.json if there is one (else the generation fields of
// config.json), then config.json's task_specific_params[task] (task
// "summarization", "translation_en_to_de", …; "" for none).
func ReadOptions(dir, task string, o Options) (Options, error) {
	var model struct {
		HFConfig
		TaskSpecific map[string]HFConfig `json:"task_specific_params"`
	}
	cfgPath := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return o, err
	}
	if err := json.Unmarshal(b, &model); err != nil {
		return o, fmt.Errorf("%s: %w", cfgPath, err)
	}
	genPath := filepath.Join(dir, "generation_config.json")
	gb, err := os.ReadFile(genPath)
	switch {
	case err == nil:
		var g HFConfig
		if err := json.Unmarshal(gb, &g); err != nil {
			return o, fmt.Errorf("%s: %w", genPath, err)
		}
		if err := g.Apply(&o, 0); err != nil {
			return o, fmt.Errorf("%s: %w", genPath, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := model.HFConfig.Apply(&o, 0); err != nil {
			return o, fmt.Errorf("%s: %w", cfgPath, err)
		}
	default:
		return o, err
	}
	if t, ok := model.TaskSpecific[task]; ok && task != "" {
		if err := t.Apply(&o, 0); err != nil {
			return o, fmt.Errorf("%s: task_specific_params.%s: %w", cfgPath, task, err)
		}
	}
	return o, nil
}
