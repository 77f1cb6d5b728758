package hnsw

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
)

// Result is one search hit: an id and its score (higher is better: cosine
// similarity, dot product, or negated squared Euclidean distance).
type Result struct {
	ID    uint32
	Score float32
}

// Filter selects the ids a search may return. Filtered-out nodes are still
// walked through, so the graph stays connected; they are only never
// returned. Allows must be safe for concurrent use and fast: it runs once
// per visited node.
type Filter interface {
	Allows(id uint32) bool
}

// FilterFunc adapts a function to Filter.
type FilterFunc func(id uint32) bool

// Allows calls f(id).
func (f FilterFunc) Allows(id uint32) bool { return f(id) }

// counter is implemented by filters that know how many ids they allow
// (Bitset does), letting Search pick the exact path without sampling.
type counter interface{ Count() int }

// SearchOptions tune one search. The zero value asks for the top 10 with
// the index's EfSearch and no filter.
type SearchOptions struct {
	K      int    // results wanted; default 10
	Ef     int    // candidate list size; default Options.EfSearch, at least K
	Filter Filter // nil: every live id

	// Rescore is how many of the best 8-bit candidates an Int8 index
	// rescores with float vectors from Options.Source. Default 4·K (at most
	// Ef); the 8-bit order is already close, so only its head is re-read.
	Rescore int

	// ExactBelow is the allowed fraction of live vectors under which a
	// filtered search always scans the allowed vectors exactly instead of
	// walking the graph (default 0.03). Above it, Search still scans when
	// its cost model says the scan is cheaper. Negative: always walk the
	// graph (for benchmarks).
	ExactBelow float64
}

// item is a (distance, id) pair; internal distances are "lower is closer".
type item struct {
	d  float32
	id uint32
}

// prepared is a query in the index's working form.
type prepared struct {
	f      []float32 // normalised for Cosine
	w      []int16   // Int8: quantized weights q·step
	wscale float32   // Int8: dot ≈ bias + wscale·Σ w·code
	bias   float32
	qn     float32 // Euclidean: ‖q‖²
}

// scratch is one search's reusable memory.
type scratch struct {
	q       prepared
	visited []uint64
	cand    []item // min-heap
	res     []item // max-heap
	out     []item // sorted results
	sel     []item
	prune   []item
	ids     []uint32
	dists   []float32
	idists  []int32
	vbuf    []float32
	block   []float32

	// Node-to-node distances during inserts and repairs.
	pq   prepared
	nbuf []float32
	kids []uint32
	kd   []float32
}

func (x *Index) getScratch(st *storage) *scratch {
	s, _ := x.scratch.Get().(*scratch)
	if s == nil {
		s = &scratch{
			vbuf:  make([]float32, x.dim),
			ids:   make([]uint32, 0, x.m0+1),
			dists: make([]float32, x.m0+1),
			q:     prepared{f: make([]float32, x.dim)},
			kids:  make([]uint32, 0, 2*x.m0+2),
			kd:    make([]float32, 2*x.m0+2),
		}
		if x.opt.Quantization == Int8 {
			s.idists = make([]int32, 2*x.m0+2)
			s.q.w = make([]int16, x.dim)
			s.pq.w = make([]int16, x.dim)
			s.nbuf = make([]float32, x.dim)
		}
	}
	words := (st.cap + 63) / 64
	if cap(s.visited) < words {
		s.visited = make([]uint64, words, words+words/4)
	} else {
		s.visited = s.visited[:words]
		clear(s.visited)
	}
	return s
}

// prepare turns v into q's working form.
func (x *Index) prepare(q *prepared, v []float32) {
	if x.opt.Metric == Cosine {
		normalizeInto(q.f, v)
	} else {
		copy(q.f, v)
	}
	if x.opt.Metric == Euclidean {
		q.qn = Dot(q.f, q.f)
	}
	if x.quant != nil {
		x.quant.weights(q, q.f)
	}
}

// dists sets out[i] to the internal distance from q to ids[i].
func (x *Index) dists(st *storage, q *prepared, s *scratch, ids []uint32, out []float32) {
	if st.vecs != nil {
		dotBatch(q.f, st.vecs, ids, out)
	} else {
		id := s.idists[:len(ids)]
		dotCodesBatch(q.w, st.codes, ids, id)
		for i, v := range id {
			out[i] = q.bias + q.wscale*float32(v)
		}
	}
	if st.sqnorm != nil {
		for i, id := range ids {
			out[i] = q.qn - 2*out[i] + st.sqnorm[id]
		}
		return
	}
	for i := range out[:len(ids)] {
		out[i] = -out[i]
	}
}

func (x *Index) distOne(st *storage, q *prepared, id uint32) float32 {
	var out [1]float32
	ids := [1]uint32{id}
	var s scratch
	var idb [1]int32
	s.idists = idb[:]
	x.dists(st, q, &s, ids[:], out[:])
	return out[0]
}

// greedy walks level l from ep to a local minimum of the distance to q.
func (x *Index) greedy(st *storage, q *prepared, s *scratch, ep uint32, epd float32, l int) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		arr, base := x.row(st, ep, l)
		n := min(int(atomic.LoadUint32(&arr[base])), x.maxLinks(l))
		ids := s.ids[:n]
		for i := range n {
			ids[i] = atomic.LoadUint32(&arr[base+1+i])
		}
		x.dists(st, q, s, ids, s.dists)
		for i, id := range ids {
			if d := s.dists[i]; d < epd {
				ep, epd, changed = id, d, true
			}
		}
	}
	return ep, epd
}

// searchLayer runs the beam search of level l from ep with list size ef,
// leaving up to ef results in s.res (a max-heap). Only ids passing f (and
// not deleted, when skipDeleted) enter the results; all are walked.
func (x *Index) searchLayer(st *storage, q *prepared, s *scratch, ep uint32, epd float32, ef, l int, f Filter, skipDeleted bool) {
	vis := s.visited
	vis[ep>>6] |= 1 << (ep & 63)
	cand := append(s.cand[:0], item{epd, ep})
	res := s.res[:0]
	filtered := f != nil || skipDeleted
	lower := float32(math.Inf(1))
	if !filtered || x.accepts(st, ep, f, skipDeleted) {
		res = append(res, item{epd, ep})
		lower = epd
	}
	arr, stride, maxn := st.links0, x.stride, x.m0
	if l > 0 {
		arr, stride, maxn = st.upper, x.ustride, x.m
	}
	for len(cand) > 0 {
		c := cand[0]
		if c.d > lower && (len(res) >= ef || !filtered) {
			break
		}
		cand = popMin(cand)
		if l == 0 && len(cand) > 0 {
			// The next candidate's row is likely expanded next: start
			// fetching it while this one's distances are computed.
			prefetchRow(&arr[int(cand[0].id)*stride])
		}
		var base int
		if l == 0 {
			base = int(c.id) * stride
		} else {
			base = int(st.upperOff[c.id]) + (l-1)*stride
		}
		n := min(int(atomic.LoadUint32(&arr[base])), maxn)
		ids := s.ids[:0]
		for i := 1; i <= n; i++ {
			nb := atomic.LoadUint32(&arr[base+i])
			w, b := nb>>6, uint64(1)<<(nb&63)
			if vis[w]&b != 0 {
				continue
			}
			vis[w] |= b
			ids = append(ids, nb)
		}
		if len(ids) == 0 {
			continue
		}
		ds := s.dists[:len(ids)]
		x.dists(st, q, s, ids, ds)
		for i, nb := range ids {
			d := ds[i]
			if len(res) < ef || d < lower {
				cand = pushMin(cand, item{d, nb})
				if !filtered || x.accepts(st, nb, f, skipDeleted) {
					res = pushMax(res, item{d, nb})
					if len(res) > ef {
						res = popMax(res)
					}
					lower = res[0].d
				}
			}
		}
	}
	s.cand, s.res = cand, res
}

func (x *Index) accepts(st *storage, id uint32, f Filter, skipDeleted bool) bool {
	if skipDeleted && isDeleted(st, id) {
		return false
	}
	return f == nil || f.Allows(id)
}

// sorted empties the result heap into s.out in ascending distance order.
func (s *scratch) sorted() []item {
	out := append(s.out[:0], s.res...)
	sortItems(out)
	s.out = out
	s.res = s.res[:0]
	return out
}

func sortItems(a []item) {
	slices.SortFunc(a, func(p, q item) int {
		switch {
		case p.d < q.d:
			return -1
		case p.d > q.d:
			return 1
		case p.id < q.id:
			return -1
		case p.id > q.id:
			return 1
		}
		return 0
	})
}

func pushMin(h []item, it item) []item {
	h = append(h, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].d <= it.d {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = it
	return h
}

func popMin(h []item) []item {
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	if n == 0 {
		return h
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].d < h[c].d {
			c++
		}
		if last.d <= h[c].d {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = last
	return h
}

func pushMax(h []item, it item) []item {
	h = append(h, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].d >= it.d {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = it
	return h
}

func popMax(h []item) []item {
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	if n == 0 {
		return h
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].d > h[c].d {
			c++
		}
		if last.d >= h[c].d {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = last
	return h
}

// Search returns up to K nearest live vectors to q that pass opt.Filter,
// best first.
func (x *Index) Search(q []float32, opt SearchOptions) ([]Result, error) {
	return x.SearchInto(nil, q, opt)
}

// SearchInto is Search appending to dst[:0], so a caller that reuses dst
// searches without allocating.
func (x *Index) SearchInto(dst []Result, q []float32, opt SearchOptions) ([]Result, error) {
	dst = dst[:0]
	if err := x.checkVector(q); err != nil {
		return dst, err
	}
	k := opt.K
	if k <= 0 {
		k = 10
	}
	ef := opt.Ef
	if ef <= 0 {
		ef = x.opt.EfSearch
	}
	ef = max(ef, k)

	// Load top before st: a node published as the entry point is always
	// inside the storage loaded after it.
	t := x.top.Load()
	st := x.st.Load()
	if t&hasTopBit == 0 {
		return dst, nil
	}
	live := int(x.count.Load() - x.ndel.Load())
	if live <= 0 {
		return dst, nil
	}
	f := opt.Filter
	if f != nil && opt.ExactBelow >= 0 {
		exactBelow := opt.ExactBelow
		if exactBelow == 0 {
			exactBelow = 0.03
		}
		sel := x.selectivity(f, live)
		allowed := sel * float64(live)
		// A filtered walk keeps going until ef allowed nodes are found, so
		// it visits about ef/sel nodes at random; a scan reads the allowed
		// vectors in id order. Measured on 100k×384 clustered vectors, a
		// visited node costs about 19 scanned ones (random access plus
		// heap work): scan when sel·live < 19·ef/sel.
		if allowed <= float64(k) || sel < exactBelow || allowed*sel < exactCostRatio*float64(ef) {
			return x.exact(dst, q, k, f)
		}
	}
	skipDeleted := x.ndel.Load() > 0

	s := x.getScratch(st)
	defer x.scratch.Put(s)
	qp := &s.q
	x.prepare(qp, q)
	ep := uint32(t >> 8)
	epd := x.distOne(st, qp, ep)
	for l := int(t & 0xff); l > 0; l-- {
		ep, epd = x.greedy(st, qp, s, ep, epd, l)
	}
	x.searchLayer(st, qp, s, ep, epd, ef, 0, f, skipDeleted)
	out := s.sorted()
	if x.quant != nil && x.opt.Source != nil {
		r := opt.Rescore
		if r <= 0 {
			r = 4 * k
		}
		out = x.rescore(s, out[:min(len(out), max(r, k))])
	}
	for _, it := range out[:min(k, len(out))] {
		dst = append(dst, Result{ID: it.id, Score: -it.d})
	}
	return dst, nil
}

// selectivity estimates the fraction of live ids f allows: exactly when f
// counts itself, otherwise from a deterministic sample of ids.
func (x *Index) selectivity(f Filter, live int) float64 {
	if c, ok := f.(counter); ok {
		return float64(c.Count()) / float64(live)
	}
	n := int(x.count.Load())
	const samples = 512
	if n <= samples {
		a := 0
		for i := range n {
			if f.Allows(uint32(i)) {
				a++
			}
		}
		return float64(a) / float64(max(live, 1))
	}
	a := 0
	// A multiplicative stride visits ids spread over the whole range.
	step := uint64(n)/samples | 1
	for i := range uint64(samples) {
		id := uint32((i*step + i*i*7919) % uint64(n))
		if f.Allows(id) {
			a++
		}
	}
	return float64(a) / samples
}

// rescore replaces 8-bit distances by exact float ones read from the
// source, and re-sorts.
func (x *Index) rescore(s *scratch, out []item) []item {
	qf := s.q.f
	for i := range out {
		v := x.opt.Source(out[i].id, s.vbuf)
		if len(v) != x.dim {
			continue
		}
		out[i].d = x.floatDist(qf, v)
	}
	sortItems(out)
	return out
}

// floatDist is the internal distance between a prepared float query and a
// raw (unnormalised) vector.
func (x *Index) floatDist(qf, v []float32) float32 {
	switch x.opt.Metric {
	case Euclidean:
		return L2(qf, v)
	case Cosine:
		n := Dot(v, v)
		if n == 0 {
			return 0
		}
		return -Dot(qf, v) / float32(math.Sqrt(float64(n)))
	}
	return -Dot(qf, v)
}

// Exact returns the exact top K by scanning every live vector (or, with a
// filter, every allowed one). It is the ground truth for recall and the
// fallback for very selective filters. For an Int8 index with a Source,
// scores are exact float scores.
func (x *Index) Exact(q []float32, opt SearchOptions) ([]Result, error) {
	if err := x.checkVector(q); err != nil {
		return nil, err
	}
	k := opt.K
	if k <= 0 {
		k = 10
	}
	return x.exact(nil, q, k, opt.Filter)
}

const scanBlock = 256

// exactCostRatio is the measured cost of visiting one node in a filtered
// graph walk, in units of scanning one allowed vector.
const exactCostRatio = 19

func (x *Index) exact(dst []Result, q []float32, k int, f Filter) ([]Result, error) {
	n := int(x.count.Load())
	if n == 0 {
		// Nothing to scan; returning here also keeps an empty Int8 index's
		// Train from racing with this search.
		return dst, nil
	}
	st := x.st.Load()
	s := x.getScratch(st)
	defer x.scratch.Put(s)
	qp := &s.q
	x.prepare(qp, q)
	if cap(s.block) < scanBlock {
		s.block = make([]float32, scanBlock)
	}
	if cap(s.ids) < scanBlock {
		s.ids = make([]uint32, 0, scanBlock)
	}
	if cap(s.idists) < scanBlock {
		s.idists = make([]int32, scanBlock)
	}
	useSource := x.quant != nil && x.opt.Source != nil
	skipDeleted := x.ndel.Load() > 0
	heap := s.res[:0]
	consider := func(ids []uint32, ds []float32) {
		for i, id := range ids {
			d := ds[i]
			if len(heap) < k {
				heap = pushMax(heap, item{d, id})
			} else if d < heap[0].d {
				heap[0] = item{d, id}
				heap = fixMax(heap)
			}
		}
	}
	flush := func(ids []uint32) {
		ds := s.block[:len(ids)]
		if useSource {
			for i, id := range ids {
				v := x.opt.Source(id, s.vbuf)
				if len(v) != x.dim {
					ds[i] = float32(math.Inf(1))
					continue
				}
				ds[i] = x.floatDist(qp.f, v)
			}
		} else {
			x.dists(st, qp, s, ids, ds)
		}
		consider(ids, ds)
	}
	switch {
	case f == nil && !skipDeleted && st.vecs != nil && !useSource:
		// Straight scan of the slab: the memory-bandwidth path.
		for start := 0; start < n; start += scanBlock {
			end := min(start+scanBlock, n)
			ds := s.block[:end-start]
			dotRows(qp.f, st.vecs[start*x.dim:end*x.dim], ds)
			if st.sqnorm != nil {
				for i := range ds {
					ds[i] = qp.qn - 2*ds[i] + st.sqnorm[start+i]
				}
			} else {
				for i := range ds {
					ds[i] = -ds[i]
				}
			}
			for i, d := range ds {
				if len(heap) < k {
					heap = pushMax(heap, item{d, uint32(start + i)})
				} else if d < heap[0].d {
					heap[0] = item{d, uint32(start + i)}
					heap = fixMax(heap)
				}
			}
		}
	default:
		ids := s.ids[:0]
		if bs, ok := f.(Bitset); ok {
			// Walk set bits only: a 1% filter touches 1% of the vectors.
			for w := 0; w < len(bs) && w*64 < n; w++ {
				word := bs[w]
				for word != 0 {
					b := word & -word
					word ^= b
					id := uint32(w*64 + trailingZeros(b))
					if int(id) >= n || (skipDeleted && isDeleted(st, id)) {
						continue
					}
					ids = append(ids, id)
					if len(ids) == scanBlock {
						flush(ids)
						ids = ids[:0]
					}
				}
			}
		} else {
			for i := range n {
				id := uint32(i)
				if (skipDeleted && isDeleted(st, id)) || (f != nil && !f.Allows(id)) {
					continue
				}
				ids = append(ids, id)
				if len(ids) == scanBlock {
					flush(ids)
					ids = ids[:0]
				}
			}
		}
		flush(ids)
		s.ids = ids
	}
	s.res = heap
	out := s.sorted()
	for _, it := range out {
		dst = append(dst, Result{ID: it.id, Score: -it.d})
	}
	return dst, nil
}

// fixMax restores the max-heap after h[0] was replaced.
func fixMax(h []item) []item {
	n := len(h)
	it := h[0]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].d > h[c].d {
			c++
		}
		if it.d >= h[c].d {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = it
	return h
}

// String describes the index for logs.
func (x *Index) String() string {
	return fmt.Sprintf("hnsw(dim=%d metric=%s M=%d efC=%d quant=%s n=%d live=%d)",
		x.dim, x.opt.Metric, x.m, x.opt.EfConstruction, x.opt.Quantization, x.Len(), x.Live())
}
