package hnsw

import "math"

// quantizer maps each dimension's [lo, lo+255·step] range onto 8-bit codes:
// x ≈ lo + step·code. A query q is turned into 16-bit weights w ≈ q·step/s,
// so q·x ≈ Σ q·lo + s·Σ w·code, an integer dot product the AVX2 kernel does
// sixteen dimensions at a time.
type quantizer struct {
	lo   []float32
	step []float32
	hi   []float32 // training only
}

func newQuantizer(dim int) *quantizer {
	q := &quantizer{lo: make([]float32, dim), step: make([]float32, dim), hi: make([]float32, dim)}
	for i := range q.lo {
		q.lo[i] = float32(math.Inf(1))
		q.hi[i] = float32(math.Inf(-1))
	}
	return q
}

func (q *quantizer) observe(v []float32) {
	for i, f := range v {
		q.lo[i] = min(q.lo[i], f)
		q.hi[i] = max(q.hi[i], f)
	}
}

func (q *quantizer) finish() {
	for i := range q.lo {
		span := q.hi[i] - q.lo[i]
		if !(span > 0) {
			span = 1e-6
		}
		q.step[i] = span / 255
	}
	q.hi = nil
}

func (q *quantizer) encode(dst []uint8, v []float32) {
	for i, f := range v {
		c := math.Round(float64((f - q.lo[i]) / q.step[i]))
		dst[i] = uint8(max(0, min(255, c)))
	}
}

func (q *quantizer) decode(dst []float32, codes []uint8) {
	for i, c := range codes {
		dst[i] = q.lo[i] + q.step[i]*float32(c)
	}
}

// weights fills p.w, p.wscale and p.bias for the float query p.f.
func (q *quantizer) weights(p *prepared, f []float32) {
	dim := len(f)
	// Largest |w| keeping Σ 255·|w| within int32 (and VPMADDWD pair sums
	// within int32): 255·wmax·dim < 2^31.
	wmax := min(32767, (math.MaxInt32-1)/(255*dim))
	var amax float32
	var bias float32
	for i, v := range f {
		bias += v * q.lo[i]
		amax = max(amax, float32(math.Abs(float64(v*q.step[i]))))
	}
	p.bias = bias
	if amax == 0 {
		clear(p.w)
		p.wscale = 0
		return
	}
	s := amax / float32(wmax)
	inv := 1 / s
	for i, v := range f {
		p.w[i] = int16(math.Round(float64(v * q.step[i] * inv)))
	}
	p.wscale = s
}
