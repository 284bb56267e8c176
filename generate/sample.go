// Package generate turns models into text: sampling with temperature,
// top-k and top-p (nucleus) from next-token distributions; greedy, beam
// and sampled search over any batched incremental decoder (a StepDecoder:
// gpt.Decoder, seq2seq.Decoder); and the simple generation loop for a
// language model that recomputes a sliding window.
package generate

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/tensor"
)

// Sampler picks the next token from logits.
type Sampler struct {
	Temperature float64 // 0 means greedy (argmax)
	TopK        int     // keep the k most likely tokens; 0: all
	TopP        float64 // keep the smallest set with probability ≥ p; 0 or 1: all
	// EpsilonCutoff is transformers' epsilon_cutoff (Hewitt et al. 2022's
	// truncation sampling): after top-k and top-p, tokens whose probability
	// among those kept is below it are dropped, the most likely always kept;
	// 0: off.
	EpsilonCutoff float64
	RNG           *tensor.RNG

	probs []float32
	order []int
	cand  []int // nucleus's candidates
	edge  []int // and those at its boundary
}

// Validate reports settings that make no sense.
func (s *Sampler) Validate() error {
	switch {
	case !(s.Temperature >= 0) || math.IsInf(s.Temperature, 0):
		return fmt.Errorf("generate: temperature must be a number ≥ 0, got %g", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("generate: top-k must be ≥ 0, got %d", s.TopK)
	case !(s.TopP >= 0 && s.TopP <= 1):
		return fmt.Errorf("generate: top-p must be in [0, 1], got %g", s.TopP)
	case !(s.EpsilonCutoff >= 0 && s.EpsilonCutoff < 1):
		return fmt.Errorf("generate: epsilon cutoff must be in [0, 1), got %g", s.EpsilonCutoff)
	case s.Temperature > 0 && s.RNG == nil:
		return fmt.Errorf("generate: sampling needs a random generator")
	}
	return nil
}

// Next returns a token drawn from softmax(logits/temperature) restricted to
// the top-k and top-p sets and, within them, to the tokens of probability
// EpsilonCutoff or more.
func (s *Sampler) Next(logits []float32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if s.Temperature == 0 {
		return int32(best)
	}
	n := len(logits)
	if cap(s.probs) < n {
		s.probs, s.order = make([]float32, n), make([]int, n)
	}
	p, order := s.probs[:n], s.order[:n]
	// exp((v - max)/T) in float32, as transformers' softmax computes it,
	// with the vectorised exp; the sum is accumulated in float32 lanes.
	inv := float32(1 / s.Temperature)
	if math.IsInf(float64(inv), 1) {
		return int32(best) // a temperature too small for float32: greedy
	}
	mx := logits[best]
	for i, v := range logits {
		p[i] = (v - mx) * inv
	}
	sum := float64(cpu.ExpShiftSum(p, 0))
	if (s.TopK <= 0 || s.TopK >= n) && (s.TopP <= 0 || s.TopP >= 1) {
		// Nothing to rank: draw in the vocabulary's order (the same
		// distribution, without sorting the vocabulary each token).
		return s.draw(p, sum, best)
	}
	order = order[:0]
	if s.TopK <= 0 || s.TopK >= n {
		order = s.nucleus(p, order) // top-p alone: rank only its boundary
	} else {
		for i := range p {
			order = append(order, i)
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(p[b], p[a]) })
		keep := s.TopK
		if s.TopP > 0 && s.TopP < 1 {
			var c float64
			for i := 0; i < keep; i++ {
				c += float64(p[order[i]]) / sum
				if c >= s.TopP {
					keep = i + 1
					break
				}
			}
		}
		order = order[:keep]
	}
	var kept float64
	for _, i := range order {
		kept += float64(p[i])
	}
	if s.EpsilonCutoff > 0 {
		cut, j := s.EpsilonCutoff*kept, 0
		kept = 0
		for _, i := range order {
			if i == best || float64(p[i]) >= cut {
				order[j], j = i, j+1
				kept += float64(p[i])
			}
		}
		order = order[:j]
	}
	u := float64(s.RNG.Float32()) * kept
	for _, i := range order {
		u -= float64(p[i])
		if u <= 0 {
			return int32(i)
		}
	}
	return int32(order[len(order)-1])
}

// nucleus appends to order the top-p nucleus of the unnormalised
// probabilities p: the fewest most likely tokens that hold TopP of their
// mass. Only the tokens at its boundary are ranked. The tokens under
// (1-TopP)·total/n hold less than 1-TopP of the mass together, so the
// nucleus lies among the others; their mass is summed in buckets of a
// factor of two (a float32's exponent), the buckets are walked from the
// top until they hold TopP of the mass, the tokens of the buckets above
// are kept as they come, the last bucket is split the same way by the top
// of its mantissa, and only the last of those is sorted, as many of its
// tokens kept as the mass needs. The set is the one a sort of the whole
// vocabulary finds (ties at the boundary aside).
func (s *Sampler) nucleus(p []float32, order []int) []int {
	// The total in float64, with four sums to keep the adds independent
	// (the float32 sum of the exp differs between its builds).
	var t [4]float64
	i := 0
	for ; i+4 <= len(p); i += 4 {
		t[0] += float64(p[i])
		t[1] += float64(p[i+1])
		t[2] += float64(p[i+2])
		t[3] += float64(p[i+3])
	}
	for ; i < len(p); i++ {
		t[0] += float64(p[i])
	}
	total := t[0] + t[1] + t[2] + t[3]
	thr := (1 - s.TopP) * total / float64(len(p))
	cand := s.cand[:0]
	for i, v := range p {
		if float64(v) >= thr {
			cand = append(cand, i)
		}
	}
	// Two passes of buckets: the exponent (v > 0: no sign bit), then the
	// top 8 bits of the mantissa within the boundary bucket; the boundary
	// of each pass is written to the other scratch list.
	target := s.TopP * total
	order, edge1, cum := splitBuckets(p, cand, 23, 0, target, order, s.edge[:0])
	order, edge2, cum := splitBuckets(p, edge1, 15, cum, target, order, cand[:0])
	slices.SortFunc(edge2, func(x, y int) int { return cmp.Compare(p[y], p[x]) })
	for _, i := range edge2 {
		order = append(order, i)
		if cum += float64(p[i]); cum >= target {
			break
		}
	}
	s.cand, s.edge = edge2, edge1 // two arrays, kept for the next token
	return order
}

// splitBuckets sums the mass of the tokens idx in 256 buckets by the byte
// of their float32 bits at shift, walks the buckets from the top while
// cum plus their mass stays under target, appends the tokens of the
// buckets walked to order and those of the bucket where it stopped to
// edge, and returns both with cum grown by the walked mass.
func splitBuckets(p []float32, idx []int, shift uint, cum, target float64, order, edge []int) ([]int, []int, float64) {
	var mass [256]float64
	key := func(i int) int { return int(math.Float32bits(p[i]) >> shift & 0xff) }
	for _, i := range idx {
		mass[key(i)] += float64(p[i])
	}
	b := len(mass) - 1
	for ; b > 0 && cum+mass[b] < target; b-- {
		cum += mass[b]
	}
	for _, i := range idx {
		switch k := key(i); {
		case k > b:
			order = append(order, i)
		case k == b:
			edge = append(edge, i)
		}
	}
	return order, edge, cum
}

// draw returns a token drawn from the unnormalised probabilities p (which
// sum to sum), less those under EpsilonCutoff; best is the most likely.
func (s *Sampler) draw(p []float32, sum float64, best int) int32 {
	kept := sum
	if s.EpsilonCutoff > 0 {
		kept = 0
		cut := float32(s.EpsilonCutoff * sum)
		for i, v := range p {
			if v < cut && i != best {
				p[i] = 0
			}
			kept += float64(p[i])
		}
	}
	u := float64(s.RNG.Float32()) * kept
	for i, v := range p {
		if v > 0 {
			if u -= float64(v); u <= 0 {
				return int32(i)
			}
		}
	}
	return int32(best)
}

// LanguageModel is what Generate needs of a model.
type LanguageModel interface {
	Forward(g *autograd.Graph, ids []int32, batch, seqLen int, targets []int32) (logits, loss *autograd.Var, err error)
}

// Generate extends prompt by maxTokens tokens, each drawn by s from the
// model's prediction given the last context tokens. It calls emit (if not
// nil) with each new token as it comes.
func Generate(m LanguageModel, prompt []int32, maxTokens, context int, s *Sampler, emit func(int32)) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("generate: empty prompt")
	}
	if maxTokens < 0 {
		return nil, fmt.Errorf("generate: max tokens must be ≥ 0, got %d", maxTokens)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	out := append([]int32(nil), prompt...)
	g := autograd.NewGraph(0)
	g.NoGrad = true
	for i := 0; i < maxTokens; i++ {
		window := out[max(0, len(out)-context):]
		g.Reset()
		logits, _, err := m.Forward(g, window, 1, len(window), nil)
		if err != nil {
			return nil, err
		}
		v := logits.Value.Dim(-1)
		last := logits.Value.Data()[(len(window)-1)*v:]
		next := s.Next(last)
		out = append(out, next)
		if emit != nil {
			emit(next)
		}
	}
	return out[len(prompt):], nil
}

// GenerateCached is Generate for a one-row incremental decoder (such as
// gpt.Decoder): first is the token to feed first (the prompt's last, the
// rest of the prompt being already cached), then each new token costs one
// position's work. It calls emit (if not nil) with each token as it comes.
func GenerateCached(dec StepDecoder, first int32, maxTokens int, s *Sampler, emit func(int32)) ([]int32, error) {
	if maxTokens < 0 {
		return nil, fmt.Errorf("generate: max tokens must be ≥ 0, got %d", maxTokens)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	out := make([]int32, 0, maxTokens)
	tok := []int32{first}
	for range maxTokens {
		logits, err := dec.Step(tok, nil)
		if err != nil {
			return nil, err
		}
		tok[0] = s.Next(logits)
		out = append(out, tok[0])
		if emit != nil {
			emit(tok[0])
		}
	}
	return out, nil
}
