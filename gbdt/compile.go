package gbdt

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// Scorer is a model compiled for fast scoring. A Scorer is safe for
// concurrent use.
//
// Every split becomes the same test, "slot > k goes right", over an encoded
// row of small integers. A numeric feature is encoded as its rank among the
// thresholds the model uses on it (the number of thresholds below the
// value), so the split "value > threshold k" is "rank > k"; it appears twice,
// with missing as rank 0 (always left) and as the largest rank (always
// right), and a node's default direction picks the copy. Every distinct
// categorical split becomes a 0/1 slot computed once per row, and a last
// slot holds 0 for padding. Trees are padded to perfect binary trees stored
// breadth first, so a row walks exactly depth steps with no data-dependent
// branch, and a 100-tree depth-6 model's nodes (4 bytes each) fit in L1.
//
// Models deeper than perfectDepth, or with more distinct thresholds on a
// feature than a uint16 rank holds, use a general node layout over float64
// values instead.
type Scorer struct {
	loss  Loss
	base  float64
	nf    int
	trees int
	virt  []virtualSlot
	cats  []catTable

	// Perfect layout (depth > 0).
	depth  int
	thr    [][]float64 // sorted thresholds used on each numeric feature
	pnodes []pnode     // trees × (2^depth - 1)
	leaves []float64   // trees × 2^depth
	width  int         // encoded row: 2·nf ranks, len(virt) 0/1 slots, one 0
	pool   sync.Pool

	// General layout (depth == 0).
	gnodes []gnode
	roots  []int32
	fpool  sync.Pool
}

type pnode struct{ slot, k uint16 }

// catTable holds, for one categorical feature, the values of all its
// categorical slots (which are contiguous from base) for every code below
// codes, then for unseen codes, then for missing values.
type catTable struct {
	feature, base, k, codes int
	tab                     []uint16
}

func buildCatTables(virt []virtualSlot, base int) []catTable {
	var out []catTable
	for lo := 0; lo < len(virt); {
		hi := lo
		for hi < len(virt) && virt[hi].feature == virt[lo].feature {
			hi++
		}
		codes := 0
		for _, v := range virt[lo:hi] {
			for w := 3; w >= 0; w-- {
				if v.left[w] != 0 {
					codes = max(codes, 64*w+64-bits.LeadingZeros64(v.left[w]))
					break
				}
			}
		}
		ct := catTable{feature: virt[lo].feature, base: base + lo, k: hi - lo, codes: codes}
		ct.tab = make([]uint16, (codes+2)*ct.k)
		for c := 0; c < codes+2; c++ {
			val := float64(c)
			switch c {
			case codes:
				val = 256 // unseen
			case codes + 1:
				val = math.NaN()
			}
			for j, v := range virt[lo:hi] {
				if v.right(val) {
					ct.tab[c*ct.k+j] = 1
				}
			}
		}
		out = append(out, ct)
		lo = hi
	}
	return out
}

// gnode is a general-layout node: a leaf has slot -1 and its value in thr;
// the right child follows the left one. Values are float64 with missing as
// -Inf (first copy) or +Inf (second copy).
type gnode struct {
	thr  float64
	slot int32
	left int32
}

type virtualSlot struct {
	feature     int
	left        [4]uint64
	defaultLeft bool
}

// perfectDepth is the deepest model compiled to the perfect layout; padding
// deeper trees would cost too much memory.
const perfectDepth = 10

// blockRows is how many rows a batch encodes before walking the trees, so
// each tree's nodes are loaded once per block.
const blockRows = 128

// Compile returns the fast scorer of m.
func Compile(m *Model) *Scorer {
	s := &Scorer{loss: m.Loss, base: m.Base, nf: len(m.Features), trees: len(m.Trees)}
	type key struct {
		f    int
		left [4]uint64
		dl   bool
	}
	virtIndex := map[key]int{}
	virtOf := func(n *Node) int {
		k := key{f: n.Feature, dl: n.DefaultLeft}
		for _, c := range n.Categories {
			if c < 256 {
				k.left[c>>6] |= 1 << (c & 63)
			}
		}
		v, ok := virtIndex[k]
		if !ok {
			v = len(s.virt)
			virtIndex[k] = v
			s.virt = append(s.virt, virtualSlot{feature: k.f, left: k.left, defaultLeft: k.dl})
		}
		return v
	}
	s.thr = make([][]float64, s.nf)
	for ti := range m.Trees {
		for _, n := range m.Trees[ti].Nodes {
			if !n.IsLeaf() && !n.Categorical {
				s.thr[n.Feature] = append(s.thr[n.Feature], n.Threshold)
			}
		}
	}
	fits := true
	for j, t := range s.thr {
		slices.Sort(t)
		s.thr[j] = slices.Compact(t)
		if len(s.thr[j]) > math.MaxUint16-2 {
			fits = false
		}
	}
	for ti := range m.Trees {
		for _, n := range m.Trees[ti].Nodes {
			if n.Categorical {
				virtOf(&n)
			}
		}
	}
	// Group each feature's categorical slots so one table lookup per
	// feature fills them all.
	slices.SortStableFunc(s.virt, func(a, b virtualSlot) int { return a.feature - b.feature })
	clear(virtIndex)
	for i, v := range s.virt {
		virtIndex[key{f: v.feature, left: v.left, dl: v.defaultLeft}] = i
	}
	s.cats = buildCatTables(s.virt, 2*s.nf)
	s.width = 2*s.nf + len(s.virt) + 1
	depth := m.MaxDepth()
	if depth > perfectDepth || s.width > math.MaxUint16 || !fits {
		s.compileGeneral(m, virtOf)
		return s
	}
	s.depth = max(depth, 1)
	ni, nl := 1<<s.depth-1, 1<<s.depth
	s.pnodes = make([]pnode, s.trees*ni)
	s.leaves = make([]float64, s.trees*nl)
	zero := uint16(s.width - 1)
	for ti := range m.Trees {
		t := &m.Trees[ti]
		nodes, leaves := s.pnodes[ti*ni:(ti+1)*ni], s.leaves[ti*nl:(ti+1)*nl]
		for i := range nodes {
			nodes[i] = pnode{slot: zero} // padding: 0 > 0 is false, always left
		}
		var place func(src, dst int)
		place = func(src, dst int) {
			n := &t.Nodes[src]
			if n.IsLeaf() {
				for dst < ni { // the leftmost leaf below the padding
					dst = 2*dst + 1
				}
				leaves[dst-ni] = n.Value
				return
			}
			if n.Categorical {
				nodes[dst] = pnode{slot: uint16(2*s.nf + virtOf(n))}
			} else {
				k, _ := slices.BinarySearch(s.thr[n.Feature], n.Threshold)
				slot := n.Feature
				if !n.DefaultLeft {
					slot += s.nf
				}
				nodes[dst] = pnode{slot: uint16(slot), k: uint16(k)}
			}
			place(n.Left, 2*dst+1)
			place(n.Right, 2*dst+2)
		}
		place(0, 0)
	}
	s.pool.New = func() any { b := make([]uint16, blockRows*s.width); return &b }
	return s
}

func (s *Scorer) compileGeneral(m *Model, virtOf func(*Node) int) {
	for ti := range m.Trees {
		t := &m.Trees[ti]
		s.roots = append(s.roots, int32(len(s.gnodes)))
		s.gnodes = append(s.gnodes, gnode{})
		var place func(src, dst int)
		place = func(src, dst int) {
			n := &t.Nodes[src]
			if n.IsLeaf() {
				s.gnodes[dst] = gnode{slot: -1, thr: n.Value}
				return
			}
			g := gnode{thr: n.Threshold, slot: int32(n.Feature)}
			switch {
			case n.Categorical:
				g = gnode{thr: 0.5, slot: int32(2*s.nf + virtOf(n))}
			case !n.DefaultLeft:
				g.slot += int32(s.nf)
			}
			l := len(s.gnodes)
			s.gnodes = append(s.gnodes, gnode{}, gnode{})
			g.left = int32(l)
			s.gnodes[dst] = g
			place(n.Left, l)
			place(n.Right, l+1)
		}
		place(0, len(s.gnodes)-1)
	}
	s.fpool.New = func() any { b := make([]float64, blockRows*s.width); return &b }
}

// Features returns the number of input values per row.
func (s *Scorer) Features() int { return s.nf }

// right reports whether raw value v goes right at categorical slot vs.
func (vs *virtualSlot) right(v float64) bool {
	switch {
	case v != v || v < 0:
		return !vs.defaultLeft
	case v >= 256 || v != math.Trunc(v):
		return true
	}
	c := uint(v)
	return vs.left[c>>6]>>(c&63)&1 == 0
}

// encode writes the rank encoding of raw row x into e.
func (s *Scorer) encode(x []float64, e []uint16) {
	nf := s.nf
	for j, v := range x[:nf] {
		t := s.thr[j]
		if len(t) == 0 {
			e[j], e[nf+j] = 0, 0
			continue
		}
		if v != v {
			e[j], e[nf+j] = 0, math.MaxUint16
			continue
		}
		lo, hi := 0, len(t) // rank = number of thresholds < v
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if t[m] < v {
				lo = m + 1
			} else {
				hi = m
			}
		}
		e[j], e[nf+j] = uint16(lo), uint16(lo)
	}
	for i := range s.cats {
		ct := &s.cats[i]
		v := x[ct.feature]
		var c int
		switch {
		case v != v || v < 0:
			c = ct.codes + 1
		case v >= float64(ct.codes) || v != math.Trunc(v):
			c = ct.codes
		default:
			c = int(v)
		}
		copy(e[ct.base:ct.base+ct.k], ct.tab[c*ct.k:(c+1)*ct.k])
	}
	e[len(e)-1] = 0
}

// encodeFloat writes the general-layout encoding of raw row x into e.
func (s *Scorer) encodeFloat(x, e []float64) {
	nf := s.nf
	for j, v := range x[:nf] {
		l, r := v, v
		if v != v {
			l, r = math.Inf(-1), math.Inf(1)
		}
		e[j], e[nf+j] = l, r
	}
	for k := range s.virt {
		e[2*nf+k] = 0
		if s.virt[k].right(x[s.virt[k].feature]) {
			e[2*nf+k] = 1
		}
	}
	e[len(e)-1] = 0
}

// Margin returns the raw score of row x, which must hold at least
// Features() values (NaN if it does not). It allocates nothing.
func (s *Scorer) Margin(x []float64) float64 {
	var out [1]float64
	if len(x) < s.nf || s.MarginBatch(x[:s.nf], out[:]) != nil {
		return math.NaN()
	}
	return out[0]
}

// Predict returns the prediction of one row (a probability for
// LossLogistic).
func (s *Scorer) Predict(x []float64) float64 { return s.link(s.Margin(x)) }

func (s *Scorer) link(v float64) float64 {
	if s.loss == LossLogistic {
		return sigmoid(v)
	}
	return v
}

// PredictBatch scores len(out) rows stored row-major in rows (Features()
// values per row) and writes predictions to out. It allocates nothing.
func (s *Scorer) PredictBatch(rows, out []float64) error {
	if err := s.MarginBatch(rows, out); err != nil {
		return err
	}
	if s.loss == LossLogistic {
		for i, v := range out {
			out[i] = sigmoid(v)
		}
	}
	return nil
}

// MarginBatch is PredictBatch returning raw scores.
func (s *Scorer) MarginBatch(rows, out []float64) error {
	if len(rows) != len(out)*s.nf {
		return fmt.Errorf("gbdt: %d values for %d rows of %d features", len(rows), len(out), s.nf)
	}
	w, nf := s.width, s.nf
	if s.depth == 0 {
		bp := s.fpool.Get().(*[]float64)
		enc := *bp
		for lo := 0; lo < len(out); lo += blockRows {
			o := out[lo:min(lo+blockRows, len(out))]
			for r := range o {
				s.encodeFloat(rows[(lo+r)*nf:(lo+r+1)*nf], enc[r*w:(r+1)*w])
				o[r] = s.base
			}
			s.walkGeneral(enc[:len(o)*w], o)
		}
		s.fpool.Put(bp)
		return nil
	}
	bp := s.pool.Get().(*[]uint16)
	enc := *bp
	for lo := 0; lo < len(out); lo += blockRows {
		o := out[lo:min(lo+blockRows, len(out))]
		for r := range o {
			s.encode(rows[(lo+r)*nf:(lo+r+1)*nf], enc[r*w:(r+1)*w])
			o[r] = s.base
		}
		s.walkPerfect(enc[:len(o)*w], o)
	}
	s.pool.Put(bp)
	return nil
}

// walkPerfect adds every tree's leaf value to out for the encoded rows.
// "rank > k" is the sign bit of k - rank, so the walk has no branch.
func (s *Scorer) walkPerfect(enc []uint16, out []float64) {
	w, d := s.width, s.depth
	ni, nl := 1<<d-1, 1<<d
	for t := range s.trees {
		nodes := s.pnodes[t*ni : (t+1)*ni : (t+1)*ni]
		leaves := s.leaves[t*nl : (t+1)*nl : (t+1)*nl]
		r := 0
		// Four rows at a time: four independent dependency chains keep the
		// core busy while each waits on its loads.
		for ; r+4 <= len(out); r += 4 {
			e0 := enc[r*w : (r+1)*w : (r+1)*w]
			e1 := enc[(r+1)*w : (r+2)*w : (r+2)*w]
			e2 := enc[(r+2)*w : (r+3)*w : (r+3)*w]
			e3 := enc[(r+3)*w : (r+4)*w : (r+4)*w]
			i0, i1, i2, i3 := 0, 0, 0, 0
			for range d {
				n0, n1, n2, n3 := nodes[i0], nodes[i1], nodes[i2], nodes[i3]
				i0 = 2*i0 + 1 + int((uint32(n0.k)-uint32(e0[n0.slot]))>>31)
				i1 = 2*i1 + 1 + int((uint32(n1.k)-uint32(e1[n1.slot]))>>31)
				i2 = 2*i2 + 1 + int((uint32(n2.k)-uint32(e2[n2.slot]))>>31)
				i3 = 2*i3 + 1 + int((uint32(n3.k)-uint32(e3[n3.slot]))>>31)
			}
			out[r] += leaves[i0-ni]
			out[r+1] += leaves[i1-ni]
			out[r+2] += leaves[i2-ni]
			out[r+3] += leaves[i3-ni]
		}
		for ; r < len(out); r++ {
			e := enc[r*w : (r+1)*w : (r+1)*w]
			i := 0
			for range d {
				n := nodes[i]
				i = 2*i + 1 + int((uint32(n.k)-uint32(e[n.slot]))>>31)
			}
			out[r] += leaves[i-ni]
		}
	}
}

// walkGeneral is walkPerfect for the general layout; "value > threshold"
// is the sign bit of threshold - value (the encoding holds no NaN).
func (s *Scorer) walkGeneral(enc, out []float64) {
	w := s.width
	for _, root := range s.roots {
		for r := range out {
			e := enc[r*w : (r+1)*w : (r+1)*w]
			n := &s.gnodes[root]
			for n.slot >= 0 {
				n = &s.gnodes[int(n.left)+int(math.Float64bits(n.thr-e[n.slot])>>63)]
			}
			out[r] += n.thr
		}
	}
}
