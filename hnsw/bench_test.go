package hnsw

import (
	"context"
	"testing"
)

// benchIndex builds a clustered 384-dimensional index for the search
// benchmarks; it is large enough (50k vectors, 77 MB) to leave the caches.
func benchIndex(b *testing.B, quant Quantization) (*Index, [][]float32) {
	b.Helper()
	data := clustered(40, 51000, 384, 256)
	opt := Options{Dim: 384, Seed: 1, Quantization: quant}
	base := data[:50000]
	if quant == Int8 {
		opt.Source = func(id uint32, dst []float32) []float32 { return base[id] }
	}
	x, err := Build(context.Background(), opt, base)
	if err != nil {
		b.Fatal(err)
	}
	return x, data[50000:]
}

func BenchmarkSearch(b *testing.B) {
	for _, quant := range []Quantization{Float32, Int8} {
		b.Run(quant.String(), func(b *testing.B) {
			x, qs := benchIndex(b, quant)
			var buf []Result
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				buf, _ = x.SearchInto(buf, qs[i%len(qs)], SearchOptions{K: 10, Ef: 32})
				i++
			}
		})
	}
}

func BenchmarkExact(b *testing.B) {
	data := clustered(41, 100000, 384, 64)
	x, err := New(Options{Dim: 384, Capacity: len(data)})
	if err != nil {
		b.Fatal(err)
	}
	// Exact search needs no graph: fill the slab directly.
	st := x.st.Load()
	for i, v := range data {
		normalizeInto(st.vecs[i*384:(i+1)*384], v)
	}
	x.n = len(data)
	x.count.Store(int64(len(data)))
	x.top.Store(hasTopBit)
	b.SetBytes(int64(len(data) * 384 * 4))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		x.Exact(data[i%len(data)], SearchOptions{K: 10})
	}
}
