package hnsw

import "unsafe"

// hasAVX2FMA selects the assembly kernels at run time. It is computed once
// from CPUID and never changes, so it is not mutable state.
var hasAVX2FMA = detectAVX2FMA()

// Accelerated reports whether the distance kernels run in AVX2+FMA
// assembly (true) or in the pure-Go fallback.
func Accelerated() bool { return hasAVX2FMA }

// Dot returns the dot product of a and b, which must have equal lengths.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic("hnsw.Dot: length mismatch")
	}
	if len(a) == 0 {
		return 0
	}
	if hasAVX2FMA {
		return dotAVX2(&a[0], &b[0], len(a))
	}
	return dotGeneric(a, b)
}

// L2 returns the squared Euclidean distance between a and b, which must have
// equal lengths.
func L2(a, b []float32) float32 {
	if len(a) != len(b) {
		panic("hnsw.L2: length mismatch")
	}
	if len(a) == 0 {
		return 0
	}
	if hasAVX2FMA {
		return l2AVX2(&a[0], &b[0], len(a))
	}
	return l2Generic(a, b)
}

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func l2Generic(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// dotBatch sets out[i] = dot(q, slab row ids[i]) for every i.
func dotBatch(q, slab []float32, ids []uint32, out []float32) {
	if len(ids) == 0 {
		return
	}
	dim := len(q)
	if hasAVX2FMA {
		_ = out[len(ids)-1]
		dotBatchAVX2(&q[0], unsafe.SliceData(slab), &ids[0], len(ids), dim, &out[0])
		return
	}
	dotBatchGeneric(q, slab, ids, out)
}

func dotBatchGeneric(q, slab []float32, ids []uint32, out []float32) {
	dim := len(q)
	for i, id := range ids {
		o := int(id) * dim
		out[i] = dotGeneric(q, slab[o:o+dim])
	}
}

// dotRows sets out[i] = dot(q, rows[i*dim:(i+1)*dim]) for i < len(out).
func dotRows(q, rows []float32, out []float32) {
	if len(out) == 0 {
		return
	}
	dim := len(q)
	_ = rows[len(out)*dim-1]
	if hasAVX2FMA {
		dotRowsAVX2(&q[0], &rows[0], len(out), dim, &out[0])
		return
	}
	for i := range out {
		out[i] = dotGeneric(q, rows[i*dim:(i+1)*dim])
	}
}

// dotCodes returns Σ codes[i]*w[i] (8-bit codes, 16-bit weights).
func dotCodes(codes []uint8, w []int16) int32 {
	if len(codes) == 0 {
		return 0
	}
	_ = w[len(codes)-1]
	if hasAVX2FMA {
		return dotCodesAVX2(&codes[0], &w[0], len(codes))
	}
	return dotCodesGeneric(codes, w)
}

func dotCodesGeneric(codes []uint8, w []int16) int32 {
	w = w[:len(codes)]
	var s0, s1 int32
	i := 0
	for ; i+2 <= len(codes); i += 2 {
		s0 += int32(codes[i]) * int32(w[i])
		s1 += int32(codes[i+1]) * int32(w[i+1])
	}
	for ; i < len(codes); i++ {
		s0 += int32(codes[i]) * int32(w[i])
	}
	return s0 + s1
}

// dotCodesBatch sets out[i] = Σ_j codes[ids[i]*dim+j]*w[j].
func dotCodesBatch(w []int16, codes []uint8, ids []uint32, out []int32) {
	if len(ids) == 0 {
		return
	}
	dim := len(w)
	if hasAVX2FMA {
		_ = out[len(ids)-1]
		dotCodesBatchAVX2(&w[0], unsafe.SliceData(codes), &ids[0], len(ids), dim, &out[0])
		return
	}
	for i, id := range ids {
		o := int(id) * dim
		out[i] = dotCodesGeneric(codes[o:o+dim], w)
	}
}
