package bm25

import (
	"math"
	"slices"
	"sync"
)

// Query is a bag of terms to rank documents by.
type Query struct {
	// Terms are the query terms; a term given n times counts n times.
	// Terms absent from the index are ignored.
	Terms []string
	// Allow, when non-nil, restricts results to documents it accepts. It
	// is evaluated inside the traversal, once per candidate document, before
	// the candidate is scored, so restrictive filters also save work. It
	// must be safe for concurrent use if the caller searches concurrently.
	Allow func(doc uint32) bool
}

// Result is one ranked document.
type Result struct {
	Doc   uint32
	Score float64
}

// cursor walks one term's posting list block by block.
type cursor struct {
	l      *postings
	term   int     // index of the term in the query (for canonical summation)
	weight float64 // query weight × idf
	ub     float64 // weight × list-wide maximum saturation

	block  int // current (decoded) block; len(blocks) when exhausted
	sblock int // shallow block pointer for bounds (see shallow)
	i, n   int // position in and size of the decoded block
	docs   [blockSize]uint32
	tfs    []uint32 // blockSize × fields
	doc    uint32   // current document; exhausted when == end
}

const end = math.MaxUint32

// decodeBlock decodes block b into the cursor.
func (c *cursor) decodeBlock(b, nf int) {
	c.block = b
	if b >= len(c.l.blocks) {
		c.doc = end
		return
	}
	bm := &c.l.blocks[b]
	var doc uint32
	if b > 0 {
		doc = c.l.blocks[b-1].last
	}
	data := c.l.data[bm.off:]
	pos := 0
	for k := range int(bm.n) {
		gap, n := uvarint(data[pos:])
		pos += n
		if b == 0 && k == 0 {
			doc = uint32(gap)
		} else {
			doc += uint32(gap)
		}
		c.docs[k] = doc
		row := c.tfs[k*nf : k*nf+nf]
		for f := range row {
			v, n := uvarint(data[pos:])
			pos += n
			row[f] = uint32(v)
		}
	}
	c.i, c.n = 0, int(bm.n)
	c.doc = c.docs[0]
}

// next moves to the following posting.
func (c *cursor) next(nf int) {
	c.i++
	if c.i < c.n {
		c.doc = c.docs[c.i]
		return
	}
	c.decodeBlock(c.block+1, nf)
}

// seek moves to the first posting with document >= target.
func (c *cursor) seek(target uint32, nf int) {
	if c.doc >= target {
		return
	}
	blocks := c.l.blocks
	b := c.block
	if blocks[b].last < target {
		for b++; b < len(blocks) && blocks[b].last < target; b++ {
		}
		c.decodeBlock(b, nf)
		if c.doc == end {
			return
		}
	}
	for c.docs[c.i] < target {
		c.i++
	}
	c.doc = c.docs[c.i]
}

// shallow moves the cursor's shallow block pointer to the block that
// would hold target, without decoding anything, and returns it (len(blocks)
// when target is past the list). Targets must not decrease.
func (c *cursor) shallow(target uint32) int {
	blocks := c.l.blocks
	b := max(c.sblock, c.block)
	for b < len(blocks) && blocks[b].last < target {
		b++
	}
	c.sblock = b
	return b
}

// blockBound returns an upper bound of this term's contribution to
// document target without decoding: the maximum of the block that would
// hold target.
func (c *cursor) blockBound(target uint32) float64 {
	b := c.shallow(target)
	if b == len(c.l.blocks) {
		return 0
	}
	return c.weight * float64(c.l.blocks[b].maxSat)
}

// scratch is the per-search working memory, pooled.
type scratch struct {
	cursors []cursor
	order   []*cursor
	contrib []float64
	has     []bool
	prefix  []float64
	heap    resultHeap
	prime   cursor    // estimateTheta's cursor
	floats  []float64 // estimateTheta's heap
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// plan resolves query terms to cursors (merging repeated terms) and
// returns them in the scratch, or nil when no term is indexed.
func (ix *Index) plan(q Query, s *scratch) []cursor {
	s.cursors = s.cursors[:0]
	nstat := float64(ix.nstat)
	for _, t := range q.Terms {
		id, ok := ix.ids[t]
		if !ok || ix.lists[id].df == 0 {
			continue
		}
		l := &ix.lists[id]
		dup := false
		for i := range s.cursors {
			if s.cursors[i].l == l {
				s.cursors[i].weight += idf(nstat, float64(l.df))
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		var tfs []uint32
		if n := len(s.cursors); n < cap(s.cursors) {
			tfs = s.cursors[:n+1][n].tfs // keep the buffer of a previous search
		}
		s.cursors = append(s.cursors, cursor{l: l, weight: idf(nstat, float64(l.df)), tfs: tfs})
	}
	for i := range s.cursors {
		c := &s.cursors[i]
		c.term = i
		var m float32
		for _, b := range c.l.blocks {
			m = max(m, b.maxSat)
		}
		c.ub = c.weight * float64(m)
		if cap(c.tfs) < blockSize*ix.nf {
			c.tfs = make([]uint32, blockSize*ix.nf)
		}
		c.tfs = c.tfs[:blockSize*ix.nf]
		c.decodeBlock(0, ix.nf)
	}
	return s.cursors
}

func idf(n, df float64) float64 {
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// curCoef returns lenCoef of the current average field lengths.
func (ix *Index) curCoef() []float64 {
	a := make([]float64, ix.nf)
	for f := range ix.nf {
		a[f] = ix.avg(f)
	}
	return ix.lenCoef(a, nil)
}

// slack absorbs floating-point rounding between an upper bound (summed in
// one order) and a score (summed in another), so pruning never drops a
// document whose exact score would qualify.
func slack(theta float64) float64 { return 1e-9*math.Abs(theta) + 1e-12 }

// Search returns the k best documents for q, best first; ties are broken
// by lower document number. Deleted documents never appear. It returns
// exactly what scoring every posting would, while skipping postings that
// cannot reach the top k.
func (ix *Index) Search(q Query, k int) []Result {
	if k <= 0 || ix.nlive == 0 {
		return nil
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	cursors := ix.plan(q, s)
	if len(cursors) == 0 {
		return nil
	}
	nf := ix.nf
	var avgBuf, coefBuf [MaxFields]float64
	for f := range nf {
		avgBuf[f] = ix.avg(f)
	}
	avg := ix.lenCoef(avgBuf[:nf], coefBuf[:0]) // b/avglen per field

	// Order cursors by upper bound, ascending: a prefix of them whose
	// bounds sum to at most θ is non-essential (a document found only in
	// those lists cannot enter the top k).
	s.order = s.order[:0]
	for i := range cursors {
		s.order = append(s.order, &cursors[i])
	}
	order := s.order
	slices.SortFunc(order, func(a, b *cursor) int {
		switch {
		case a.ub < b.ub:
			return -1
		case a.ub > b.ub:
			return 1
		}
		return a.term - b.term
	})
	n := len(order)
	s.prefix = resize(s.prefix, n)
	prefix := s.prefix
	sum := 0.0
	for i, c := range order {
		sum += c.ub
		prefix[i] = sum
	}
	s.contrib = resize(s.contrib, n)
	s.has = resize(s.has, n)
	contrib, has := s.contrib, s.has

	h := &s.heap
	h.r = h.r[:0]
	// θ is a lower bound of the final k-th score: documents whose upper
	// bound is below it are pruned. It starts from an estimate (below) and
	// rises to the heap's minimum once the heap holds k documents.
	theta := ix.estimateTheta(q, order[n-1], k, s, avg)
	bounded := !math.IsInf(theta, -1)
	essential := 0 // order[essential:] are essential
	// The last block-max check that did not allow a skip: its range end
	// and the θ it used (see below).
	checkedUpto, checkedTheta := uint32(0), math.Inf(-1)
	checkedUpto--
	for bounded && essential < n && prefix[essential]+slack(theta) <= theta {
		essential++
	}

	for essential < n {
		// Next candidate: the smallest current document among essential lists.
		doc := uint32(end)
		for _, c := range order[essential:] {
			doc = min(doc, c.doc)
		}
		if doc == end {
			break
		}
		if bounded && (doc > checkedUpto || theta != checkedTheta) {
			// Block-max skip: bound every list by its block holding doc.
			// No document up to the first of those blocks to end can score
			// more, so if the bound cannot beat θ the essential lists jump
			// past that range undecoded. A failed check holds for the same
			// range and θ, so it is redone only when either changes.
			bound, upto := 0.0, uint32(end)
			for _, c := range order {
				if b := c.shallow(doc); b < len(c.l.blocks) {
					bound += c.weight * float64(c.l.blocks[b].maxSat)
					upto = min(upto, c.l.blocks[b].last)
				}
			}
			if bound+slack(theta) <= theta {
				if upto == end {
					break
				}
				for _, c := range order[essential:] {
					if c.doc <= upto {
						c.seek(upto+1, nf)
					}
				}
				continue
			}
			checkedUpto, checkedTheta = upto, theta
		}
		if ix.Deleted(doc) || (q.Allow != nil && !q.Allow(doc)) {
			for _, c := range order[essential:] {
				if c.doc == doc {
					c.next(nf)
				}
			}
			continue
		}
		partial := 0.0
		for _, c := range order[essential:] {
			if c.doc == doc {
				v := c.weight * ix.sat(c.tfs[c.i*nf:c.i*nf+nf], doc, avg)
				contrib[c.term] = v
				has[c.term] = true
				partial += v
				c.next(nf)
			}
		}
		full := len(h.r) == k
		ok := true
		if essential > 0 && bounded && partial+prefix[essential-1]+slack(theta) > theta {
			// The list-wide bounds leave room: refine them with the
			// non-essential lists' block maxima before seeking into them.
			bound := partial
			for _, c := range order[:essential] {
				bound += c.blockBound(doc)
			}
			if bound+slack(theta) <= theta {
				ok = false
			}
		}
		for i := essential - 1; ok && i >= 0; i-- {
			if bounded && partial+prefix[i]+slack(theta) <= theta {
				ok = false
				break
			}
			c := order[i]
			c.seek(doc, nf)
			if c.doc == doc {
				v := c.weight * ix.sat(c.tfs[c.i*nf:c.i*nf+nf], doc, avg)
				contrib[c.term] = v
				has[c.term] = true
				partial += v
			}
		}
		if ok {
			// Canonical summation in query-term order, so the score is
			// bit-identical to exhaustive scoring.
			score := 0.0
			for t := range n {
				if has[t] {
					score += contrib[t]
				}
			}
			if !full {
				h.push(Result{doc, score})
				if len(h.r) == k {
					theta = max(theta, h.r[0].Score)
					bounded = true
				}
			} else if better(Result{doc, score}, h.r[0]) {
				h.r[0] = Result{doc, score}
				h.down(0)
				theta = max(theta, h.r[0].Score)
			}
			if bounded {
				for essential < n && prefix[essential]+slack(theta) <= theta {
					essential++
				}
			}
		}
		for t := range n {
			has[t] = false
		}
	}
	if len(h.r) == 0 {
		return nil
	}
	out := make([]Result, len(h.r))
	copy(out, h.r)
	slices.SortFunc(out, compareResults)
	return out
}

// primeMax bounds the list estimateTheta reads: beyond it, decoding the
// whole list costs more than the estimate saves.
const primeMax = 1 << 15

// estimateTheta returns a lower bound of the k-th best score, or -Inf. It
// reads the list of the most selective term (lead, the highest upper
// bound) when it is short: each of its documents scores at least that
// term's contribution, so the k-th largest contribution among allowed,
// live documents is at most the k-th best final score. Starting pruning
// from it instead of from an empty heap avoids fully scoring the first
// thousands of documents of long lists.
func (ix *Index) estimateTheta(q Query, lead *cursor, k int, s *scratch, avg []float64) float64 {
	if lead.l.df < uint32(k) || lead.l.df > primeMax {
		return math.Inf(-1)
	}
	nf := ix.nf
	c := &s.prime
	c.l, c.weight, c.sblock = lead.l, lead.weight, 0
	if cap(c.tfs) < blockSize*nf {
		c.tfs = make([]uint32, blockSize*nf)
	}
	c.tfs = c.tfs[:blockSize*nf]
	c.decodeBlock(0, nf)
	top := s.floats[:0]
	for ; c.doc != end; c.next(nf) {
		doc := c.doc
		if ix.Deleted(doc) || (q.Allow != nil && !q.Allow(doc)) {
			continue
		}
		v := c.weight * ix.sat(c.tfs[c.i*nf:c.i*nf+nf], doc, avg)
		switch {
		case len(top) < k:
			top = append(top, v)
			if len(top) == k {
				heapifyFloats(top)
			}
		case v > top[0]:
			top[0] = v
			downFloats(top, 0)
		}
	}
	s.floats = top
	if len(top) < k {
		return math.Inf(-1)
	}
	// The contributions were computed exactly as in scoring; stay a hair
	// below them so rounding in the final sums cannot prune a tie.
	return top[0] - slack(top[0])
}

func heapifyFloats(h []float64) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		downFloats(h, i)
	}
}

// downFloats restores the min-heap property of h from i down.
func downFloats(h []float64, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r] < h[l] {
			m = r
		}
		if h[i] <= h[m] {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// better reports whether a ranks above b.
func better(a, b Result) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Doc < b.Doc)
}

func compareResults(a, b Result) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// resultHeap is a min-heap of the current top k: the root is the worst.
// Hand-written rather than container/heap to avoid boxing each push.
type resultHeap struct{ r []Result }

func (h *resultHeap) push(x Result) {
	h.r = append(h.r, x)
	i := len(h.r) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !better(h.r[p], h.r[i]) {
			break
		}
		h.r[p], h.r[i] = h.r[i], h.r[p]
		i = p
	}
}

func (h *resultHeap) down(i int) {
	n := len(h.r)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l // the worse child
		if r := l + 1; r < n && better(h.r[l], h.r[r]) {
			w = r
		}
		if !better(h.r[i], h.r[w]) {
			return
		}
		h.r[i], h.r[w] = h.r[w], h.r[i]
		i = w
	}
}

// resize returns s with length n, zeroed, reusing its array when it can.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// exhaustive scores every posting of every query term (term at a time) and
// returns the top k. It defines what Search must return; tests and
// benchmarks compare against it.
func (ix *Index) exhaustive(q Query, k int) []Result {
	if k <= 0 || ix.nlive == 0 {
		return nil
	}
	s := new(scratch)
	cursors := ix.plan(q, s)
	acc := make(map[uint32]float64)
	nf := ix.nf
	avg := ix.curCoef()
	for i := range cursors {
		c := &cursors[i]
		for c.doc != end {
			doc := c.doc
			if !ix.Deleted(doc) && (q.Allow == nil || q.Allow(doc)) {
				acc[doc] += c.weight * ix.sat(c.tfs[c.i*nf:c.i*nf+nf], doc, avg)
			}
			c.next(nf)
		}
	}
	if len(acc) == 0 {
		return nil
	}
	out := make([]Result, 0, len(acc))
	for d, sc := range acc {
		out = append(out, Result{d, sc})
	}
	slices.SortFunc(out, compareResults)
	if len(out) > k {
		out = out[:k]
	}
	return out
}
