package hnsw

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func close32(a, b float32, n int) bool {
	tol := 1e-5 * float64(n+1) * (1 + math.Abs(float64(a)))
	return math.Abs(float64(a-b)) <= tol
}

// TestKernelsMatchGeneric checks every assembly kernel against the pure-Go
// fallback on random inputs of many lengths, odd ones included.
func TestKernelsMatchGeneric(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2+FMA on this CPU: only the pure-Go kernels run")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 300; n++ {
		a, b := randVec(r, n), randVec(r, n)
		if got, want := dotAVX2(&a[0], &b[0], n), dotGeneric(a, b); !close32(got, want, n) {
			t.Fatalf("dot n=%d: asm %v, go %v", n, got, want)
		}
		if got, want := l2AVX2(&a[0], &b[0], n), l2Generic(a, b); !close32(got, want, n) {
			t.Fatalf("l2 n=%d: asm %v, go %v", n, got, want)
		}
		codes := make([]uint8, n)
		w := make([]int16, n)
		for i := range codes {
			codes[i] = uint8(r.IntN(256))
			w[i] = int16(r.IntN(65536) - 32768)
		}
		if got, want := dotCodesAVX2(&codes[0], &w[0], n), dotCodesGeneric(codes, w); got != want {
			t.Fatalf("codes n=%d: asm %d, go %d", n, got, want)
		}
	}
	for _, dim := range []int{1, 7, 8, 31, 33, 100, 384} {
		rows := 50
		slab := randVec(r, rows*dim)
		q := randVec(r, dim)
		ids := []uint32{3, 0, 49, 17, 17, 5}
		got := make([]float32, len(ids))
		want := make([]float32, len(ids))
		dotBatchAVX2(&q[0], &slab[0], &ids[0], len(ids), dim, &got[0])
		dotBatchGeneric(q, slab, ids, want)
		for i := range got {
			if !close32(got[i], want[i], dim) {
				t.Fatalf("dotBatch dim=%d i=%d: asm %v, go %v", dim, i, got[i], want[i])
			}
		}
		all := make([]float32, rows)
		dotRowsAVX2(&q[0], &slab[0], rows, dim, &all[0])
		for i := range all {
			if w := dotGeneric(q, slab[i*dim:(i+1)*dim]); !close32(all[i], w, dim) {
				t.Fatalf("dotRows dim=%d i=%d: asm %v, go %v", dim, i, all[i], w)
			}
		}
		codes := make([]uint8, rows*dim)
		for i := range codes {
			codes[i] = uint8(r.IntN(256))
		}
		w := make([]int16, dim)
		for i := range w {
			w[i] = int16(r.IntN(8192) - 4096)
		}
		gi := make([]int32, len(ids))
		dotCodesBatchAVX2(&w[0], &codes[0], &ids[0], len(ids), dim, &gi[0])
		for i, id := range ids {
			if want := dotCodesGeneric(codes[int(id)*dim:(int(id)+1)*dim], w); gi[i] != want {
				t.Fatalf("dotCodesBatch dim=%d i=%d: asm %d, go %d", dim, i, gi[i], want)
			}
		}
	}
}

func TestPublicKernels(t *testing.T) {
	a := []float32{1, 2, 3}
	b := []float32{4, 5, 6}
	if got := Dot(a, b); got != 32 {
		t.Errorf("Dot = %v, want 32", got)
	}
	if got := L2(a, b); got != 27 {
		t.Errorf("L2 = %v, want 27", got)
	}
	if Dot(nil, nil) != 0 || L2(nil, nil) != 0 {
		t.Error("empty vectors must give 0")
	}
}

func BenchmarkDot384(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randVec(r, 384), randVec(r, 384)
	b.Run("asm", func(b *testing.B) {
		if !hasAVX2FMA {
			b.Skip("no AVX2")
		}
		for b.Loop() {
			dotAVX2(&x[0], &y[0], 384)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			dotGeneric(x, y)
		}
	})
}

// TestPureGoFallbackIndex runs a whole index on the pure-Go kernels (as on
// a CPU without AVX2) and checks it finds what the assembly build finds.
func TestPureGoFallbackIndex(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("already running the pure-Go kernels")
	}
	data := clustered(50, 1200, 40, 8)
	for _, quant := range []Quantization{Float32, Int8} {
		opt := Options{Dim: 40, M: 8, EfConstruction: 64, Seed: 3, Quantization: quant}
		asm := build(t, opt, data[:1000])
		hasAVX2FMA = false
		pure := build(t, opt, data[:1000])
		var same, total int
		for _, q := range data[1000:1100] {
			a, _ := asm.Search(q, SearchOptions{K: 10})
			p, _ := pure.Search(q, SearchOptions{K: 10})
			e, _ := pure.Exact(q, SearchOptions{K: 10})
			for i := range p {
				if p[i].ID == e[i].ID {
					same++
				}
			}
			total += len(e)
			if len(a) != len(p) {
				t.Fatalf("%v: %d vs %d results", quant, len(a), len(p))
			}
		}
		hasAVX2FMA = true
		if r := float64(same) / float64(total); r < 0.9 {
			t.Errorf("%v: pure-Go index agrees with exact on %.3f of ranks", quant, r)
		}
	}
}
