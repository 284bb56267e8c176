package autograd

import (
	"github.com/goformer/goformer/internal/cpu"
)

// backward runs one node's backward pass, adding into its inputs' gradients.
func (g *Graph) backward(n *node) {
	dout := n.out.Grad.Data()
	need := func(i int) bool { return n.in[i] != nil && n.in[i].RequiresGrad }
	switch n.op {
	case opMatMul:
		m, k, nn := n.ints[0], n.ints[1], n.ints[2]
		a, b := n.in[0], n.in[1]
		if need(0) { // da += dout·bᵀ
			da, fresh := g.gradFor(a)
			cpu.Sgemm(false, true, m, k, nn, 1, dout, nn, b.Value.Data(), nn, beta(fresh), da, k)
		}
		if need(1) { // db += aᵀ·dout
			cpu.Sgemm(true, false, k, nn, m, 1, a.Value.Data(), k, dout, nn, 1, g.grad(b), nn)
		}
	case opLinear:
		m, k, nn := n.ints[0], n.ints[1], n.ints[2]
		x, w, b := n.in[0], n.in[1], n.in[2]
		if need(0) { // dx += dout·w
			dx, fresh := g.gradFor(x)
			cpu.Sgemm(false, false, m, k, nn, 1, dout, nn, w.Value.Data(), k, beta(fresh), dx, k)
		}
		if need(1) { // dw += doutᵀ·x
			cpu.Sgemm(true, false, nn, k, m, 1, dout, nn, x.Value.Data(), k, 1, g.grad(w), k)
		}
		if need(2) { // db += Σ_rows dout
			db := g.grad(b)
			for r := 0; r < m; r++ {
				cpu.Axpy(1, dout[r*nn:(r+1)*nn], db)
			}
		}
	case opAdd:
		if need(0) {
			g.accumulate(n.in[0], 1, dout)
		}
		if need(1) {
			db := g.grad(n.in[1])
			for off := 0; off < len(dout); off += len(db) {
				cpu.Axpy(1, dout[off:off+len(db)], db)
			}
		}
	case opScale:
		if need(0) {
			g.accumulate(n.in[0], n.f[0], dout)
		}
	case opReshape:
		if need(0) {
			g.accumulate(n.in[0], 1, dout)
		}
	case opLayerNorm:
		r, d := n.ints[0], n.ints[1]
		x, gamma, beta := n.in[0], n.in[1], n.in[2]
		dx := g.arena.alloc(r * d)
		dgamma, dbeta := g.grad(gamma), g.grad(beta)
		cpu.LayerNormBackward(dx, dgamma, dbeta, x.Value.Data(), gamma.Value.Data(), n.aux[0], n.aux[1], dout, r, d)
		if need(0) {
			g.accumulate(x, 1, dx)
		}
	case opGELU:
		if need(0) {
			dx := g.arena.alloc(len(dout))
			cpu.GELUBackward(dx, n.in[0].Value.Data(), dout)
			g.accumulate(n.in[0], 1, dx)
		}
	case opGELUErf:
		if need(0) {
			dx := g.arena.alloc(len(dout))
			cpu.GELUErfBackward(dx, n.in[0].Value.Data(), dout)
			g.accumulate(n.in[0], 1, dx)
		}
	case opSiLU:
		if need(0) {
			dx := g.arena.alloc(len(dout))
			cpu.SiLUBackward(dx, n.in[0].Value.Data(), dout)
			g.accumulate(n.in[0], 1, dx)
		}
	case opReLU:
		if need(0) {
			dx, fresh := g.gradFor(n.in[0])
			x := n.in[0].Value.Data()
			if fresh {
				for i, v := range x {
					if v > 0 {
						dx[i] = dout[i]
					} else {
						dx[i] = 0
					}
				}
			} else {
				for i, v := range x {
					if v > 0 {
						dx[i] += dout[i]
					}
				}
			}
		}
	case opDropout:
		if need(0) {
			dx, fresh := g.gradFor(n.in[0])
			mask := n.aux[0]
			if fresh {
				for i, m := range mask {
					dx[i] = m * dout[i]
				}
			} else {
				for i, m := range mask {
					dx[i] += m * dout[i]
				}
			}
		}
	case opEmbedding:
		if need(0) {
			d, scale := n.ints[0], n.f[0]
			dt := g.grad(n.in[0])
			for i, id := range n.ids {
				cpu.Axpy(scale, dout[i*d:(i+1)*d], dt[int(id)*d:(int(id)+1)*d])
			}
		}
	case opSoftmax:
		if need(0) {
			r, c := n.ints[0], n.ints[1]
			dx := g.arena.alloc(r * c)
			cpu.SoftmaxRowsBackward(dx, n.out.Value.Data(), dout, r, c)
			g.accumulate(n.in[0], 1, dx)
		}
	case opAttention:
		q, k, v := n.in[0], n.in[1], n.in[2]
		dq, dk, dv := g.arena.alloc(q.Value.Len()), g.arena.alloc(k.Value.Len()), g.arena.alloc(v.Value.Len())
		n.attn.Backward(dq, dk, dv, q.Value.Data(), k.Value.Data(), v.Value.Data(), n.out.Value.Data(), n.aux[0], dout)
		for i, d := range [3][]float32{dq, dk, dv} {
			if need(i) {
				g.accumulate(n.in[i], 1, d)
			}
		}
	case opAttentionQKV:
		if need(0) {
			qkv := n.in[0].Value.Data()
			c := n.attn.Heads * n.attn.Dim
			d := g.arena.alloc(len(qkv)) // every element is written
			n.attn.Backward(d, d[c:], d[2*c:], qkv, qkv[c:], qkv[2*c:], n.out.Value.Data(), n.aux[0], dout)
			g.accumulate(n.in[0], 1, d)
		}
	case opCrossEntropy:
		if !need(0) || n.ints[2] == 0 {
			return
		}
		r, vocab, count := n.ints[0], n.ints[1], n.ints[2]
		eps, ignore := n.f[0], int32(n.ints[3])
		scale := dout[0] / float32(count)
		dl, fresh := g.gradFor(n.in[0])
		probs := n.aux[0]
		for i := 0; i < r; i++ {
			t := n.ids[i]
			drow := dl[i*vocab : (i+1)*vocab]
			if t == ignore {
				if fresh {
					clear(drow)
				}
				continue
			}
			// d loss / d logits = softmax - ((1-eps)·onehot + eps/V).
			if fresh {
				clear(drow)
			}
			cpu.Axpy(scale, probs[i*vocab:(i+1)*vocab], drow)
			drow[t] -= scale * (1 - eps)
			if eps != 0 {
				u := scale * eps / float32(vocab)
				for j := range drow {
					drow[j] -= u
				}
			}
		}
	default:
		panic("autograd: unknown op")
	}
}
