package cpu

import (
	"fmt"
	"math"
	"sync"
)

// Attention describes scaled dot-product attention,
//
//	O = softmax(Q·Kᵀ·scale + mask)·V,
//
// over Batch×Heads independent heads with Tq queries and Tk keys/values of
// dimension Dim each. Tensors are float32, contiguous, laid out
// [Batch, Heads, T, Dim], or [Batch, T, Heads, Dim] when SeqMajor is set (the
// layout a [T, Heads·Dim] projection produces, so no transpose is needed).
//
// Forward and Backward are flash attention (Dao et al.) blocked for CPU
// caches: queries in blocks of attnBr rows, keys in blocks of attnBc, the
// softmax computed online (running maximum and sum), so that the Tq×Tk score
// matrix never exists; only O and each row's log-sum-exp are kept for the
// backward pass, which recomputes the probabilities tile by tile. Extra
// memory is a few tiles per thread plus O(Tq) per thread.
type Attention struct {
	Batch, Heads int
	Tq, Tk       int // query and key/value lengths
	Dim          int // head dimension
	// Causal lets query i see key j only when j ≤ i + (Tk - Tq): the usual
	// mask when Tq = Tk, aligned to the end when Tq < Tk (decoding with a
	// cache, where the queries are the last Tq positions).
	Causal bool
	// KeyPad, if not nil, has Batch×Tk entries; true marks a padded key that
	// no query of that batch row sees (PyTorch's key_padding_mask).
	KeyPad []bool
	// Scale multiplies the scores; 0 means 1/sqrt(Dim). T5, which folds
	// the scaling into its initialisation, uses 1.
	Scale float32
	// RelBias, if not nil, is added to the scaled scores before the masks
	// and the softmax: a bias that depends on the head and on the offset
	// between key and query only (T5's relative position bias), so that it
	// costs Heads×(Tq+Tk−1) values instead of Heads×Tq×Tk. Query i and key
	// j of head h get RelBias[h·(Tq+Tk−1) + (j − i) + Tq − 1]; every
	// batch row shares it. The caller folds in where the queries are (with
	// a KV cache, query i is at position i + past).
	RelBias  []float32
	SeqMajor bool
	// InStride, with SeqMajor, is the distance between consecutive rows of
	// q, k and v (and of dq, dk, dv), when they are views into a wider
	// buffer such as a fused [T, 3·Heads·Dim] QKV projection; 0 means
	// Heads·Dim. out and dout are always [Batch, Tq, Heads·Dim].
	InStride int
	// KVStride, with SeqMajor, is the distance between the batch rows of k
	// and v when each row holds more than Tk positions: a KV cache whose
	// rows are laid out at their capacity, of which the first Tk positions
	// are filled. 0 means Tk rows of q's stride. Forward passes only.
	KVStride int
}

// Tile sizes: a 128×128 score tile (64 KiB) and its probability twin stay in
// L2 next to the 128-row query block and the key and value blocks. 128
// query rows rather than 64 put a head of up to 128 positions in one block:
// each of the five products of the backward pass is then one call, one
// pack of each operand, instead of two (the summariser's encoder, 78
// positions and heads of 32: forward 6.5 → 5.7 ms, backward 13.8 → 11.9 ms
// a layer; BenchmarkAttentionSummarizer, results/attention-summarizer).
const (
	attnBr = 128 // query rows per block
	attnBc = 128 // keys per block
)

func (a *Attention) scale() float32 {
	if a.Scale != 0 {
		return a.Scale
	}
	return float32(1 / math.Sqrt(float64(a.Dim)))
}

// head returns the offset of head (b, h) of a tensor with t positions and
// the stride between its rows.
func (a *Attention) head(b, h, t int) (base, stride int) {
	if a.SeqMajor {
		return (b*t*a.Heads + h) * a.Dim, a.Heads * a.Dim
	}
	return (b*a.Heads + h) * t * a.Dim, a.Dim
}

// headIn is head for q, k, v and their gradients, which may be strided
// (InStride).
func (a *Attention) headIn(b, h, t int) (base, stride int) {
	if a.SeqMajor && a.InStride != 0 {
		return b*t*a.InStride + h*a.Dim, a.InStride
	}
	return a.head(b, h, t)
}

// kvHead is headIn for k and v, which may be KVStride apart.
func (a *Attention) kvHead(b, h int) (base, stride int) {
	if a.KVStride != 0 {
		_, stride = a.headIn(0, h, a.Tk)
		return b*a.KVStride + h*a.Dim, stride
	}
	return a.headIn(b, h, a.Tk)
}

func (a *Attention) check(op string, tensors ...namedLen) {
	if a.Batch < 0 || a.Heads < 0 || a.Tq < 0 || a.Tk < 0 || a.Dim < 1 {
		panic(fmt.Sprintf("cpu.Attention.%s: bad sizes batch=%d heads=%d tq=%d tk=%d dim=%d", op, a.Batch, a.Heads, a.Tq, a.Tk, a.Dim))
	}
	if a.InStride != 0 && (!a.SeqMajor || a.InStride < a.Heads*a.Dim) {
		panic(fmt.Sprintf("cpu.Attention.%s: InStride %d needs SeqMajor and at least heads×dim = %d", op, a.InStride, a.Heads*a.Dim))
	}
	if a.KVStride != 0 && (!a.SeqMajor || a.KVStride < a.kvRowLen() || op != "Forward" && op != "ForwardPlain") {
		panic(fmt.Sprintf("cpu.Attention.%s: KVStride %d needs SeqMajor, a forward pass and at least Tk rows (%d elements)", op, a.KVStride, a.kvRowLen()))
	}
	if a.KeyPad != nil && len(a.KeyPad) != a.Batch*a.Tk {
		panic(fmt.Sprintf("cpu.Attention.%s: KeyPad has %d entries, want batch×tk = %d", op, len(a.KeyPad), a.Batch*a.Tk))
	}
	if a.RelBias != nil && len(a.RelBias) != a.Heads*a.biasLen() {
		panic(fmt.Sprintf("cpu.Attention.%s: RelBias has %d entries, want heads×(tq+tk−1) = %d", op, len(a.RelBias), a.Heads*a.biasLen()))
	}
	for _, t := range tensors {
		if t.have < t.want {
			panic(fmt.Sprintf("cpu.Attention.%s: %s has %d elements, want %d", op, t.name, t.have, t.want))
		}
	}
}

type namedLen struct {
	name       string
	have, want int
}

func (a *Attention) qLen() int { return a.Batch * a.Heads * a.Tq * a.Dim }
func (a *Attention) kLen() int {
	if a.KVStride != 0 && a.Batch > 0 {
		return (a.Batch-1)*a.KVStride + a.kvRowLen()
	}
	return a.inLen(a.Tk)
}

// kvRowLen is the extent of one batch row of k or v.
func (a *Attention) kvRowLen() int {
	if a.Tk == 0 {
		return 0
	}
	_, stride := a.headIn(0, 0, a.Tk)
	return (a.Tk-1)*stride + a.Heads*a.Dim
}
func (a *Attention) qInLen() int { return a.inLen(a.Tq) }

// inLen is the length q, k or v (with t rows) must have.
func (a *Attention) inLen(t int) int {
	if a.InStride == 0 || a.Batch*t == 0 {
		return a.Batch * a.Heads * t * a.Dim
	}
	return (a.Batch*t-1)*a.InStride + a.Heads*a.Dim
}
func (a *Attention) lseLen() int { return a.Batch * a.Heads * a.Tq }

// biasLen is the number of offsets j − i a head's RelBias covers.
func (a *Attention) biasLen() int { return max(0, a.Tq+a.Tk-1) }

// addBias adds RelBias to a tile of scores of head h (query rows i0..,
// keys j0.., row stride ld).
func (a *Attention) addBias(s []float32, ld, h, i0, rows, j0, cols int) {
	if a.RelBias == nil {
		return
	}
	base := h*a.biasLen() + j0 - i0 + a.Tq - 1
	for r := 0; r < rows; r++ {
		axpy(1, a.RelBias[base-r:base-r+cols], s[r*ld:r*ld+cols])
	}
}

// Forward computes out = attention(q, k, v) and lse, each row's
// log-sum-exp of its scaled, masked scores ([Batch, Heads, Tq]), which
// Backward needs. A query that sees no key gets zeros and lse = -Inf.
func (a *Attention) Forward(out, lse, q, k, v []float32) {
	a.check("Forward", namedLen{"out", len(out), a.qLen()}, namedLen{"lse", len(lse), a.lseLen()},
		namedLen{"q", len(q), a.qInLen()}, namedLen{"k", len(k), a.kLen()}, namedLen{"v", len(v), a.kLen()})
	if a.Batch*a.Heads*a.Tq == 0 {
		return
	}
	j := getAttnJob()
	defer putAttnJob(j)
	*j = attnJob{a: *a, scale: a.scale(), q: q, k: k, v: v, o: out, lse: lse}
	pool := DefaultPool()
	if a.Tq == 1 {
		j.decode(pool)
		return
	}
	j.qBlocks = (a.Tq + attnBr - 1) / attnBr
	if a.Batch*a.Heads*a.Tq*a.Tk*a.Dim < minAttnParallel {
		runSerial(a.Batch*a.Heads*j.qBlocks, j)
		return
	}
	pool.Run(a.Batch*a.Heads*j.qBlocks, j)
}

// minAttnParallel is the least work (query-key pairs × head width, about
// two flops each way) an attention hands to the pool: below it, the
// threads' wake-up and join cost more than they save (a decoding step of
// a small model attends over a few dozen keys per head).
const minAttnParallel = 1 << 16

// Backward computes the gradients dq, dk and dv (overwritten) from the
// forward inputs, its out and lse, and the gradient of the output dout:
//
//	P = exp(Q·Kᵀ·scale - lse), D = rowsum(dO∘O),
//	dV = Pᵀ·dO, dS = P∘(dO·Vᵀ - D), dQ = dS·K·scale, dK = dSᵀ·Q·scale.
//
// Each head is one piece of work, so dK and dV are written without races.
func (a *Attention) Backward(dq, dk, dv, q, k, v, out, lse, dout []float32) {
	a.BackwardBias(dq, dk, dv, nil, q, k, v, out, lse, dout)
}

// BackwardBias is Backward that also returns the gradient of RelBias: dbias
// (nil when not wanted) gets, for each batch row and head, the sum of dS
// over the query-key pairs of each offset, [Batch, Heads, Tq+Tk−1],
// overwritten; the caller sums the batch rows.
func (a *Attention) BackwardBias(dq, dk, dv, dbias, q, k, v, out, lse, dout []float32) {
	a.check("Backward", namedLen{"dq", len(dq), a.qInLen()}, namedLen{"dk", len(dk), a.kLen()}, namedLen{"dv", len(dv), a.kLen()},
		namedLen{"q", len(q), a.qInLen()}, namedLen{"k", len(k), a.kLen()}, namedLen{"v", len(v), a.kLen()},
		namedLen{"out", len(out), a.qLen()}, namedLen{"lse", len(lse), a.lseLen()}, namedLen{"dout", len(dout), a.qLen()})
	if dbias != nil && len(dbias) < a.Batch*a.Heads*a.biasLen() {
		panic(fmt.Sprintf("cpu.Attention.Backward: dbias has %d elements, want batch×heads×(tq+tk−1) = %d", len(dbias), a.Batch*a.Heads*a.biasLen()))
	}
	if a.Batch*a.Heads == 0 {
		return
	}
	j := getAttnJob()
	defer putAttnJob(j)
	*j = attnJob{a: *a, scale: a.scale(), q: q, k: k, v: v, o: out, lse: lse, do: dout, dq: dq, dk: dk, dv: dv, dbias: dbias, backward: true}
	DefaultPool().Run(a.Batch*a.Heads, j)
}

var attnJobs struct {
	sync.Mutex
	free []*attnJob
}

// getAttnJob returns a job from a free list (kept across GCs), so that an
// attention call allocates nothing in steady state.
func getAttnJob() *attnJob {
	attnJobs.Lock()
	defer attnJobs.Unlock()
	if n := len(attnJobs.free); n > 0 {
		j := attnJobs.free[n-1]
		attnJobs.free = attnJobs.free[:n-1]
		return j
	}
	return new(attnJob)
}

func putAttnJob(j *attnJob) {
	*j = attnJob{}
	attnJobs.Lock()
	attnJobs.free = append(attnJobs.free, j)
	attnJobs.Unlock()
}

type attnJob struct {
	a                   Attention // a copy, so that callers' Attention values stay on their stacks
	scale               float32
	q, k, v, o, lse, do []float32
	dq, dk, dv          []float32
	dbias               []float32 // [Batch, Heads, Tq+Tk−1], or nil
	backward            bool
	qBlocks             int
	splits              int       // decode: key ranges per head
	partial             []float32 // decode: per (head, split): m, l, o[Dim]
}

func (j *attnJob) Do(part int) {
	s := getAttnScratch(&j.a)
	switch {
	case j.splits > 0:
		j.decodePart(s, part)
	case j.backward:
		j.backwardHead(s, part/j.a.Heads, part%j.a.Heads)
	default:
		bh := part / j.qBlocks
		j.forwardBlock(s, bh/j.a.Heads, bh%j.a.Heads, (part%j.qBlocks)*attnBr)
	}
	putAttnScratch(s)
}

type attnScratch struct {
	s, p, acc, m, l, dsum, dkAcc, dvAcc []float32
}

var attnScratches struct {
	sync.Mutex
	free []*attnScratch
}

func grow(x []float32, n int) []float32 {
	if cap(x) < n {
		return make([]float32, n)
	}
	return x[:n]
}

func getAttnScratch(a *Attention) *attnScratch {
	f := &attnScratches
	f.Lock()
	var s *attnScratch
	if n := len(f.free); n > 0 {
		s, f.free = f.free[n-1], f.free[:n-1]
	}
	f.Unlock()
	if s == nil {
		s = new(attnScratch)
	}
	s.s = grow(s.s, attnBr*attnBc)
	s.p = grow(s.p, attnBr*attnBc)
	s.acc = grow(s.acc, max(attnBr, 1)*a.Dim)
	s.m = grow(s.m, max(attnBr, a.Tk))
	s.l = grow(s.l, attnBr)
	s.dsum = grow(s.dsum, a.Tq)
	s.dkAcc = grow(s.dkAcc, attnBc*a.Dim)
	s.dvAcc = grow(s.dvAcc, attnBc*a.Dim)
	return s
}

func putAttnScratch(s *attnScratch) {
	f := &attnScratches
	f.Lock()
	f.free = append(f.free, s)
	f.Unlock()
}

var negInf = float32(math.Inf(-1))

// visibleEnd returns the end of the keys query row i can see under the
// causal mask (all keys without it).
func (a *Attention) visibleEnd(i int) int {
	if !a.Causal {
		return a.Tk
	}
	return min(a.Tk, max(0, i+1+a.Tk-a.Tq))
}

// maskTile sets the masked scores of a tile (query rows i0.., keys j0..,
// row stride ld) to -Inf.
func (a *Attention) maskTile(s []float32, ld, b, i0, rows, j0, cols int) {
	if a.Causal {
		for r := 0; r < rows; r++ {
			for c := max(0, a.visibleEnd(i0+r)-j0); c < cols; c++ {
				s[r*ld+c] = negInf
			}
		}
	}
	if a.KeyPad != nil {
		for c, padded := range a.KeyPad[b*a.Tk+j0 : b*a.Tk+j0+cols] {
			if padded {
				for r := 0; r < rows; r++ {
					s[r*ld+c] = negInf
				}
			}
		}
	}
}

// forwardBlock computes query rows [i0, i0+attnBr) of head (b, h).
func (j *attnJob) forwardBlock(sc *attnScratch, b, h, i0 int) {
	a := &j.a
	d := a.Dim
	rows := min(attnBr, a.Tq-i0)
	qb, qs := a.headIn(b, h, a.Tq)
	kb, ks := a.kvHead(b, h)
	ob, os := a.head(b, h, a.Tq)
	m, l, acc := sc.m[:rows], sc.l[:rows], sc.acc[:rows*d]
	for r := range m {
		m[r], l[r] = negInf, 0
	}
	clear(acc)
	jEnd := a.visibleEnd(i0 + rows - 1)
	s := sc.s
	for j0 := 0; j0 < jEnd; j0 += attnBc {
		cols := min(attnBc, jEnd-j0)
		sgemmSerial(false, true, rows, cols, d, j.scale, j.q[qb+i0*qs:], qs, j.k[kb+j0*ks:], ks, 0, s, attnBc)
		a.addBias(s, attnBc, h, i0, rows, j0, cols)
		a.maskTile(s, attnBc, b, i0, rows, j0, cols)
		for r := 0; r < rows; r++ {
			row := s[r*attnBc : r*attnBc+cols]
			mNew := max(m[r], maxOf(row))
			if mNew == negInf { // nothing visible yet
				clear(row)
				continue
			}
			corr := Exp32(m[r] - mNew) // 0 when m was -Inf
			l[r] = l[r]*corr + expShiftSum(row, mNew)
			if corr != 1 {
				Scale(corr, acc[r*d:(r+1)*d])
			}
			m[r] = mNew
		}
		sgemmSerial(false, false, rows, d, cols, 1, s, attnBc, j.v[kb+j0*ks:], ks, 1, acc, d)
	}
	lb := (b*a.Heads+h)*a.Tq + i0
	for r := 0; r < rows; r++ {
		o := j.o[ob+(i0+r)*os : ob+(i0+r)*os+d]
		if l[r] == 0 {
			clear(o)
			j.lse[lb+r] = negInf
			continue
		}
		inv := 1 / l[r]
		for x, v := range acc[r*d : (r+1)*d] {
			o[x] = v * inv
		}
		j.lse[lb+r] = m[r] + float32(math.Log(float64(l[r])))
	}
}

// backwardHead computes dQ, dK and dV of head (b, h): key blocks outside,
// query blocks inside (FlashAttention-2's order), so that a key block's dK
// and dV accumulate in scratch and dQ accumulates in place.
func (j *attnJob) backwardHead(sc *attnScratch, b, h int) {
	a := &j.a
	d := a.Dim
	qb, qs := a.headIn(b, h, a.Tq)
	kb, ks := a.kvHead(b, h)
	ob, os := a.head(b, h, a.Tq)
	lb := (b*a.Heads + h) * a.Tq
	var dbias []float32
	if j.dbias != nil {
		n := a.biasLen()
		dbias = j.dbias[(b*a.Heads+h)*n : (b*a.Heads+h+1)*n]
		clear(dbias)
	}
	dsum := sc.dsum[:a.Tq]
	for i := range dsum {
		off := ob + i*os
		dsum[i] = dot(j.do[off:off+d], j.o[off:off+d])
		clear(j.dq[qb+i*qs : qb+i*qs+d])
	}
	s, p := sc.s, sc.p
	for j0 := 0; j0 < a.Tk; j0 += attnBc {
		cols := min(attnBc, a.Tk-j0)
		dkAcc, dvAcc := sc.dkAcc[:cols*d], sc.dvAcc[:cols*d]
		clear(dkAcc)
		clear(dvAcc)
		iStart := 0
		if a.Causal { // the first query that sees key j0
			iStart = max(0, j0-(a.Tk-a.Tq)) / attnBr * attnBr
		}
		for i0 := iStart; i0 < a.Tq; i0 += attnBr {
			rows := min(attnBr, a.Tq-i0)
			qi, doi := j.q[qb+i0*qs:], j.do[ob+i0*os:]
			kj, vj := j.k[kb+j0*ks:], j.v[kb+j0*ks:]
			sgemmSerial(false, true, rows, cols, d, j.scale, qi, qs, kj, ks, 0, s, attnBc)
			a.addBias(s, attnBc, h, i0, rows, j0, cols)
			a.maskTile(s, attnBc, b, i0, rows, j0, cols)
			for r := 0; r < rows; r++ {
				row := s[r*attnBc : r*attnBc+cols]
				if lse := j.lse[lb+i0+r]; lse != negInf {
					expShiftSum(row, lse)
				} else {
					clear(row)
				}
			}
			// s holds P now.
			sgemmSerial(true, false, cols, d, rows, 1, s, attnBc, doi, os, 1, dvAcc, d)
			sgemmSerial(false, true, rows, cols, d, 1, doi, os, vj, ks, 0, p, attnBc)
			for r := 0; r < rows; r++ {
				pr := s[r*attnBc : r*attnBc+cols]
				dp := p[r*attnBc : r*attnBc+cols]
				di := dsum[i0+r]
				for c, pv := range pr {
					dp[c] = pv * (dp[c] - di)
				}
			}
			// p holds dS now: the gradient of the biased scores, so the
			// bias of each offset gathers it.
			if dbias != nil {
				base := j0 - i0 + a.Tq - 1
				for r := 0; r < rows; r++ {
					axpy(1, p[r*attnBc:r*attnBc+cols], dbias[base-r:base-r+cols])
				}
			}
			sgemmSerial(false, false, rows, d, cols, j.scale, p, attnBc, kj, ks, 1, j.dq[qb+i0*qs:], qs)
			sgemmSerial(true, false, cols, d, rows, j.scale, p, attnBc, qi, qs, 1, dkAcc, d)
		}
		for c := 0; c < cols; c++ {
			off := kb + (j0+c)*ks
			copy(j.dk[off:off+d], dkAcc[c*d:(c+1)*d])
			copy(j.dv[off:off+d], dvAcc[c*d:(c+1)*d])
		}
	}
}

// decode is the forward pass for a single query row per head (generation
// with a KV cache): the keys of each head are split into ranges that run in
// parallel, each producing a partial maximum, sum and output, merged after.
func (j *attnJob) decode(pool *Pool) {
	a := &j.a
	heads := a.Batch * a.Heads
	const minKeys = 256
	j.splits = max(1, min((a.Tk+minKeys-1)/minKeys, (2*pool.Threads()+heads-1)/heads))
	width := a.Dim + 2
	j.partial = getPartials(heads * j.splits * width)
	if heads*a.Tk*a.Dim < minAttnParallel {
		runSerial(heads*j.splits, j)
	} else {
		pool.Run(heads*j.splits, j)
	}
	for hd := 0; hd < heads; hd++ {
		b, h := hd/a.Heads, hd%a.Heads
		qb, _ := a.head(b, h, 1)
		o := j.o[qb : qb+a.Dim]
		parts := j.partial[hd*j.splits*width : (hd+1)*j.splits*width]
		mAll := negInf
		for sp := 0; sp < j.splits; sp++ {
			mAll = max(mAll, parts[sp*width])
		}
		clear(o)
		if mAll == negInf {
			j.lse[hd] = negInf
			continue
		}
		var lAll float32
		for sp := 0; sp < j.splits; sp++ {
			pm := parts[sp*width : (sp+1)*width]
			if pm[0] == negInf {
				continue
			}
			w := Exp32(pm[0] - mAll)
			lAll += pm[1] * w
			axpy(w, pm[2:], o)
		}
		Scale(1/lAll, o)
		j.lse[hd] = mAll + float32(math.Log(float64(lAll)))
	}
	putPartials(j.partial)
}

// decodePart computes one key range of one head: its maximum score, the sum
// of exp(score - maximum) and the unnormalised output.
func (j *attnJob) decodePart(sc *attnScratch, part int) {
	a := &j.a
	hd, sp := part/j.splits, part%j.splits
	b, h := hd/a.Heads, hd%a.Heads
	width := a.Dim + 2
	out := j.partial[part*width : (part+1)*width]
	per := (a.Tk + j.splits - 1) / j.splits
	k0, k1 := sp*per, min(a.Tk, (sp+1)*per)
	k1 = min(k1, a.visibleEnd(0))
	out[0], out[1] = negInf, 0
	o := out[2:]
	clear(o)
	if k0 >= k1 {
		return
	}
	qb, _ := a.headIn(b, h, 1)
	kb, ks := a.kvHead(b, h)
	q := j.q[qb : qb+a.Dim]
	s := sc.m[:k1-k0]
	dots(q, j.k[kb+k0*ks:], ks, j.scale, s)
	if a.RelBias != nil { // Tq = 1: key j has offset j
		axpy(1, a.RelBias[h*a.Tk+k0:h*a.Tk+k1], s)
	}
	if a.KeyPad != nil {
		for c, padded := range a.KeyPad[b*a.Tk+k0 : b*a.Tk+k1] {
			if padded {
				s[c] = negInf
			}
		}
	}
	m := maxOf(s)
	if m == negInf {
		return
	}
	out[0], out[1] = m, expShiftSum(s, m)
	axpys(s, j.v[kb+k0*ks:], ks, o)
}

var partials struct {
	sync.Mutex
	free [][]float32
}

func getPartials(n int) []float32 {
	partials.Lock()
	defer partials.Unlock()
	if k := len(partials.free); k > 0 {
		p := partials.free[k-1]
		partials.free = partials.free[:k-1]
		return grow(p, n)
	}
	return make([]float32, n)
}

func putPartials(p []float32) {
	partials.Lock()
	partials.free = append(partials.free, p)
	partials.Unlock()
}
