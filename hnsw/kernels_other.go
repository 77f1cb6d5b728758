//go:build !amd64

package hnsw

// Other architectures use the pure-Go kernels; these stand-ins are never
// called because detectAVX2FMA reports false.

func detectAVX2FMA() bool { return false }

func dotAVX2(a, b *float32, n int) float32 { panic("unreachable") }
func l2AVX2(a, b *float32, n int) float32  { panic("unreachable") }
func dotBatchAVX2(q, base *float32, ids *uint32, nids, dim int, out *float32) {
	panic("unreachable")
}
func dotRowsAVX2(q, base *float32, nrows, dim int, out *float32) { panic("unreachable") }
func dotCodesAVX2(codes *uint8, w *int16, n int) int32           { panic("unreachable") }
func dotCodesBatchAVX2(w *int16, codes *uint8, ids *uint32, nids, dim int, out *int32) {
	panic("unreachable")
}

func prefetchRow(p *uint32) {}
