//go:build amd64

#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET


// func dotAVX2(a, b *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dloop32:
	CMPQ CX, $32
	JL   dloop8
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
	JMP  dloop32

dloop8:
	CMPQ CX, $8
	JL   dreduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  dloop8

dreduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

dtail:
	TESTQ CX, CX
	JZ    ddone
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  dtail

ddone:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func l2AVX2(a, b *float32, n int) float32
TEXT ·l2AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

lloop32:
	CMPQ CX, $32
	JL   lloop8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VSUBPS (DI), Y4, Y4
	VSUBPS 32(DI), Y5, Y5
	VSUBPS 64(DI), Y6, Y6
	VSUBPS 96(DI), Y7, Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  lloop32

lloop8:
	CMPQ CX, $8
	JL   lreduce
	VMOVUPS (SI), Y4
	VSUBPS (DI), Y4, Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  lloop8

lreduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

ltail:
	TESTQ CX, CX
	JZ    ldone
	VMOVSS (SI), X1
	VSUBSS (DI), X1, X1
	VFMADD231SS X1, X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  ltail

ldone:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotBatchAVX2(q, base *float32, ids *uint32, nids, dim int, out *float32)
//
// out[i] = dot(q, base[ids[i]*dim:]) for i < nids. While computing vector i
// it prefetches every cache line of vector i+2, so the graph walk's random
// reads overlap with arithmetic.
TEXT ·dotBatchAVX2(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), R8
	MOVQ base+8(FP), R9
	MOVQ ids+16(FP), R10
	MOVQ nids+24(FP), R11
	MOVQ dim+32(FP), R12
	MOVQ out+40(FP), R13
	MOVQ R12, R14
	SHLQ $2, R14          // R14 = bytes per vector
	TESTQ R11, R11
	JZ    bdone

	// Prefetch vectors ids[0] and ids[1].
	MOVL (R10), AX
	IMULQ R14, AX
	LEAQ (R9)(AX*1), BX
	XORQ DX, DX
bpre0:
	PREFETCHT0 (BX)(DX*1)
	ADDQ $64, DX
	CMPQ DX, R14
	JL   bpre0
	CMPQ R11, $1
	JLE  bnext
	MOVL 4(R10), AX
	IMULQ R14, AX
	LEAQ (R9)(AX*1), BX
	XORQ DX, DX
bpre1:
	PREFETCHT0 (BX)(DX*1)
	ADDQ $64, DX
	CMPQ DX, R14
	JL   bpre1

bnext:
	// SI = current vector.
	MOVL (R10), AX
	IMULQ R14, AX
	LEAQ (R9)(AX*1), SI

	// Prefetch the vector two ahead, if any.
	CMPQ R11, $2
	JLE  bnopre
	MOVL 8(R10), AX
	IMULQ R14, AX
	LEAQ (R9)(AX*1), BX
	XORQ DX, DX
bpre:
	PREFETCHT0 (BX)(DX*1)
	ADDQ $64, DX
	CMPQ DX, R14
	JL   bpre

bnopre:
	MOVQ R8, DI
	MOVQ R12, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

bloop32:
	CMPQ CX, $32
	JL   bloop8
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
	JMP  bloop32

bloop8:
	CMPQ CX, $8
	JL   breduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  bloop8

breduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

btail:
	TESTQ CX, CX
	JZ    bstore
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  btail

bstore:
	MOVSS X0, (R13)
	ADDQ  $4, R13
	ADDQ  $4, R10
	DECQ  R11
	JNZ   bnext

bdone:
	VZEROUPPER
	RET

// func dotRowsAVX2(q, base *float32, nrows, dim int, out *float32)
//
// out[i] = dot(q, base[i*dim:]) for i < nrows: the exact-scan kernel over a
// contiguous slab. No software prefetch: the hardware prefetcher follows the
// sequential stream, and measured, explicit prefetches only slowed it.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), R8
	MOVQ base+8(FP), SI
	MOVQ nrows+16(FP), R11
	MOVQ dim+24(FP), R12
	MOVQ out+32(FP), R13
	TESTQ R11, R11
	JZ    rdone

rnext:
	MOVQ R8, DI
	MOVQ R12, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

rloop32:
	CMPQ CX, $32
	JL   rloop8
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
	JMP  rloop32

rloop8:
	CMPQ CX, $8
	JL   rreduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  rloop8

rreduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

rtail:
	TESTQ CX, CX
	JZ    rstore
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  rtail

rstore:
	MOVSS X0, (R13)
	ADDQ  $4, R13
	DECQ  R11
	JNZ   rnext

rdone:
	VZEROUPPER
	RET

// func dotCodesAVX2(codes *uint8, w *int16, n int) int32
//
// Sum of codes[i]*w[i]: 8-bit codes widened to 16 bits, multiplied and
// pair-summed into 32-bit lanes by VPMADDWD.
TEXT ·dotCodesAVX2(SB), NOSPLIT, $0-28
	MOVQ codes+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	CALL codesBody<>(SB)
	MOVL AX, ret+24(FP)
	VZEROUPPER
	RET

// codesBody: SI codes, DI weights, CX count → AX sum. Clobbers Y0-Y3, BX.
TEXT codesBody<>(SB), NOSPLIT|NOFRAME, $0
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1

cloop32:
	CMPQ CX, $32
	JL   cloop16
	VPMOVZXBW (SI), Y2
	VPMOVZXBW 16(SI), Y3
	VPMADDWD  (DI), Y2, Y2
	VPMADDWD  32(DI), Y3, Y3
	VPADDD    Y2, Y0, Y0
	VPADDD    Y3, Y1, Y1
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $32, CX
	JMP  cloop32

cloop16:
	CMPQ CX, $16
	JL   creduce
	VPMOVZXBW (SI), Y2
	VPMADDWD  (DI), Y2, Y2
	VPADDD    Y2, Y0, Y0
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $16, CX
	JMP  cloop16

creduce:
	VPADDD       Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	MOVL         X0, AX

ctail:
	TESTQ CX, CX
	JZ    cdone
	MOVBLZX (SI), BX
	MOVWLSX (DI), DX
	IMULL DX, BX
	ADDL  BX, AX
	INCQ  SI
	ADDQ  $2, DI
	DECQ  CX
	JMP   ctail

cdone:
	RET

// func dotCodesBatchAVX2(w *int16, codes *uint8, ids *uint32, nids, dim int, out *int32)
//
// out[i] = Σ codes[ids[i]*dim+j]*w[j], prefetching the next row.
TEXT ·dotCodesBatchAVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), R8
	MOVQ codes+8(FP), R9
	MOVQ ids+16(FP), R10
	MOVQ nids+24(FP), R11
	MOVQ dim+32(FP), R12
	MOVQ out+40(FP), R13
	TESTQ R11, R11
	JZ    qdone

qnext:
	MOVL (R10), AX
	IMULQ R12, AX
	LEAQ (R9)(AX*1), SI
	CMPQ R11, $1
	JLE  qnopre
	MOVL 4(R10), AX
	IMULQ R12, AX
	LEAQ (R9)(AX*1), BX
	XORQ DX, DX
qpre:
	PREFETCHT0 (BX)(DX*1)
	ADDQ $64, DX
	CMPQ DX, R12
	JL   qpre

qnopre:
	MOVQ R8, DI
	MOVQ R12, CX
	CALL codesBody<>(SB)
	MOVL AX, (R13)
	ADDQ $4, R13
	ADDQ $4, R10
	DECQ R11
	JNZ  qnext

qdone:
	VZEROUPPER
	RET

// func prefetchRow(p *uint32)
// Prefetches the 192 bytes at p: a level-0 link row for M up to 23.
TEXT ·prefetchRow(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	RET
