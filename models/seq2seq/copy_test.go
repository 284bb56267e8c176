package seq2seq

import (
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/tensor"
)

// TestCopyTask is the Annotated Transformer's first exercise: a small
// encoder-decoder learns to copy random sequences of the symbols 1..10, and
// greedy decoding must then reproduce unseen sequences exactly.
func TestCopyTask(t *testing.T) {
	const (
		pad, eos = 0, 11 // pad doubles as the decoder start token
		length   = 8
		batch    = 32
		steps    = 400
	)
	cfg := Config{ModelType: "pegasus", VocabSize: 12, DModel: 32, EncoderLayers: 2, DecoderLayers: 2,
		EncoderAttentionHeads: 4, DecoderAttentionHeads: 4, EncoderFFNDim: 64, DecoderFFNDim: 64,
		MaxPositionEmbeddings: 16, ScaleEmbedding: true, PadTokenID: pad, EOSTokenID: eos, DecoderStartTokenID: pad,
		InitStd: 0.1} // transformers' 0.02 suits d_model 512; a 32-wide model needs larger weights to learn quickly
	m, err := New(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	params := m.Params.List()
	opt := optim.NewAdamW(params, 0.9, 0.98, 0)
	sched := optim.WarmupCosine{Max: 3e-3, Min: 1e-4, Warmup: 40, DecaySteps: steps}
	rng := tensor.NewRNG(1)
	src := make([]int32, batch*length)
	tgtIn := make([]int32, batch*(length+1))
	labels := make([]int32, batch*(length+1))
	g := autograd.NewGraph(1)
	var loss float32
	for step := 0; step < steps; step++ {
		for b := 0; b < batch; b++ {
			tgtIn[b*(length+1)] = pad
			for i := 0; i < length; i++ {
				s := int32(1 + rng.IntN(10))
				src[b*length+i] = s
				tgtIn[b*(length+1)+i+1] = s
				labels[b*(length+1)+i] = s
			}
			labels[b*(length+1)+length] = eos
		}
		g.Reset()
		m.Params.ZeroGrad()
		_, l, err := m.Loss(g, src, length, tgtIn, labels, length+1, batch, nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Backward(l); err != nil {
			t.Fatal(err)
		}
		optim.ClipGradNorm(params, 1)
		opt.Step(sched.LR(step))
		loss = l.Value.Item()
	}
	wrong := 0
	for trial := 0; trial < 20; trial++ {
		s := make([]int32, length)
		for i := range s {
			s[i] = int32(1 + rng.IntN(10))
		}
		out, err := m.Greedy(s, length+2)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != length || string(runesOf(out)) != string(runesOf(s)) {
			wrong++
			t.Logf("copy of %v gave %v", s, out)
		}
	}
	if wrong > 0 {
		t.Fatalf("%d of 20 unseen sequences were not copied exactly (final training loss %.4f)", wrong, loss)
	}
	t.Logf("final training loss %.4f; 20 of 20 copied exactly", loss)
}

func runesOf(x []int32) []rune {
	r := make([]rune, len(x))
	for i, v := range x {
		r[i] = rune(v)
	}
	return r
}
