package gpt

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// Cache holds the keys and values of the positions a model has seen, so
// that generating the next token costs one position's work instead of the
// whole prefix's (incremental decoding). One cache serves one sequence.
type Cache struct {
	m    *Model
	k, v [][]float32 // per layer: [n_positions, n_embd]
	n    int         // positions cached
	g    *autograd.Graph
	ids  []int32
	qt   *tensor.Tensor   // the query, a view into the fused projection
	kt   []*tensor.Tensor // per layer, views of k and v passed to attention
	vt   []*tensor.Tensor
	pos  []int32
}

// NewCache returns an empty cache for m.
func (m *Model) NewCache() *Cache {
	c := &Cache{m: m, g: autograd.NewGraph(0), ids: make([]int32, 1), pos: make([]int32, 1), qt: new(tensor.Tensor)}
	c.g.NoGrad = true
	size := m.Config.NPositions * m.Config.NEmbd
	for range m.blocks {
		c.k = append(c.k, make([]float32, size))
		c.v = append(c.v, make([]float32, size))
		c.kt = append(c.kt, new(tensor.Tensor))
		c.vt = append(c.vt, new(tensor.Tensor))
	}
	return c
}

// Len returns the number of positions cached.
func (c *Cache) Len() int { return c.n }

// Next feeds one token at the next position and returns the logits
// (vocab_size) for the token after it. The slice is valid until the next
// call.
func (c *Cache) Next(token int32) ([]float32, error) {
	m, cfg := c.m, &c.m.Config
	if c.n >= cfg.NPositions {
		return nil, fmt.Errorf("gpt: the cache is full: the model's context is %d positions", cfg.NPositions)
	}
	g := c.g
	g.Reset()
	c.ids[0], c.pos[0] = token, int32(c.n)
	tok, err := m.wte.Forward(g, c.ids, 1, 1)
	if err != nil {
		return nil, err
	}
	pe, err := m.wpe.Forward(g, c.pos, 1, 1)
	if err != nil {
		return nil, err
	}
	x, err := g.Add(tok, pe)
	if err != nil {
		return nil, err
	}
	C := cfg.NEmbd
	for i := range m.blocks {
		b := &m.blocks[i]
		h, err := b.ln1.Forward(g, x)
		if err != nil {
			return nil, err
		}
		qkv, err := b.attn.Forward(g, h) // [1, 1, 3C]
		if err != nil {
			return nil, err
		}
		d := qkv.Value.Data()
		copy(c.k[i][c.n*C:(c.n+1)*C], d[C:2*C])
		copy(c.v[i][c.n*C:(c.n+1)*C], d[2*C:3*C])
		c.qt.Rebind(d[:C], 1, 1, C)
		c.kt[i].Rebind(c.k[i][:(c.n+1)*C], 1, c.n+1, C)
		c.vt[i].Rebind(c.v[i][:(c.n+1)*C], 1, c.n+1, C)
		// One query against every cached key: causal by construction.
		a, err := g.Attention(g.Input(c.qt), g.Input(c.kt[i]), g.Input(c.vt[i]), cfg.NHead, autograd.AttentionOptions{})
		if err != nil {
			return nil, err
		}
		if h, err = b.attnProj.Forward(g, a); err != nil {
			return nil, err
		}
		if x, err = g.Add(x, h); err != nil {
			return nil, err
		}
		if h, err = b.ln2.Forward(g, x); err != nil {
			return nil, err
		}
		if h, err = b.fc.Forward(g, h); err != nil {
			return nil, err
		}
		if h, err = b.fcProj.Forward(g, g.GELU(h)); err != nil {
			return nil, err
		}
		if x, err = g.Add(x, h); err != nil {
			return nil, err
		}
	}
	if x, err = m.lnF.Forward(g, x); err != nil {
		return nil, err
	}
	logits, err := g.Linear(x, m.wte.W, nil)
	if err != nil {
		return nil, err
	}
	c.n++
	return logits.Value.Data(), nil
}
