package t5

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/nn"
)

// Decoder decodes a batch of sources incrementally: the encoder runs once,
// each layer's cross-attention keys and values are computed once, and each
// Step feeds one token per row, reusing the cached self-attention keys and
// values; the relative bias follows the position of the new token. Each
// source may have several rows (the beams of beam search).
type Decoder struct {
	m                 *Model
	keep              *autograd.Graph // encoder output and cross-attention keys/values
	g                 *autograd.Graph // one step's work, reset at each step
	*nn.CrossDecoding                 // memory, caches, rows, steps
	buckets           []int32         // this step's relative-position buckets
}

// NewDecoder encodes src (one id slice per source, EOS included, no
// padding) and returns a decoder with copies rows per source (rows
// i·copies … (i+1)·copies−1 belong to source i) for up to maxLen steps.
func (m *Model) NewDecoder(src [][]int32, copies, maxLen int) (*Decoder, error) {
	if len(src) == 0 || copies < 1 || maxLen < 1 {
		return nil, fmt.Errorf("t5: NewDecoder needs sources, copies ≥ 1 and maxLen ≥ 1 (got %d, %d, %d)", len(src), copies, maxLen)
	}
	ids, pad, s, err := nn.PadSources(src, int32(m.Config.PadTokenID))
	if err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	keep := m.graphs.Get()
	memory, err := m.Encode(keep, ids, len(src), s, pad)
	if err != nil {
		m.graphs.Put(keep)
		return nil, err
	}
	rows := len(src) * copies
	dec := &Decoder{m: m, keep: keep, g: m.graphs.Get()}
	inner := m.Config.NumHeads * m.Config.DKV
	var caches []*nn.LayerCache
	for range m.decoder {
		caches = append(caches, &nn.LayerCache{Self: nn.NewKVCache(rows, maxLen, inner), Cross: nn.NewCrossKVCache(rows, inner)})
	}
	dec.CrossDecoding = nn.NewCrossDecoding(nn.NewMemory(memory, pad, copies), caches, rows)
	return dec, nil
}

// Keep keeps the given rows (increasing) as rows 0, 1, … and drops the
// others (their sources are finished): the encoder output, its padding
// mask and every cache shrink in place.
func (d *Decoder) Keep(rows []int) error {
	if err := d.CrossDecoding.Keep(rows); err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	return nil
}

// Release hands the decoder's graphs, with their memory, back to the model
// for the decoders after it; the decoder is not used again.
func (d *Decoder) Release() {
	d.m.graphs.Put(d.keep)
	d.m.graphs.Put(d.g)
	d.keep, d.g = nil, nil
}

// Join adds sources (as NewDecoder takes them) to the batch between steps,
// one row each after the running rows (continuous batching): a new row's
// first token is decoder_start_token_id, its history left-padded to the
// others' and masked. T5's positions are relative, so nothing else
// changes; beam search's reordering (Step's parents) must stay among a
// sentence's rows.
func (d *Decoder) Join(src [][]int32) error { return d.JoinCopies(src, 1) }

// JoinCopies is Join with copies rows per source (the beams of a beam
// search: rows i·copies … (i+1)·copies−1 of the new ones read source i),
// each source encoded once.
func (d *Decoder) JoinCopies(src [][]int32, copies int) error {
	tmp, err := d.m.NewDecoder(src, copies, 1)
	if err != nil {
		return err
	}
	defer tmp.Release()
	if err := d.CrossDecoding.Join(tmp.CrossDecoding, d.g, d.m.crossAttention()); err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	d.keep.Reset() // the encoder outputs now live in the cross-attention caches
	return nil
}

// Step feeds one token per row (the first step: decoder_start_token_id)
// and returns the logits of the next token, rows × vocab_size, valid until
// the next call. If parents is not nil, row r first takes over the history
// of row parents[r] (beam search's reordering).
func (d *Decoder) Step(tokens []int32, parents []int) ([]float32, error) {
	pos, err := d.Begin(tokens, parents, d.m.Config.VocabSize)
	if err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	// The relative bias depends on distances only, and every row's
	// history ends at the caches' last position (after a Join, the
	// shorter ones left-padded): the new token is at the caches' length.
	pos = d.Len()
	g := d.g
	g.Reset()
	mem, pad := d.Memory()
	logits := d.m.decode(g, mem, tokens, d.Rows(), pos, 1, nil, pad, d.Caches, &d.buckets)
	if err := g.Err(); err != nil {
		return nil, err
	}
	d.End()
	return logits.Value.Data(), nil
}

// GenerationOptions returns transformers' default generation settings
// with this model's decoder start (pad, 0) and end tokens.
func (m *Model) GenerationOptions() generate.Options {
	o := generate.DefaultOptions()
	o.Start, o.EOS = int32(m.Config.DecoderStartTokenID), int32(m.Config.EOSTokenID)
	return o
}

// Generate decodes each source (token ids with the final EOS, no padding)
// with transformers' generation semantics (generate.Search): sources
// sorted by length, decoded in batches of at most batchRows rows (sources ×
// beams; default 256) with the KV cache. It returns the generated ids after
// the start token, without the final EOS, in the input order.
func (m *Model) Generate(src [][]int32, o generate.Options, batchRows int, progress func(done int)) ([][]int32, error) {
	if o.MaxNew() < 1 {
		return nil, fmt.Errorf("t5: max_length %d leaves no room to generate", o.MaxLength)
	}
	if o.MaxNew() > maxSteps {
		return nil, fmt.Errorf("t5: %d new tokens is more than the %d a decoder allows", o.MaxNew(), maxSteps)
	}
	for i, s := range src {
		if len(s) == 0 {
			return nil, fmt.Errorf("t5: source %d is empty", i)
		}
		for _, id := range s {
			if id < 0 || int(id) >= m.Config.VocabSize {
				return nil, fmt.Errorf("t5: source %d: token id %d outside the vocabulary of %d", i, id, m.Config.VocabSize)
			}
		}
	}
	return generate.SearchBatches(src, m.Config.VocabSize, o, batchRows, func(batch [][]int32, copies, maxNew int) (generate.RowDecoder, error) {
		return m.NewDecoder(batch, copies, maxNew)
	}, progress)
}

// maxSteps bounds the tokens one decoder generates (its caches are
// sized for them up front).
const maxSteps = 1 << 16

// SourceFormat returns what a source looks like to the model: no start
// token (−1), </s> at the end, and at most MaxSourceLen tokens.
func (m *Model) SourceFormat() (bos, eos int32, maxLen int) {
	return -1, int32(m.Config.EOSTokenID), m.Config.MaxSourceLen()
}

// VocabSize returns vocab_size.
func (m *Model) VocabSize() int { return m.Config.VocabSize }
