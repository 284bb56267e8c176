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
