package generate

import (
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/tensor"
)

func TestSampler(t *testing.T) {
	logits := []float32{1, 3, 2, -1}
	if got := (&Sampler{}).Next(logits); got != 1 {
		t.Fatalf("greedy = %d, want 1", got)
	}
	// Top-k 2 never picks outside {1, 2}; the frequencies follow softmax.
	s := &Sampler{Temperature: 1, TopK: 2, RNG: tensor.NewRNG(1)}
	counts := map[int32]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		counts[s.Next(logits)]++
	}
	if counts[0] != 0 || counts[3] != 0 {
		t.Fatalf("top-k 2 drew outside the top 2: %v", counts)
	}
	want := 1 / (1 + math.Exp(-1)) // P(token 1 | tokens 1, 2)
	if got := float64(counts[1]) / n; math.Abs(got-want) > 0.02 {
		t.Fatalf("P(1) = %.3f, want %.3f", got, want)
	}
	// Top-p 0.5 keeps only the most likely token here (its probability is 0.66).
	s = &Sampler{Temperature: 1, TopP: 0.5, RNG: tensor.NewRNG(2)}
	for i := 0; i < 100; i++ {
		if got := s.Next(logits); got != 1 {
			t.Fatalf("top-p 0.5 drew %d", got)
		}
	}
	for _, bad := range []Sampler{{Temperature: -1}, {TopK: -1}, {TopP: 1.5}, {Temperature: 1}, {EpsilonCutoff: 1}, {EpsilonCutoff: -0.1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestSamplerEpsilon checks sampling without ranking (temperature alone,
// where no sort is needed) and transformers' epsilon_cutoff against the
// softmax: frequencies within 0.015 of the probabilities over 40,000 draws,
// tokens under the cutoff never drawn, the most likely always kept.
func TestSamplerEpsilon(t *testing.T) {
	logits := []float32{1, 3, 2, -1, 0.5}
	softmax := func(keep []bool) []float64 {
		p := make([]float64, len(logits))
		var sum float64
		for i, v := range logits {
			if keep[i] {
				p[i] = math.Exp(float64(v))
				sum += p[i]
			}
		}
		for i := range p {
			p[i] /= sum
		}
		return p
	}
	all := []bool{true, true, true, true, true}
	full := softmax(all) // 0.086 0.636 0.234 0.012 0.052
	for _, c := range []struct {
		s    Sampler
		want []float64
	}{
		{Sampler{Temperature: 1}, full},
		{Sampler{Temperature: 1, EpsilonCutoff: 0.06}, softmax([]bool{true, true, true, false, false})},
		// After top-k 3 the kept tokens' probabilities are 0.09, 0.66, 0.24:
		// a cutoff of 0.1 drops token 0 too.
		{Sampler{Temperature: 1, TopK: 3, EpsilonCutoff: 0.1}, softmax([]bool{false, true, true, false, false})},
		// A cutoff above every probability keeps the most likely token.
		{Sampler{Temperature: 1, EpsilonCutoff: 0.9}, softmax([]bool{false, true, false, false, false})},
		{Sampler{Temperature: 1, TopP: 0.99, EpsilonCutoff: 0.9}, softmax([]bool{false, true, false, false, false})},
	} {
		s := c.s
		s.RNG = tensor.NewRNG(3)
		const n = 40000
		counts := make([]int, len(logits))
		for range n {
			counts[s.Next(logits)]++
		}
		for i, w := range c.want {
			got := float64(counts[i]) / n
			if (w == 0 && counts[i] != 0) || math.Abs(got-w) > 0.015 {
				t.Errorf("%+v: token %d drawn %.4f of the time, want %.4f", c.s, i, got, w)
			}
		}
	}
}

// TestSamplerTopPRanksFew checks top-p, which ranks only the tokens that
// can be in the nucleus, against the nucleus of a full sort: 500 random
// logits, every draw inside it and its frequencies those of the nucleus
// renormalised.
func TestSamplerTopPRanksFew(t *testing.T) {
	rng := tensor.NewRNG(5)
	logits := make([]float32, 500)
	for i := range logits {
		logits[i] = float32(3 * rng.Normal())
	}
	for _, topP := range []float64{0.3, 0.9, 0.99} {
		idx := make([]int, len(logits))
		var sum float64
		for i := range idx {
			idx[i] = i
			sum += math.Exp(float64(logits[i]))
		}
		sort.Slice(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
		want := map[int32]float64{}
		var c float64
		for _, i := range idx {
			want[int32(i)] = math.Exp(float64(logits[i])) / sum
			if c += want[int32(i)]; c >= topP {
				break
			}
		}
		s := &Sampler{Temperature: 1, TopP: topP, RNG: tensor.NewRNG(6)}
		const n = 30000
		counts := map[int32]int{}
		for range n {
			counts[s.Next(logits)]++
		}
		for tok, k := range counts {
			if _, ok := want[tok]; !ok {
				t.Fatalf("top-p %g drew token %d, outside the nucleus of %d tokens", topP, tok, len(want))
			}
			if got, w := float64(k)/n, want[tok]/c; math.Abs(got-w) > 0.015 {
				t.Errorf("top-p %g: token %d drawn %.4f of the time, want %.4f", topP, tok, got, w)
			}
		}
	}
}

// TestSamplerNucleusMatchesSort: the nucleus found among the likelier
// tokens by bucketing (only its boundary ranked) holds the same probabilities as the nucleus of a
// full sort, for vocabularies of 1 to 8,000 tokens, flat and peaked
// logits, ties, banned tokens (-Inf) and top-p from 0.01 to 0.999.
func TestSamplerNucleusMatchesSort(t *testing.T) {
	rng := tensor.NewRNG(9)
	for _, n := range []int{1, 7, 500, 8000} {
		for _, scale := range []float64{0.1, 1, 3, 12} {
			logits := make([]float32, n)
			for i := range logits {
				logits[i] = float32(scale * rng.Normal())
				switch i % 17 {
				case 3:
					logits[i] = float32(math.Round(float64(logits[i]))) // ties
				case 5:
					logits[i] = float32(math.Inf(-1))
				}
			}
			logits[n/2] = float32(scale * 4) // a finite most likely token
			for _, topP := range []float64{0.01, 0.3, 0.9, 0.99, 0.999} {
				s := &Sampler{Temperature: 1, TopP: topP}
				p := make([]float32, n)
				for i, v := range logits {
					p[i] = v - logits[n/2]
				}
				cpu.ExpShiftSum(p, 0)
				got := s.nucleus(p, nil)
				var total float64
				idx := make([]int, n)
				for i := range idx {
					idx[i] = i
					total += float64(p[i])
				}
				sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
				var want []float32
				var c float64
				for _, i := range idx {
					want = append(want, p[i])
					if c += float64(p[i]); c >= topP*total {
						break
					}
				}
				gotP := make([]float32, len(got))
				for j, i := range got {
					gotP[j] = p[i]
				}
				sort.Slice(gotP, func(a, b int) bool { return gotP[a] > gotP[b] })
				if !slices.Equal(gotP, want) {
					t.Errorf("n %d, scale %g, top-p %g: kept %d tokens %v…, a full sort %d %v…", n, scale, topP,
						len(gotP), gotP[:min(5, len(gotP))], len(want), want[:min(5, len(want))])
				}
			}
		}
	}
}

// BenchmarkSamplerNext draws from 8,000 logits shaped like a summariser's
// (a few likely tokens, a long tail), at top-p 0.9 and with no truncation.
func BenchmarkSamplerNext(b *testing.B) {
	r := tensor.NewRNG(1)
	logits := make([]float32, 8000)
	for i := range logits {
		logits[i] = float32(3 * r.Normal())
	}
	for _, c := range []struct {
		name string
		topP float64
	}{{"top-p-0.9", 0.9}, {"full", 0}} {
		b.Run(c.name, func(b *testing.B) {
			s := &Sampler{Temperature: 1, TopP: c.topP, RNG: tensor.NewRNG(2)}
			for b.Loop() {
				s.Next(logits)
			}
		})
	}
}
