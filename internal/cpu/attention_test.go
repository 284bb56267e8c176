package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refAttention is attention in float64, written out plainly: the scores,
// the masked softmax, the output, and the gradients of L = Σ dout∘out.
type refAttention struct {
	out, lse, dq, dk, dv []float64
	dbias                []float64 // [B, H, Tq+Tk−1], with RelBias
}

func (a *Attention) idx(b, h, t, x, T int) int {
	base, stride := a.head(b, h, T)
	return base + t*stride + x
}

func attentionReference(a *Attention, q, k, v, dout []float32) refAttention {
	B, H, Tq, Tk, D := a.Batch, a.Heads, a.Tq, a.Tk, a.Dim
	sc := float64(a.scale())
	r := refAttention{out: make([]float64, len(q)), lse: make([]float64, B*H*Tq),
		dq: make([]float64, len(q)), dk: make([]float64, len(k)), dv: make([]float64, len(v)),
		dbias: make([]float64, B*H*(Tq+Tk-1))}
	L := Tq + Tk - 1
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			P := make([][]float64, Tq)
			for i := 0; i < Tq; i++ {
				s := make([]float64, Tk)
				m := math.Inf(-1)
				for j := 0; j < Tk; j++ {
					visible := (!a.Causal || j <= i+Tk-Tq) && (a.KeyPad == nil || !a.KeyPad[b*Tk+j])
					if !visible {
						s[j] = math.Inf(-1)
						continue
					}
					for x := 0; x < D; x++ {
						s[j] += float64(q[a.idx(b, h, i, x, Tq)]) * float64(k[a.idx(b, h, j, x, Tk)])
					}
					s[j] *= sc
					if a.RelBias != nil {
						s[j] += float64(a.RelBias[h*L+j-i+Tq-1])
					}
					m = math.Max(m, s[j])
				}
				P[i] = make([]float64, Tk)
				r.lse[(b*H+h)*Tq+i] = math.Inf(-1)
				if math.IsInf(m, -1) {
					continue
				}
				var l float64
				for j := range s {
					P[i][j] = math.Exp(s[j] - m)
					l += P[i][j]
				}
				for j := range s {
					P[i][j] /= l
				}
				r.lse[(b*H+h)*Tq+i] = m + math.Log(l)
				for j := 0; j < Tk; j++ {
					for x := 0; x < D; x++ {
						r.out[a.idx(b, h, i, x, Tq)] += P[i][j] * float64(v[a.idx(b, h, j, x, Tk)])
					}
				}
			}
			for i := 0; i < Tq; i++ {
				dP := make([]float64, Tk)
				var dot float64
				for j := 0; j < Tk; j++ {
					for x := 0; x < D; x++ {
						g := float64(dout[a.idx(b, h, i, x, Tq)])
						dP[j] += g * float64(v[a.idx(b, h, j, x, Tk)])
						r.dv[a.idx(b, h, j, x, Tk)] += P[i][j] * g
					}
					dot += dP[j] * P[i][j]
				}
				for j := 0; j < Tk; j++ {
					dS := P[i][j] * (dP[j] - dot)
					r.dbias[(b*H+h)*L+j-i+Tq-1] += dS
					for x := 0; x < D; x++ {
						r.dq[a.idx(b, h, i, x, Tq)] += sc * dS * float64(k[a.idx(b, h, j, x, Tk)])
						r.dk[a.idx(b, h, j, x, Tk)] += sc * dS * float64(q[a.idx(b, h, i, x, Tq)])
					}
				}
			}
		}
	}
	return r
}

// maxRelErr returns max|got-want| / max|want| (or the absolute error when
// want is all zeros).
func maxRelErr(got []float32, want []float64) float64 {
	var e, w float64
	for i := range want {
		if math.IsInf(want[i], -1) {
			if !math.IsInf(float64(got[i]), -1) {
				return math.Inf(1)
			}
			continue
		}
		e = math.Max(e, math.Abs(float64(got[i])-want[i]))
		w = math.Max(w, math.Abs(want[i]))
	}
	if w == 0 {
		return e
	}
	return e / w
}

type attnCase struct {
	b, h, tq, tk, d int
	causal, pad     bool
	seqMajor        bool
	bias            bool // a relative bias (RelBias)
}

func (c attnCase) String() string {
	return fmt.Sprintf("b%d_h%d_tq%d_tk%d_d%d_causal%v_pad%v_seq%v_bias%v", c.b, c.h, c.tq, c.tk, c.d, c.causal, c.pad, c.seqMajor, c.bias)
}

func (c attnCase) setup(rng *rand.Rand) (*Attention, []float32, []float32, []float32, []float32) {
	a := &Attention{Batch: c.b, Heads: c.h, Tq: c.tq, Tk: c.tk, Dim: c.d, Causal: c.causal, SeqMajor: c.seqMajor}
	if c.pad {
		a.KeyPad = make([]bool, c.b*c.tk)
		for b := 0; b < c.b; b++ {
			// Batch row b has its last b*tk/3 keys padded, and row 1 also
			// pads key 0 (so that a causal first query sees nothing).
			for j := c.tk - b*c.tk/3; j < c.tk; j++ {
				a.KeyPad[b*c.tk+j] = true
			}
			if b == 1 {
				a.KeyPad[b*c.tk] = true
			}
		}
	}
	n, m := c.b*c.h*c.tq*c.d, c.b*c.h*c.tk*c.d
	q, k, v, do := randSlice(rng, n), randSlice(rng, m), randSlice(rng, m), randSlice(rng, n)
	for i := range q {
		q[i] *= 2 // sharper softmax
	}
	if c.bias {
		a.RelBias = randSlice(rng, c.h*(c.tq+c.tk-1))
		for i := range a.RelBias {
			a.RelBias[i] *= 3 // as large as the scores
		}
	}
	return a, q, k, v, do
}

func TestFlashAttentionAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cases []attnCase
	for _, tq := range []int{1, 5, 64, 100, 257} {
		for _, d := range []int{16, 64, 80} {
			for mask := 0; mask < 4; mask++ {
				tk := tq
				if (tq+d+mask)%3 == 0 {
					tk = tq + 37 // Tq ≠ Tk: the causal mask aligns to the end
				}
				cases = append(cases, attnCase{b: 2, h: 2, tq: tq, tk: tk, d: d, causal: mask&1 != 0, pad: mask&2 != 0, seqMajor: (tq+mask)%2 == 0,
					bias: (tq+d+mask)%2 == 1})
			}
		}
	}
	cases = append(cases, attnCase{b: 1, h: 3, tq: 100, tk: 64, d: 16, causal: true}) // Tq > Tk: early queries see nothing
	cases = append(cases, attnCase{b: 3, h: 1, tq: 1, tk: 700, d: 64, pad: true})     // decode path, split keys
	cases = append(cases, attnCase{b: 2, h: 2, tq: 1, tk: 600, d: 16, bias: true})    // decode path with a bias
	cases = append(cases, attnCase{b: 2, h: 3, tq: 130, tk: 300, d: 16, causal: true, pad: true, bias: true})
	for _, c := range cases {
		if testing.Short() && c.tq*c.tk > 64*64 {
			continue
		}
		a, q, k, v, do := c.setup(rng)
		ref := attentionReference(a, q, k, v, do)
		out, lse := make([]float32, len(q)), make([]float32, a.lseLen())
		a.Forward(out, lse, q, k, v)
		dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		dbias := make([]float32, len(ref.dbias))
		a.BackwardBias(dq, dk, dv, dbias, q, k, v, out, lse, do)
		checks := []struct {
			name string
			got  []float32
			want []float64
		}{{"out", out, ref.out}, {"lse", lse, ref.lse}, {"dq", dq, ref.dq}, {"dk", dk, ref.dk}, {"dv", dv, ref.dv}}
		if c.bias {
			checks = append(checks, struct {
				name string
				got  []float32
				want []float64
			}{"dbias", dbias, ref.dbias})
		}
		for _, chk := range checks {
			if e := maxRelErr(chk.got, chk.want); !(e <= 1e-5) {
				t.Errorf("%v: %s relative error %.3g > 1e-5", c, chk.name, e)
			}
		}
		for i, x := range out {
			if x != x {
				t.Fatalf("%v: out[%d] is NaN", c, i)
			}
		}
		// The plain (materialising) attention agrees too.
		probs := make([]float32, a.Batch*a.Heads*a.Tq*a.Tk)
		pout := make([]float32, len(q))
		a.ForwardPlain(pout, probs, q, k, v)
		pdq, pdk, pdv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		pdbias := make([]float32, len(ref.dbias))
		a.BackwardPlain(pdq, pdk, pdv, pdbias, q, k, v, probs, do)
		for _, chk := range []struct {
			name string
			got  []float32
			want []float64
		}{{"plain out", pout, ref.out}, {"plain dq", pdq, ref.dq}, {"plain dk", pdk, ref.dk}, {"plain dv", pdv, ref.dv}, {"plain dbias", pdbias, ref.dbias}} {
			if e := maxRelErr(chk.got, chk.want); !(e <= 1e-5) {
				t.Errorf("%v: %s relative error %.3g > 1e-5", c, chk.name, e)
			}
		}
	}
}

// TestAttentionReferenceFiniteDifferences checks the reference's gradient
// formulas against central differences of its own float64 forward pass.
func TestAttentionReferenceFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := attnCase{b: 2, h: 2, tq: 4, tk: 6, d: 3, causal: true, pad: true, bias: true}
	a, q, k, v, do := c.setup(rng)
	ref := attentionReference(a, q, k, v, do)
	loss := func() float64 {
		r := attentionReference(a, q, k, v, do)
		var l float64
		for i, o := range r.out {
			l += o * float64(do[i])
		}
		return l
	}
	for _, x := range []struct {
		name string
		val  []float32
		grad []float64
	}{{"q", q, ref.dq}, {"k", k, ref.dk}, {"v", v, ref.dv}, {"bias", a.RelBias, sumBatch(ref.dbias, c.b)}} {
		for i := range x.val {
			const h = 1e-2 // float32 inputs: a step the rounding cannot swamp
			orig := x.val[i]
			x.val[i] = orig + h
			lp := loss()
			x.val[i] = orig - h
			lm := loss()
			x.val[i] = orig
			hp, hm := float64(orig+h)-float64(orig), float64(orig)-float64(orig-h)
			num := (lp - lm) / (hp + hm)
			if math.Abs(num-x.grad[i]) > 1e-3*math.Max(1, math.Abs(num)) {
				t.Fatalf("d%s[%d] = %g, finite differences %g", x.name, i, x.grad[i], num)
			}
		}
	}
}

// sumBatch sums x [batch, n/batch] over its batch rows.
func sumBatch(x []float64, batch int) []float64 {
	n := len(x) / batch
	out := make([]float64, n)
	for b := 0; b < batch; b++ {
		for i := range out {
			out[i] += x[b*n+i]
		}
	}
	return out
}

func TestFlashAttentionThreadsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a, q, k, v, do := attnCase{b: 2, h: 3, tq: 200, tk: 200, d: 64, causal: true}.setup(rng)
	run := func(threads int) [][]float32 {
		SetThreads(threads)
		out, lse := make([]float32, len(q)), make([]float32, a.lseLen())
		a.Forward(out, lse, q, k, v)
		dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		a.Backward(dq, dk, dv, q, k, v, out, lse, do)
		return [][]float32{out, lse, dq, dk, dv}
	}
	defer SetThreads(0)
	one, three := run(1), run(3)
	for i := range one {
		for e := range one[i] {
			if math.Float32bits(one[i][e]) != math.Float32bits(three[i][e]) {
				t.Fatalf("tensor %d element %d differs between 1 and 3 threads", i, e)
			}
		}
	}
}

// TestFlashAttentionStridedInputs runs attention on q, k, v that are views
// into one fused [T, 3·H·D] buffer and checks it against contiguous copies.
func TestFlashAttentionStridedInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tq := range []int{1, 70} {
		const b, h, d = 2, 3, 16
		c := h * d
		fused := randSlice(rng, b*tq*3*c)
		split := func(part int) []float32 {
			out := make([]float32, b*tq*c)
			for r := 0; r < b*tq; r++ {
				copy(out[r*c:(r+1)*c], fused[r*3*c+part*c:])
			}
			return out
		}
		q, k, v := split(0), split(1), split(2)
		do := randSlice(rng, b*tq*c)
		plain := &Attention{Batch: b, Heads: h, Tq: tq, Tk: tq, Dim: d, Causal: true, SeqMajor: true}
		strided := *plain
		strided.InStride = 3 * c
		out1, lse1 := make([]float32, b*tq*c), make([]float32, b*h*tq)
		out2, lse2 := make([]float32, b*tq*c), make([]float32, b*h*tq)
		plain.Forward(out1, lse1, q, k, v)
		strided.Forward(out2, lse2, fused, fused[c:], fused[2*c:])
		for i := range out1 {
			if out1[i] != out2[i] {
				t.Fatalf("tq=%d: out[%d] %g vs strided %g", tq, i, out1[i], out2[i])
			}
		}
		if tq == 1 {
			continue
		}
		dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		plain.Backward(dq, dk, dv, q, k, v, out1, lse1, do)
		dfused := make([]float32, len(fused))
		strided.Backward(dfused, dfused[c:], dfused[2*c:], fused, fused[c:], fused[2*c:], out2, lse2, do)
		for r := 0; r < b*tq; r++ {
			for x := 0; x < c; x++ {
				if dq[r*c+x] != dfused[r*3*c+x] || dk[r*c+x] != dfused[r*3*c+c+x] || dv[r*c+x] != dfused[r*3*c+2*c+x] {
					t.Fatalf("row %d col %d: gradients differ between strided and contiguous inputs", r, x)
				}
			}
		}
	}
}

// TestFlashAttentionKVStride checks keys and values read from rows laid
// out at a cache's capacity (KVStride) against the same keys packed
// contiguously: the decoding path (one query), the blocked path, and the
// plain reference, with padding and the causal mask; and that the unused
// capacity is never read (it holds NaN).
func TestFlashAttentionKVStride(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tq := range []int{1, 3, 70} {
		for _, tk := range []int{tq, 131} {
			const b, h, d, spare = 3, 2, 24, 7
			c := h * d
			q, k, v := randSlice(rng, b*tq*c), randSlice(rng, b*tk*c), randSlice(rng, b*tk*c)
			stride := (tk + spare) * c
			ks, vs := make([]float32, b*stride), make([]float32, b*stride)
			for i := range ks {
				ks[i], vs[i] = float32(math.NaN()), float32(math.NaN())
			}
			for r := 0; r < b; r++ {
				copy(ks[r*stride:], k[r*tk*c:(r+1)*tk*c])
				copy(vs[r*stride:], v[r*tk*c:(r+1)*tk*c])
			}
			pad := make([]bool, b*tk)
			pad[tk] = true         // row 1's first key
			pad[3*tk-1] = tq != tk // row 2's last key
			packed := &Attention{Batch: b, Heads: h, Tq: tq, Tk: tk, Dim: d, Causal: true, SeqMajor: true, KeyPad: pad}
			strided := *packed
			strided.KVStride = stride
			out1, lse1 := make([]float32, b*tq*c), make([]float32, b*h*tq)
			out2, lse2 := make([]float32, b*tq*c), make([]float32, b*h*tq)
			packed.Forward(out1, lse1, q, k, v)
			strided.Forward(out2, lse2, q, ks, vs)
			for i := range out1 {
				if out1[i] != out2[i] || math.IsNaN(float64(out2[i])) {
					t.Fatalf("tq=%d tk=%d: out[%d] %g packed vs %g strided", tq, tk, i, out1[i], out2[i])
				}
			}
			for i := range lse1 {
				if lse1[i] != lse2[i] {
					t.Fatalf("tq=%d tk=%d: lse[%d] %g packed vs %g strided", tq, tk, i, lse1[i], lse2[i])
				}
			}
			p1, p2 := make([]float32, b*h*tq*tk), make([]float32, b*h*tq*tk)
			out3, out4 := make([]float32, b*tq*c), make([]float32, b*tq*c)
			packed.ForwardPlain(out3, p1, q, k, v)
			strided.ForwardPlain(out4, p2, q, ks, vs)
			for i := range out3 {
				if out3[i] != out4[i] || math.Abs(float64(out3[i]-out1[i])) > 1e-5 {
					t.Fatalf("tq=%d tk=%d: plain out[%d] %g packed vs %g strided (flash %g)", tq, tk, i, out3[i], out4[i], out1[i])
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Backward with KVStride did not panic")
		}
	}()
	a := &Attention{Batch: 1, Heads: 1, Tq: 2, Tk: 2, Dim: 4, SeqMajor: true, KVStride: 12}
	x := make([]float32, 12)
	a.Backward(x, x, x, x, x, x, x, x, x)
}
