// Package attention shows where a model looks: it runs a model once with
// the attention probabilities kept (autograd.Graph.KeepAttention: the
// plain path that forms them, instead of the fused kernel that never
// does) and returns them per layer and head, draws them as heatmaps with
// the tokens on both axes, and aligns words through cross-attention.
package attention

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goformer/goformer/autograd"
)

// Map is the attention of one layer: Probs is [Heads, len(Queries),
// len(Keys)], row-major; row i holds how query i spreads its attention
// over the keys (it sums to 1).
type Map struct {
	// Kind is "self" (a decoder-only or encoder-only model), "encoder"
	// (an encoder-decoder's encoder self-attention), "decoder" (its
	// decoder self-attention) or "cross" (decoder to encoder).
	Kind    string    `json:"kind"`
	Layer   int       `json:"layer"` // from 0
	Heads   int       `json:"heads"`
	Queries []string  `json:"queries"` // the tokens of the rows
	Keys    []string  `json:"keys"`    // the tokens of the columns
	Probs   []float32 `json:"probs"`
}

// At returns the probability with which query i of head h attends to key j.
func (m *Map) At(h, i, j int) float32 {
	return m.Probs[(h*len(m.Queries)+i)*len(m.Keys)+j]
}

// Mean returns the probabilities averaged over the heads, [rows, cols].
func (m *Map) Mean() []float32 {
	n := len(m.Queries) * len(m.Keys)
	out := make([]float32, n)
	for h := 0; h < m.Heads; h++ {
		for i, p := range m.Probs[h*n : (h+1)*n] {
			out[i] += p / float32(m.Heads)
		}
	}
	return out
}

// Head returns head h's probabilities, [rows, cols]; h = −1 is the mean.
func (m *Map) Head(h int) ([]float32, error) {
	if h == -1 {
		return m.Mean(), nil
	}
	if h < 0 || h >= m.Heads {
		return nil, fmt.Errorf("attention: head %d of a layer with %d heads", h, m.Heads)
	}
	n := len(m.Queries) * len(m.Keys)
	return m.Probs[h*n : (h+1)*n], nil
}

// Name is the map's kind and layer, as file names and titles use them:
// "cross-layer2".
func (m *Map) Name() string { return fmt.Sprintf("%s-layer%d", m.Kind, m.Layer) }

// fromGraph turns the kept maps of a one-sentence run into Maps of the
// given kinds, checking their sizes.
func fromGraph(kept []autograd.AttentionMap, kinds []string, layers []int, queries, keys [][]string) ([]Map, error) {
	if len(kept) != len(kinds) {
		return nil, fmt.Errorf("attention: the model ran %d attention ops, want %d", len(kept), len(kinds))
	}
	out := make([]Map, len(kept))
	for i, k := range kept {
		if k.Batch != 1 || k.Tq != len(queries[i]) || k.Tk != len(keys[i]) {
			return nil, fmt.Errorf("attention: op %d is %d×%d×%d, want 1×%d×%d", i, k.Batch, k.Tq, k.Tk, len(queries[i]), len(keys[i]))
		}
		out[i] = Map{Kind: kinds[i], Layer: layers[i], Heads: k.Heads, Queries: queries[i], Keys: keys[i], Probs: slices.Clone(k.Probs)}
	}
	return out, nil
}

// Decoder is a decoder-only model (gpt.Model).
type Decoder interface {
	Forward(g *autograd.Graph, ids []int32, batch, seqLen int, targets []int32) (logits, loss *autograd.Var, err error)
}

// OfDecoder runs a decoder-only model on ids and returns its causal
// self-attention per layer; tokens label ids.
func OfDecoder(m Decoder, ids []int32, tokens []string) ([]Map, error) {
	g := newGraph()
	if _, _, err := m.Forward(g, ids, 1, len(ids), nil); err != nil {
		return nil, err
	}
	return same(g.AttentionMaps(), "self", tokens)
}

// Encoder is an encoder-only model (bert.Model).
type Encoder interface {
	Encode(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error)
}

// OfEncoder runs an encoder-only model on ids (with token types, or nil
// for all 0) and returns its self-attention per layer.
func OfEncoder(m Encoder, ids, types []int32, tokens []string) ([]Map, error) {
	if types == nil {
		types = make([]int32, len(ids))
	}
	g := newGraph()
	if _, err := m.Encode(g, ids, types, 1, len(ids), nil); err != nil {
		return nil, err
	}
	return same(g.AttentionMaps(), "self", tokens)
}

// same labels maps that are all self-attention over one token sequence.
func same(kept []autograd.AttentionMap, kind string, tokens []string) ([]Map, error) {
	kinds, layers, qs := make([]string, len(kept)), make([]int, len(kept)), make([][]string, len(kept))
	for i := range kept {
		kinds[i], layers[i], qs[i] = kind, i, tokens
	}
	return fromGraph(kept, kinds, layers, qs, qs)
}

// EncoderDecoder is an encoder-decoder model (seq2seq.Model, t5.Model).
type EncoderDecoder interface {
	Encode(g *autograd.Graph, src []int32, batch, srcLen int, srcPad []bool) (*autograd.Var, error)
	Decode(g *autograd.Graph, memory *autograd.Var, tgt []int32, batch, tgtLen int, tgtPad, srcPad []bool) (*autograd.Var, error)
}

// sourceDecoder is an EncoderDecoder whose decoder reads the source ids
// as well (seq2seq.Model: a pointer-generator's copy head).
type sourceDecoder interface {
	DecodeWithSource(g *autograd.Graph, memory *autograd.Var, src []int32, srcLen int, tgt []int32, batch, tgtLen int, tgtPad, srcPad []bool) (*autograd.Var, error)
}

// OfEncoderDecoder runs an encoder-decoder on src (with its special
// tokens) and the decoder input tgt (the start token, then the target)
// and returns, per layer, the encoder's self-attention ("encoder"), then
// the decoder's self-attention ("decoder") and cross-attention ("cross").
// srcTokens label src; tgtTokens label tgt's positions (the decoder's
// queries and its self-attention keys).
func OfEncoderDecoder(m EncoderDecoder, src, tgt []int32, srcTokens, tgtTokens []string) ([]Map, error) {
	g := newGraph()
	memory, err := m.Encode(g, src, 1, len(src), nil)
	if err != nil {
		return nil, err
	}
	enc := len(g.AttentionMaps())
	if sd, ok := m.(sourceDecoder); ok { // a pointer-generator's output reads the source ids
		_, err = sd.DecodeWithSource(g, memory, src, len(src), tgt, 1, len(tgt), nil, nil)
	} else {
		_, err = m.Decode(g, memory, tgt, 1, len(tgt), nil, nil)
	}
	if err != nil {
		return nil, err
	}
	kept := g.AttentionMaps()
	if (len(kept)-enc)%2 != 0 {
		return nil, fmt.Errorf("attention: the decoder ran %d attention ops, want two per layer", len(kept)-enc)
	}
	var kinds []string
	var layers []int
	var qs, ks [][]string
	for i := 0; i < enc; i++ {
		kinds, layers, qs, ks = append(kinds, "encoder"), append(layers, i), append(qs, srcTokens), append(ks, srcTokens)
	}
	for i := 0; i < (len(kept)-enc)/2; i++ {
		kinds, layers, qs, ks = append(kinds, "decoder", "cross"), append(layers, i, i), append(qs, tgtTokens, tgtTokens), append(ks, tgtTokens, srcTokens)
	}
	return fromGraph(kept, kinds, layers, qs, ks)
}

func newGraph() *autograd.Graph {
	g := autograd.NewGraph(0)
	g.NoGrad, g.KeepAttention = true, true
	return g
}

// Select returns the maps of a kind ("" for all) and a layer (−1 for all).
func Select(maps []Map, kind string, layer int) []Map {
	var out []Map
	for _, m := range maps {
		if (kind == "" || m.Kind == kind) && (layer < 0 || m.Layer == layer) {
			out = append(out, m)
		}
	}
	return out
}

// Align aligns target tokens to source tokens through a cross-attention
// map: each row (a decoder position) averaged over the heads, its most
// attended key taken (argmax). rowWords[i] is the target word whose token
// row i produced and colWords[j] the source word of key j (−1: a special
// token or one that adds no word, left out). It returns the token pairs
// (row, column) chosen, and the word pairs (source word, target word),
// sorted and without repeats: the Pharaoh "i-j" alignment.
func Align(m *Map, rowWords, colWords []int) (tokens, words [][2]int, err error) {
	rows, cols := len(m.Queries), len(m.Keys)
	if len(rowWords) != rows || len(colWords) != cols {
		return nil, nil, fmt.Errorf("attention: %d row and %d column words for a %d×%d map", len(rowWords), len(colWords), rows, cols)
	}
	mean := m.Mean()
	seen := map[[2]int]bool{}
	for i := 0; i < rows; i++ {
		if rowWords[i] < 0 {
			continue
		}
		best := -1
		for j := 0; j < cols; j++ {
			if colWords[j] >= 0 && (best < 0 || mean[i*cols+j] > mean[i*cols+best]) {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		tokens = append(tokens, [2]int{i, best})
		if w := [2]int{colWords[best], rowWords[i]}; !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	slices.SortFunc(words, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	return tokens, words, nil
}

// Pharaoh writes word pairs as "i-j i-j …", the format of alignment tools.
func Pharaoh(words [][2]int) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = fmt.Sprintf("%d-%d", w[0], w[1])
	}
	return strings.Join(parts, " ")
}

// WordIndex maps tokens to the words of the decoded text: decode(ids[:k+1])
// against decode(ids[:k]) tells whether token k adds text, and the number
// of whitespace-separated words then says which word it belongs to.
// Special tokens (isSpecial) and tokens that add no visible text get −1.
func WordIndex(decode func([]int32) (string, error), isSpecial func(int32) bool, ids []int32) ([]int, error) {
	out := make([]int, len(ids))
	var kept []int32
	prev := ""
	for k, id := range ids {
		if isSpecial != nil && isSpecial(id) {
			out[k] = -1
			continue
		}
		kept = append(kept, id)
		cur, err := decode(kept)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(cur) == strings.TrimSpace(prev) {
			out[k] = -1
		} else {
			out[k] = len(strings.Fields(cur)) - 1
		}
		prev = cur
	}
	return out, nil
}
