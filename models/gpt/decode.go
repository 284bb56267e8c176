package gpt

import (
	"fmt"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/nn"
)

// Decoder continues a batch of prompts incrementally with a KV cache, the
// same cache and layer code the encoder-decoder models decode with, so
// that generate's greedy, sampling and beam search work on GPT as they do
// on translation models. Each prompt may have several rows (beams).
//
// NewDecoder runs every prompt but its last token through the model once
// (the prompts left-padded to one length, the padding masked); the first
// Step then feeds each row's last prompt token (Starts) and returns the
// logits of the first new token.
type Decoder struct {
	m      *Model
	g      *autograd.Graph
	caches []*nn.LayerCache
	rows   int
	next   []int32 // each row's next position
	starts []int32
	pos    []int32
	left   int // steps left
}

// NewDecoder prepares the decoding of prompts (each at least one token)
// with copies rows per prompt for up to maxNew new tokens; every prompt
// plus maxNew must fit the model's context.
func (m *Model) NewDecoder(prompts [][]int32, copies, maxNew int) (*Decoder, error) {
	if len(prompts) == 0 || copies < 1 || maxNew < 1 {
		return nil, fmt.Errorf("gpt: NewDecoder needs prompts, copies ≥ 1 and maxNew ≥ 1 (got %d, %d, %d)", len(prompts), copies, maxNew)
	}
	longest := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("gpt: prompt %d is empty", i)
		}
		longest = max(longest, len(p))
	}
	if longest+maxNew-1 > m.Config.NPositions {
		return nil, fmt.Errorf("gpt: a prompt of %d tokens and %d new ones exceed the model's context of %d positions", longest, maxNew, m.Config.NPositions)
	}
	rows := len(prompts) * copies
	g := m.graphs.Get()
	d := &Decoder{m: m, g: g, rows: rows, next: make([]int32, rows), starts: make([]int32, rows),
		pos: make([]int32, rows), left: maxNew}
	// The cache holds the padded prefix and then one position per step.
	pre := longest - 1
	for _, b := range m.blocks {
		d.caches = append(d.caches, b.NewCache(rows, pre+maxNew))
	}
	for r := range rows {
		p := prompts[r/copies]
		d.starts[r] = p[len(p)-1]
		d.next[r] = int32(len(p) - 1)
	}
	if pre == 0 {
		return d, nil
	}
	// Prefill: row r is pre-len(p)+1 pads, then p without its last token,
	// at positions 0.. from the first real token; in chunks of positions
	// of about prefillTokens tokens in all, the graph rewound between
	// them. A graph without a tape still keeps every value it made until
	// it is reset (about 700 KB a token for GPT-2 small), so eight prompts
	// of 512 tokens at once held 2.9 GB; a chunk's queries attend to the
	// cache of the chunks before and causally among themselves.
	chunk := max(1, prefillTokens/rows)
	n := min(chunk, pre)
	ids, pos, pad := make([]int32, rows*n), make([]int32, rows*n), make([]bool, rows*n)
	for from := 0; from < pre; from += chunk {
		n = min(chunk, pre-from)
		for r := range rows {
			p := prompts[r/copies]
			skip := pre - (len(p) - 1)
			for i := range n {
				j, k := from+i, r*n+i
				if j < skip {
					// id 0 and position 0: finite values, masked out
					ids[k], pos[k], pad[k] = 0, 0, true
					continue
				}
				ids[k], pos[k], pad[k] = p[j-skip], int32(j-skip), false
			}
		}
		g.Reset()
		m.forward(g, ids[:rows*n], pos[:rows*n], rows, n, pad[:rows*n], d.caches, false)
		if err := g.Err(); err != nil {
			return d, err
		}
	}
	return d, nil
}

// prefillTokens bounds the tokens (rows × positions) a decoder's prefill
// runs at once; a variable so that tests can make it small.
var prefillTokens = 512

// Release hands the decoder's graph (and the memory its steps used) back
// to the model for the next decoder; the decoder must not be used after.
// Calling it is optional: it saves a server that starts decoders often
// their allocation.
func (d *Decoder) Release() {
	if d.g == nil {
		return
	}
	d.m.graphs.Put(d.g)
	d.g = nil
}

// Rows returns the number of rows decoded in parallel.
func (d *Decoder) Rows() int { return d.rows }

// Starts returns each row's first input: the last token of its prompt.
func (d *Decoder) Starts() []int32 { return d.starts }

// Step feeds one token per row and returns the logits of the next one,
// rows × vocab_size, valid until the next call. If parents is not nil, row
// r first takes over the history of row parents[r] (beam search).
func (d *Decoder) Step(tokens []int32, parents []int) ([]float32, error) {
	if len(tokens) != d.rows || parents != nil && len(parents) != d.rows {
		return nil, fmt.Errorf("gpt: Step got %d tokens and %d parents for %d rows", len(tokens), len(parents), d.rows)
	}
	if d.rows == 0 {
		return nil, fmt.Errorf("gpt: Step of a decoder without rows (Join some first)")
	}
	if d.left == 0 {
		return nil, fmt.Errorf("gpt: the decoder's steps are used up")
	}
	if d.g == nil {
		return nil, fmt.Errorf("gpt: Step after Release")
	}
	for _, p := range parents {
		if p < 0 || p >= d.rows {
			return nil, fmt.Errorf("gpt: Step: parent row %d outside 0..%d", p, d.rows-1)
		}
	}
	for r := range d.rows {
		if parents != nil {
			d.pos[r] = d.next[parents[r]]
		} else {
			d.pos[r] = d.next[r]
		}
	}
	copy(d.next, d.pos)
	for r := range d.next {
		d.next[r]++
	}
	g := d.g
	g.Reset()
	for _, c := range d.caches {
		c.Reorder(parents)
	}
	logits := d.m.forward(g, tokens, d.pos, d.rows, 1, nil, d.caches, true)
	if err := g.Err(); err != nil {
		return nil, err
	}
	d.left--
	return logits.Value.Data(), nil
}

// Join adds prompts to a running decoder (continuous batching): they are
// prefilled on their own, then their caches are merged into the running
// ones, the shorter side left-padded (each row keeps its own positions).
// The new rows come after the others; their first Step input is their
// prompt's last token (Starts). The decoder's capacity (the cache length
// it was made for) must hold the merged cache and the steps to come.
func (d *Decoder) Join(prompts [][]int32) error {
	tmp, err := d.m.NewDecoder(prompts, 1, 1)
	if err != nil {
		return err
	}
	defer tmp.Release()
	for i, c := range d.caches {
		if err := c.Self.Merge(tmp.caches[i].Self); err != nil {
			return fmt.Errorf("gpt: Join: %w", err)
		}
	}
	d.rows += tmp.rows
	d.next = append(d.next, tmp.next...)
	d.starts = append(d.starts, tmp.starts...)
	d.pos = append(d.pos, tmp.pos...)
	d.left = d.Cap() - d.Len()
	return nil
}

// Grow raises the positions the caches can hold to maxLen (at most the
// model's context), keeping what they hold: a decoder started with room
// for its first requests makes room for a longer one that joins. A smaller
// maxLen does nothing.
func (d *Decoder) Grow(maxLen int) error {
	if maxLen > d.m.Config.NPositions {
		return fmt.Errorf("gpt: Grow to %d positions, beyond the model's context of %d", maxLen, d.m.Config.NPositions)
	}
	for _, c := range d.caches {
		c.Self.Grow(maxLen)
	}
	d.left = d.Cap() - d.Len()
	return nil
}

// Keep keeps the given rows (increasing) as rows 0, 1, … and drops the
// others, freeing their place in the caches; leading positions that no
// remaining row uses are dropped too. Keeping none leaves an empty
// decoder whose caches' memory the next Join reuses (a server whose batch
// empties and fills again).
func (d *Decoder) Keep(rows []int) error {
	for _, c := range d.caches {
		if err := c.Self.Keep(rows); err != nil {
			return fmt.Errorf("gpt: %w", err)
		}
	}
	for i, r := range rows {
		d.next[i], d.starts[i], d.pos[i] = d.next[r], d.starts[r], d.pos[r]
	}
	d.rows = len(rows)
	d.next, d.starts, d.pos = d.next[:d.rows], d.starts[:d.rows], d.pos[:d.rows]
	for _, c := range d.caches {
		c.Self.TrimLeft()
	}
	d.left = d.Cap() - d.Len()
	return nil
}

// Len returns the positions the caches hold (the longest row's history,
// the others left-padded to it).
func (d *Decoder) Len() int {
	if len(d.caches) == 0 {
		return 0
	}
	return d.caches[0].Self.Len()
}

// Cap returns the positions the caches can hold.
func (d *Decoder) Cap() int {
	if len(d.caches) == 0 {
		return d.m.Config.NPositions
	}
	return d.caches[0].Self.Cap()
}

// CacheBytes returns the memory the KV caches hold.
func (d *Decoder) CacheBytes() int {
	n := 0
	for _, c := range d.caches {
		n += c.Self.Bytes()
	}
	return n
}
