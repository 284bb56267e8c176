package cpu

// ForwardPlain is the straightforward attention that Forward replaces: it
// materialises the Tq×Tk probabilities of every head in probs
// ([Batch, Heads, Tq, Tk]), which BackwardPlain needs. It is kept as the
// reference the flash kernels are tested and measured against.
func (a *Attention) ForwardPlain(out, probs, q, k, v []float32) {
	if a.InStride != 0 {
		panic("cpu.Attention.ForwardPlain: InStride is not supported")
	}
	a.check("ForwardPlain", namedLen{"out", len(out), a.qLen()}, namedLen{"probs", len(probs), a.Batch * a.Heads * a.Tq * a.Tk},
		namedLen{"q", len(q), a.qLen()}, namedLen{"k", len(k), a.kLen()}, namedLen{"v", len(v), a.kLen()})
	tt := a.Tq * a.Tk
	for b := 0; b < a.Batch; b++ {
		qb, qs, qh := a.headLayout(b, a.Tq)
		kb, ks, kh := a.headLayout(b, a.Tk)
		if a.KVStride != 0 {
			kb = b * a.KVStride
		}
		pb := b * a.Heads * tt
		SgemmStridedBatched(false, true, a.Tq, a.Tk, a.Dim, a.scale(), q[qb:], qs, qh, k[kb:], ks, kh, 0, probs[pb:], a.Tk, tt, a.Heads)
		for h := 0; h < a.Heads; h++ {
			a.addBias(probs[pb+h*tt:], a.Tk, h, 0, a.Tq, 0, a.Tk)
			a.maskTile(probs[pb+h*tt:], a.Tk, b, 0, a.Tq, 0, a.Tk)
		}
		SoftmaxRows(probs[pb:pb+a.Heads*tt], probs[pb:pb+a.Heads*tt], a.Heads*a.Tq, a.Tk)
		SgemmStridedBatched(false, false, a.Tq, a.Dim, a.Tk, 1, probs[pb:], a.Tk, tt, v[kb:], ks, kh, 0, out[qb:], qs, qh, a.Heads)
	}
}

// BackwardPlain is the backward pass of ForwardPlain, with another
// Tq×Tk matrix per head for the gradient of the probabilities; dbias, if
// not nil, gets the gradient of RelBias as BackwardBias writes it.
func (a *Attention) BackwardPlain(dq, dk, dv, dbias, q, k, v, probs, dout []float32) {
	if a.InStride != 0 {
		panic("cpu.Attention.BackwardPlain: InStride is not supported")
	}
	tt := a.Tq * a.Tk
	a.check("BackwardPlain", namedLen{"dq", len(dq), a.qLen()}, namedLen{"dk", len(dk), a.kLen()}, namedLen{"dv", len(dv), a.kLen()},
		namedLen{"q", len(q), a.qLen()}, namedLen{"k", len(k), a.kLen()}, namedLen{"v", len(v), a.kLen()},
		namedLen{"probs", len(probs), a.Batch * a.Heads * tt}, namedLen{"dout", len(dout), a.qLen()})
	dp := make([]float32, a.Heads*tt)
	for b := 0; b < a.Batch; b++ {
		qb, qs, qh := a.headLayout(b, a.Tq)
		kb, ks, kh := a.headLayout(b, a.Tk)
		p := probs[b*a.Heads*tt:]
		SgemmStridedBatched(true, false, a.Tk, a.Dim, a.Tq, 1, p, a.Tk, tt, dout[qb:], qs, qh, 0, dv[kb:], ks, kh, a.Heads)
		SgemmStridedBatched(false, true, a.Tq, a.Tk, a.Dim, 1, dout[qb:], qs, qh, v[kb:], ks, kh, 0, dp, a.Tk, tt, a.Heads)
		SoftmaxRowsBackward(dp, p, dp, a.Heads*a.Tq, a.Tk)
		if dbias != nil {
			n := a.biasLen()
			for h := 0; h < a.Heads; h++ {
				db := dbias[(b*a.Heads+h)*n : (b*a.Heads+h+1)*n]
				clear(db)
				for i := 0; i < a.Tq; i++ {
					axpy(1, dp[h*tt+i*a.Tk:h*tt+(i+1)*a.Tk], db[a.Tq-1-i:a.Tq-1-i+a.Tk])
				}
			}
		}
		SgemmStridedBatched(false, false, a.Tq, a.Dim, a.Tk, a.scale(), dp, a.Tk, tt, k[kb:], ks, kh, 0, dq[qb:], qs, qh, a.Heads)
		SgemmStridedBatched(true, false, a.Tk, a.Dim, a.Tq, a.scale(), dp, a.Tk, tt, q[qb:], qs, qh, 0, dk[kb:], ks, kh, a.Heads)
	}
}

// headLayout returns, for batch row b of a tensor with t positions, the
// offset of its first head, the stride between rows and between heads.
func (a *Attention) headLayout(b, t int) (base, rowStride, headStride int) {
	base, rowStride = a.head(b, 0, t)
	if a.SeqMajor {
		return base, rowStride, a.Dim
	}
	return base, rowStride, t * a.Dim
}
