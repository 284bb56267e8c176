package cpu

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAttentionSummarizer times flash attention's forward and backward
// passes at the shapes of the debian-summarize preset's training step
// (8,192 source tokens a step: 105 descriptions of ~78 tokens, 4 heads of
// 32; summaries padded to ~24 tokens). GFLOPS counts the products run:
// two Tq×Tk×Dim products forward, five backward (the scores recomputed).
func BenchmarkAttentionSummarizer(b *testing.B) {
	for _, c := range []struct {
		name string
		c    attnCase
	}{
		{"encoder_self", attnCase{b: 105, h: 4, tq: 78, tk: 78, d: 32, seqMajor: true}},
		{"decoder_self", attnCase{b: 105, h: 4, tq: 24, tk: 24, d: 32, causal: true, seqMajor: true}},
		{"decoder_cross", attnCase{b: 105, h: 4, tq: 24, tk: 78, d: 32, seqMajor: true}},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		a, q, k, v, do := c.c.setup(rng)
		out, lse := make([]float32, len(q)), make([]float32, a.lseLen())
		dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		flops := 2 * float64(a.Batch*a.Heads*a.Tq*a.Tk*a.Dim)
		b.Run(c.name+"/forward", func(b *testing.B) {
			for b.Loop() {
				a.Forward(out, lse, q, k, v)
			}
			b.ReportMetric(2*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
		b.Run(c.name+"/backward", func(b *testing.B) {
			a.Forward(out, lse, q, k, v)
			for b.Loop() {
				a.Backward(dq, dk, dv, q, k, v, out, lse, do)
			}
			b.ReportMetric(5*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
