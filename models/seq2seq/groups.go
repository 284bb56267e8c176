package seq2seq

import (
	"slices"

	"github.com/goformer/goformer/autograd"
)

// A training batch is padded to its longest target, and targets vary more
// than sources do within a batch bucketed by source length: the
// debian-summarize preset's summaries average 12.2 tokens, padded to 24.0.
// LabelledLoss therefore decodes the rows in groups of similar target
// length, each group padded only to its own longest target. The result is
// the same loss and gradients: a row's positions past its last target
// token are padding that no earlier position attends to (the
// self-attention is causal) and that carries no label. Only dropout
// draws its masks for the groups' shapes instead of the whole batch's.

// Grouping applies to batches of at least 2·minGroupRows rows, in at most
// maxGroups groups of at least minGroupRows rows each, when it saves at
// least a tenth of the decoder's positions.
const (
	minGroupRows = 16
	maxGroups    = 4
)

// decodeInGroups switches the grouping on; BenchmarkLabelledLossSummarizer
// turns it off to time the whole batch against it.
var decodeInGroups = true

// decoderGroup is the rows of a batch decoded together, padded to t.
type decoderGroup struct {
	rows []int
	t    int
}

// groupScratch holds what the graph of a grouped LabelledLoss reads until
// its backward pass: each group's ids, masks and row indices.
type groupScratch struct {
	lens   []int
	order  []int
	groups []decoderGroup
	bufs   []groupBuffers
	kept   []int32
}

type groupBuffers struct {
	tgtIn, posIDs, memRows, labelled []int32
	tgtPad, srcPad                   []bool
}

// targetGroups splits the rows of a batch by target length (up to each
// row's last position that is unpadded or has a label), or returns nil
// when one group is best.
func (m *Model) targetGroups(batch, tgtLen int, tgtPad []bool, labels []int32) []decoderGroup {
	if batch < 2*minGroupRows || tgtPad == nil {
		return nil
	}
	s := &m.groups
	s.lens = s.lens[:0]
	pad := int32(m.Config.PadTokenID)
	for b := 0; b < batch; b++ {
		n := tgtLen
		for n > 1 && tgtPad[b*tgtLen+n-1] && labels[b*tgtLen+n-1] == pad {
			n--
		}
		s.lens = append(s.lens, n)
	}
	s.order = s.order[:0]
	for b := 0; b < batch; b++ {
		s.order = append(s.order, b)
	}
	slices.SortStableFunc(s.order, func(a, b int) int { return s.lens[a] - s.lens[b] })
	k := min(maxGroups, batch/minGroupRows)
	s.groups = s.groups[:0]
	padded := 0
	for i := 0; i < k; i++ {
		lo, hi := i*batch/k, (i+1)*batch/k
		t := s.lens[s.order[hi-1]]
		s.groups = append(s.groups, decoderGroup{rows: s.order[lo:hi], t: t})
		padded += (hi - lo) * t
	}
	if 10*padded > 9*batch*tgtLen {
		return nil
	}
	return s.groups
}

// groupedLoss is LabelledLoss's decoder and loss run group by group: each
// group's rows of the encoder output are gathered, decoded at the group's
// length, and their labelled positions projected together.
func (m *Model) groupedLoss(g *autograd.Graph, groups []decoderGroup, memory *autograd.Var, src []int32, srcLen int, tgtIn, labels []int32, tgtLen int, srcPad, tgtPad []bool, eps float32) (*autograd.Var, error) {
	s := &m.groups
	for len(s.bufs) < len(groups) {
		s.bufs = append(s.bufs, groupBuffers{})
	}
	pad := int32(m.Config.PadTokenID)
	s.kept = s.kept[:0]
	m.owners = m.owners[:0]
	var hidden *autograd.Var
	for i, gr := range groups {
		buf := &s.bufs[i]
		n, t := len(gr.rows), gr.t
		buf.tgtIn, buf.tgtPad, buf.srcPad = buf.tgtIn[:0], buf.tgtPad[:0], buf.srcPad[:0]
		buf.memRows, buf.labelled = buf.memRows[:0], buf.labelled[:0]
		for r, b := range gr.rows {
			buf.tgtIn = append(buf.tgtIn, tgtIn[b*tgtLen:b*tgtLen+t]...)
			buf.tgtPad = append(buf.tgtPad, tgtPad[b*tgtLen:b*tgtLen+t]...)
			if srcPad != nil {
				buf.srcPad = append(buf.srcPad, srcPad[b*srcLen:(b+1)*srcLen]...)
			}
			for p := 0; p < srcLen; p++ {
				buf.memRows = append(buf.memRows, int32(b*srcLen+p))
			}
			for p, l := range labels[b*tgtLen : b*tgtLen+t] {
				if l != pad {
					buf.labelled = append(buf.labelled, int32(r*t+p))
					s.kept = append(s.kept, l)
					m.owners = append(m.owners, int32(b))
				}
			}
		}
		sp := buf.srcPad
		if srcPad == nil {
			sp = nil
		}
		mem := g.Reshape(g.GatherRows(memory, buf.memRows), n, srcLen, m.Config.DModel)
		y := m.decodeHidden(g, m.embedPos(g, buf.tgtIn, n, 0, t, true, &buf.posIDs), mem, buf.tgtPad, sp, nil)
		if len(buf.labelled) == 0 {
			continue
		}
		h := g.GatherRows(y, buf.labelled)
		if hidden == nil {
			hidden = h
		} else {
			hidden = g.ConcatRows(hidden, h)
		}
	}
	logits := m.project(g, hidden)
	if m.pointer != nil {
		return m.pointer.loss(g, hidden, logits, m.pointer.keys(g, memory), src, srcPad, srcLen, m.owners, s.kept, pad, eps), g.Err()
	}
	return g.CrossEntropy(logits, s.kept, pad, eps), g.Err()
}
