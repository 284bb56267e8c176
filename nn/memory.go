package nn

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// PadSources lays sources of different lengths out as one batch for an
// encoder: ids [len(src) × longest], each row padded with padID, and the
// padding mask (true = padded). An empty source is an error naming it.
func PadSources(src [][]int32, padID int32) (ids []int32, mask []bool, longest int, err error) {
	for i, x := range src {
		if len(x) == 0 {
			return nil, nil, 0, fmt.Errorf("source %d is empty (it needs at least the EOS token)", i)
		}
		longest = max(longest, len(x))
	}
	ids, mask = make([]int32, len(src)*longest), make([]bool, len(src)*longest)
	for i, x := range src {
		copy(ids[i*longest:], x)
		for j := len(x); j < longest; j++ {
			ids[i*longest+j], mask[i*longest+j] = padID, true
		}
	}
	return ids, mask, longest, nil
}

// Memory is what an encoder-decoder's cross-attention reads while
// decoding: the encoder output of each row [rows, srcLen, d] and its
// padding mask [rows × srcLen].
type Memory struct {
	Value *autograd.Var
	Pad   []bool
}

// NewMemory holds an encoder's output out [sources, srcLen, d] and its
// mask for copies rows per source (the beams of beam search: rows
// i·copies … (i+1)·copies−1 read source i).
func NewMemory(out *autograd.Var, mask []bool, copies int) *Memory {
	if copies <= 1 {
		return &Memory{Value: out, Pad: mask}
	}
	b, s, d := out.Value.Dim(0), out.Value.Dim(1), out.Value.Dim(2)
	rows := b * copies
	t := tensor.New(rows, s, d)
	pad := make([]bool, rows*s)
	md, td := out.Value.Data(), t.Data()
	for r := 0; r < rows; r++ {
		i := r / copies
		copy(td[r*s*d:(r+1)*s*d], md[i*s*d:(i+1)*s*d])
		copy(pad[r*s:(r+1)*s], mask[i*s:(i+1)*s])
	}
	return &Memory{Value: autograd.Constant(t), Pad: pad}
}

// Keep keeps the given rows (increasing) as rows 0, 1, … in place and
// drops the others.
func (m *Memory) Keep(rows []int) error {
	s, w := m.Value.Value.Dim(1), m.Value.Value.Dim(2)
	md := m.Value.Value.Data()
	for i, r := range rows {
		if r < 0 || r >= m.Value.Value.Dim(0) || i > 0 && r <= rows[i-1] {
			return fmt.Errorf("nn.Memory: Keep needs increasing rows in 0..%d, got %v", m.Value.Value.Dim(0)-1, rows)
		}
		if i != r {
			copy(md[i*s*w:(i+1)*s*w], md[r*s*w:(r+1)*s*w])
			copy(m.Pad[i*s:(i+1)*s], m.Pad[r*s:(r+1)*s])
		}
	}
	t, err := tensor.FromSlice(md[:len(rows)*s*w], len(rows), s, w)
	if err != nil {
		return err
	}
	m.Value = autograd.Constant(t)
	m.Pad = m.Pad[:len(rows)*s]
	return nil
}

// CrossDecoding is what an encoder-decoder's incremental decoder keeps
// between steps: the encoder memory, each decoder layer's caches, the
// rows decoded and the steps taken. The decoders of seq2seq and t5 differ
// only in the model they step.
type CrossDecoding struct {
	Mem    *Memory
	Caches []*LayerCache
	joined bool // rows have joined: their histories are left-padded
	rows   int
	step   int
}

// NewCrossDecoding holds mem and caches (whose self-attention capacity
// bounds the steps) for rows rows.
func NewCrossDecoding(mem *Memory, caches []*LayerCache, rows int) *CrossDecoding {
	return &CrossDecoding{Mem: mem, Caches: caches, rows: rows}
}

// Rows returns the number of rows decoded in parallel.
func (s *CrossDecoding) Rows() int { return s.rows }

// Keep keeps the given rows (increasing) as rows 0, 1, … and drops the
// others: the encoder output, its padding mask and every cache shrink in
// place.
func (s *CrossDecoding) Keep(rows []int) error {
	for _, c := range s.Caches {
		if err := c.Keep(rows); err != nil {
			return err
		}
	}
	if s.Mem != nil {
		if err := s.Mem.Keep(rows); err != nil {
			return err
		}
	}
	s.rows = len(rows)
	if s.joined {
		// Positions that every remaining row has padded (the history of
		// rows that have left) cost attention work for nothing.
		for _, c := range s.Caches {
			c.Self.TrimLeft()
			if c.Cross != nil {
				c.Cross.TrimLeft()
			}
		}
	}
	return nil
}

// Memory returns the encoder output and its padding mask for the next
// step: nil once the cross-attention caches hold them (after a Join).
func (s *CrossDecoding) Memory() (*autograd.Var, []bool) {
	if s.Mem == nil {
		return nil, nil
	}
	return s.Mem.Value, s.Mem.Pad
}

// Join appends the rows of o, a decoder of new sources that has not
// stepped, after those of s (continuous batching: sentences join a running
// batch between steps). Each layer's cross-attention cache is filled
// first from its decoder's memory (cross[i] is layer i's attention; g is a
// scratch graph, reset); the self-attention histories of the shorter side
// are left-padded with masked positions, and so are the shorter sources.
// The rows then step together, each at its own position.
func (s *CrossDecoding) Join(o *CrossDecoding, g *autograd.Graph, cross []*MultiHeadAttention) error {
	if o.step != 0 {
		return fmt.Errorf("Join: the joining decoder has already taken %d steps", o.step)
	}
	for _, d := range []*CrossDecoding{s, o} {
		if d.Mem == nil {
			continue
		}
		g.Reset()
		for i, a := range cross {
			if err := a.FillCross(g, d.Mem.Value, d.Mem.Pad, d.Caches[i].Cross); err != nil {
				return err
			}
		}
	}
	for i, c := range s.Caches {
		oc := o.Caches[i]
		if c.Cross != nil {
			if oc.Cross == nil || oc.Cross.Len() == 0 || c.Cross.Len() == 0 {
				return fmt.Errorf("Join: layer %d: the cross-attention caches are not filled", i)
			}
			c.Cross.Grow(max(c.Cross.Len(), oc.Cross.Len()))
			if err := c.Cross.Merge(oc.Cross); err != nil {
				return err
			}
		}
		if err := c.Self.Merge(oc.Self); err != nil {
			return err
		}
	}
	s.rows += o.rows
	s.Mem, o.Mem = nil, nil
	s.joined = true
	return nil
}

// Begin checks one step's input (a token per row in [0, vocab), and
// parents, or nil, for beam search's reordering), reorders the caches, and
// returns the position of the new tokens; End counts the step once the
// model has run.
func (s *CrossDecoding) Begin(tokens []int32, parents []int, vocab int) (pos int, err error) {
	if len(tokens) != s.rows || parents != nil && len(parents) != s.rows {
		return 0, fmt.Errorf("Step got %d tokens and %d parents for %d rows", len(tokens), len(parents), s.rows)
	}
	for _, p := range parents {
		if p < 0 || p >= s.rows {
			return 0, fmt.Errorf("Step: parent row %d outside 0..%d", p, s.rows-1)
		}
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= vocab {
			return 0, fmt.Errorf("Step: token %d outside the vocabulary of %d", t, vocab)
		}
	}
	if len(s.Caches) > 0 && s.Caches[0].Self.Len() >= s.Caches[0].Self.Cap() {
		return 0, fmt.Errorf("the decoder's %d steps are used up", s.Caches[0].Self.Cap())
	}
	if s.step == 0 {
		parents = nil // nothing cached to reorder
	}
	for _, c := range s.Caches {
		c.Reorder(parents)
	}
	return s.step, nil
}

// Steps returns the number of steps taken.
func (s *CrossDecoding) Steps() int { return s.step }

// Len returns the positions the self-attention caches hold (the longest
// row's history, the others left-padded to it).
func (s *CrossDecoding) Len() int {
	if len(s.Caches) == 0 {
		return 0
	}
	return s.Caches[0].Self.Len()
}

// Cap returns the positions the self-attention caches can hold.
func (s *CrossDecoding) Cap() int {
	if len(s.Caches) == 0 {
		return 0
	}
	return s.Caches[0].Self.Cap()
}

// CacheBytes returns the memory the self- and cross-attention caches hold.
func (s *CrossDecoding) CacheBytes() int {
	n := 0
	for _, c := range s.Caches {
		n += c.Self.Bytes()
		if c.Cross != nil {
			n += c.Cross.Bytes()
		}
	}
	return n
}

// End counts a step that Begin started.
func (s *CrossDecoding) End() { s.step++ }
