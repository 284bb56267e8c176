package cpu

import (
	"fmt"
	"math"
)

func checkLen(op string, n int, xs ...[]float32) {
	for i, x := range xs {
		if len(x) < n {
			panic(fmt.Sprintf("cpu.%s: argument %d has length %d, need %d", op, i, len(x), n))
		}
	}
}

// Add sets dst[i] = a[i] + b[i] for i < len(dst), split over the kernels'
// threads.
func Add(dst, a, b []float32) {
	n := len(dst)
	checkLen("Add", n, a, b)
	parallelMap(addSpan, dst, a[:n], b[:n])
}

func addSpan(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// Scale sets x[i] *= alpha.
func Scale(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// Axpy sets y[i] += alpha·x[i] for i < len(y).
func Axpy(alpha float32, x, y []float32) {
	checkLen("Axpy", len(y), x)
	axpy(alpha, x[:len(y)], y)
}

func axpyGo(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}

// Dot returns the sum of x[i]·y[i] for i < len(x), accumulated in float32
// in eight interleaved partial sums (as a vectorised loop would).
func Dot(x, y []float32) float32 {
	checkLen("Dot", len(x), y)
	return dot(x, y[:len(x)])
}

// dotsGo is dots' Go twin: dot per key.
func dotsGo(q, k []float32, ks int, scale float32, out []float32) {
	for c := range out {
		out[c] = scale * dot(q, k[c*ks:c*ks+len(q)])
	}
}

// axpysGo is axpys' Go twin: axpy per key.
func axpysGo(p, v []float32, ks int, o []float32) {
	for c, pc := range p {
		if pc != 0 {
			axpy(pc, v[c*ks:c*ks+len(o)], o)
		}
	}
}

// dot4Go is dot4's Go twin.
func dot4Go(a []float32, lda int, w []float32, out *[4]float32) {
	for r := range out {
		out[r] = dotGo(a[r*lda:r*lda+len(w)], w)
	}
}

func dot1x8Go(a []float32, w []float32, ldw, n int, out *[8]float32) {
	for c := range out {
		out[c] = dotGo(a[:n], w[c*ldw:c*ldw+n])
	}
}

func dot8Go(a []float32, lda int, w []float32, out *[8]float32) {
	for r := range out {
		out[r] = dotGo(a[r*lda:r*lda+len(w)], w)
	}
}

func dot8x2Go(a []float32, lda int, w []float32, ldw, n int, out *[16]float32) {
	var e [8]float32
	dot8(a, lda, w[:n], &e)
	copy(out[:8], e[:])
	dot8(a, lda, w[ldw:ldw+n], &e)
	copy(out[8:], e[:])
}

// dot8x4Go is dot8x4's Go twin: dot8 per weight row.
func dot8x4Go(a []float32, lda int, w []float32, ldw, n int, out *[32]float32) {
	var e [8]float32
	for c := range 4 {
		dot8(a, lda, w[c*ldw:c*ldw+n], &e)
		copy(out[c*8:], e[:])
	}
}

func dotGo(x, y []float32) float32 {
	var s [8]float32
	n := len(x) &^ 7
	y = y[:len(x)]
	for i := 0; i < n; i += 8 {
		xs, ys := x[i:i+8:i+8], y[i:i+8:i+8]
		s[0] += xs[0] * ys[0]
		s[1] += xs[1] * ys[1]
		s[2] += xs[2] * ys[2]
		s[3] += xs[3] * ys[3]
		s[4] += xs[4] * ys[4]
		s[5] += xs[5] * ys[5]
		s[6] += xs[6] * ys[6]
		s[7] += xs[7] * ys[7]
	}
	for i := n; i < len(x); i++ {
		s[i-n] += x[i] * y[i]
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

// Sum returns the sum of x, accumulated in float64.
func Sum(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// Exp32 is exp for float32: Cody-Waite range reduction and a degree-6
// polynomial (the Cephes expf scheme), within 2 ulp of the true value over
// the whole float32 range. Exp32(-Inf) = 0, Exp32(+Inf) = +Inf, NaN stays NaN.
func Exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2Hi = 0.693359375
		ln2Lo = -2.12194440e-4
		maxX  = 88.72283905206835 // ln(MaxFloat32)
		minX  = -103.97207708     // below: underflows to 0
	)
	switch {
	case x != x:
		return x
	case x > maxX:
		return float32(math.Inf(1))
	case x < minX:
		return 0
	}
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2Hi - n*ln2Lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	// Multiply by 2^n in two steps so that n down to -150 (subnormal
	// results) and up to 128 stay exact.
	ni := int32(n)
	if ni < -126 {
		p *= math.Float32frombits(uint32(ni+126+127) << 23)
		ni = -126
	} else if ni > 127 {
		p *= 2
		ni--
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}

// Exp sets dst[i] = Exp32(x[i]).
func Exp(dst, x []float32) {
	checkLen("Exp", len(dst), x)
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = Exp32(v)
	}
}

// Tanh32 is tanh for float32: a minimax polynomial for |x| < 0.625 (Cephes
// tanhf) and 1 - 2/(e^{2|x|}+1) above, within a few ulp.
func Tanh32(x float32) float32 {
	ax := x
	if ax < 0 {
		ax = -ax
	}
	if ax < 0.625 {
		z := x * x
		p := float32(-5.70498872745e-3)
		p = p*z + 2.06390887954e-2
		p = p*z - 5.37397155531e-2
		p = p*z + 1.33314422036e-1
		p = p*z - 3.33332819422e-1
		return x + x*z*p
	}
	if ax > 9.02 { // tanh rounds to ±1 in float32
		return float32(math.Copysign(1, float64(x)))
	}
	t := 1 - 2/(Exp32(2*ax)+1)
	if x < 0 {
		return -t
	}
	return t
}

// SoftmaxRows computes, for each of the rows of cols values in x, the
// numerically stable softmax exp(x-max)/Σexp(x-max) into dst (which may be
// x). A row whose values are all -Inf (fully masked) becomes all zeros.
func SoftmaxRows(dst, x []float32, rows, cols int) {
	checkLen("SoftmaxRows", rows*cols, dst, x)
	for r := 0; r < rows; r++ {
		softmaxRow(dst[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols])
	}
}

func softmaxRow(dst, x []float32) {
	copy(dst, x[:len(dst)])
	m := maxOf(dst)
	if m == float32(math.Inf(-1)) {
		clear(dst)
		return
	}
	// Vector exp-and-sum in chunks, the chunks summed in float64, so that
	// long rows keep their precision.
	const chunk = 256
	var sum float64
	for i := 0; i < len(dst); i += chunk {
		sum += float64(expShiftSum(dst[i:min(i+chunk, len(dst))], m))
	}
	Scale(float32(1/sum), dst)
}

// SoftmaxRowsBackward computes dx = y∘(dy - Σ(dy∘y)) row by row, given the
// softmax output y and the gradient dy; dx may alias dy.
func SoftmaxRowsBackward(dx, y, dy []float32, rows, cols int) {
	checkLen("SoftmaxRowsBackward", rows*cols, dx, y, dy)
	for r := 0; r < rows; r++ {
		ys, dys, dxs := y[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		var s float64
		for i, v := range ys {
			s += float64(v) * float64(dys[i])
		}
		sf := float32(s)
		for i, v := range ys {
			dxs[i] = v * (dys[i] - sf)
		}
	}
}

// LayerNorm normalises each of the rows of cols values in x to zero mean and
// unit variance and applies the affine map: y = (x-mean)·rstd·gamma + beta,
// rstd = 1/sqrt(var + eps) with the biased variance (as PyTorch). The
// statistics are accumulated in float64. mean and rstd (length rows) receive
// each row's statistics for the backward pass; either may be nil.
func LayerNorm(y, x, gamma, beta, mean, rstd []float32, rows, cols int, eps float32) {
	checkLen("LayerNorm", rows*cols, y, x)
	checkLen("LayerNorm", cols, gamma, beta)
	if mean != nil {
		checkLen("LayerNorm", rows, mean)
	}
	if rstd != nil {
		checkLen("LayerNorm", rows, rstd)
	}
	parallelRows(rows, cols, layerNormRows, [6][]float32{y, x, gamma[:cols], beta[:cols], mean, rstd}, eps)
}

// layerNormRows is LayerNorm on rows [r0, r1).
func layerNormRows(j *rowsJob, r0, r1 int) {
	y, x, gamma, beta, mean, rstd := j.f[0], j.f[1], j.f[2], j.f[3], j.f[4], j.f[5]
	cols := j.cols
	for r := r0; r < r1; r++ {
		xs, ys := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		var s float64
		for _, v := range xs {
			s += float64(v)
		}
		mu := s / float64(cols)
		var ss float64
		for _, v := range xs {
			d := float64(v) - mu
			ss += d * d
		}
		rs := 1 / math.Sqrt(ss/float64(cols)+float64(j.eps))
		m32, r32 := float32(mu), float32(rs)
		for i, v := range xs {
			ys[i] = (v-m32)*r32*gamma[i] + beta[i]
		}
		if mean != nil {
			mean[r] = m32
		}
		if rstd != nil {
			rstd[r] = r32
		}
	}
}

// LayerNormBackward computes the gradient of LayerNorm: dx (overwritten) and
// dgamma, dbeta (accumulated into), from the input x, the saved mean and
// rstd, and the output gradient dy:
//
//	xhat = (x-mean)·rstd, g = dy∘gamma,
//	dx = rstd·(g - mean(g) - xhat·mean(g∘xhat)),
//	dgamma += Σ_rows dy∘xhat, dbeta += Σ_rows dy.
func LayerNormBackward(dx, dgamma, dbeta, x, gamma, mean, rstd, dy []float32, rows, cols int) {
	checkLen("LayerNormBackward", rows*cols, dx, x, dy)
	checkLen("LayerNormBackward", cols, dgamma, dbeta, gamma)
	checkLen("LayerNormBackward", rows, mean, rstd)
	// dx row by row; then dgamma and dbeta column by column, each summed
	// over the rows in order (so the split changes no result).
	parallelRows(rows, cols, layerNormBackwardRows, [6][]float32{dx, x, gamma[:cols], mean, rstd, dy}, 0)
	parallelRows(cols, rows, layerNormParamGrads, [6][]float32{dgamma[:cols], dbeta[:cols], x, mean, rstd, dy}, 0)
}

// layerNormBackwardRows computes dx for rows [r0, r1).
func layerNormBackwardRows(j *rowsJob, r0, r1 int) {
	dx, x, gamma, mean, rstd, dy := j.f[0], j.f[1], j.f[2], j.f[3], j.f[4], j.f[5]
	cols := j.cols
	for r := r0; r < r1; r++ {
		xs, dys, dxs := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		mu, rs := mean[r], rstd[r]
		var sg, sgx float64
		for i, v := range xs {
			xh := (v - mu) * rs
			g := dys[i] * gamma[i]
			sg += float64(g)
			sgx += float64(g * xh)
		}
		mg, mgx := float32(sg/float64(cols)), float32(sgx/float64(cols))
		for i, v := range xs {
			xh := (v - mu) * rs
			dxs[i] = rs * (dys[i]*gamma[i] - mg - xh*mgx)
		}
	}
}

// layerNormParamGrads adds to dgamma and dbeta their sums over all rows
// for columns [c0, c1) (the job's rows are LayerNorm's columns: j.cols is
// LayerNorm's row count).
func layerNormParamGrads(j *rowsJob, c0, c1 int) {
	dgamma, dbeta, x, mean, rstd, dy := j.f[0], j.f[1], j.f[2], j.f[3], j.f[4], j.f[5]
	rows, cols := j.cols, len(dgamma)
	dg, db := dgamma[c0:c1], dbeta[c0:c1]
	for r := 0; r < rows; r++ {
		xs, dys := x[r*cols+c0:r*cols+c1], dy[r*cols+c0:r*cols+c1]
		xs, dys = xs[:len(dg)], dys[:len(dg)]
		mu, rs := mean[r], rstd[r]
		for i, v := range xs {
			xh := (v - mu) * rs
			dg[i] += dys[i] * xh
			db[i] += dys[i]
		}
	}
}

// RMSNorm sets y = x·rstd·gamma per row, rstd = 1/sqrt(mean(x²) + eps):
// the layer norm without a mean or a bias (T5's T5LayerNorm; the mean of
// squares accumulated in float64). rstd, if not nil, gets each row's rstd.
func RMSNorm(y, x, gamma, rstd []float32, rows, cols int, eps float32) {
	checkLen("RMSNorm", rows*cols, y, x)
	checkLen("RMSNorm", cols, gamma)
	gamma = gamma[:cols]
	for r := 0; r < rows; r++ {
		xs, ys := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		var ss float64
		for _, v := range xs {
			ss += float64(v) * float64(v)
		}
		r32 := float32(1 / math.Sqrt(ss/float64(cols)+float64(eps)))
		for i, v := range xs {
			ys[i] = v * r32 * gamma[i]
		}
		if rstd != nil {
			rstd[r] = r32
		}
	}
}

// RMSNormBackward computes the gradient of RMSNorm: dx (overwritten) and
// dgamma (accumulated into), from x, the saved rstd and dy:
//
//	xhat = x·rstd, g = dy∘gamma,
//	dx = rstd·(g − xhat·mean(g∘xhat)), dgamma += Σ_rows dy∘xhat.
func RMSNormBackward(dx, dgamma, x, gamma, rstd, dy []float32, rows, cols int) {
	checkLen("RMSNormBackward", rows*cols, dx, x, dy)
	checkLen("RMSNormBackward", cols, dgamma, gamma)
	checkLen("RMSNormBackward", rows, rstd)
	dgamma, gamma = dgamma[:cols], gamma[:cols]
	for r := 0; r < rows; r++ {
		xs, dys, dxs := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		rs := rstd[r]
		var sgx float64
		for i, v := range xs {
			xh := v * rs
			sgx += float64(dys[i] * gamma[i] * xh)
			dgamma[i] += dys[i] * xh
		}
		mgx := float32(sgx / float64(cols))
		for i, v := range xs {
			dxs[i] = rs * (dys[i]*gamma[i] - v*rs*mgx)
		}
	}
}

const (
	geluC = 0.7978845608028654 // sqrt(2/pi)
	geluK = 0.044715
)

// GELU sets y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the tanh form
// GPT-2 uses.
func GELU(y, x []float32) {
	checkLen("GELU", len(y), x)
	parallelMap(geluSpan, y, x[:len(y)], nil)
}

func geluSpan(y, x, _ []float32) {
	if geluVec(y, x) {
		return
	}
	for i, v := range x {
		y[i] = geluScalar(v)
	}
}

// geluScalar is GELU of one value in the form without cancellation,
// x·σ(2u) = x/(1 + exp(−2u)) = 0.5·x·(1 + tanh(u)): 1 + tanh(u) loses
// the digits of small results for negative x (1e-5 relative at x = −3.5).
func geluScalar(v float32) float32 {
	return v / (1 + Exp32(-2*geluC*(v+geluK*v*v*v)))
}

// GELUBackward sets dx = dy·GELU'(x) for the tanh form; dx may alias dy.
func GELUBackward(dx, x, dy []float32) {
	checkLen("GELUBackward", len(dx), x, dy)
	parallelMap(geluBackwardSpan, dx, x[:len(dx)], dy[:len(dx)])
}

func geluBackwardSpan(dx, x, dy []float32) {
	if geluBackwardVec(dx, x, dy) {
		return
	}
	geluBackwardGo(dx, x, dy)
}

// geluBackwardGo computes GELU'(x) = s + 2·x·s(1−s)·√(2/π)(1 + 3·0.044715x²)
// with s = σ(2u) = 1/(1 + e), e = exp(−2u), as the assembly kernels do:
// s(1−s) = s·(s·e) keeps its relative precision where s → 1, and s itself
// where s → 0 (the form with tanh, 0.5·(1 + t), lost a quarter of the
// value at x = −4.9). −2u is capped at 80 so that e stays finite.
func geluBackwardGo(dx, x, dy []float32) {
	for i, v := range x {
		m2u := -2 * geluC * (v + geluK*v*v*v)
		if m2u > 80 {
			m2u = 80
		}
		e := Exp32(m2u)
		s := 1 / (1 + e)
		du := geluC * (1 + 3*geluK*v*v)
		dx[i] = dy[i] * (s + 2*(v*(s*(s*e)*du)))
	}
}

// ReLU sets y = max(x, 0).
func ReLU(y, x []float32) {
	checkLen("ReLU", len(y), x)
	parallelMap(reluSpan, y, x[:len(y)], nil)
}

func reluSpan(y, x, _ []float32) {
	n := reluVec(y, x)
	y, x = y[n:], x[n:]
	for i, v := range x {
		if v > 0 {
			y[i] = v
		} else {
			y[i] = 0
		}
	}
}

// ReLUBackward sets dx = dy where x > 0 and 0 elsewhere; dx may alias dy.
func ReLUBackward(dx, x, dy []float32) {
	checkLen("ReLUBackward", len(dx), x, dy)
	parallelMap(reluBackwardSpan, dx, x[:len(dx)], dy[:len(dx)])
}

func reluBackwardSpan(dx, x, dy []float32) {
	n := reluBackwardVec(dx, x, dy, false)
	dx, x, dy = dx[n:], x[n:], dy[n:]
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// ReLUBackwardAdd adds dy to dx where x > 0.
func ReLUBackwardAdd(dx, x, dy []float32) {
	checkLen("ReLUBackwardAdd", len(dx), x, dy)
	parallelMap(reluBackwardAddSpan, dx, x[:len(dx)], dy[:len(dx)])
}

func reluBackwardAddSpan(dx, x, dy []float32) {
	n := reluBackwardVec(dx, x, dy, true)
	dx, x, dy = dx[n:], x[n:], dy[n:]
	for i, v := range x {
		if v > 0 {
			dx[i] += dy[i]
		}
	}
}

// AdamWParams are the scalars of one AdamW step.
type AdamWParams struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int // 1 for the first step
}

// AdamW applies one fused AdamW step (Loshchilov and Hutter; PyTorch's
// torch.optim.AdamW arithmetic) to the parameters p given their gradients g
// and the moment estimates m and v, all updated in place:
//
//	p ← p·(1 - lr·wd)
//	m ← β1·m + (1-β1)·g,  v ← β2·v + (1-β2)·g²
//	p ← p - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)
func AdamW(p, g, m, v []float32, h AdamWParams) {
	checkLen("AdamW", len(p), g, m, v)
	if h.Step < 1 {
		panic(fmt.Sprintf("cpu.AdamW: step %d, want ≥ 1", h.Step))
	}
	bc1 := 1 - math.Pow(float64(h.Beta1), float64(h.Step))
	bc2 := 1 - math.Pow(float64(h.Beta2), float64(h.Step))
	stepSize := float32(float64(h.LR) / bc1)
	invSqrtBc2 := float32(1 / math.Sqrt(bc2))
	decay := 1 - h.LR*h.WeightDecay
	b1, b2 := h.Beta1, h.Beta2
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i := range p {
		gi := g[i]
		mi := b1*m[i] + (1-b1)*gi
		vi := b2*v[i] + (1-b2)*gi*gi
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))*invSqrtBc2 + h.Eps
		p[i] = p[i]*decay - stepSize*mi/denom
	}
}

// ExpShiftSum sets x[i] = exp(x[i] - shift) in place and returns the sum of
// the results (in float32): the inner step of a softmax. Values below
// about -87 after the shift (and -Inf) give 0.
func ExpShiftSum(x []float32, shift float32) float32 { return expShiftSum(x, shift) }

func expShiftSumGo(x []float32, shift float32) float32 {
	var s float32
	for i, v := range x {
		e := Exp32(v - shift)
		x[i] = e
		s += e
	}
	return s
}

// Max returns the largest element of x, or -Inf if x is empty.
func Max(x []float32) float32 { return maxOf(x) }

func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// GELUErf sets y = x·Φ(x), the exact (erf) GELU, with Φ computed from a
// complementary error function accurate to about 1.2e-7 relative
// everywhere (so the negative tail keeps its relative precision), split
// over the kernels' threads.
func GELUErf(y, x []float32) {
	checkLen("GELUErf", len(y), x)
	parallelMap(geluErfSpan, y, x[:len(y)], nil)
}

func geluErfSpan(y, x, _ []float32) {
	if geluErfVec(y, x) {
		return
	}
	for i, v := range x {
		y[i] = v * normalCDF(v)
	}
}

// GELUErfBackward sets dx = dy·GELU'(x) for the exact GELU:
// GELU'(x) = Φ(x) + x·φ(x); dx may alias dy.
func GELUErfBackward(dx, x, dy []float32) {
	checkLen("GELUErfBackward", len(dx), x, dy)
	parallelMap(geluErfBackwardSpan, dx, x[:len(dx)], dy[:len(dx)])
}

func geluErfBackwardSpan(dx, x, dy []float32) {
	const invSqrt2Pi = 0.3989422804014327
	lo := geluErfBackwardVec(dx, x, dy)
	for i, v := range x[lo:] {
		dx[lo+i] = dy[lo+i] * (normalCDF(v) + v*invSqrt2Pi*Exp32(-0.5*v*v))
	}
}

// normalCDF is Φ(x) = erfc(-x/√2)/2, from erfcPositive on |x|/√2.
func normalCDF(x float32) float32 {
	z := x * 0.70710678118654752
	if z < 0 {
		return 0.5 * erfcPositive(-z)
	}
	return 1 - 0.5*erfcPositive(z)
}

// erfcPositive is erfc(z) for z ≥ 0 by the Chebyshev fit of Numerical
// Recipes (erfcc), whose fractional error is below 1.2e-7 everywhere.
func erfcPositive(z float32) float32 {
	t := 1 / (1 + 0.5*z)
	p := float32(0.17087277)
	p = p*t - 0.82215223
	p = p*t + 1.48851587
	p = p*t - 1.13520398
	p = p*t + 0.27886807
	p = p*t - 0.18628806
	p = p*t + 0.09678418
	p = p*t + 0.37409196
	p = p*t + 1.00002368
	p = p*t - 1.26551223
	return t * Exp32(p-z*z)
}

// elementwiseGrain is the least work (elements) worth a thread.
const elementwiseGrain = 1 << 14

// SiLU sets y = x·sigmoid(x) (swish, Marian's activation).
func SiLU(y, x []float32) {
	checkLen("SiLU", len(y), x)
	x = x[:len(y)]
	for i, v := range x {
		y[i] = v / (1 + Exp32(-v))
	}
}

// SiLUBackward sets dx = dy·(s + x·s·(1-s)) with s = sigmoid(x); dx may
// alias dy.
func SiLUBackward(dx, x, dy []float32) {
	checkLen("SiLUBackward", len(dx), x, dy)
	x, dy = x[:len(dx)], dy[:len(dx)]
	for i, v := range x {
		s := 1 / (1 + Exp32(-v))
		dx[i] = dy[i] * (s + v*s*(1-s))
	}
}
