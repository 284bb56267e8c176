package seq2seq

import (
	"fmt"
	"slices"

	"github.com/goformer/goformer/generate"
)

// TranslateOptions control Translate.
type TranslateOptions struct {
	Beam          int     // hypotheses per sentence; 1 (or 0): greedy
	LengthPenalty float64 // GNMT's α (the paper: 0.6); beam search only
	// The output is at most MaxLenA·(source length) + MaxLenB tokens,
	// where the source length is that of the longest source in the batch,
	// EOS included (fairseq's max_len_a/b; defaults 1.5 and 10), and never
	// more than the model's positions allow.
	MaxLenA float64
	MaxLenB int
	// BatchRows bounds the rows decoded together (sentences × beam);
	// default 256.
	BatchRows int
	// Sampler, if set (and Beam is 1), draws each token from it
	// (temperature, top-k, top-p, seeded) instead of taking the best.
	Sampler *generate.Sampler
	// Progress, if set, is called with the number of sentences done.
	Progress func(done int)
}

// Translate decodes each source sentence (token ids; EOS is appended when
// missing) and returns the output ids without EOS. Sentences are sorted by
// length and decoded in batches with the KV cache; the results come back
// in the input order.
func (m *Model) Translate(src [][]int32, opt TranslateOptions) ([][]int32, error) {
	if opt.Beam < 1 {
		opt.Beam = 1
	}
	if opt.MaxLenA == 0 && opt.MaxLenB == 0 {
		opt.MaxLenA, opt.MaxLenB = 1.5, 10
	}
	if opt.BatchRows < 1 {
		opt.BatchRows = 256
	}
	eos := int32(m.Config.EOSTokenID)
	inputs := make([][]int32, len(src))
	for i, s := range src {
		if len(s) == 0 || s[len(s)-1] != eos {
			s = append(s[:len(s):len(s)], eos)
		}
		for _, id := range s {
			if id < 0 || int(id) >= m.Config.VocabSize {
				return nil, fmt.Errorf("seq2seq: sentence %d: token id %d outside the vocabulary of %d", i, id, m.Config.VocabSize)
			}
		}
		if len(s) > m.Config.MaxPositionEmbeddings {
			return nil, fmt.Errorf("seq2seq: sentence %d has %d tokens, more than max_position_embeddings %d", i, len(s), m.Config.MaxPositionEmbeddings)
		}
		inputs[i] = s
	}
	order := make([]int, len(src))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(inputs[a]) - len(inputs[b]) })
	out := make([][]int32, len(src))
	per := max(1, opt.BatchRows/opt.Beam)
	done := 0
	for start := 0; start < len(order); start += per {
		idx := order[start:min(start+per, len(order))]
		batch := make([][]int32, len(idx))
		longest := 0
		for j, i := range idx {
			batch[j] = inputs[i]
			longest = max(longest, len(inputs[i]))
		}
		maxLen := min(int(opt.MaxLenA*float64(longest))+opt.MaxLenB, m.Config.MaxPositionEmbeddings-1)
		dec, err := m.NewDecoder(batch, opt.Beam, maxLen+1)
		if err != nil {
			return nil, err
		}
		cfg := generate.SearchConfig{Vocab: m.Config.VocabSize, Start: int32(m.Config.DecoderStartTokenID), EOS: eos,
			MaxLen: maxLen, Beam: opt.Beam, LengthPenalty: opt.LengthPenalty, EarlyStopping: true}
		var res [][]int32
		if opt.Beam == 1 {
			res, err = generate.Sample(dec, len(batch), cfg, opt.Sampler)
		} else {
			res, err = generate.BeamSearch(dec, len(batch), cfg)
		}
		dec.Release()
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			out[i] = res[j]
		}
		done += len(idx)
		if opt.Progress != nil {
			opt.Progress(done)
		}
	}
	return out, nil
}

// GenerationOptions returns transformers' default generation settings
// with this model's decoder start, end and forced tokens.
func (m *Model) GenerationOptions() generate.Options {
	o := generate.DefaultOptions()
	o.Start, o.EOS = int32(m.Config.DecoderStartTokenID), int32(m.Config.EOSTokenID)
	if m.Config.ForcedBOSTokenID != nil {
		o.ForcedBOS = int32(*m.Config.ForcedBOSTokenID)
	}
	if m.Config.ForcedEOSTokenID != nil {
		o.ForcedEOS = int32(*m.Config.ForcedEOSTokenID)
	}
	return o
}

// Generate decodes each source (token ids, special tokens included, no
// padding) with transformers' generation semantics (generate.Search):
// sources sorted by length, decoded in batches of at most batchRows rows
// (sentences × beams; default 256) with the KV cache, finished sentences
// dropped from their batch. It returns the generated ids after the start
// token, without the final EOS, in the input order; progress, if set, is
// called with the number of sources done.
func (m *Model) Generate(src [][]int32, o generate.Options, batchRows int, progress func(done int)) ([][]int32, error) {
	maxNew := o.MaxNewTokens
	if maxNew <= 0 {
		maxNew = o.MaxLength - 1
	}
	if maxNew < 1 {
		return nil, fmt.Errorf("seq2seq: max_length %d leaves no room to generate", o.MaxLength)
	}
	if maxNew > m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("seq2seq: %d new tokens exceed max_position_embeddings %d", maxNew, m.Config.MaxPositionEmbeddings)
	}
	for i, s := range src {
		if len(s) == 0 {
			return nil, fmt.Errorf("seq2seq: source %d is empty", i)
		}
		if len(s) > m.Config.MaxPositionEmbeddings {
			return nil, fmt.Errorf("seq2seq: source %d has %d tokens, more than max_position_embeddings %d", i, len(s), m.Config.MaxPositionEmbeddings)
		}
		for _, id := range s {
			if id < 0 || int(id) >= m.Config.VocabSize {
				return nil, fmt.Errorf("seq2seq: source %d: token id %d outside the vocabulary of %d", i, id, m.Config.VocabSize)
			}
		}
	}
	return generate.SearchBatches(src, m.Config.VocabSize, o, batchRows, func(batch [][]int32, copies, maxNew int) (generate.RowDecoder, error) {
		return m.NewDecoder(batch, copies, maxNew)
	}, progress)
}

// SourceFormat returns the token a source starts with (BART's <s>; −1 for
// none), the one it ends with (</s>) and the longest source the model
// reads (max_position_embeddings), those included.
func (m *Model) SourceFormat() (bos, eos int32, maxLen int) {
	bos = -1
	if m.Config.Bart() {
		bos = int32(m.Config.BOSTokenID)
	}
	return bos, int32(m.Config.EOSTokenID), m.Config.MaxPositionEmbeddings
}

// VocabSize returns vocab_size.
func (m *Model) VocabSize() int { return m.Config.VocabSize }
