//go:build !purego

#include "textflag.h"
#include "reduce_amd64.h"

// Dot products of float32 rows with quantised weights, widened to float32
// in registers: int8 by VPMOVSXBD + VCVTDQ2PS (the per-row scale is applied
// by the caller), bfloat16 by VPMOVZXWD + a 16-bit shift (exact). n is a
// multiple of 8; eight partial sums per row, reduced as dotI8Go does.

// func dotI8AVX2(a *float32, w *int8, n int) float32
// Four accumulators over 32 weights an iteration (one chain would wait on
// the FMA's latency), then 8 at a time.
TEXT ·dotI8AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
qi1loop32:
	CMPQ CX, $32
	JLT qi1loop8
	VPMOVSXBD (DI), Y4
	VPMOVSXBD 8(DI), Y5
	VPMOVSXBD 16(DI), Y6
	VPMOVSXBD 24(DI), Y7
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS 32(SI), Y5, Y1
	VFMADD231PS 64(SI), Y6, Y2
	VFMADD231PS 96(SI), Y7, Y3
	ADDQ $32, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JMP qi1loop32
qi1loop8:
	TESTQ CX, CX
	JZ qi1done
	VPMOVSXBD (DI), Y4
	VCVTDQ2PS Y4, Y4
	VFMADD231PS (SI), Y4, Y0
	ADDQ $8, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP qi1loop8
qi1done:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	REDUCE8(Y0, X0, X5)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotBF16AVX2(a *float32, w *uint16, n int) float32
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
qb1loop32:
	CMPQ CX, $32
	JLT qb1loop8
	VPMOVZXWD (DI), Y4
	VPMOVZXWD 16(DI), Y5
	VPMOVZXWD 32(DI), Y6
	VPMOVZXWD 48(DI), Y7
	VPSLLD $16, Y4, Y4
	VPSLLD $16, Y5, Y5
	VPSLLD $16, Y6, Y6
	VPSLLD $16, Y7, Y7
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS 32(SI), Y5, Y1
	VFMADD231PS 64(SI), Y6, Y2
	VFMADD231PS 96(SI), Y7, Y3
	ADDQ $64, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JMP qb1loop32
qb1loop8:
	TESTQ CX, CX
	JZ qb1done
	VPMOVZXWD (DI), Y4
	VPSLLD $16, Y4, Y4
	VFMADD231PS (SI), Y4, Y0
	ADDQ $16, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP qb1loop8
qb1done:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	REDUCE8(Y0, X0, X5)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dot4I8AVX2(a *float32, lda int, w *int8, n int, out *[4]float32)
TEXT ·dot4I8AVX2(SB), NOSPLIT, $0-40
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
qi4loop:
	VPMOVSXBD (DI), Y4
	VCVTDQ2PS Y4, Y4
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS (R9), Y4, Y1
	VFMADD231PS (R10), Y4, Y2
	VFMADD231PS (R11), Y4, Y3
	ADDQ $8, DI
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	SUBQ $8, CX
	JNZ qi4loop
	REDUCE8(Y0, X0, X5)
	REDUCE8(Y1, X1, X5)
	REDUCE8(Y2, X2, X5)
	REDUCE8(Y3, X3, X5)
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	VMOVSS X2, 8(DX)
	VMOVSS X3, 12(DX)
	VZEROUPPER
	RET

// func dot4BF16AVX2(a *float32, lda int, w *uint16, n int, out *[4]float32)
TEXT ·dot4BF16AVX2(SB), NOSPLIT, $0-40
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
qb4loop:
	VPMOVZXWD (DI), Y4
	VPSLLD $16, Y4, Y4
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS (R9), Y4, Y1
	VFMADD231PS (R10), Y4, Y2
	VFMADD231PS (R11), Y4, Y3
	ADDQ $16, DI
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	SUBQ $8, CX
	JNZ qb4loop
	REDUCE8(Y0, X0, X5)
	REDUCE8(Y1, X1, X5)
	REDUCE8(Y2, X2, X5)
	REDUCE8(Y3, X3, X5)
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	VMOVSS X2, 8(DX)
	VMOVSS X3, 12(DX)
	VZEROUPPER
	RET

// func widenI8AVX2(dst *float32, src *int8, n int, scale float32)
// dst[i] = scale·src[i] for n (a multiple of 8) values.
TEXT ·widenI8AVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y3
wi8loop:
	VPMOVSXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS Y3, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $8, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ wi8loop
	VZEROUPPER
	RET

// func widenBF16AVX2(dst *float32, src *uint16, n int)
TEXT ·widenBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
wbfloop:
	VPMOVZXWD (SI), Y0
	VPSLLD $16, Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ wbfloop
	VZEROUPPER
	RET

// Integer dot products of int8 activations with int8 weights (AVX2): the
// activations come as their magnitudes (u8) and their signs (the int8
// values); each weight takes its activation's sign (VPSIGNB), then
// VPMADDUBSW multiplies u8 by s8 and adds pairs into int16 (at most
// 2·127·127, no saturation), VPMADDWD adds pairs into int32. n is a
// multiple of 32.

// func dotQ8AVX2(mag *uint8, sgn *int8, w *int8, n int) int32
TEXT ·dotQ8AVX2(SB), NOSPLIT, $0-36
	MOVQ mag+0(FP), SI
	MOVQ sgn+8(FP), R8
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	VPCMPEQW Y15, Y15, Y15
	VPSRLW $15, Y15, Y15 // sixteen int16 ones
	VPXOR Y0, Y0, Y0
q8loop:
	VMOVDQU (DI), Y1
	VPSIGNB (R8), Y1, Y1
	VMOVDQU (SI), Y2
	VPMADDUBSW Y1, Y2, Y2
	VPMADDWD Y15, Y2, Y2
	VPADDD Y2, Y0, Y0
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	SUBQ $32, CX
	JNZ q8loop
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPADDD X1, X0, X0
	VMOVD X0, AX
	MOVL AX, ret+32(FP)
	VZEROUPPER
	RET

// func maxAbsAVX2(x *float32, n int) float32
// The largest |x[i]| for n a multiple of 8 (0 for n = 0), or NaN if any
// x[i] is NaN (VMAXPS alone would drop it).
TEXT ·maxAbsAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0x7fffffff, AX
	MOVL AX, X15
	VPBROADCASTD X15, Y15
	VXORPS Y0, Y0, Y0 // the maxima
	VXORPS Y1, Y1, Y1 // lanes that saw a NaN
maloop:
	TESTQ CX, CX
	JZ madone
	VANDPS (SI), Y15, Y2
	VCMPPS $3, Y2, Y2, Y3 // unordered: NaN
	VORPS Y3, Y1, Y1
	VMAXPS Y2, Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP maloop
madone:
	VEXTRACTF128 $1, Y0, X2
	VMAXPS X2, X0, X0
	VMOVHLPS X0, X2, X2
	VMAXPS X2, X0, X0
	VMOVSHDUP X0, X2
	VMAXSS X2, X0, X0
	VPTEST Y1, Y1
	JZ maret
	MOVL $0x7fc00000, AX
	MOVL AX, X0
maret:
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

DATA q8PermIdx<>+0(SB)/4, $0
DATA q8PermIdx<>+4(SB)/4, $4
DATA q8PermIdx<>+8(SB)/4, $1
DATA q8PermIdx<>+12(SB)/4, $5
DATA q8PermIdx<>+16(SB)/4, $2
DATA q8PermIdx<>+20(SB)/4, $6
DATA q8PermIdx<>+24(SB)/4, $3
DATA q8PermIdx<>+28(SB)/4, $7
GLOBL q8PermIdx<>(SB), RODATA|NOPTR, $32

// func quantizeRowAVX2(x *float32, n int, inv float32, sgn *int8, mag *uint8)
// For n a multiple of 32: sgn[i] = x[i]·inv rounded half away from zero (as
// quantizeRows does it: x·inv ± 0.5 in float32, then truncated), which the
// caller's inv keeps within ±127, and mag[i] = |sgn[i]|. Packing int32 →
// int16 → int8 works within 128-bit lanes; VPERMD puts the dwords back in
// order.
TEXT ·quantizeRowAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS inv+16(FP), Y15
	MOVQ sgn+24(FP), DI
	MOVQ mag+32(FP), R8
	MOVL $0x80000000, AX
	MOVL AX, X14
	VPBROADCASTD X14, Y14 // the sign bit
	MOVL $0x3f000000, AX
	MOVL AX, X13
	VPBROADCASTD X13, Y13 // 0.5
	VMOVDQU q8PermIdx<>(SB), Y12
qrloop:
	TESTQ CX, CX
	JZ qrdone
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VMULPS 64(SI), Y15, Y2
	VMULPS 96(SI), Y15, Y3
	VANDPS Y14, Y0, Y4
	VANDPS Y14, Y1, Y5
	VANDPS Y14, Y2, Y6
	VANDPS Y14, Y3, Y7
	VORPS Y13, Y4, Y4
	VORPS Y13, Y5, Y5
	VORPS Y13, Y6, Y6
	VORPS Y13, Y7, Y7
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VCVTTPS2DQ Y0, Y0
	VCVTTPS2DQ Y1, Y1
	VCVTTPS2DQ Y2, Y2
	VCVTTPS2DQ Y3, Y3
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD Y0, Y12, Y0
	VMOVDQU Y0, (DI)
	VPABSB Y0, Y0
	VMOVDQU Y0, (R8)
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $32, R8
	SUBQ $32, CX
	JMP qrloop
qrdone:
	VZEROUPPER
	RET

// func dotBF16PairsAVX2(a *float32, w *uint16, n int) float32
// The dot product of w with activations stored in pair order (pairBF16):
// each 32-byte load of w holds sixteen bfloat16 values, the even ones in
// the low halves of its eight dwords and the odd ones in the high halves,
// so a 16-bit shift widens the even ones and a mask the odd ones — two
// instructions per sixteen weights, where VPMOVZXWD + shift take four.
// n is a multiple of 16; four accumulators.
TEXT ·dotBF16PairsAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	MOVL $0xffff0000, AX
	MOVL AX, X15
	VPBROADCASTD X15, Y15
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
qp1loop32:
	CMPQ CX, $32
	JLT qp1loop16
	VMOVDQU (DI), Y4
	VMOVDQU 32(DI), Y6
	VPSLLD $16, Y4, Y5
	VPAND Y15, Y4, Y4
	VPSLLD $16, Y6, Y7
	VPAND Y15, Y6, Y6
	VFMADD231PS (SI), Y5, Y0
	VFMADD231PS 32(SI), Y4, Y1
	VFMADD231PS 64(SI), Y7, Y2
	VFMADD231PS 96(SI), Y6, Y3
	ADDQ $64, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JMP qp1loop32
qp1loop16:
	TESTQ CX, CX
	JZ qp1done
	VMOVDQU (DI), Y4
	VPSLLD $16, Y4, Y5
	VPAND Y15, Y4, Y4
	VFMADD231PS (SI), Y5, Y0
	VFMADD231PS 32(SI), Y4, Y1
qp1done:
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	VADDPS Y1, Y0, Y0
	REDUCE8(Y0, X0, X5)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET
