package seq2seq

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/nn"
	"github.com/goformer/goformer/tensor"
)

// Decoder decodes a batch of source sentences incrementally: the encoder
// runs once, the cross-attention keys and values are computed once per
// layer, and each Step feeds one token per row, reusing the cached keys and
// values of the earlier positions (a KV cache). Each sentence may have
// several rows (the beams of beam search).
type Decoder struct {
	m                 *Model
	keep              *autograd.Graph // encoder output and cross-attention keys/values
	g                 *autograd.Graph // one step's work, reset at each step
	*nn.CrossDecoding                 // memory, caches, rows, steps
	pos               []int           // after a Join: each row's next position
	posIDs            []int32         // BART: this step's position ids
	sources           *decoderSources // a pointer-generator's copy keys and source ids
}

// NewDecoder encodes src (one id slice per sentence, EOS included, no
// padding) and returns a decoder with copies rows per sentence (rows
// i·copies … (i+1)·copies-1 belong to sentence i) for up to maxLen steps.
func (m *Model) NewDecoder(src [][]int32, copies, maxLen int) (*Decoder, error) {
	if len(src) == 0 || copies < 1 || maxLen < 1 {
		return nil, fmt.Errorf("seq2seq: NewDecoder needs sentences, copies ≥ 1 and maxLen ≥ 1 (got %d, %d, %d)", len(src), copies, maxLen)
	}
	if maxLen > m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("seq2seq: %d decoding steps exceed max_position_embeddings %d", maxLen, m.Config.MaxPositionEmbeddings)
	}
	ids, pad, s, err := nn.PadSources(src, int32(m.Config.PadTokenID))
	if err != nil {
		return nil, fmt.Errorf("seq2seq: %w", err)
	}
	keep := m.graphs.Get()
	memory, err := m.encodeInChunks(keep, ids, len(src), s, pad)
	if err != nil {
		m.graphs.Put(keep)
		return nil, err
	}
	rows := len(src) * copies
	dec := &Decoder{m: m, keep: keep, g: m.graphs.Get()}
	if m.pointer != nil {
		if dec.sources, err = m.newDecoderSources(keep, memory, ids, pad, s, copies); err != nil {
			dec.Release()
			return nil, err
		}
	}
	var caches []*nn.LayerCache
	for _, l := range m.decoder {
		caches = append(caches, l.NewCache(rows, maxLen))
	}
	dec.CrossDecoding = nn.NewCrossDecoding(nn.NewMemory(memory, pad, copies), caches, rows)
	return dec, nil
}

// encodeChunkTokens bounds the padded source tokens one graph encodes: an
// inference graph keeps every intermediate value of the encoder in its
// arena, ~9 KB a token at d_model 128, so a batch of 256 summaries of 64
// tokens made a 450 MB arena, most of the time of a batch going to the
// first touch of its pages.
const encodeChunkTokens = 4096

// encodeInChunks is Encode on a batch of sources padded to s tokens, in
// chunks of at most encodeChunkTokens tokens (at least one source) on a
// scratch graph, their outputs gathered in one tensor that keep holds.
// Every row is computed as in one call (the same padded length, rows
// independent).
func (m *Model) encodeInChunks(keep *autograd.Graph, ids []int32, batch, s int, pad []bool) (*autograd.Var, error) {
	per := max(1, encodeChunkTokens/s)
	if batch <= per {
		return m.Encode(keep, ids, batch, s, pad)
	}
	d := m.Config.DModel
	out := tensor.New(batch, s, d)
	scratch := m.graphs.Get()
	defer m.graphs.Put(scratch)
	for b0 := 0; b0 < batch; b0 += per {
		b1 := min(b0+per, batch)
		scratch.Reset()
		x, err := m.Encode(scratch, ids[b0*s:b1*s], b1-b0, s, pad[b0*s:b1*s])
		if err != nil {
			return nil, err
		}
		copy(out.Data()[b0*s*d:b1*s*d], x.Value.Data())
	}
	return keep.Input(out), nil
}

// Keep keeps the given rows (increasing) as rows 0, 1, … and drops the
// others (their sources are finished): the encoder output, its padding
// mask and every cache shrink in place.
func (d *Decoder) Keep(rows []int) error {
	if err := d.CrossDecoding.Keep(rows); err != nil {
		return fmt.Errorf("seq2seq: %w", err)
	}
	if d.sources != nil {
		d.sources.keep(rows)
	}
	if d.pos != nil {
		for i, r := range rows {
			d.pos[i] = d.pos[r]
		}
		d.pos = d.pos[:len(rows)]
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
// one row each after the running rows (continuous batching: a server's
// requests join the batch it is decoding). A new row starts at position 0
// (its first token is decoder_start_token_id) while the others go on from
// theirs; the self-attention caches hold max(history) positions, the
// shorter histories left-padded and masked. Beam search's reordering
// (Step's parents) is then only among rows at the same position: a
// sentence's beams.
func (d *Decoder) Join(src [][]int32) error { return d.JoinCopies(src, 1) }

// JoinCopies is Join with copies rows per source (the beams of a beam
// search: rows i·copies … (i+1)·copies−1 of the new ones read source i),
// each source encoded once.
func (d *Decoder) JoinCopies(src [][]int32, copies int) error {
	tmp, err := d.m.NewDecoder(src, copies, 1)
	if err != nil {
		return err
	}
	if d.pos == nil {
		d.pos = make([]int, d.Rows())
		for i := range d.pos {
			d.pos[i] = d.Steps()
		}
	}
	defer tmp.Release()
	if err := d.CrossDecoding.Join(tmp.CrossDecoding, d.g, d.m.crossAttention()); err != nil {
		return fmt.Errorf("seq2seq: %w", err)
	}
	d.keep.Reset() // the encoder outputs now live in the cross-attention caches
	if d.sources != nil {
		d.sources.join(tmp.sources, int32(d.m.Config.PadTokenID))
	}
	for range len(src) * copies {
		d.pos = append(d.pos, 0)
	}
	return nil
}

// Step feeds one token per row (the first step: decoder_start_token_id)
// and returns the logits of the next token, rows × vocab_size, valid until
// the next call (a pointer-generator's: the log-probabilities of its
// mixture). If parents is not nil, row r first takes over the history
// of row parents[r] (beam search's reordering).
func (d *Decoder) Step(tokens []int32, parents []int) ([]float32, error) {
	if parents != nil && d.pos != nil {
		// Rows that joined at different steps reorder only among rows at
		// their own position (a sentence's beams).
		for r, p := range parents {
			if p >= 0 && p < len(d.pos) && r < len(d.pos) && d.pos[p] != d.pos[r] {
				return nil, fmt.Errorf("seq2seq: Step: row %d (position %d) cannot continue row %d (position %d): a sentence's beams reorder among themselves", r, d.pos[r], p, d.pos[p])
			}
		}
	}
	pos, err := d.Begin(tokens, parents, d.m.Config.VocabSize)
	if err != nil {
		return nil, fmt.Errorf("seq2seq: %w", err)
	}
	g := d.g
	g.Reset()
	mem, pad := d.Memory()
	var y *autograd.Var
	if d.pos == nil {
		y = d.m.embed(g, tokens, d.Rows(), pos, 1, true)
	} else {
		y = d.m.embedAt(g, tokens, d.pos, &d.posIDs)
	}
	h := d.m.decodeHidden(g, y, mem, nil, pad, d.Caches)
	logits := d.m.project(g, h)
	if s := d.sources; s != nil {
		logits = d.m.pointer.mix(g, h, logits, g.Input(s.keys), s.src, s.pad, s.srcLen, s.owner)
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	d.End()
	for i := range d.pos {
		d.pos[i]++
	}
	return logits.Value.Data(), nil
}
