package autograd

import (
	"fmt"
	"math"
	"slices"

	"github.com/goformer/goformer/internal/cpu"
)

// PointerMix is the output of a pointer-generator (See, Liu and Manning,
// "Get To The Point", 2017): each row n of the result [N, V] is
//
//	log( p_n · softmax(logits_n) + (1 − p_n) · Σ_s α_ns · onehot(src_s) )
//
// the log-probabilities of a mixture of generating from the vocabulary and
// copying a token of the row's source. p_n = σ(gate_n) and α_n =
// softmax_s(q_n · k_s / √d) over the unpadded positions s of source
// rowSource[n]: q [N, d] are the copy queries, k [B·srcLen, d] the copy
// keys of B sources of srcLen positions each, src [B·srcLen] their token
// ids, srcPad [B·srcLen] (or nil) their padding, gate [N] or [N, 1].
// Because the rows are log-probabilities, CrossEntropy on them is the
// mixture's cross-entropy, and a decoder that takes a log-softmax of them
// gets them back unchanged (a source whose every position is padding
// gives no copy, and its rows sum to p). src, srcPad and rowSource must
// stay unchanged until Backward.
func (g *Graph) PointerMix(logits, q, k, gate *Var, src []int32, srcPad []bool, srcLen int, rowSource []int32) *Var {
	if g.failed("PointerMix", logits, q, k, gate) {
		return g.poison
	}
	n, v, d := rows(logits), lastDim(logits), lastDim(q)
	if err := checkPointer("PointerMix", logits, q, k, gate, src, srcPad, srcLen, rowSource); err != nil {
		return g.Fail(err)
	}
	out := g.newVar([]*Var{logits, q, k, gate}, n, v)
	j := &pointerJob{n: n, v: v, d: d, srcLen: srcLen, src: src, pad: srcPad, owner: rowSource,
		scale: float32(1 / math.Sqrt(float64(d))), logits: logits.Value.Data(), out: out.Value.Data(),
		q: q.Value.Data(), k: k.Value.Data(), gate: gate.Value.Data(),
		alpha: g.arena.alloc(n * srcLen), lse: g.arena.alloc(n)}
	j.prepare(g)
	j.run(j.mixRows)
	g.record(node{op: opPointerMix, out: out, in: [4]*Var{logits, q, k, gate}, rows: n, cols: v, offset: srcLen,
		ids: src, pad: srcPad, owner: rowSource, mask: j.alpha, lse: j.lse, scale: j.scale})
	return out
}

// pointerJob is PointerMix's or PointerCrossEntropy's forward or
// backward pass, its rows split over the kernels' threads, each part with
// its own scratch.
type pointerJob struct {
	n, v, d, srcLen, parts int
	src                    []int32
	pad                    []bool
	owner                  []int32
	scale                  float32
	logits, out, q, k      []float32
	gate, alpha, lse       []float32
	ones                   []float32 // v ones (sums as dot products)
	parted                 []pointerScratch
	do                     func(lo, hi, part int)

	// PointerCrossEntropy
	targets []int32
	ignore  int32
	eps     float32
	losses  []float64

	// backward
	dout, dlogits, dq, dk, dgate []float32
	ds                           []float32 // the scores' gradients [n, srcLen]
	freshLogits                  bool
	lossScale                    float32
	byOwner, ownerStart          []int32 // rows ordered by source, and where each source's start
}

// pointerScratch is one part's scratch: two rows of v (the second zero
// between rows) and the corrections of the current row.
type pointerScratch struct {
	row, acc []float32
	fixes    []pointerFix
}

// pointerFix is, for one distinct token of a row's source, how far its
// mixture log-probability lies above log p + log-softmax (corr), and its
// gradient (d, backward only).
type pointerFix struct {
	id   int32
	corr float64
	d    float64
}

func (j *pointerJob) prepare(g *Graph) {
	j.parts = max(1, min(cpu.Threads(), j.n/16))
	j.ones = g.arena.alloc(j.v)
	for i := range j.ones {
		j.ones[i] = 1
	}
	j.parted = make([]pointerScratch, j.parts)
	for p := range j.parted {
		j.parted[p] = pointerScratch{row: g.arena.alloc(j.v), acc: g.arena.alloc(j.v), fixes: make([]pointerFix, 0, j.srcLen)}
		clear(j.parted[p].acc)
	}
}

// run calls do on each part's rows, on the kernels' pool.
func (j *pointerJob) run(do func(lo, hi, part int)) {
	j.do = do
	if j.parts == 1 {
		j.Do(0)
		return
	}
	cpu.DefaultPool().Run(j.parts, j)
}

// Do runs part p of the job (cpu.Job).
func (j *pointerJob) Do(p int) { j.do(p*j.n/j.parts, (p+1)*j.n/j.parts, p) }

// mixRow prepares row r: in the forward pass (forward set) it computes
// the logits' log-sum-exp and the copy attention α, in the backward pass
// it reads them. It returns c = log p − lse (the mixture's log-probability
// is logits + c away from the source's tokens), log p, log(1−p) and the
// corrections at the source's distinct tokens.
func (j *pointerJob) mixRow(r, part int, forward bool) (c, lp, l1p float32, fixes []pointerFix) {
	v, d, srcLen := j.v, j.d, j.srcLen
	sc := &j.parted[part]
	row := j.logits[r*v : (r+1)*v]
	base := int(j.owner[r]) * srcLen
	a := j.alpha[r*srcLen : (r+1)*srcLen]
	pad := srcPadRow(j.pad, base, srcLen)
	if forward {
		copy(sc.row, row)
		m := cpu.Max(sc.row)
		j.lse[r] = float32(float64(m) + math.Log(float64(cpu.ExpShiftSum(sc.row, m))))
		pointerAttention(a, j.q[r*d:(r+1)*d], j.k[base*d:(base+srcLen)*d], pad, j.scale)
	}
	lp, l1p = logSigmoid(j.gate[r]), logSigmoid(-j.gate[r])
	c = lp - j.lse[r]
	fixes = sc.fixes[:0]
	for s, w := range a {
		if pad == nil || !pad[s] {
			sc.acc[j.src[base+s]] += w
		}
	}
	for s := range a {
		if pad != nil && pad[s] {
			continue
		}
		if id := j.src[base+s]; sc.acc[id] != 0 {
			plain := float64(row[id] + c)
			fixes = append(fixes, pointerFix{id: id, corr: logAddExp(plain, float64(l1p)+math.Log(float64(sc.acc[id]))) - plain})
			sc.acc[id] = 0
		}
	}
	sc.fixes = fixes
	return c, lp, l1p, fixes
}

func (j *pointerJob) mixRows(lo, hi, part int) {
	v := j.v
	for r := lo; r < hi; r++ {
		c, _, _, fixes := j.mixRow(r, part, true)
		o := j.out[r*v : (r+1)*v]
		copy(o, j.logits[r*v:(r+1)*v])
		cpu.Axpy(c, j.ones, o)
		for _, f := range fixes {
			o[f.id] = float32(float64(j.logits[r*v+int(f.id)]+c) + f.corr)
		}
	}
}

func (j *pointerJob) lossRows(lo, hi, part int) {
	v := j.v
	for r := lo; r < hi; r++ {
		t := j.targets[r]
		if t == j.ignore {
			j.losses[r] = 0
			continue
		}
		row := j.logits[r*v : (r+1)*v]
		c, _, _, fixes := j.mixRow(r, part, true)
		lt := float64(row[t] + c)
		sumL := float64(cpu.Dot(row, j.ones)) + float64(v)*float64(c)
		for _, f := range fixes {
			sumL += f.corr
			if f.id == t {
				lt += f.corr
			}
		}
		j.losses[r] = -float64(1-j.eps)*lt - float64(j.eps)/float64(v)*sumL
	}
}

// The backward pass. With r_v = p·softmax_v / P_v, which is 1 except at
// the source's tokens (exp(−corr) there), and dL the gradient with
// respect to the mixture's log-probabilities:
//
//	d logits_v = dL_v·r_v − softmax_v·Σ_u dL_u·r_u
//	d gate     = Σ_v dL_v·(r_v − p)
//	d α_s      = dL_w·(1 − p)/P_w = dL_w·exp(log(1−p) − L_w), w = src_s
//
// then the attention softmax's and the dot products' backward into q and
// k. Rows are split over the threads; the keys' gradient is then summed
// source by source.

// pointerBackwardJob sets up the backward pass of node n.
func (g *Graph) pointerBackwardJob(n *node) *pointerJob {
	logits, q, k, gate := n.in[0], n.in[1], n.in[2], n.in[3]
	j := &pointerJob{n: n.rows, v: n.cols, d: lastDim(q), srcLen: n.offset, src: n.ids, pad: n.pad, owner: n.owner,
		scale: n.scale, logits: logits.Value.Data(), out: n.out.Value.Data(), q: q.Value.Data(), k: k.Value.Data(),
		gate: gate.Value.Data(), alpha: n.mask, lse: n.lse}
	if n.needs(0) {
		j.dlogits, j.freshLogits = g.gradFor(logits)
	}
	if n.needs(1) {
		j.dq = g.grad(q)
	}
	if n.needs(2) {
		j.dk = g.grad(k)
	}
	if n.needs(3) {
		j.dgate = g.grad(gate)
	}
	j.ds = g.arena.alloc(j.n * j.srcLen)
	j.prepare(g)
	return j
}

func (g *Graph) pointerMixBackward(n *node) {
	j := g.pointerBackwardJob(n)
	j.dout = n.out.Grad.Data()
	j.run(j.mixBackwardRows)
	j.keyGrads(n.in[2])
}

// pointerCrossEntropyBackward: dL is −scale·eps/V everywhere and
// −scale·(1−eps) more at the target.
func (g *Graph) pointerCrossEntropyBackward(n *node) {
	j := g.pointerBackwardJob(n)
	j.targets, j.ignore, j.eps = n.targets, n.ignore, n.eps
	if n.counted > 0 {
		j.lossScale = n.out.Grad.Data()[0] / float32(n.counted)
	}
	j.run(j.lossBackwardRows)
	j.keyGrads(n.in[2])
}

func (j *pointerJob) mixBackwardRows(lo, hi, part int) {
	v := j.v
	for r := lo; r < hi; r++ {
		dl := j.dout[r*v : (r+1)*v]
		j.backwardRow(r, part, dl, 0, -1, 0, float64(cpu.Dot(dl, j.ones)))
	}
}

func (j *pointerJob) lossBackwardRows(lo, hi, part int) {
	v := j.v
	for r := lo; r < hi; r++ {
		t := j.targets[r]
		if t == j.ignore {
			if j.dlogits != nil && j.freshLogits {
				clear(j.dlogits[r*v : (r+1)*v])
			}
			clear(j.ds[r*j.srcLen : (r+1)*j.srcLen])
			continue
		}
		a0 := -j.lossScale * j.eps / float32(v)
		at := -j.lossScale * (1 - j.eps)
		j.backwardRow(r, part, nil, a0, t, at, float64(a0)*float64(v)+float64(at))
	}
}

// backwardRow is row r's backward pass for dL = dl, or (dl nil) for dL =
// a0 everywhere plus at at target t; sum is Σ_v dL_v.
func (j *pointerJob) backwardRow(r, part int, dl []float32, a0 float32, t int32, at float32, sum float64) {
	v, d, srcLen := j.v, j.d, j.srcLen
	sc := &j.parted[part]
	c, lp, l1p, fixes := j.mixRow(r, part, false)
	p := math.Exp(float64(lp))
	row := j.logits[r*v : (r+1)*v]
	dL := func(id int32) float64 {
		if dl != nil {
			return float64(dl[id])
		}
		if id == t {
			return float64(a0 + at)
		}
		return float64(a0)
	}
	sumD, dz := sum, sum*(1-p)
	for i := range fixes {
		f := &fixes[i]
		g := dL(f.id)
		ratio := math.Exp(-f.corr)
		sumD += g * (ratio - 1)
		dz += g * (ratio - 1)
		f.d = g * (ratio - 1)
		sc.acc[f.id] = float32(g * math.Exp(float64(l1p)-(float64(row[f.id]+c)+f.corr))) // d α at each position of f.id
	}
	if j.dgate != nil {
		j.dgate[r] += float32(dz)
	}
	if j.dlogits != nil {
		soft := sc.row
		copy(soft, row)
		cpu.ExpShiftSum(soft, j.lse[r])
		dst := j.dlogits[r*v : (r+1)*v]
		switch {
		case dl != nil && j.freshLogits:
			copy(dst, dl)
		case dl != nil:
			cpu.Axpy(1, dl, dst)
		case j.freshLogits:
			for i := range dst {
				dst[i] = a0
			}
		default:
			cpu.Axpy(a0, j.ones, dst)
		}
		cpu.Axpy(-float32(sumD), soft, dst)
		if dl == nil {
			dst[t] += at
		}
		for _, f := range fixes {
			dst[f.id] += float32(f.d)
		}
	}
	base := int(j.owner[r]) * srcLen
	a := j.alpha[r*srcLen : (r+1)*srcLen]
	pad := srcPadRow(j.pad, base, srcLen)
	ds := j.ds[r*srcLen : (r+1)*srcLen]
	var dot float64
	for s := range a {
		ds[s] = 0
		if pad == nil || !pad[s] {
			ds[s] = sc.acc[j.src[base+s]]
			dot += float64(a[s]) * float64(ds[s])
		}
	}
	for _, f := range fixes {
		sc.acc[f.id] = 0
	}
	for s := range a {
		ds[s] = a[s] * (ds[s] - float32(dot)) * j.scale
	}
	if j.dq != nil {
		kd, dq := j.k[base*d:(base+srcLen)*d], j.dq[r*d:(r+1)*d]
		for s, x := range ds {
			if x != 0 {
				cpu.Axpy(x, kd[s*d:(s+1)*d], dq)
			}
		}
	}
}

// keyGrads adds to k's gradient, source by source over the threads, what
// the rows reading each source give it.
func (j *pointerJob) keyGrads(k *Var) {
	if j.dk == nil {
		return
	}
	sources := k.Value.Len() / (j.d * j.srcLen)
	j.ownerStart = make([]int32, sources+1)
	for _, o := range j.owner {
		j.ownerStart[o+1]++
	}
	for b := range sources {
		j.ownerStart[b+1] += j.ownerStart[b]
	}
	j.byOwner = make([]int32, len(j.owner))
	next := slices.Clone(j.ownerStart[:sources])
	for r, o := range j.owner {
		j.byOwner[next[o]] = int32(r)
		next[o]++
	}
	j.n, j.parts = sources, max(1, min(cpu.Threads(), sources/4))
	j.run(j.keyRows)
}

// keyRows adds to the keys of sources lo..hi-1 the gradient of the rows
// reading them.
func (j *pointerJob) keyRows(lo, hi, _ int) {
	d, srcLen := j.d, j.srcLen
	for b := lo; b < hi; b++ {
		for _, r := range j.byOwner[j.ownerStart[b]:j.ownerStart[b+1]] {
			q, ds := j.q[int(r)*d:(int(r)+1)*d], j.ds[int(r)*srcLen:(int(r)+1)*srcLen]
			for s, x := range ds {
				if x != 0 {
					cpu.Axpy(x, q, j.dk[(b*srcLen+s)*d:(b*srcLen+s+1)*d])
				}
			}
		}
	}
}

// checkPointer reports what is wrong with PointerMix's (or
// PointerCrossEntropy's) arguments.
func checkPointer(op string, logits, q, k, gate *Var, src []int32, srcPad []bool, srcLen int, rowSource []int32) error {
	n, v, d := rows(logits), lastDim(logits), lastDim(q)
	switch {
	case rows(q) != n || gate.Value.Len() != n || len(rowSource) != n:
		return shapeErr(op, fmt.Sprintf("logits, q, gate and rowSource (%d) need one row each per output row", len(rowSource)), logits, q, k, gate)
	case lastDim(k) != d || srcLen < 1 || rows(k)%srcLen != 0 || len(src) != rows(k):
		return shapeErr(op, fmt.Sprintf("k must be [sources·srcLen, d] with srcLen %d and %d source ids", srcLen, len(src)), logits, q, k, gate)
	case srcPad != nil && len(srcPad) != len(src):
		return fmt.Errorf("autograd.%s: %d padding flags for %d source ids", op, len(srcPad), len(src))
	}
	sources := rows(k) / srcLen
	for i, r := range rowSource {
		if r < 0 || int(r) >= sources {
			return fmt.Errorf("autograd.%s: row %d reads source %d of %d", op, i, r, sources)
		}
	}
	for i, id := range src {
		if (srcPad == nil || !srcPad[i]) && (id < 0 || int(id) >= v) {
			return fmt.Errorf("autograd.%s: source id %d at %d is outside [0, %d)", op, id, i, v)
		}
	}
	return nil
}

// PointerCrossEntropy is CrossEntropy(PointerMix(logits, q, k, gate, src,
// srcPad, srcLen, rowSource), targets, ignoreIndex, eps), the mixture's
// label-smoothed cross-entropy, without forming the mixture: a row's
// log-probabilities differ from logits by a constant except at its
// source's tokens, so the loss and its gradient take one pass over the
// logits each, where the two operations take several over three tensors
// of their size. The gradients are the same (those of the two operations
// differ by a multiple of the mixture's probabilities, which sum to one
// whatever the inputs). targets must stay unchanged until Backward.
func (g *Graph) PointerCrossEntropy(logits, q, k, gate *Var, src []int32, srcPad []bool, srcLen int, rowSource, targets []int32, ignoreIndex int32, eps float32) *Var {
	if g.failed("PointerCrossEntropy", logits, q, k, gate) {
		return g.poison
	}
	n, v, d := rows(logits), lastDim(logits), lastDim(q)
	if err := checkPointer("PointerCrossEntropy", logits, q, k, gate, src, srcPad, srcLen, rowSource); err != nil {
		return g.Fail(err)
	}
	if len(targets) != n {
		return g.Fail(fmt.Errorf("autograd.PointerCrossEntropy: %d targets for %d rows of logits %v", len(targets), n, logits.Shape()))
	}
	count := 0
	for i, t := range targets {
		if t == ignoreIndex {
			continue
		}
		if t < 0 || int(t) >= v {
			return g.Fail(fmt.Errorf("autograd.PointerCrossEntropy: target %d at row %d is outside [0, %d)", t, i, v))
		}
		count++
	}
	out := g.newVar([]*Var{logits, q, k, gate}, 1)
	if cap(g.rowLosses) < n {
		g.rowLosses = make([]float64, n)
	}
	j := &pointerJob{n: n, v: v, d: d, srcLen: srcLen, src: src, pad: srcPad, owner: rowSource,
		scale: float32(1 / math.Sqrt(float64(d))), logits: logits.Value.Data(),
		q: q.Value.Data(), k: k.Value.Data(), gate: gate.Value.Data(),
		alpha: g.arena.alloc(n * srcLen), lse: g.arena.alloc(n),
		targets: targets, ignore: ignoreIndex, eps: eps, losses: g.rowLosses[:n]}
	j.prepare(g)
	j.run(j.lossRows)
	var total float64
	for i, t := range targets {
		if t != ignoreIndex {
			total += j.losses[i]
		}
	}
	out.Value.Data()[0] = 0
	if count > 0 {
		out.Value.Data()[0] = float32(total / float64(count))
	}
	g.record(node{op: opPointerCrossEntropy, out: out, in: [4]*Var{logits, q, k, gate}, rows: n, cols: v, offset: srcLen,
		ids: src, pad: srcPad, owner: rowSource, mask: j.alpha, lse: j.lse, scale: j.scale,
		targets: targets, ignore: ignoreIndex, eps: eps, counted: count})
	return out
}

func srcPadRow(pad []bool, base, n int) []bool {
	if pad == nil {
		return nil
	}
	return pad[base : base+n]
}

// pointerAttention sets a to softmax(q·k_s·scale) over the positions s
// that pad does not mark (zero at those it does; all zero if every
// position is padding).
func pointerAttention(a, q, k []float32, pad []bool, scale float32) {
	d := len(q)
	m := float32(math.Inf(-1))
	for s := range a {
		if pad != nil && pad[s] {
			a[s] = float32(math.Inf(-1))
			continue
		}
		a[s] = cpu.Dot(q, k[s*d:(s+1)*d]) * scale
		m = max(m, a[s])
	}
	if math.IsInf(float64(m), -1) {
		clear(a)
		return
	}
	sum := cpu.ExpShiftSum(a, m)
	cpu.Scale(1/sum, a)
}

// logSigmoid is log σ(x) = −log(1 + e^−x), stable for either sign.
func logSigmoid(x float32) float32 {
	if x >= 0 {
		return float32(-math.Log1p(math.Exp(-float64(x))))
	}
	return float32(float64(x) - math.Log1p(math.Exp(float64(x))))
}

// logAddExp is log(e^a + e^b).
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}
