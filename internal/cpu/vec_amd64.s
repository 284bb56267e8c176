//go:build !purego

#include "textflag.h"
#include "reduce_amd64.h"

// func axpyAVX2(alpha float32, x, y *float32, n int)
// y[i] += alpha*x[i], 32 floats per iteration, then 8, then one at a time.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
loop32:
	CMPQ CX, $32
	JLT loop8
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VFMADD213PS (DI), Y0, Y1
	VFMADD213PS 32(DI), Y0, Y2
	VFMADD213PS 64(DI), Y0, Y3
	VFMADD213PS 96(DI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP loop32
loop8:
	CMPQ CX, $8
	JLT loop1
	VMOVUPS (SI), Y1
	VFMADD213PS (DI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP loop8
loop1:
	TESTQ CX, CX
	JZ done
	VMOVSS (SI), X1
	VFMADD213SS (DI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP loop1
done:
	VZEROUPPER
	RET

// func dot4AVX2(a *float32, lda int, w *float32, n int, out *[4]float32)
// out[r] = Σ_p a[r*lda+p]·w[p] for r < 4: four dot products that share
// each load of w.
TEXT ·dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	SHLQ $2, R8
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), DX
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
d4loop8:
	CMPQ CX, $8
	JLT d4reduce
	VMOVUPS (DI), Y4
	PREFETCHT1 4096(DI)
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS (R9), Y4, Y1
	VFMADD231PS (R10), Y4, Y2
	VFMADD231PS (R11), Y4, Y3
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	SUBQ $8, CX
	JMP d4loop8
d4reduce:
	REDUCE8(Y0, X0, X5)
	REDUCE8(Y1, X1, X5)
	REDUCE8(Y2, X2, X5)
	REDUCE8(Y3, X3, X5)
d4loop1:
	TESTQ CX, CX
	JZ d4done
	VMOVSS (DI), X4
	VFMADD231SS (SI), X4, X0
	VFMADD231SS (R9), X4, X1
	VFMADD231SS (R10), X4, X2
	VFMADD231SS (R11), X4, X3
	ADDQ $4, DI
	ADDQ $4, SI
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ CX
	JMP d4loop1
d4done:
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	VMOVSS X2, 8(DX)
	VMOVSS X3, 12(DX)
	VZEROUPPER
	RET

// func dot8AVX2(a *float32, lda int, w *float32, n int, out *[8]float32)
// out[r] = Σ_p a[r*lda+p]·w[p] for r < 8: dot4AVX2 for eight rows, so that
// a batch of eight reads w once instead of twice. Each row's sum is formed
// exactly as dot4AVX2 forms it (one accumulator of eight lanes, REDUCE8,
// then the tail), so a row's result does not depend on its group.
TEXT ·dot8AVX2(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	SHLQ $2, R8
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), DX
	LEAQ (R8)(R8*2), R9 // 3 rows
	LEAQ (SI)(R8*4), R10 // row 4
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
d8loop8:
	CMPQ CX, $8
	JLT d8reduce
	VMOVUPS (DI), Y8
	PREFETCHT1 4096(DI) // w streams from memory when it is a model's weights: ask early, into L2
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS (SI)(R8*1), Y8, Y1
	VFMADD231PS (SI)(R8*2), Y8, Y2
	VFMADD231PS (SI)(R9*1), Y8, Y3
	VFMADD231PS (R10), Y8, Y4
	VFMADD231PS (R10)(R8*1), Y8, Y5
	VFMADD231PS (R10)(R8*2), Y8, Y6
	VFMADD231PS (R10)(R9*1), Y8, Y7
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R10
	SUBQ $8, CX
	JMP d8loop8
d8reduce:
	REDUCE8(Y0, X0, X9)
	REDUCE8(Y1, X1, X9)
	REDUCE8(Y2, X2, X9)
	REDUCE8(Y3, X3, X9)
	REDUCE8(Y4, X4, X9)
	REDUCE8(Y5, X5, X9)
	REDUCE8(Y6, X6, X9)
	REDUCE8(Y7, X7, X9)
d8loop1:
	TESTQ CX, CX
	JZ d8done
	VMOVSS (DI), X8
	VFMADD231SS (SI), X8, X0
	VFMADD231SS (SI)(R8*1), X8, X1
	VFMADD231SS (SI)(R8*2), X8, X2
	VFMADD231SS (SI)(R9*1), X8, X3
	VFMADD231SS (R10), X8, X4
	VFMADD231SS (R10)(R8*1), X8, X5
	VFMADD231SS (R10)(R8*2), X8, X6
	VFMADD231SS (R10)(R9*1), X8, X7
	ADDQ $4, DI
	ADDQ $4, SI
	ADDQ $4, R10
	DECQ CX
	JMP d8loop1
d8done:
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	VMOVSS X2, 8(DX)
	VMOVSS X3, 12(DX)
	VMOVSS X4, 16(DX)
	VMOVSS X5, 20(DX)
	VMOVSS X6, 24(DX)
	VMOVSS X7, 28(DX)
	VZEROUPPER
	RET

// func reluAVX2(y, x *float32, n int)
// y = max(x, 0) for n a multiple of 8; NaN gives 0 (VMAXPS returns its
// second operand, zero, when the first is NaN), as the Go loop does.
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VXORPS Y15, Y15, Y15
reluloop:
	TESTQ CX, CX
	JZ reludone
	VMOVUPS (SI), Y0
	VMAXPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP reluloop
reludone:
	VZEROUPPER
	RET

// func reluBackwardAVX2(dx, x, dy *float32, n int, add bool)
// dx = dy where x > 0 and 0 elsewhere (add: dx += that), n a multiple of 8.
TEXT ·reluBackwardAVX2(SB), NOSPLIT, $0-33
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	MOVBLZX add+32(FP), AX
	VXORPS Y15, Y15, Y15
rbloop:
	TESTQ CX, CX
	JZ rbdone
	VMOVUPS (SI), Y0
	VCMPPS $0x1e, Y15, Y0, Y1 // x > 0 (ordered: NaN false)
	VANDPS (DX), Y1, Y1
	TESTQ AX, AX
	JZ rbstore
	VADDPS (DI), Y1, Y1
rbstore:
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP rbloop
rbdone:
	VZEROUPPER
	RET

// func dot8x2AVX512(a *float32, lda int, w *float32, ldw int, n int, out *[16]float32)
// out[c*8+r] = Σ_p a[r*lda+p]·w[c*ldw+p] for r < 8, c < 2: dot8AVX2 for two
// weight rows at once, so that each load of the eight activation rows
// feeds two FMAs (16 accumulators: Y0–Y7 for w row 0, Y16–Y23, which need
// AVX-512VL, for w row 1). Each sum is formed exactly as dot8AVX2 forms it.
TEXT ·dot8x2AVX512(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	SHLQ $2, R8
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), BX
	SHLQ $2, BX
	MOVQ n+32(FP), CX
	MOVQ out+40(FP), DX
	LEAQ (R8)(R8*2), R9  // 3 rows
	LEAQ (SI)(R8*4), R10 // row 4
	LEAQ (DI)(BX*1), R11 // w row 1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VMOVAPS Y0, Y16
	VMOVAPS Y0, Y17
	VMOVAPS Y0, Y18
	VMOVAPS Y0, Y19
	VMOVAPS Y0, Y20
	VMOVAPS Y0, Y21
	VMOVAPS Y0, Y22
	VMOVAPS Y0, Y23
d82loop8:
	CMPQ CX, $8
	JLT d82reduce
	VMOVUPS (DI), Y8
	VMOVUPS (R11), Y9
	PREFETCHT1 8192(DI) // two weight streams: ask further ahead than dot8 does
	PREFETCHT1 8192(R11)
	VMOVUPS (SI), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y16
	VMOVUPS (SI)(R8*1), Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y17
	VMOVUPS (SI)(R8*2), Y12
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y12, Y9, Y18
	VMOVUPS (SI)(R9*1), Y13
	VFMADD231PS Y13, Y8, Y3
	VFMADD231PS Y13, Y9, Y19
	VMOVUPS (R10), Y10
	VFMADD231PS Y10, Y8, Y4
	VFMADD231PS Y10, Y9, Y20
	VMOVUPS (R10)(R8*1), Y11
	VFMADD231PS Y11, Y8, Y5
	VFMADD231PS Y11, Y9, Y21
	VMOVUPS (R10)(R8*2), Y12
	VFMADD231PS Y12, Y8, Y6
	VFMADD231PS Y12, Y9, Y22
	VMOVUPS (R10)(R9*1), Y13
	VFMADD231PS Y13, Y8, Y7
	VFMADD231PS Y13, Y9, Y23
	ADDQ $32, DI
	ADDQ $32, R11
	ADDQ $32, SI
	ADDQ $32, R10
	SUBQ $8, CX
	JMP d82loop8
d82reduce:
	// Each weight row in turn: reduce its accumulators (Y0–Y7; row 1's
	// are moved there for the second pass), add the tail, store eight sums.
	MOVQ SI, R12
	MOVQ R10, R13
	MOVQ CX, AX
	MOVQ $2, BX
d82final:
	REDUCE8(Y0, X0, X9)
	REDUCE8(Y1, X1, X9)
	REDUCE8(Y2, X2, X9)
	REDUCE8(Y3, X3, X9)
	REDUCE8(Y4, X4, X9)
	REDUCE8(Y5, X5, X9)
	REDUCE8(Y6, X6, X9)
	REDUCE8(Y7, X7, X9)
d82tail:
	TESTQ CX, CX
	JZ d82store
	VMOVSS (DI), X8
	VFMADD231SS (SI), X8, X0
	VFMADD231SS (SI)(R8*1), X8, X1
	VFMADD231SS (SI)(R8*2), X8, X2
	VFMADD231SS (SI)(R9*1), X8, X3
	VFMADD231SS (R10), X8, X4
	VFMADD231SS (R10)(R8*1), X8, X5
	VFMADD231SS (R10)(R8*2), X8, X6
	VFMADD231SS (R10)(R9*1), X8, X7
	ADDQ $4, DI
	ADDQ $4, SI
	ADDQ $4, R10
	DECQ CX
	JMP d82tail
d82store:
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	VMOVSS X2, 8(DX)
	VMOVSS X3, 12(DX)
	VMOVSS X4, 16(DX)
	VMOVSS X5, 20(DX)
	VMOVSS X6, 24(DX)
	VMOVSS X7, 28(DX)
	DECQ BX
	JZ d82done
	VMOVAPS Y16, Y0
	VMOVAPS Y17, Y1
	VMOVAPS Y18, Y2
	VMOVAPS Y19, Y3
	VMOVAPS Y20, Y4
	VMOVAPS Y21, Y5
	VMOVAPS Y22, Y6
	VMOVAPS Y23, Y7
	MOVQ R11, DI // w row 1's tail
	MOVQ R12, SI
	MOVQ R13, R10
	MOVQ AX, CX
	ADDQ $32, DX
	JMP d82final
d82done:
	VZEROUPPER
	RET

// func dot8x4AVX512(a *float32, lda int, w *float32, ldw int, n int, acc *[256]float32, out *[32]float32)
// out[c*8+r] = Σ_p a[r*lda+p]·w[c*ldw+p] for r < 8, c < 4, each sum formed
// exactly as dot8AVX2 forms it (eight lanes, p ≡ lane mod 8, then REDUCE8
// and the tail), but with 512-bit FMAs: weight rows 0|1 and 2|3 share a
// register, one in each 256-bit half, and each eight floats of an
// activation row are broadcast to both halves, so that one FMA advances two
// of dot8AVX2's accumulators (Z0–Z7: rows against weight rows 0|1, Z8–Z15:
// against 2|3). acc is scratch for the accumulators before their reduction.
TEXT ·dot8x4AVX512(SB), NOSPLIT, $0-56
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	SHLQ $2, R8
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), BX
	SHLQ $2, BX
	MOVQ n+32(FP), CX
	LEAQ (R8)(R8*2), R9   // 3 rows
	LEAQ (SI)(R8*4), R10  // row 4
	LEAQ (DI)(BX*1), R11  // w row 1
	LEAQ (DI)(BX*2), R12  // w row 2
	LEAQ (R11)(BX*2), R13 // w row 3
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
d84loop16:
	CMPQ CX, $16
	JLT d84loop8
	VMOVUPS 0(DI), Y16
	VINSERTF64X4 $1, 0(R11), Z16, Z16
	VMOVUPS 0(R12), Y17
	VINSERTF64X4 $1, 0(R13), Z17, Z17
	PREFETCHT1 8192(DI)
	PREFETCHT1 8192(R11)
	PREFETCHT1 8192(R12)
	PREFETCHT1 8192(R13)
	VBROADCASTF64X4 (SI), Z18
	VFMADD231PS Z18, Z16, Z0
	VFMADD231PS Z18, Z17, Z8
	VBROADCASTF64X4 (SI)(R8*1), Z19
	VFMADD231PS Z19, Z16, Z1
	VFMADD231PS Z19, Z17, Z9
	VBROADCASTF64X4 (SI)(R8*2), Z18
	VFMADD231PS Z18, Z16, Z2
	VFMADD231PS Z18, Z17, Z10
	VBROADCASTF64X4 (SI)(R9*1), Z19
	VFMADD231PS Z19, Z16, Z3
	VFMADD231PS Z19, Z17, Z11
	VBROADCASTF64X4 (R10), Z18
	VFMADD231PS Z18, Z16, Z4
	VFMADD231PS Z18, Z17, Z12
	VBROADCASTF64X4 (R10)(R8*1), Z19
	VFMADD231PS Z19, Z16, Z5
	VFMADD231PS Z19, Z17, Z13
	VBROADCASTF64X4 (R10)(R8*2), Z18
	VFMADD231PS Z18, Z16, Z6
	VFMADD231PS Z18, Z17, Z14
	VBROADCASTF64X4 (R10)(R9*1), Z19
	VFMADD231PS Z19, Z16, Z7
	VFMADD231PS Z19, Z17, Z15
	VMOVUPS 32(DI), Y16
	VINSERTF64X4 $1, 32(R11), Z16, Z16
	VMOVUPS 32(R12), Y17
	VINSERTF64X4 $1, 32(R13), Z17, Z17
	VBROADCASTF64X4 32(SI), Z18
	VFMADD231PS Z18, Z16, Z0
	VFMADD231PS Z18, Z17, Z8
	VBROADCASTF64X4 32(SI)(R8*1), Z19
	VFMADD231PS Z19, Z16, Z1
	VFMADD231PS Z19, Z17, Z9
	VBROADCASTF64X4 32(SI)(R8*2), Z18
	VFMADD231PS Z18, Z16, Z2
	VFMADD231PS Z18, Z17, Z10
	VBROADCASTF64X4 32(SI)(R9*1), Z19
	VFMADD231PS Z19, Z16, Z3
	VFMADD231PS Z19, Z17, Z11
	VBROADCASTF64X4 32(R10), Z18
	VFMADD231PS Z18, Z16, Z4
	VFMADD231PS Z18, Z17, Z12
	VBROADCASTF64X4 32(R10)(R8*1), Z19
	VFMADD231PS Z19, Z16, Z5
	VFMADD231PS Z19, Z17, Z13
	VBROADCASTF64X4 32(R10)(R8*2), Z18
	VFMADD231PS Z18, Z16, Z6
	VFMADD231PS Z18, Z17, Z14
	VBROADCASTF64X4 32(R10)(R9*1), Z19
	VFMADD231PS Z19, Z16, Z7
	VFMADD231PS Z19, Z17, Z15
	ADDQ $64, DI
	ADDQ $64, R11
	ADDQ $64, R12
	ADDQ $64, R13
	ADDQ $64, SI
	ADDQ $64, R10
	SUBQ $16, CX
	JMP d84loop16
d84loop8:
	CMPQ CX, $8
	JLT d84reduce
	VMOVUPS 0(DI), Y16
	VINSERTF64X4 $1, 0(R11), Z16, Z16
	VMOVUPS 0(R12), Y17
	VINSERTF64X4 $1, 0(R13), Z17, Z17
	VBROADCASTF64X4 (SI), Z18
	VFMADD231PS Z18, Z16, Z0
	VFMADD231PS Z18, Z17, Z8
	VBROADCASTF64X4 (SI)(R8*1), Z19
	VFMADD231PS Z19, Z16, Z1
	VFMADD231PS Z19, Z17, Z9
	VBROADCASTF64X4 (SI)(R8*2), Z18
	VFMADD231PS Z18, Z16, Z2
	VFMADD231PS Z18, Z17, Z10
	VBROADCASTF64X4 (SI)(R9*1), Z19
	VFMADD231PS Z19, Z16, Z3
	VFMADD231PS Z19, Z17, Z11
	VBROADCASTF64X4 (R10), Z18
	VFMADD231PS Z18, Z16, Z4
	VFMADD231PS Z18, Z17, Z12
	VBROADCASTF64X4 (R10)(R8*1), Z19
	VFMADD231PS Z19, Z16, Z5
	VFMADD231PS Z19, Z17, Z13
	VBROADCASTF64X4 (R10)(R8*2), Z18
	VFMADD231PS Z18, Z16, Z6
	VFMADD231PS Z18, Z17, Z14
	VBROADCASTF64X4 (R10)(R9*1), Z19
	VFMADD231PS Z19, Z16, Z7
	VFMADD231PS Z19, Z17, Z15
	ADDQ $32, DI
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, SI
	ADDQ $32, R10
	SUBQ $8, CX
d84reduce:
	MOVQ acc+40(FP), DX
	MOVQ out+48(FP), AX
	// Weight row c's eight sums go to acc[c*64:], 32 bytes a row: the lower
	// halves of Z0–Z7 (row 0), their upper halves (1), then Z8–Z15's (2, 3).
	VMOVUPS Y0, 0(DX)
	VEXTRACTF64X4 $1, Z0, 256(DX)
	VMOVUPS Y1, 32(DX)
	VEXTRACTF64X4 $1, Z1, 288(DX)
	VMOVUPS Y2, 64(DX)
	VEXTRACTF64X4 $1, Z2, 320(DX)
	VMOVUPS Y3, 96(DX)
	VEXTRACTF64X4 $1, Z3, 352(DX)
	VMOVUPS Y4, 128(DX)
	VEXTRACTF64X4 $1, Z4, 384(DX)
	VMOVUPS Y5, 160(DX)
	VEXTRACTF64X4 $1, Z5, 416(DX)
	VMOVUPS Y6, 192(DX)
	VEXTRACTF64X4 $1, Z6, 448(DX)
	VMOVUPS Y7, 224(DX)
	VEXTRACTF64X4 $1, Z7, 480(DX)
	VMOVUPS Y8, 512(DX)
	VEXTRACTF64X4 $1, Z8, 768(DX)
	VMOVUPS Y9, 544(DX)
	VEXTRACTF64X4 $1, Z9, 800(DX)
	VMOVUPS Y10, 576(DX)
	VEXTRACTF64X4 $1, Z10, 832(DX)
	VMOVUPS Y11, 608(DX)
	VEXTRACTF64X4 $1, Z11, 864(DX)
	VMOVUPS Y12, 640(DX)
	VEXTRACTF64X4 $1, Z12, 896(DX)
	VMOVUPS Y13, 672(DX)
	VEXTRACTF64X4 $1, Z13, 928(DX)
	VMOVUPS Y14, 704(DX)
	VEXTRACTF64X4 $1, Z14, 960(DX)
	VMOVUPS Y15, 736(DX)
	VEXTRACTF64X4 $1, Z15, 992(DX)
	MOVQ SI, R14 // the tail's first activation
	MOVQ DI, R11 // weight row c's tail: row 0's, then ldw further each pass
	MOVQ $4, R12
d84pass:
	VMOVUPS 0(DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	VMOVUPS 128(DX), Y4
	VMOVUPS 160(DX), Y5
	VMOVUPS 192(DX), Y6
	VMOVUPS 224(DX), Y7
	REDUCE8(Y0, X0, X9)
	REDUCE8(Y1, X1, X9)
	REDUCE8(Y2, X2, X9)
	REDUCE8(Y3, X3, X9)
	REDUCE8(Y4, X4, X9)
	REDUCE8(Y5, X5, X9)
	REDUCE8(Y6, X6, X9)
	REDUCE8(Y7, X7, X9)
	MOVQ R14, SI
	LEAQ (SI)(R8*4), R10
	MOVQ R11, R13
	MOVQ n+32(FP), CX
	ANDQ $7, CX
d84tail:
	TESTQ CX, CX
	JZ d84store
	VMOVSS (R13), X8
	VFMADD231SS (SI), X8, X0
	VFMADD231SS (SI)(R8*1), X8, X1
	VFMADD231SS (SI)(R8*2), X8, X2
	VFMADD231SS (SI)(R9*1), X8, X3
	VFMADD231SS (R10), X8, X4
	VFMADD231SS (R10)(R8*1), X8, X5
	VFMADD231SS (R10)(R8*2), X8, X6
	VFMADD231SS (R10)(R9*1), X8, X7
	ADDQ $4, R13
	ADDQ $4, SI
	ADDQ $4, R10
	DECQ CX
	JMP d84tail
d84store:
	VMOVSS X0, 0(AX)
	VMOVSS X1, 4(AX)
	VMOVSS X2, 8(AX)
	VMOVSS X3, 12(AX)
	VMOVSS X4, 16(AX)
	VMOVSS X5, 20(AX)
	VMOVSS X6, 24(AX)
	VMOVSS X7, 28(AX)
	ADDQ $256, DX
	ADDQ $32, AX
	ADDQ BX, R11
	DECQ R12
	JNZ d84pass
	VZEROUPPER
	RET

// func dotsAVX2(q, k *float32, ks, n, d int, scale float32, out *float32)
// out[c] = scale·(q·k[c*ks : c*ks+d]) for c < n: one query's attention
// scores against n keys ks floats apart, without a call per key; with
// n = 1 and scale 1, dot itself. Each dot product: four accumulators over
// blocks of 32, then blocks of 8 into the first, summed pairwise, REDUCE8,
// then the tail one at a time.
TEXT ·dotsAVX2(SB), NOSPLIT, $0-56
	MOVQ q+0(FP), R8
	MOVQ k+8(FP), R9
	MOVQ ks+16(FP), R10
	SHLQ $2, R10
	MOVQ n+24(FP), R11
	MOVQ d+32(FP), R12
	VMOVSS scale+40(FP), X8
	MOVQ out+48(FP), DX
skey:
	TESTQ R11, R11
	JZ sdone
	MOVQ R8, SI
	MOVQ R9, DI
	MOVQ R12, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
sloop32:
	CMPQ CX, $32
	JLT sloop8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP sloop32
sloop8:
	CMPQ CX, $8
	JLT sreduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP sloop8
sreduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	REDUCE8(Y0, X0, X1)
sloop1:
	TESTQ CX, CX
	JZ sstore
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP sloop1
sstore:
	VMULSS X0, X8, X0
	VMOVSS X0, (DX)
	ADDQ $4, DX
	ADDQ R10, R9
	DECQ R11
	JMP skey
sdone:
	VZEROUPPER
	RET

// func axpysAVX2(p, v *float32, ks, n int, o *float32, d int)
// o[i] += Σ_c p[c]·v[c*ks+i] for i < d, keys c < n in order, those with
// p[c] = 0 skipped: one query's attention output from its probabilities,
// each element exactly as successive axpyAVX2 calls give it (one fused
// multiply-add per key), with o held in registers across the keys, 64
// floats at a time, then 8, then one.
TEXT ·axpysAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), R8
	MOVQ v+8(FP), R9
	MOVQ ks+16(FP), R10
	SHLQ $2, R10
	MOVQ n+24(FP), R11
	MOVQ o+32(FP), DX
	MOVQ d+40(FP), R12
	VXORPS X9, X9, X9
apass64:
	CMPQ R12, $64
	JLT apass8
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	VMOVUPS 128(DX), Y4
	VMOVUPS 160(DX), Y5
	VMOVUPS 192(DX), Y6
	VMOVUPS 224(DX), Y7
	MOVQ R8, SI
	MOVQ R9, DI
	MOVQ R11, CX
akey64:
	TESTQ CX, CX
	JZ astore64
	VMOVSS (SI), X8
	VUCOMISS X9, X8
	JNE ause64
	JPS ause64
	JMP anext64
ause64:
	VBROADCASTSS (SI), Y8
	VFMADD231PS (DI), Y8, Y0
	VFMADD231PS 32(DI), Y8, Y1
	VFMADD231PS 64(DI), Y8, Y2
	VFMADD231PS 96(DI), Y8, Y3
	VFMADD231PS 128(DI), Y8, Y4
	VFMADD231PS 160(DI), Y8, Y5
	VFMADD231PS 192(DI), Y8, Y6
	VFMADD231PS 224(DI), Y8, Y7
anext64:
	ADDQ $4, SI
	ADDQ R10, DI
	DECQ CX
	JMP akey64
astore64:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	ADDQ $256, DX
	ADDQ $256, R9
	SUBQ $64, R12
	JMP apass64
apass8:
	CMPQ R12, $8
	JLT apass1
	VMOVUPS (DX), Y0
	MOVQ R8, SI
	MOVQ R9, DI
	MOVQ R11, CX
akey8:
	TESTQ CX, CX
	JZ astore8
	VMOVSS (SI), X8
	VUCOMISS X9, X8
	JNE ause8
	JPS ause8
	JMP anext8
ause8:
	VBROADCASTSS (SI), Y8
	VFMADD231PS (DI), Y8, Y0
anext8:
	ADDQ $4, SI
	ADDQ R10, DI
	DECQ CX
	JMP akey8
astore8:
	VMOVUPS Y0, (DX)
	ADDQ $32, DX
	ADDQ $32, R9
	SUBQ $8, R12
	JMP apass8
apass1:
	TESTQ R12, R12
	JZ adone
	VMOVSS (DX), X0
	MOVQ R8, SI
	MOVQ R9, DI
	MOVQ R11, CX
akey1:
	TESTQ CX, CX
	JZ astore1
	VMOVSS (SI), X8
	VUCOMISS X9, X8
	JNE ause1
	JPS ause1
	JMP anext1
ause1:
	VFMADD231SS (DI), X8, X0
anext1:
	ADDQ $4, SI
	ADDQ R10, DI
	DECQ CX
	JMP akey1
astore1:
	VMOVSS X0, (DX)
	ADDQ $4, DX
	ADDQ $4, R9
	DECQ R12
	JMP apass1
adone:
	VZEROUPPER
	RET

// func dot1x8AVX2(a *float32, w *float32, ldw int, n int, out *[8]float32)
// out[c] = Σ_p a[p]·w[c*ldw+p] for c < 8: one activation row against eight
// weight rows (a matrix-vector product, eight outputs at a time; eight
// independent accumulators keep both FMA pipes busy), each sum formed
// exactly as dot4AVX2 forms a row's (one accumulator of eight lanes,
// REDUCE8, then the tail), so that a row's result does not depend on how
// many rows are multiplied with it.
// Eight short row streams defeat the hardware prefetcher, so the next
// eight rows (contiguous when ldw = n, as a Linear's weight is) are
// prefetched as one stream, 256 bytes per 32 consumed from each row.
TEXT ·dot1x8AVX2(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ ldw+16(FP), BX
	SHLQ $2, BX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), DX
	LEAQ (BX)(BX*2), R8  // 3 rows
	LEAQ (DI)(BX*4), R10 // row 4
	LEAQ (R10)(BX*4), R12 // row 8: the next block, prefetched as one stream
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
d18loop8:
	CMPQ CX, $8
	JLT d18reduce
	VMOVUPS (SI), Y8
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	PREFETCHT0 128(R12)
	PREFETCHT0 192(R12)
	VFMADD231PS (DI), Y8, Y0
	VFMADD231PS (DI)(BX*1), Y8, Y1
	VFMADD231PS (DI)(BX*2), Y8, Y2
	VFMADD231PS (DI)(R8*1), Y8, Y3
	VFMADD231PS (R10), Y8, Y4
	VFMADD231PS (R10)(BX*1), Y8, Y5
	VFMADD231PS (R10)(BX*2), Y8, Y6
	VFMADD231PS (R10)(R8*1), Y8, Y7
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R10
	ADDQ $256, R12
	SUBQ $8, CX
	JMP d18loop8
d18reduce:
	REDUCE8(Y0, X0, X9)
	REDUCE8(Y1, X1, X9)
	REDUCE8(Y2, X2, X9)
	REDUCE8(Y3, X3, X9)
	REDUCE8(Y4, X4, X9)
	REDUCE8(Y5, X5, X9)
	REDUCE8(Y6, X6, X9)
	REDUCE8(Y7, X7, X9)
d18loop1:
	TESTQ CX, CX
	JZ d18done
	VMOVSS (SI), X8
	VFMADD231SS (DI), X8, X0
	VFMADD231SS (DI)(BX*1), X8, X1
	VFMADD231SS (DI)(BX*2), X8, X2
	VFMADD231SS (DI)(R8*1), X8, X3
	VFMADD231SS (R10), X8, X4
	VFMADD231SS (R10)(BX*1), X8, X5
	VFMADD231SS (R10)(BX*2), X8, X6
	VFMADD231SS (R10)(R8*1), X8, X7
	ADDQ $4, SI
	ADDQ $4, DI
	ADDQ $4, R10
	DECQ CX
	JMP d18loop1
d18done:
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	VMOVSS X2, 8(DX)
	VMOVSS X3, 12(DX)
	VMOVSS X4, 16(DX)
	VMOVSS X5, 20(DX)
	VMOVSS X6, 24(DX)
	VMOVSS X7, 28(DX)
	VZEROUPPER
	RET
