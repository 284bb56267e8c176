// Package autograd is goformer's reverse-mode differentiation: a Graph
// records coarse operations (Linear, LayerNorm, Attention, CrossEntropy, ...)
// on a tape as they run, and Backward walks the tape in reverse, calling each
// operation's hand-written backward pass (the approach of llm.c: few,
// large operations, each with its own derivative, checked against finite
// differences in the tests).
//
// A Graph owns the memory of the values and gradients it creates, in an
// arena that Reset rewinds: a training step that builds the same graph each
// time reuses the same memory and, after the first step, allocates nothing.
// Parameters (NewParam) live outside the arena and keep their gradients,
// which accumulate over Backward calls until zeroed.
//
// With NoGrad set a Graph records nothing: the same model code runs for
// inference without a tape.
//
// Errors are sticky, as in bufio.Writer: an operation that cannot run (bad
// shapes, an id outside the vocabulary) records the first error on the
// graph and returns a placeholder; every later operation on that graph
// does nothing and returns the placeholder too. Model code therefore reads
// like the paper, one line per operation, and checks g.Err() once at the
// end. Reset clears the error.
//
// Each operation's backward pass sits beside its forward pass, in the file
// named for it (linear.go, norm.go, attention.go, ...); backward.go only
// dispatches on the node's kind.
package autograd

import (
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/tensor"
)

// Var is a value in a computation: a tensor and, once Backward has reached
// it, its gradient (same shape). Vars made by a Graph are valid until the
// Graph's next Reset.
type Var struct {
	Value        *tensor.Tensor
	Grad         *tensor.Tensor
	RequiresGrad bool
	Name         string // parameters' names; empty for intermediate values
	param        bool
	own          *tensor.Tensor // a pooled Var's reusable tensor header
	// readyGen and readyAt: the Backward (g.readyGen) in which this
	// parameter's first use on the tape was node readyAt.
	readyGen uint64
	readyAt  int
	q        *cpu.QMatrix // Quantize's compact copy of the weights
}

// Quantize keeps a compact copy of a 2-D weight [out, in] that Linear
// uses on a graph without a tape (inference) in place of the float32
// values: "bf16", or "int8" (per-row scales; Linear then rounds each row
// of its input to int8 too and multiplies in integers, as CTranslate2's
// and llama.cpp's int8 do); "" or "fp32" drops the copy.
// The float32 values stay as they are: training, embedding lookups and
// saving use them, and a graph that records a tape ignores the copy, so
// quantising never changes what training computes.
func (v *Var) Quantize(dtype string) error {
	switch dtype {
	case "", "fp32":
		v.q = nil
		return nil
	case "int8", "bf16":
	default:
		return fmt.Errorf("autograd: unknown weight format %q (want fp32, bf16 or int8)", dtype)
	}
	if v.Value.Dims() != 2 {
		return fmt.Errorf("autograd: %s: only 2-D weights are quantised, not shape %v", v.Name, v.Shape())
	}
	n, k := v.Value.Dim(0), v.Value.Dim(1)
	if dtype == "int8" {
		v.q = cpu.QuantizeInt8(v.Value.Data(), n, k)
	} else {
		v.q = cpu.QuantizeBF16(v.Value.Data(), n, k)
	}
	return nil
}

// Quantized returns the format of the weights Linear uses without a tape:
// "fp32", "int8" or "bf16".
func (v *Var) Quantized() string {
	if v.q == nil {
		return "fp32"
	}
	return v.q.Kind.String()
}

// QuantizedBytes is the size of Quantize's copy (0 without one).
func (v *Var) QuantizedBytes() int {
	if v.q == nil {
		return 0
	}
	return v.q.Bytes()
}

// NewParam returns a trainable parameter holding t, with a zero gradient.
func NewParam(name string, t *tensor.Tensor) *Var {
	return &Var{Value: t, Grad: tensor.New(t.Shape()...), RequiresGrad: true, Name: name, param: true}
}

// Constant returns a Var that needs no gradient, such as an input batch.
func Constant(t *tensor.Tensor) *Var { return &Var{Value: t} }

// Shape is v.Value.Shape().
func (v *Var) Shape() []int { return v.Value.Shape() }

// ZeroGrad sets the gradient of a parameter to zero.
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		v.Grad.Zero()
	}
}

// Graph records operations for Backward and owns the memory of their
// results. It is not safe for concurrent use; use one per goroutine.
type Graph struct {
	// NoGrad turns recording off, for inference.
	NoGrad bool
	// Training turns dropout on.
	// KeepAttention makes every attention op run the plain path that
	// forms the probabilities (cpu.Attention.ForwardPlain) and keep them,
	// in the order the ops run (AttentionMaps): to see where a model
	// looks. Inference only (NoGrad); it costs Tq×Tk per head.
	KeepAttention bool
	Training      bool
	// OnParamReady, if set, is called during Backward with each parameter
	// as soon as its gradient is complete (the backward pass of the
	// earliest operation that used it has run, so nothing later adds to
	// it), in the order they complete: data-parallel training sends
	// gradients to the other ranks while the rest of the backward pass
	// runs. Parameters the recorded operations do not use are not reported.
	OnParamReady func(p *Var)

	rng       *tensor.RNG
	readyGen  uint64 // Backward calls with OnParamReady set
	arena     arena
	rowLosses []float64  // CrossEntropy's per-row losses, reused
	spent     spentGrads // gradients the backward pass has consumed, for reuse
	nodes     []node
	vars      []*Var
	nvars     int
	err       error // the first error, sticky until Reset
	poison    *Var  // what operations return once err is set
	maps      []AttentionMap
}

// AttentionMap holds the attention probabilities of one attention op:
// Probs is [Batch, Heads, Tq, Tk], row-major, each row summing to 1 (or
// all zeros for a query that sees no key).
type AttentionMap struct {
	Batch, Heads, Tq, Tk int
	Probs                []float32
}

// At returns the probability with which query i of head h of batch row b
// attends to key j.
func (m *AttentionMap) At(b, h, i, j int) float32 {
	return m.Probs[((b*m.Heads+h)*m.Tq+i)*m.Tk+j]
}

// AttentionMaps returns the probabilities kept by the attention ops run
// since the last Reset with KeepAttention set, in the order they ran.
func (g *Graph) AttentionMaps() []AttentionMap { return g.maps }

// Err returns the first error any operation on the graph met since the
// last Reset, or nil.
func (g *Graph) Err() error { return g.err }

// Fail records err as the graph's error (if it has none yet) and returns
// the placeholder every operation returns on a failed graph. Layers use it
// to report their own errors (a bad configuration, a wrong shape) the same
// way operations do.
func (g *Graph) Fail(err error) *Var {
	if g.err == nil {
		g.err = err
	}
	if g.poison == nil {
		g.poison = &Var{Value: tensor.New(0)}
	}
	return g.poison
}

// failed reports whether the graph has an error, or whether any input is
// missing (a nil from a caller's own bug), which it then records.
func (g *Graph) failed(op string, inputs ...*Var) bool {
	if g.err != nil {
		return true
	}
	for i, in := range inputs {
		if in == nil {
			g.Fail(fmt.Errorf("autograd.%s: input %d is nil", op, i))
			return true
		}
	}
	return false
}

// NewGraph returns an empty graph whose dropout draws from a generator
// seeded with seed.
func NewGraph(seed uint64) *Graph { return &Graph{rng: tensor.NewRNG(seed)} }

// GraphPool keeps tapeless graphs, with the memory their arenas hold,
// between the decoders that use them one after another (a server starts a
// decoder for every request that joins a batch). It keeps up to
// graphPoolKeep graphs holding up to graphPoolFloats values in all, and
// lets further ones go; unlike a sync.Pool it does not drop them at each
// garbage collection, which made a server that prefills a join every few
// steps zero a fresh arena slab each time. The zero value is ready; it is
// safe for concurrent use.
type GraphPool struct {
	mu     sync.Mutex
	free   []*Graph
	floats int // the values the free graphs' arenas hold
}

// graphPoolKeep bounds the graphs a GraphPool keeps: a running decoder's
// and the one its joins prefill on, with room to spare.
const graphPoolKeep = 4

// graphPoolFloats bounds the values a GraphPool's graphs hold (256 MiB: a
// GPT-2-sized prefill of hundreds of tokens is let go, and is costly
// enough that its allocation does not show); a variable so that tests can
// make it small.
var graphPoolFloats = 64 << 20

// Get returns a graph without a tape (NoGrad) from the pool, or a new one.
func (p *GraphPool) Get() *Graph {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		g := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.floats -= g.Size()
		p.mu.Unlock()
		return g
	}
	p.mu.Unlock()
	g := NewGraph(0)
	g.NoGrad = true
	return g
}

// Put resets g and keeps it for a later Get, or lets it go when the pool
// is full; nil is ignored.
func (p *GraphPool) Put(g *Graph) {
	if g == nil {
		return
	}
	g.Reset()
	size := g.Size()
	p.mu.Lock()
	if len(p.free) < graphPoolKeep && p.floats+size <= graphPoolFloats {
		p.free = append(p.free, g)
		p.floats += size
	}
	p.mu.Unlock()
}

// RNG returns the generator dropout uses (to save and restore its state).
func (g *Graph) RNG() *tensor.RNG { return g.rng }

// Reset forgets the recorded operations and rewinds the arena: every Var
// the graph made before is invalid afterwards.
func (g *Graph) Reset() {
	g.maps = nil
	for i := range g.nodes {
		g.nodes[i] = node{}
	}
	g.nodes = g.nodes[:0]
	for _, v := range g.vars[:g.nvars] {
		v.Grad, v.RequiresGrad = nil, false
	}
	g.nvars = 0
	if g.arena.consolidating() {
		// The old slabs can only go back to the system once nothing
		// points into them: drop the reused headers' views.
		for _, v := range g.vars {
			v.Value = nil
			v.own.Rebind([]float32{}, 0)
		}
		for _, t := range g.arena.tensors {
			t.Rebind([]float32{}, 0)
		}
	}
	g.spent.reset() // first: it points into the slabs the arena may let go
	g.arena.reset()
	g.err = nil
}

// Input wraps a tensor that needs no gradient (token ids as floats, masks).
func (g *Graph) Input(t *tensor.Tensor) *Var {
	v := g.newVarShell()
	v.Value = t
	return v
}

// newVarShell returns a reusable Var with no value yet.
func (g *Graph) newVarShell() *Var {
	if g.nvars == len(g.vars) {
		g.vars = append(g.vars, &Var{own: new(tensor.Tensor)})
	}
	v := g.vars[g.nvars]
	g.nvars++
	v.Grad, v.RequiresGrad, v.Name = nil, false, ""
	return v
}

// newVar returns a Var with an uninitialised value of the given shape from
// the arena, needing a gradient if any of the inputs does (and the graph
// records).
func (g *Graph) newVar(inputs []*Var, shape ...int) *Var {
	v := g.newVarShell()
	v.Value = v.own
	n := 1
	for _, d := range shape {
		n *= d
	}
	v.Value.Rebind(g.arena.alloc(n), shape...)
	if !g.NoGrad {
		for _, in := range inputs {
			if in != nil && in.RequiresGrad {
				v.RequiresGrad = true
				break
			}
		}
	}
	return v
}

// record appends a node to the tape when its output needs a gradient.
func (g *Graph) record(n node) {
	if n.out.RequiresGrad {
		g.nodes = append(g.nodes, n)
	}
}

// grad returns v's gradient, allocating a zero one in the arena for an
// intermediate value the first time.
func (g *Graph) grad(v *Var) []float32 {
	if v.Grad == nil {
		v.Grad = g.newGrad(v)
		v.Grad.Zero()
	}
	return v.Grad.Data()
}

// newGrad returns a gradient buffer for v, garbage inside: one the
// backward pass has finished with if there is one of that size, else new
// arena memory.
func (g *Graph) newGrad(v *Var) *tensor.Tensor {
	if b := g.spent.get(v.Value.Len()); b != nil {
		return g.arena.tensorOver(b, v.Value.Shape()...)
	}
	return g.arena.tensor(v.Value.Shape()...)
}

// gradFor returns v's gradient buffer and whether it is new: a new buffer
// holds garbage and the caller must overwrite every element instead of
// adding into it (which saves zeroing it first, a pass over memory that
// costs as much as the adding).
func (g *Graph) gradFor(v *Var) (buf []float32, fresh bool) {
	if v.Grad == nil {
		v.Grad = g.newGrad(v)
		return v.Grad.Data(), true
	}
	return v.Grad.Data(), false
}

// accumulate adds src (scaled by alpha) into v's gradient, or writes it
// there when the gradient is new.
func (g *Graph) accumulate(v *Var, alpha float32, src []float32) {
	dst, fresh := g.gradFor(v)
	if fresh {
		copy(dst, src)
		if alpha != 1 {
			cpu.Scale(alpha, dst)
		}
		return
	}
	cpu.Axpy(alpha, src, dst)
}

// beta is the GEMM β that adds into (1) or overwrites (0) a gradient.
func beta(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}

// Backward computes the gradients of the scalar loss with respect to every
// Var on the tape that needs one, accumulating into parameters' gradients.
// The loss's own gradient is taken as 1.
func (g *Graph) Backward(loss *Var) error {
	if g.err != nil {
		return g.err
	}
	if loss.Value.Len() != 1 {
		return fmt.Errorf("autograd.Backward: the loss must have one element, got shape %v", loss.Shape())
	}
	if !loss.RequiresGrad {
		return fmt.Errorf("autograd.Backward: the loss does not depend on anything that needs a gradient")
	}
	g.grad(loss)[0] += 1
	g.runBackward()
	return nil
}

// BackwardWithGrad is Backward for a non-scalar v: it adds grad (v's shape)
// to v's gradient and propagates, as PyTorch's v.backward(grad).
func (g *Graph) BackwardWithGrad(v *Var, grad *tensor.Tensor) error {
	if g.err != nil {
		return g.err
	}
	if !v.Value.SameShape(grad) {
		return &tensor.ShapeError{Op: "BackwardWithGrad", Shapes: [][]int{v.Shape(), grad.Shape()}, Reason: "the gradient must have the value's shape"}
	}
	if !v.RequiresGrad {
		return fmt.Errorf("autograd.BackwardWithGrad: the value does not depend on anything that needs a gradient")
	}
	cpu.Axpy(1, grad.Data(), g.grad(v))
	g.runBackward()
	return nil
}

func (g *Graph) runBackward() {
	ready := g.OnParamReady
	if ready != nil {
		// Each parameter's first use on the tape: its gradient is complete
		// once the backward pass has passed it.
		g.readyGen++
		for i := range g.nodes {
			for _, in := range g.nodes[i].in {
				if in != nil && in.param && in.RequiresGrad && in.readyGen != g.readyGen {
					in.readyGen, in.readyAt = g.readyGen, i
				}
			}
		}
	}
	for i := len(g.nodes) - 1; i >= 0; i-- {
		n := &g.nodes[i]
		if out := n.out; out.Grad != nil { // else no gradient reached this node
			g.backward(n)
			// Every use of out came later on the tape and has added its
			// part: the gradient is consumed, and its memory can hold one
			// still to come (activation gradients then take the memory of
			// about one layer, not of all of them). Parameters keep theirs.
			if !out.param && out != n.in[0] && out != n.in[1] && out != n.in[2] && out != n.in[3] {
				g.spent.put(out.Grad.Data())
				out.Grad = nil
			}
		}
		if ready != nil {
			for _, in := range n.in {
				if in != nil && in.param && in.readyGen == g.readyGen && in.readyAt == i {
					in.readyAt = -1
					ready(in)
				}
			}
		}
	}
}

// arena hands out float32 slices from large slabs; reset rewinds it so the
// next step reuses the same memory in the same order.
//
// Steps of different shapes (translation batches bucketed by length) ask
// for different sequences of sizes, and a request that does not fit the
// slab under the cursor moves on to a new one: left alone, the slabs would
// pile up to far more than any one step needs. So reset consolidates: after
// a step that had to add a slab, the slabs are replaced by one of the
// largest total any step has asked for, and an eighth more, which every
// later step of that size or smaller fills front to back without a new
// allocation. Memory is then bounded by the largest step and its eighth,
// and steady training allocates nothing. The eighth matters: a new slab is
// fresh memory whose every page faults on first touch, and steps whose
// sizes wander (the labelled tokens of translation batches) set a new
// largest every few steps at the start of a run; without it a 12-step
// multi30k run faulted 1.3M pages and spent half its time doing so.
type arena struct {
	slabs   [][]float32
	cur     int // slab being filled
	off     int // next free element in it
	used    int // elements handed out since the last reset
	peak    int // the most any step has used
	grew    bool
	tensors []*tensor.Tensor
	ntens   int
}

const slabSize = 1 << 20 // floats (4 MiB)

func (a *arena) alloc(n int) []float32 {
	a.used += n
	for a.cur < len(a.slabs) {
		s := a.slabs[a.cur]
		if a.off+n <= len(s) {
			out := s[a.off : a.off+n : a.off+n]
			a.off += n
			return out
		}
		a.cur++
		a.off = 0
	}
	s := make([]float32, max(slabSize, n))
	a.slabs = append(a.slabs, s)
	a.grew = true
	a.off = n
	return s[:n:n]
}

// tensorOver returns a tensor (header reused across resets) over buf,
// memory the arena handed out earlier in this step.
func (a *arena) tensorOver(buf []float32, shape ...int) *tensor.Tensor {
	if a.ntens == len(a.tensors) {
		a.tensors = append(a.tensors, new(tensor.Tensor))
	}
	t := a.tensors[a.ntens]
	a.ntens++
	t.Rebind(buf, shape...)
	return t
}

// spentGrads holds gradient buffers the backward pass has consumed, by
// size, for the gradients still to come. A fixed number of size classes
// (a step of translation has few sizes; a run has many, and each step
// starts afresh) keeps the lookups short and the steady state free of
// allocation; a buffer of a size with no class left is simply not reused.
type spentGrads struct {
	classes [spentClasses]struct {
		n    int // 0: free
		bufs [][]float32
	}
}

const spentClasses = 48

func (s *spentGrads) put(b []float32) {
	if len(b) == 0 {
		return
	}
	free := -1
	for i := range s.classes {
		c := &s.classes[i]
		if c.n == len(b) {
			c.bufs = append(c.bufs, b)
			return
		}
		if c.n == 0 && free < 0 {
			free = i
		}
	}
	if free >= 0 {
		c := &s.classes[free]
		c.n, c.bufs = len(b), append(c.bufs, b)
	}
}

func (s *spentGrads) get(n int) []float32 {
	for i := range s.classes {
		c := &s.classes[i]
		if c.n == n && len(c.bufs) > 0 {
			b := c.bufs[len(c.bufs)-1]
			c.bufs[len(c.bufs)-1] = nil
			c.bufs = c.bufs[:len(c.bufs)-1]
			return b
		}
	}
	return nil
}

// reset forgets the buffers (the arena's memory is handed out afresh).
func (s *spentGrads) reset() {
	for i := range s.classes {
		c := &s.classes[i]
		clear(c.bufs)
		c.n, c.bufs = 0, c.bufs[:0]
	}
}

// tensor returns a tensor (header reused across resets) over arena memory.
func (a *arena) tensor(shape ...int) *tensor.Tensor {
	if a.ntens == len(a.tensors) {
		a.tensors = append(a.tensors, new(tensor.Tensor))
	}
	t := a.tensors[a.ntens]
	a.ntens++
	n := 1
	for _, d := range shape {
		n *= d
	}
	t.Rebind(a.alloc(n), shape...)
	return t
}

// consolidating reports whether the next reset replaces the slabs.
func (a *arena) consolidating() bool { return a.grew && len(a.slabs) > 1 }

func (a *arena) reset() {
	a.peak = max(a.peak, a.used)
	if a.consolidating() {
		// Let the old slabs go back to the system before the new one is
		// made: otherwise both are resident at once, and the process's
		// peak is twice the largest step. Growth happens a few times per
		// run (each new largest batch shape), so the forced collection
		// costs nothing that shows.
		for i := range a.slabs {
			a.slabs[i] = nil
		}
		a.slabs = a.slabs[:0]
		if a.peak >= 64*slabSize { // only big arenas are worth a collection
			debug.FreeOSMemory()
		}
		a.slabs = append(a.slabs, make([]float32, max(slabSize, a.peak+a.peak/8)))
	}
	a.cur, a.off, a.ntens, a.used, a.grew = 0, 0, 0, 0, false
}

// Size returns the number of float32 values the graph's arena holds, for
// memory accounting.
func (g *Graph) Size() int {
	n := 0
	for _, s := range g.arena.slabs {
		n += len(s)
	}
	return n
}
