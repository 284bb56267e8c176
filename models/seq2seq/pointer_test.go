package seq2seq

import (
	"errors"
	"math"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
)

func tinyPointerModel(t *testing.T, modelType string) *Model {
	t.Helper()
	cfg := Config{ModelType: modelType, VocabSize: 37, DModel: 32, EncoderLayers: 2, DecoderLayers: 2,
		EncoderAttentionHeads: 4, DecoderAttentionHeads: 4, EncoderFFNDim: 64, DecoderFFNDim: 64,
		MaxPositionEmbeddings: 64, ScaleEmbedding: true, InitStd: 0.3, PadTokenID: 0, EOSTokenID: 1,
		PointerGenerator: true}
	m, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	m.InitMimeticAttention(1) // a copy head that attends somewhere in particular
	for i, p := range m.pointer.gate.B.Value.Data() {
		m.pointer.gate.B.Value.Data()[i] = p - 0.5 // copying weighs more than generating
	}
	return m
}

// TestPointerDecoderMatchesLoss: the cached decoder's output equals, step
// by step, the log-probabilities Loss computes over the whole prefix, for
// sources of different lengths decoded together; and the copy head has
// an effect: the output is not the vocabulary's log-softmax.
func TestPointerDecoderMatchesLoss(t *testing.T) {
	for _, mt := range []string{"marian", "pegasus", "bart"} {
		m := tinyPointerModel(t, mt)
		src := [][]int32{{5, 9, 12, 7, 1}, {3, 1}, {20, 21, 22, 20, 1}}
		dec, err := m.NewDecoder(src, 1, 12)
		if err != nil {
			t.Fatal(err)
		}
		prefixes := make([][]int32, len(src))
		tokens := make([]int32, len(src))
		V := m.Config.VocabSize
		for step := 0; step < 6; step++ {
			for i := range src {
				tokens[i] = int32((step*7 + i*3) % V)
				prefixes[i] = append(prefixes[i], tokens[i])
			}
			got, err := dec.Step(tokens, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range src {
				g := autograd.NewGraph(0)
				g.NoGrad = true
				logits, _, err := m.Loss(g, src[i], len(src[i]), prefixes[i], prefixes[i], len(prefixes[i]), 1, nil, nil, 0)
				if err != nil {
					t.Fatal(err)
				}
				want := logits.Value.Data()[step*V : (step+1)*V]
				var total float64
				for j := range want {
					total += math.Exp(float64(want[j]))
					if math.Abs(float64(want[j]-got[i*V+j])) > 1e-4*(1+math.Abs(float64(want[j]))) {
						t.Fatalf("%s step %d source %d token %d: cached %g, full %g", mt, step, i, j, got[i*V+j], want[j])
					}
				}
				if math.Abs(total-1) > 1e-4 {
					t.Fatalf("%s step %d source %d: probabilities sum to %g", mt, step, i, total)
				}
			}
		}
		// The copy head moves the mass 1−p onto the source's tokens: a
		// token outside the source keeps p times its softmax, and the
		// source's tokens together hold p times theirs plus 1−p.
		g := autograd.NewGraph(0)
		g.NoGrad = true
		mem, err := m.Encode(g, src[0], 1, len(src[0]), nil)
		if err != nil {
			t.Fatal(err)
		}
		y := m.decodeHidden(g, m.embed(g, []int32{0}, 1, 0, 1, true), mem, nil, nil, nil)
		plain := g.Softmax(m.project(g, y)).Value.Data()
		p := 1 / (1 + math.Exp(-float64(m.pointer.gate.Forward(g, y).Value.Data()[0])))
		mixed, err := m.NewDecoder(src[:1], 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		out, err := mixed.Step([]int32{0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		inSource := map[int32]bool{}
		for _, id := range src[0] {
			inSource[id] = true
		}
		var mass, plainMass float64
		for v := range V {
			if inSource[int32(v)] {
				mass += math.Exp(float64(out[v]))
				plainMass += float64(plain[v])
			} else if got, want := math.Exp(float64(out[v])), p*float64(plain[v]); math.Abs(got-want) > 1e-5*want {
				t.Errorf("%s: token %d outside the source has probability %g, want p·softmax = %g", mt, v, got, want)
			}
		}
		if want := p*plainMass + 1 - p; math.Abs(mass-want) > 1e-5 || p > 0.99 {
			t.Errorf("%s: the source's tokens hold %g, want p·%g + 1−p = %g with p = %g below 0.99", mt, mass, plainMass, want, p)
		}
	}
	if _, err := tinyPointerModel(t, "marian").Decode(autograd.NewGraph(0), nil, []int32{0}, 1, 1, nil, nil); !errors.Is(err, errPointerDecode) {
		t.Errorf("Decode on a pointer-generator: %v, want errPointerDecode", err)
	}
}

// TestPointerDecoderJoinAndKeep: sources joining a running batch and rows
// leaving it (fixture.CheckJoin, CheckJoinBeams) get the output their source
// gets decoded alone, copy head included.
func TestPointerDecoderJoinAndKeep(t *testing.T) {
	m := tinyPointerModel(t, "bart")
	src := [][]int32{{5, 9, 12, 7, 1}, {3, 1}, {20, 21, 22, 23, 24, 25, 26, 27, 1}, {8, 8, 1}}
	fixture.CheckJoin(t, func(src [][]int32, maxLen int) (fixture.JoinDecoder, error) {
		return m.NewDecoder(src, 1, maxLen)
	}, src, m.Config.VocabSize, 2)
	fixture.CheckJoinBeams(t, func(src [][]int32, copies, maxLen int) (fixture.BeamDecoder, error) {
		return m.NewDecoder(src, copies, maxLen)
	}, src, m.Config.VocabSize, 2)
	// Keep drops the sources no row reads: a long-running decoder holds
	// only what its rows need, and the rows left decode as if alone.
	all, err := m.NewDecoder(src[:3], 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := m.NewDecoder([][]int32{src[0], src[2]}, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := all.Step([]int32{0, 0, 0}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alone.Step([]int32{0, 0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := all.Keep([]int{0, 2}); err != nil {
		t.Fatal(err)
	}
	if n := len(all.sources.src) / all.sources.srcLen; n != 2 || all.sources.owner[1] != 1 {
		t.Fatalf("after Keep: %d sources, owners %v; want 2, [0 1]", n, all.sources.owner)
	}
	got, err := all.Step([]int32{5, 6}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := alone.Step([]int32{5, 6}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("output %d after Keep: %g, decoded alone %g", i, got[i], want[i])
		}
	}
}

// TestPointerLabelledLossMatchesLoss: LabelledLoss, on one group and in
// groups of similar target length, gives Loss's loss and gradients for a
// pointer-generator, the copy head's parameters included.
func TestPointerLabelledLossMatchesLoss(t *testing.T) {
	cfg := Config{ModelType: "bart", VocabSize: 23, DModel: 16, EncoderLayers: 1, DecoderLayers: 2,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 24, DecoderFFNDim: 24,
		MaxPositionEmbeddings: 16, PadTokenID: 1, EOSTokenID: 2, DecoderStartTokenID: 2, InitStd: 0.1, PointerGenerator: true}
	m, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	m.InitMimeticAttention(1)
	const batch, srcLen, tgtLen = groupedRows, groupedSrcLen, groupedTgtLen
	// Targets copyable, as a summary's tokens often are.
	src, srcPad, tgtIn, labels, tgtPad := groupedBatch(func(b, p, ns int, src []int32) int32 { return src[p%ns] })
	if gr := m.targetGroups(batch, tgtLen, tgtPad, labels); len(gr) < 2 {
		t.Fatalf("%d groups, want several", len(gr))
	}
	full := func(g *autograd.Graph) (*autograd.Var, error) {
		_, loss, err := m.Loss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1)
		return loss, err
	}
	fixture.CheckSameLoss(t, "grouped pointer LabelledLoss", &m.Params, full, func(g *autograd.Graph) (*autograd.Var, error) {
		return m.LabelledLoss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1, nil)
	})
	decodeInGroups = false
	defer func() { decodeInGroups = true }()
	var rows []int32
	fixture.CheckSameLoss(t, "pointer LabelledLoss", &m.Params, full, func(g *autograd.Graph) (*autograd.Var, error) {
		return m.LabelledLoss(g, src, srcLen, tgtIn, labels, tgtLen, batch, srcPad, tgtPad, 0.1, &rows)
	})
	for _, name := range []string{"pointer.q_proj.weight", "pointer.k_proj.weight", "pointer.gate_proj.bias"} {
		if m.Params.Get(name) == nil {
			t.Errorf("no parameter %s", name)
		}
	}
}

// TestPointerSaveLoad: pointer_generator and the copy head survive Save
// and Load (TestSaveLoadBitIdentical checks the values bit for bit).
func TestPointerSaveLoad(t *testing.T) {
	m := tinyPointerModel(t, "pegasus")
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m2.Config.PointerGenerator || m2.pointer == nil || m2.Params.Get("pointer.gate_proj.weight") == nil {
		t.Fatal("the loaded model has no copy head")
	}
}
