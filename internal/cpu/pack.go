package cpu

// packARows14 packs a 14-row micro-panel from a matrix whose rows are
// contiguous (the common, untransposed A): dst[p*14+r] = a[off+r*rs+p] for
// p < kc. It is the transposing pack, so it writes one 14-float group per p
// from fourteen sequential row streams.
func packARows14(dst, a []float32, off, rs, kc int) {
	r0 := a[off : off+kc]
	r1 := a[off+rs : off+rs+kc]
	r2 := a[off+2*rs : off+2*rs+kc]
	r3 := a[off+3*rs : off+3*rs+kc]
	r4 := a[off+4*rs : off+4*rs+kc]
	r5 := a[off+5*rs : off+5*rs+kc]
	r6 := a[off+6*rs : off+6*rs+kc]
	r7 := a[off+7*rs : off+7*rs+kc]
	r8 := a[off+8*rs : off+8*rs+kc]
	r9 := a[off+9*rs : off+9*rs+kc]
	r10 := a[off+10*rs : off+10*rs+kc]
	r11 := a[off+11*rs : off+11*rs+kc]
	r12 := a[off+12*rs : off+12*rs+kc]
	r13 := a[off+13*rs : off+13*rs+kc]
	// Reslicing to len(r0) lets the compiler drop the bounds checks below.
	n := len(r0)
	r1, r2, r3, r4, r5, r6 = r1[:n], r2[:n], r3[:n], r4[:n], r5[:n], r6[:n]
	r7, r8, r9, r10, r11, r12, r13 = r7[:n], r8[:n], r9[:n], r10[:n], r11[:n], r12[:n], r13[:n]
	dst = dst[:n*14]
	for p := pack14Vec(dst, a[off:], rs, n); p < n; p++ {
		d := dst[p*14 : p*14+14 : p*14+14]
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
		d[12], d[13] = r12[p], r13[p]
	}
}

// interleave8 copies eight contiguous source rows into interleaved form:
// dst[p*stride+r] = src[off+r*rs+p] for r < 8 and p < n. It is the core of
// the transposing packs.
func interleave8(dst []float32, stride int, src []float32, off, rs, n int) {
	if n == 0 {
		return
	}
	r0 := src[off : off+n]
	r1 := src[off+rs : off+rs+n][:len(r0)]
	r2 := src[off+2*rs : off+2*rs+n][:len(r0)]
	r3 := src[off+3*rs : off+3*rs+n][:len(r0)]
	r4 := src[off+4*rs : off+4*rs+n][:len(r0)]
	r5 := src[off+5*rs : off+5*rs+n][:len(r0)]
	r6 := src[off+6*rs : off+6*rs+n][:len(r0)]
	r7 := src[off+7*rs : off+7*rs+n][:len(r0)]
	_ = dst[(n-1)*stride+7]
	for p := range r0 {
		d := dst[p*stride : p*stride+8 : p*stride+8]
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
	}
}
