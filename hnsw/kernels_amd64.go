//go:build amd64

package hnsw

// Implemented in kernels_amd64.s.

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func l2AVX2(a, b *float32, n int) float32

//go:noescape
func dotBatchAVX2(q, base *float32, ids *uint32, nids, dim int, out *float32)

//go:noescape
func dotRowsAVX2(q, base *float32, nrows, dim int, out *float32)

//go:noescape
func dotCodesAVX2(codes *uint8, w *int16, n int) int32

//go:noescape
func dotCodesBatchAVX2(w *int16, codes *uint8, ids *uint32, nids, dim int, out *int32)

// detectAVX2FMA reports whether the CPU and the operating system support
// AVX2 and FMA3: CPUID leaf 1 (FMA, OSXSAVE, AVX), XCR0 (the OS saves
// YMM state) and leaf 7 (AVX2).
func detectAVX2FMA() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

//go:noescape
func prefetchRow(p *uint32)
