package train

import (
	"slices"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/tensor"
)

// recordingSeq2Seq is a Seq2SeqModel that keeps copies of the inputs of
// its last call.
type recordingSeq2Seq struct{ src, tgtIn, labels []int32 }

func (m *recordingSeq2Seq) LabelledLoss(g *autograd.Graph, src []int32, srcLen int, tgtIn, labels []int32, tgtLen, batch int,
	srcPad, tgtPad []bool, eps float32, rows *[]int32) (*autograd.Var, error) {
	m.src, m.tgtIn, m.labels = slices.Clone(src), slices.Clone(tgtIn), slices.Clone(labels)
	return g.Input(tensor.New(1)), nil
}

// wordDropoutBatch is one padded batch of 40 documents of 30 word tokens
// (ids 5…) with BOS/EOS and a summary of 8.
func wordDropoutBatch() data.Batch {
	var ex []data.Example
	for i := range 40 {
		src := []int32{0}
		for j := range 30 - i%3 {
			src = append(src, int32(5+(i*31+j)%200))
		}
		tgt := []int32{0}
		for j := range 8 - i%2 {
			tgt = append(tgt, int32(5+(i*7+j)%100))
		}
		ex = append(ex, data.Example{Src: src, Tgt: tgt})
	}
	return data.MakeBatch(ex, data.Special{Pad: 1, EOS: 2, Start: 2})
}

func TestTranslationTaskWordDropout(t *testing.T) {
	b := wordDropoutBatch()
	orig := data.Batch{Src: slices.Clone(b.Src), TgtIn: slices.Clone(b.TgtIn), Labels: slices.Clone(b.Labels)}
	m := &recordingSeq2Seq{}
	task := &TranslationTask{Model: m, Train: []data.Batch{b}, Val: []data.Batch{b}, MaskID: 4, FirstWordID: 5}
	g := autograd.NewGraph(1)
	loss := func(split Split, seed uint64) {
		t.Helper()
		if _, _, err := task.Loss(g, tensor.NewRNG(seed), split); err != nil {
			t.Fatal(err)
		}
	}
	// Off: the batch as it is.
	loss(TrainSplit, 1)
	if !slices.Equal(m.src, orig.Src) || !slices.Equal(m.tgtIn, orig.TgtIn) {
		t.Fatal("word dropout 0 changed the batch")
	}
	// Always: every word token masked, specials and padding kept, labels untouched.
	task.SourceWordDropout, task.TargetWordDropout = 1, 1
	loss(TrainSplit, 1)
	check := func(got, want []int32, pad []bool, name string) (masked, words int) {
		for i := range want {
			switch {
			case want[i] >= 5 && !pad[i]:
				words++
				if got[i] == 4 {
					masked++
				} else if got[i] != want[i] {
					t.Fatalf("%s[%d] = %d, want %d or the mask", name, i, got[i], want[i])
				}
			case got[i] != want[i]:
				t.Fatalf("%s[%d] (special or padding %d) became %d", name, i, want[i], got[i])
			}
		}
		return masked, words
	}
	if n, w := check(m.src, orig.Src, b.SrcPad, "src"); n != w || w == 0 {
		t.Fatalf("rate 1: %d of %d source words masked", n, w)
	}
	if n, w := check(m.tgtIn, orig.TgtIn, b.TgtPad, "tgtIn"); n != w || w == 0 {
		t.Fatalf("rate 1: %d of %d decoder inputs masked", n, w)
	}
	if !slices.Equal(m.labels, orig.Labels) {
		t.Fatal("word dropout changed the labels")
	}
	if !slices.Equal(b.Src, orig.Src) || !slices.Equal(b.TgtIn, orig.TgtIn) {
		t.Fatal("word dropout wrote into the stored batch")
	}
	// Validation batches are never touched.
	loss(ValSplit, 1)
	if !slices.Equal(m.src, orig.Src) || !slices.Equal(m.tgtIn, orig.TgtIn) {
		t.Fatal("word dropout touched a validation batch")
	}
	// A rate of 0.25 on the source alone masks about a quarter, the same
	// quarter from the same generator state, another from another.
	task.SourceWordDropout, task.TargetWordDropout = 0.25, 0
	loss(TrainSplit, 7)
	first := m.src
	n, w := check(first, orig.Src, b.SrcPad, "src")
	if frac := float64(n) / float64(w); frac < 0.2 || frac > 0.3 {
		t.Fatalf("rate 0.25: %d of %d source words masked (%.3f)", n, w, frac)
	}
	if !slices.Equal(m.tgtIn, orig.TgtIn) {
		t.Fatal("target word dropout 0 changed the decoder input")
	}
	loss(TrainSplit, 7)
	if !slices.Equal(m.src, first) {
		t.Fatal("the same generator state masked other words")
	}
	loss(TrainSplit, 8)
	if slices.Equal(m.src, first) {
		t.Fatal("another generator state masked the same words")
	}
}
