//go:build !purego

#include "textflag.h"

// The exp below is Exp32's algorithm on 16 lanes: clamp, n = round(x·log2e),
// r = x - n·ln2 (in two parts), a degree-6 polynomial, and VSCALEFPS for
// the multiplication by 2^n (which also underflows and overflows properly).
// Z20..Z31 hold the constants; Z0 is the value, Z1..Z3 temporaries.
#define EXP_CONSTS \
	MOVL $0x3fb8aa3b, R8; VPBROADCASTD R8, Z20 \
	MOVL $0x3f318000, R8; VPBROADCASTD R8, Z21 \
	MOVL $0xb95e8083, R8; VPBROADCASTD R8, Z22 \
	MOVL $0x39506967, R8; VPBROADCASTD R8, Z23 \
	MOVL $0x3ab743ce, R8; VPBROADCASTD R8, Z24 \
	MOVL $0x3c088908, R8; VPBROADCASTD R8, Z25 \
	MOVL $0x3d2aa9c1, R8; VPBROADCASTD R8, Z26 \
	MOVL $0x3e2aaaaa, R8; VPBROADCASTD R8, Z27 \
	MOVL $0x3f000000, R8; VPBROADCASTD R8, Z28 \
	MOVL $0x3f800000, R8; VPBROADCASTD R8, Z29 \
	MOVL $0x42b17218, R8; VPBROADCASTD R8, Z30 \
	MOVL $0xc2dc0000, R8; VPBROADCASTD R8, Z31

// EXP16 sets Z0 = exp(Z0).
#define EXP16 \
	VMINPS Z30, Z0, Z0 \
	VMAXPS Z31, Z0, Z0 \
	VMULPS Z20, Z0, Z1 \
	VRNDSCALEPS $0, Z1, Z1 \
	VFNMADD231PS Z21, Z1, Z0 \
	VFNMADD231PS Z22, Z1, Z0 \
	VMOVAPS Z23, Z2 \
	VFMADD213PS Z24, Z0, Z2 \
	VFMADD213PS Z25, Z0, Z2 \
	VFMADD213PS Z26, Z0, Z2 \
	VFMADD213PS Z27, Z0, Z2 \
	VFMADD213PS Z28, Z0, Z2 \
	VMULPS Z0, Z0, Z3 \
	VFMADD213PS Z0, Z3, Z2 \
	VADDPS Z29, Z2, Z2 \
	VSCALEFPS Z1, Z2, Z0

// func expShiftSumAVX512(x *float32, n int, shift float32) float32
// x[i] = exp(x[i] - shift) in place; returns the sum of the new values.
TEXT ·expShiftSumAVX512(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS shift+16(FP), Z4
	VPXORD Z9, Z9, Z9
	EXP_CONSTS
eloop:
	CMPQ CX, $16
	JLT etail
	VMOVUPS (SI), Z0
	VSUBPS Z4, Z0, Z0
	EXP16
	VMOVUPS Z0, (SI)
	VADDPS Z0, Z9, Z9
	ADDQ $64, SI
	SUBQ $16, CX
	JMP eloop
etail:
	TESTQ CX, CX
	JZ esum
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS Z4, Z0, Z0
	EXP16
	VMOVUPS Z0, K1, (SI)
	VADDPS Z0, Z9, K1, Z9
esum:
	VEXTRACTF64X4 $1, Z9, Y10
	VADDPS Y10, Y9, Y9
	VEXTRACTF128 $1, Y9, X10
	VADDPS X10, X9, X9
	VMOVHLPS X9, X10, X10
	VADDPS X10, X9, X9
	VMOVSHDUP X9, X10
	VADDSS X10, X9, X9
	VMOVSS X9, ret+24(FP)
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) float32
// The largest of x[0:n] (-Inf for n = 0).
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, R8
	VPBROADCASTD R8, Z9
mloop:
	CMPQ CX, $16
	JLT mtail
	VMAXPS (SI), Z9, Z9
	ADDQ $64, SI
	SUBQ $16, CX
	JMP mloop
mtail:
	TESTQ CX, CX
	JZ mreduce
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMAXPS Z0, Z9, K1, Z9
mreduce:
	VEXTRACTF64X4 $1, Z9, Y10
	VMAXPS Y10, Y9, Y9
	VEXTRACTF128 $1, Y9, X10
	VMAXPS X10, X9, X9
	VMOVHLPS X9, X10, X10
	VMAXPS X10, X9, X9
	VMOVSHDUP X9, X10
	VMAXSS X10, X9, X9
	VMOVSS X9, ret+16(FP)
	VZEROUPPER
	RET

// GELU constants: Z10 = 0.044715, Z11 = -2·√(2/π), Z12 = 2, Z13 = 80,
// Z14 = √(2/π), Z15 = 3·0.044715·√(2/π).
#define GELU_CONSTS \
	MOVL $0x3d372713, R8; VPBROADCASTD R8, Z10 \
	MOVL $0x42a00000, R8; VPBROADCASTD R8, Z13 \
	MOVL $0xbfcc422a, R8; VPBROADCASTD R8, Z11 \
	MOVL $0x40000000, R8; VPBROADCASTD R8, Z12 \
	MOVL $0x3f4c422a, R8; VPBROADCASTD R8, Z14 \
	MOVL $0x3ddb33b6, R8; VPBROADCASTD R8, Z15

// GELU_S sets Z7 = σ(2u) = 1/(1 + exp(-2u)) = 0.5·(1 + tanh(u)) for
// u = √(2/π)(x + 0.044715x³), x in Z5. This form has no cancellation for
// large negative x, where 1 + tanh(u) would lose every digit.
#define GELU_S \
	VMULPS Z5, Z5, Z6 \
	VMULPS Z10, Z6, Z6 \
	VFMADD213PS Z5, Z5, Z6 \
	VMULPS Z11, Z6, Z0 \
	EXP16 \
	VADDPS Z29, Z0, Z0 \
	VDIVPS Z0, Z29, Z7

// GELU_FWD sets Z9 = x·σ(2u).
#define GELU_FWD \
	GELU_S \
	VMULPS Z7, Z5, Z9

// GELU_BWD sets Z9 = dy·GELU'(x), dy in Z4. With s = σ(2u) = 1/(1 + e),
// e = exp(−2u): GELU'(x) = s + 2·x·s(1−s)·√(2/π)(1 + 3·0.044715x²), and
// s(1−s) = s·(s·e) keeps its relative precision for large x, where s − s²
// would lose it (1 − s is below s's rounding error there). −2u is first
// capped at 80 (x < −10.3) so that e stays finite (s·e would be 0·∞): the
// derivative there, below 1e-32, comes out of order 1e-35·|x|³, not 0.
#define GELU_BWD \
	VMULPS Z5, Z5, Z6 \
	VMULPS Z10, Z6, Z6 \
	VFMADD213PS Z5, Z5, Z6 \
	VMULPS Z11, Z6, Z0 \
	VMINPS Z13, Z0, Z0 \
	EXP16 \
	VMOVAPS Z0, Z16 \
	VADDPS Z29, Z0, Z0 \
	VDIVPS Z0, Z29, Z7 \
	VMULPS Z16, Z7, Z18 \
	VMULPS Z7, Z18, Z18 \
	VMULPS Z5, Z5, Z19 \
	VFMADD213PS Z14, Z15, Z19 \
	VMULPS Z18, Z19, Z19 \
	VMULPS Z5, Z19, Z19 \
	VMOVAPS Z7, Z17 \
	VFMADD231PS Z12, Z19, Z17 \
	VMULPS Z4, Z17, Z9

// func geluAVX512(y, x *float32, n int)
TEXT ·geluAVX512(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXP_CONSTS
	GELU_CONSTS
gloop:
	CMPQ CX, $16
	JLT gtail
	VMOVUPS (SI), Z5
	GELU_FWD
	VMOVUPS Z9, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP gloop
gtail:
	TESTQ CX, CX
	JZ gdone
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z5
	GELU_FWD
	VMOVUPS Z9, K1, (DI)
gdone:
	VZEROUPPER
	RET

// func geluBackwardAVX512(dx, x, dy *float32, n int)
TEXT ·geluBackwardAVX512(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	EXP_CONSTS
	GELU_CONSTS
gbloop:
	CMPQ CX, $16
	JLT gbtail
	VMOVUPS (SI), Z5
	VMOVUPS (DX), Z4
	GELU_BWD
	VMOVUPS Z9, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP gbloop
gbtail:
	TESTQ CX, CX
	JZ gbdone
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z5
	VMOVUPS.Z (DX), K1, Z4
	GELU_BWD
	VMOVUPS Z9, K1, (DI)
gbdone:
	VZEROUPPER
	RET

// Constants of geluAVX2, eight lanes each: the exp polynomial (Exp32's) and
// the exponent bias.
DATA geluAVX2Consts<>+0(SB)/4, $0x39506967
DATA geluAVX2Consts<>+4(SB)/4, $0x39506967
DATA geluAVX2Consts<>+8(SB)/4, $0x39506967
DATA geluAVX2Consts<>+12(SB)/4, $0x39506967
DATA geluAVX2Consts<>+16(SB)/4, $0x39506967
DATA geluAVX2Consts<>+20(SB)/4, $0x39506967
DATA geluAVX2Consts<>+24(SB)/4, $0x39506967
DATA geluAVX2Consts<>+28(SB)/4, $0x39506967
DATA geluAVX2Consts<>+32(SB)/4, $0x3ab743ce
DATA geluAVX2Consts<>+36(SB)/4, $0x3ab743ce
DATA geluAVX2Consts<>+40(SB)/4, $0x3ab743ce
DATA geluAVX2Consts<>+44(SB)/4, $0x3ab743ce
DATA geluAVX2Consts<>+48(SB)/4, $0x3ab743ce
DATA geluAVX2Consts<>+52(SB)/4, $0x3ab743ce
DATA geluAVX2Consts<>+56(SB)/4, $0x3ab743ce
DATA geluAVX2Consts<>+60(SB)/4, $0x3ab743ce
DATA geluAVX2Consts<>+64(SB)/4, $0x3c088908
DATA geluAVX2Consts<>+68(SB)/4, $0x3c088908
DATA geluAVX2Consts<>+72(SB)/4, $0x3c088908
DATA geluAVX2Consts<>+76(SB)/4, $0x3c088908
DATA geluAVX2Consts<>+80(SB)/4, $0x3c088908
DATA geluAVX2Consts<>+84(SB)/4, $0x3c088908
DATA geluAVX2Consts<>+88(SB)/4, $0x3c088908
DATA geluAVX2Consts<>+92(SB)/4, $0x3c088908
DATA geluAVX2Consts<>+96(SB)/4, $0x3d2aa9c1
DATA geluAVX2Consts<>+100(SB)/4, $0x3d2aa9c1
DATA geluAVX2Consts<>+104(SB)/4, $0x3d2aa9c1
DATA geluAVX2Consts<>+108(SB)/4, $0x3d2aa9c1
DATA geluAVX2Consts<>+112(SB)/4, $0x3d2aa9c1
DATA geluAVX2Consts<>+116(SB)/4, $0x3d2aa9c1
DATA geluAVX2Consts<>+120(SB)/4, $0x3d2aa9c1
DATA geluAVX2Consts<>+124(SB)/4, $0x3d2aa9c1
DATA geluAVX2Consts<>+128(SB)/4, $0x3e2aaaaa
DATA geluAVX2Consts<>+132(SB)/4, $0x3e2aaaaa
DATA geluAVX2Consts<>+136(SB)/4, $0x3e2aaaaa
DATA geluAVX2Consts<>+140(SB)/4, $0x3e2aaaaa
DATA geluAVX2Consts<>+144(SB)/4, $0x3e2aaaaa
DATA geluAVX2Consts<>+148(SB)/4, $0x3e2aaaaa
DATA geluAVX2Consts<>+152(SB)/4, $0x3e2aaaaa
DATA geluAVX2Consts<>+156(SB)/4, $0x3e2aaaaa
DATA geluAVX2Consts<>+160(SB)/4, $0x3f000000
DATA geluAVX2Consts<>+164(SB)/4, $0x3f000000
DATA geluAVX2Consts<>+168(SB)/4, $0x3f000000
DATA geluAVX2Consts<>+172(SB)/4, $0x3f000000
DATA geluAVX2Consts<>+176(SB)/4, $0x3f000000
DATA geluAVX2Consts<>+180(SB)/4, $0x3f000000
DATA geluAVX2Consts<>+184(SB)/4, $0x3f000000
DATA geluAVX2Consts<>+188(SB)/4, $0x3f000000
DATA geluAVX2Consts<>+192(SB)/4, $0x0000007f
DATA geluAVX2Consts<>+196(SB)/4, $0x0000007f
DATA geluAVX2Consts<>+200(SB)/4, $0x0000007f
DATA geluAVX2Consts<>+204(SB)/4, $0x0000007f
DATA geluAVX2Consts<>+208(SB)/4, $0x0000007f
DATA geluAVX2Consts<>+212(SB)/4, $0x0000007f
DATA geluAVX2Consts<>+216(SB)/4, $0x0000007f
DATA geluAVX2Consts<>+220(SB)/4, $0x0000007f
GLOBL geluAVX2Consts<>(SB), RODATA|NOPTR, $224

// EXP8_CONSTS loads the eight-lane exp's constants: Y10 log2e, Y11 and Y12
// ln2 in two parts, Y13 1, Y14 and Y15 the clamp of the argument.
#define EXP8_CONSTS \
	MOVL $0x3fb8aa3b, R8; MOVL R8, X10; VPBROADCASTD X10, Y10 \
	MOVL $0x3f318000, R8; MOVL R8, X11; VPBROADCASTD X11, Y11 \
	MOVL $0xb95e8083, R8; MOVL R8, X12; VPBROADCASTD X12, Y12 \
	MOVL $0x3f800000, R8; MOVL R8, X13; VPBROADCASTD X13, Y13 \
	MOVL $0x42b0999a, R8; MOVL R8, X14; VPBROADCASTD X14, Y14 \
	MOVL $0xc2ae999a, R8; MOVL R8, X15; VPBROADCASTD X15, Y15

// EXP8 sets Y0 = exp(Y0) on eight lanes (Exp32's algorithm; DX points at
// geluAVX2Consts, the polynomial and the exponent bias), using Y1..Y4.
#define EXP8 \
	VMINPS Y14, Y0, Y0 \
	VMAXPS Y15, Y0, Y0 \
	VMULPS Y10, Y0, Y1 \
	VROUNDPS $0, Y1, Y1 \
	VFNMADD231PS Y11, Y1, Y0 \
	VFNMADD231PS Y12, Y1, Y0 \
	VMOVUPS (DX), Y2 \
	VFMADD213PS 32(DX), Y0, Y2 \
	VFMADD213PS 64(DX), Y0, Y2 \
	VFMADD213PS 96(DX), Y0, Y2 \
	VFMADD213PS 128(DX), Y0, Y2 \
	VFMADD213PS 160(DX), Y0, Y2 \
	VMULPS Y0, Y0, Y3 \
	VFMADD213PS Y0, Y3, Y2 \
	VADDPS Y13, Y2, Y2 \
	VCVTPS2DQ Y1, Y4 \
	VPADDD 192(DX), Y4, Y4 \
	VPSLLD $23, Y4, Y4 \
	VMULPS Y4, Y2, Y0

// EXP8_OF_Y2 sets Y0 = exp(Y2).
#define EXP8_OF_Y2 \
	VMOVAPS Y2, Y0 \
	EXP8

// func geluAVX2(y, x *float32, n int)
// y = x·σ(2u), u = √(2/π)(x + 0.044715x³), for n a multiple of 8: the
// AVX-512 kernel's algorithm on eight lanes, exp's 2^n made by building
// the float's exponent (so the argument is clamped to [−87.3, 88.3],
// where exp stays a normal float).
TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	LEAQ geluAVX2Consts<>(SB), DX
	MOVL $0x3d372713, R8
	MOVL R8, X8
	VPBROADCASTD X8, Y8
	MOVL $0xbfcc422a, R8
	MOVL R8, X9
	VPBROADCASTD X9, Y9
	EXP8_CONSTS
g2loop:
	CMPQ CX, $8
	JLT g2done
	VMOVUPS (SI), Y5
	VMULPS Y5, Y5, Y6
	VMULPS Y8, Y6, Y6
	VFMADD213PS Y5, Y5, Y6
	VMULPS Y9, Y6, Y0
	EXP8
	VADDPS Y13, Y0, Y0
	VDIVPS Y0, Y13, Y7
	VMULPS Y7, Y5, Y7
	VMOVUPS Y7, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP g2loop
g2done:
	VZEROUPPER
	RET

DATA geluErfAVX2Consts<>+0(SB)/4, $0x3e2ef945
DATA geluErfAVX2Consts<>+4(SB)/4, $0x3e2ef945
DATA geluErfAVX2Consts<>+8(SB)/4, $0x3e2ef945
DATA geluErfAVX2Consts<>+12(SB)/4, $0x3e2ef945
DATA geluErfAVX2Consts<>+16(SB)/4, $0x3e2ef945
DATA geluErfAVX2Consts<>+20(SB)/4, $0x3e2ef945
DATA geluErfAVX2Consts<>+24(SB)/4, $0x3e2ef945
DATA geluErfAVX2Consts<>+28(SB)/4, $0x3e2ef945
DATA geluErfAVX2Consts<>+32(SB)/4, $0xbf527892
DATA geluErfAVX2Consts<>+36(SB)/4, $0xbf527892
DATA geluErfAVX2Consts<>+40(SB)/4, $0xbf527892
DATA geluErfAVX2Consts<>+44(SB)/4, $0xbf527892
DATA geluErfAVX2Consts<>+48(SB)/4, $0xbf527892
DATA geluErfAVX2Consts<>+52(SB)/4, $0xbf527892
DATA geluErfAVX2Consts<>+56(SB)/4, $0xbf527892
DATA geluErfAVX2Consts<>+60(SB)/4, $0xbf527892
DATA geluErfAVX2Consts<>+64(SB)/4, $0x3fbe87b0
DATA geluErfAVX2Consts<>+68(SB)/4, $0x3fbe87b0
DATA geluErfAVX2Consts<>+72(SB)/4, $0x3fbe87b0
DATA geluErfAVX2Consts<>+76(SB)/4, $0x3fbe87b0
DATA geluErfAVX2Consts<>+80(SB)/4, $0x3fbe87b0
DATA geluErfAVX2Consts<>+84(SB)/4, $0x3fbe87b0
DATA geluErfAVX2Consts<>+88(SB)/4, $0x3fbe87b0
DATA geluErfAVX2Consts<>+92(SB)/4, $0x3fbe87b0
DATA geluErfAVX2Consts<>+96(SB)/4, $0xbf914e5d
DATA geluErfAVX2Consts<>+100(SB)/4, $0xbf914e5d
DATA geluErfAVX2Consts<>+104(SB)/4, $0xbf914e5d
DATA geluErfAVX2Consts<>+108(SB)/4, $0xbf914e5d
DATA geluErfAVX2Consts<>+112(SB)/4, $0xbf914e5d
DATA geluErfAVX2Consts<>+116(SB)/4, $0xbf914e5d
DATA geluErfAVX2Consts<>+120(SB)/4, $0xbf914e5d
DATA geluErfAVX2Consts<>+124(SB)/4, $0xbf914e5d
DATA geluErfAVX2Consts<>+128(SB)/4, $0x3e8ec7cc
DATA geluErfAVX2Consts<>+132(SB)/4, $0x3e8ec7cc
DATA geluErfAVX2Consts<>+136(SB)/4, $0x3e8ec7cc
DATA geluErfAVX2Consts<>+140(SB)/4, $0x3e8ec7cc
DATA geluErfAVX2Consts<>+144(SB)/4, $0x3e8ec7cc
DATA geluErfAVX2Consts<>+148(SB)/4, $0x3e8ec7cc
DATA geluErfAVX2Consts<>+152(SB)/4, $0x3e8ec7cc
DATA geluErfAVX2Consts<>+156(SB)/4, $0x3e8ec7cc
DATA geluErfAVX2Consts<>+160(SB)/4, $0xbe3ec24c
DATA geluErfAVX2Consts<>+164(SB)/4, $0xbe3ec24c
DATA geluErfAVX2Consts<>+168(SB)/4, $0xbe3ec24c
DATA geluErfAVX2Consts<>+172(SB)/4, $0xbe3ec24c
DATA geluErfAVX2Consts<>+176(SB)/4, $0xbe3ec24c
DATA geluErfAVX2Consts<>+180(SB)/4, $0xbe3ec24c
DATA geluErfAVX2Consts<>+184(SB)/4, $0xbe3ec24c
DATA geluErfAVX2Consts<>+188(SB)/4, $0xbe3ec24c
DATA geluErfAVX2Consts<>+192(SB)/4, $0x3dc636c9
DATA geluErfAVX2Consts<>+196(SB)/4, $0x3dc636c9
DATA geluErfAVX2Consts<>+200(SB)/4, $0x3dc636c9
DATA geluErfAVX2Consts<>+204(SB)/4, $0x3dc636c9
DATA geluErfAVX2Consts<>+208(SB)/4, $0x3dc636c9
DATA geluErfAVX2Consts<>+212(SB)/4, $0x3dc636c9
DATA geluErfAVX2Consts<>+216(SB)/4, $0x3dc636c9
DATA geluErfAVX2Consts<>+220(SB)/4, $0x3dc636c9
DATA geluErfAVX2Consts<>+224(SB)/4, $0x3ebf88fb
DATA geluErfAVX2Consts<>+228(SB)/4, $0x3ebf88fb
DATA geluErfAVX2Consts<>+232(SB)/4, $0x3ebf88fb
DATA geluErfAVX2Consts<>+236(SB)/4, $0x3ebf88fb
DATA geluErfAVX2Consts<>+240(SB)/4, $0x3ebf88fb
DATA geluErfAVX2Consts<>+244(SB)/4, $0x3ebf88fb
DATA geluErfAVX2Consts<>+248(SB)/4, $0x3ebf88fb
DATA geluErfAVX2Consts<>+252(SB)/4, $0x3ebf88fb
DATA geluErfAVX2Consts<>+256(SB)/4, $0x3f8000c7
DATA geluErfAVX2Consts<>+260(SB)/4, $0x3f8000c7
DATA geluErfAVX2Consts<>+264(SB)/4, $0x3f8000c7
DATA geluErfAVX2Consts<>+268(SB)/4, $0x3f8000c7
DATA geluErfAVX2Consts<>+272(SB)/4, $0x3f8000c7
DATA geluErfAVX2Consts<>+276(SB)/4, $0x3f8000c7
DATA geluErfAVX2Consts<>+280(SB)/4, $0x3f8000c7
DATA geluErfAVX2Consts<>+284(SB)/4, $0x3f8000c7
DATA geluErfAVX2Consts<>+288(SB)/4, $0xbfa1fc4e
DATA geluErfAVX2Consts<>+292(SB)/4, $0xbfa1fc4e
DATA geluErfAVX2Consts<>+296(SB)/4, $0xbfa1fc4e
DATA geluErfAVX2Consts<>+300(SB)/4, $0xbfa1fc4e
DATA geluErfAVX2Consts<>+304(SB)/4, $0xbfa1fc4e
DATA geluErfAVX2Consts<>+308(SB)/4, $0xbfa1fc4e
DATA geluErfAVX2Consts<>+312(SB)/4, $0xbfa1fc4e
DATA geluErfAVX2Consts<>+316(SB)/4, $0xbfa1fc4e
DATA geluErfAVX2Consts<>+320(SB)/4, $0x7fffffff
DATA geluErfAVX2Consts<>+324(SB)/4, $0x7fffffff
DATA geluErfAVX2Consts<>+328(SB)/4, $0x7fffffff
DATA geluErfAVX2Consts<>+332(SB)/4, $0x7fffffff
DATA geluErfAVX2Consts<>+336(SB)/4, $0x7fffffff
DATA geluErfAVX2Consts<>+340(SB)/4, $0x7fffffff
DATA geluErfAVX2Consts<>+344(SB)/4, $0x7fffffff
DATA geluErfAVX2Consts<>+348(SB)/4, $0x7fffffff
GLOBL geluErfAVX2Consts<>(SB), RODATA|NOPTR, $352

// func geluErfAVX2(y, x *float32, n int)
// y = x·Φ(x), the exact GELU, for n a multiple of 8: Φ from erfc(|x|/√2)
// by the Go GELUErf's Chebyshev fit (t = 1/(1 + z/2), a degree-9
// polynomial in t, erfc = t·exp(p − z²)), exp as geluAVX2 computes it
// (geluAVX2Consts), Φ = erfc/2 for x < 0 and 1 − erfc/2 otherwise.
TEXT ·geluErfAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	LEAQ geluAVX2Consts<>(SB), DX
	LEAQ geluErfAVX2Consts<>(SB), BX
	MOVL $0x3f3504f3, R8
	MOVL R8, X8
	VPBROADCASTD X8, Y8
	MOVL $0x3f000000, R8
	MOVL R8, X9
	VPBROADCASTD X9, Y9
	EXP8_CONSTS
ge2loop:
	CMPQ CX, $8
	JLT ge2done
	VMOVUPS (SI), Y5
	VANDPS 320(BX), Y5, Y6
	VMULPS Y8, Y6, Y6
	VMOVAPS Y6, Y7
	VFMADD213PS Y13, Y9, Y7
	VDIVPS Y7, Y13, Y7
	VMOVUPS (BX), Y2
	VFMADD213PS 32(BX), Y7, Y2
	VFMADD213PS 64(BX), Y7, Y2
	VFMADD213PS 96(BX), Y7, Y2
	VFMADD213PS 128(BX), Y7, Y2
	VFMADD213PS 160(BX), Y7, Y2
	VFMADD213PS 192(BX), Y7, Y2
	VFMADD213PS 224(BX), Y7, Y2
	VFMADD213PS 256(BX), Y7, Y2
	VFMADD213PS 288(BX), Y7, Y2
	VFNMADD231PS Y6, Y6, Y2
	EXP8_OF_Y2
	VMULPS Y7, Y0, Y0
	VMULPS Y9, Y0, Y0
	VSUBPS Y0, Y13, Y1
	VBLENDVPS Y5, Y0, Y1, Y2
	VMULPS Y2, Y5, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP ge2loop
ge2done:
	VZEROUPPER
	RET

// func expShiftSumAVX2(x *float32, n int, shift float32) float32
// x[i] = exp(x[i] - shift) in place for n a multiple of 8; returns the sum
// of the new values. Lanes whose shifted argument is below EXP8's clamp
// (−87.3: -Inf among them) give 0, as the doc of ExpShiftSum says. Two
// accumulators, so consecutive additions do not wait on each other.
TEXT ·expShiftSumAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS shift+16(FP), Y8
	LEAQ geluAVX2Consts<>(SB), DX
	EXP8_CONSTS
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
e2loop:
	CMPQ CX, $8
	JLT e2done
	VMOVUPS (SI), Y0
	VSUBPS Y8, Y0, Y0
	VCMPPS $1, Y15, Y0, Y5 // Y5 = (argument < clamp): lanes that are 0
	EXP8
	VANDNPS Y0, Y5, Y0
	VMOVUPS Y0, (SI)
	VADDPS Y0, Y6, Y6
	VMOVAPS Y6, Y9
	VMOVAPS Y7, Y6
	VMOVAPS Y9, Y7
	ADDQ $32, SI
	SUBQ $8, CX
	JMP e2loop
e2done:
	VADDPS Y7, Y6, Y6
	VEXTRACTF128 $1, Y6, X7
	VADDPS X7, X6, X6
	VMOVHLPS X6, X7, X7
	VADDPS X7, X6, X6
	VMOVSHDUP X6, X7
	VADDSS X7, X6, X6
	VMOVSS X6, ret+24(FP)
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
// The largest of x[0:n] for n a multiple of 8 (-Inf for n = 0).
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, R8
	MOVL R8, X9
	VPBROADCASTD X9, Y9
	VMOVAPS Y9, Y8
m2loop:
	CMPQ CX, $16
	JLT m2one
	VMAXPS (SI), Y9, Y9
	VMAXPS 32(SI), Y8, Y8
	ADDQ $64, SI
	SUBQ $16, CX
	JMP m2loop
m2one:
	CMPQ CX, $8
	JLT m2reduce
	VMAXPS (SI), Y9, Y9
m2reduce:
	VMAXPS Y8, Y9, Y9
	VEXTRACTF128 $1, Y9, X10
	VMAXPS X10, X9, X9
	VMOVHLPS X9, X10, X10
	VMAXPS X10, X9, X9
	VMOVSHDUP X9, X10
	VMAXSS X10, X9, X9
	VMOVSS X9, ret+16(FP)
	VZEROUPPER
	RET

// Constants of geluBackwardAVX2, eight lanes each: 3·0.044715·√(2/π) and
// √(2/π).
DATA geluBwdAVX2Consts<>+0(SB)/4, $0x3ddb33b6
DATA geluBwdAVX2Consts<>+4(SB)/4, $0x3ddb33b6
DATA geluBwdAVX2Consts<>+8(SB)/4, $0x3ddb33b6
DATA geluBwdAVX2Consts<>+12(SB)/4, $0x3ddb33b6
DATA geluBwdAVX2Consts<>+16(SB)/4, $0x3ddb33b6
DATA geluBwdAVX2Consts<>+20(SB)/4, $0x3ddb33b6
DATA geluBwdAVX2Consts<>+24(SB)/4, $0x3ddb33b6
DATA geluBwdAVX2Consts<>+28(SB)/4, $0x3ddb33b6
DATA geluBwdAVX2Consts<>+32(SB)/4, $0x3f4c422a
DATA geluBwdAVX2Consts<>+36(SB)/4, $0x3f4c422a
DATA geluBwdAVX2Consts<>+40(SB)/4, $0x3f4c422a
DATA geluBwdAVX2Consts<>+44(SB)/4, $0x3f4c422a
DATA geluBwdAVX2Consts<>+48(SB)/4, $0x3f4c422a
DATA geluBwdAVX2Consts<>+52(SB)/4, $0x3f4c422a
DATA geluBwdAVX2Consts<>+56(SB)/4, $0x3f4c422a
DATA geluBwdAVX2Consts<>+60(SB)/4, $0x3f4c422a
GLOBL geluBwdAVX2Consts<>(SB), RODATA|NOPTR, $64

// func geluBackwardAVX2(dx, x, dy *float32, n int)
// dx = dy·GELU'(x) for n a multiple of 8: with s = σ(2u) = 1/(1 + e),
// e = exp(−2u), GELU'(x) = s + 2·x·s(1−s)·√(2/π)(1 + 3·0.044715x²), and
// s(1−s) = s·(s·e) keeps its relative precision for large x (the AVX-512
// kernel's s − s² does not).
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), R10
	MOVQ n+24(FP), CX
	LEAQ geluAVX2Consts<>(SB), DX
	LEAQ geluBwdAVX2Consts<>(SB), R9
	MOVL $0x3d372713, R8
	MOVL R8, X8
	VPBROADCASTD X8, Y8
	MOVL $0xbfcc422a, R8
	MOVL R8, X9
	VPBROADCASTD X9, Y9
	EXP8_CONSTS
gb2loop:
	CMPQ CX, $8
	JLT gb2done
	VMOVUPS (SI), Y5
	VMULPS Y5, Y5, Y6
	VMULPS Y8, Y6, Y6
	VFMADD213PS Y5, Y5, Y6
	VMULPS Y9, Y6, Y0
	EXP8
	VMOVAPS Y0, Y3 // e = exp(−2u)
	VADDPS Y13, Y0, Y0
	VDIVPS Y0, Y13, Y7 // s
	VMULPS Y3, Y7, Y6
	VMULPS Y7, Y6, Y6 // s(1−s) as s·(s·e): 1 − s itself would lose its digits where s → 1
	VMULPS Y5, Y5, Y1
	VMOVUPS (R9), Y2
	VFMADD213PS 32(R9), Y2, Y1 // √(2/π)(1 + 3·0.044715x²)
	VMULPS Y6, Y1, Y1
	VMULPS Y5, Y1, Y1
	VADDPS Y1, Y1, Y1
	VADDPS Y7, Y1, Y1
	VMULPS (R10), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, DI
	SUBQ $8, CX
	JMP gb2loop
gb2done:
	VZEROUPPER
	RET

// Constants of geluErfBackwardAVX2, eight lanes each: −1/2 and 1/√(2π).
DATA geluErfBwdConsts<>+0(SB)/4, $0xbf000000
DATA geluErfBwdConsts<>+4(SB)/4, $0xbf000000
DATA geluErfBwdConsts<>+8(SB)/4, $0xbf000000
DATA geluErfBwdConsts<>+12(SB)/4, $0xbf000000
DATA geluErfBwdConsts<>+16(SB)/4, $0xbf000000
DATA geluErfBwdConsts<>+20(SB)/4, $0xbf000000
DATA geluErfBwdConsts<>+24(SB)/4, $0xbf000000
DATA geluErfBwdConsts<>+28(SB)/4, $0xbf000000
DATA geluErfBwdConsts<>+32(SB)/4, $0x3ecc422a
DATA geluErfBwdConsts<>+36(SB)/4, $0x3ecc422a
DATA geluErfBwdConsts<>+40(SB)/4, $0x3ecc422a
DATA geluErfBwdConsts<>+44(SB)/4, $0x3ecc422a
DATA geluErfBwdConsts<>+48(SB)/4, $0x3ecc422a
DATA geluErfBwdConsts<>+52(SB)/4, $0x3ecc422a
DATA geluErfBwdConsts<>+56(SB)/4, $0x3ecc422a
DATA geluErfBwdConsts<>+60(SB)/4, $0x3ecc422a
GLOBL geluErfBwdConsts<>(SB), RODATA|NOPTR, $64

// func geluErfBackwardAVX2(dx, x, dy *float32, n int)
// dx = dy·(Φ(x) + x·φ(x)) for n a multiple of 8, φ(x) = exp(−x²/2)/√(2π):
// Φ as geluErfAVX2 computes it, then the density from EXP8.
TEXT ·geluErfBackwardAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), R10
	MOVQ n+24(FP), CX
	LEAQ geluAVX2Consts<>(SB), DX
	LEAQ geluErfAVX2Consts<>(SB), BX
	LEAQ geluErfBwdConsts<>(SB), R9
	MOVL $0x3f3504f3, R8
	MOVL R8, X8
	VPBROADCASTD X8, Y8
	MOVL $0x3f000000, R8
	MOVL R8, X9
	VPBROADCASTD X9, Y9
	EXP8_CONSTS
geb2loop:
	CMPQ CX, $8
	JLT geb2done
	VMOVUPS (SI), Y5
	VANDPS 320(BX), Y5, Y6
	VMULPS Y8, Y6, Y6
	VMOVAPS Y6, Y7
	VFMADD213PS Y13, Y9, Y7
	VDIVPS Y7, Y13, Y7
	VMOVUPS (BX), Y2
	VFMADD213PS 32(BX), Y7, Y2
	VFMADD213PS 64(BX), Y7, Y2
	VFMADD213PS 96(BX), Y7, Y2
	VFMADD213PS 128(BX), Y7, Y2
	VFMADD213PS 160(BX), Y7, Y2
	VFMADD213PS 192(BX), Y7, Y2
	VFMADD213PS 224(BX), Y7, Y2
	VFMADD213PS 256(BX), Y7, Y2
	VFMADD213PS 288(BX), Y7, Y2
	VFNMADD231PS Y6, Y6, Y2
	EXP8_OF_Y2
	VMULPS Y7, Y0, Y0
	VMULPS Y9, Y0, Y0
	VSUBPS Y0, Y13, Y1
	VBLENDVPS Y5, Y0, Y1, Y2
	VMOVAPS Y2, Y6 // Φ(x)
	VMULPS Y5, Y5, Y0
	VMULPS (R9), Y0, Y0 // −x²/2
	EXP8
	VMULPS 32(R9), Y0, Y0 // φ(x)
	VFMADD213PS Y6, Y5, Y0 // Φ(x) + x·φ(x)
	VMULPS (R10), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, DI
	SUBQ $8, CX
	JMP geb2loop
geb2done:
	VZEROUPPER
	RET
