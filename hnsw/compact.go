package hnsw

import (
	"context"
	"sync/atomic"
)

// Removed marks a deleted id in the remapping Compact returns.
const Removed = ^uint32(0)

// Compact returns a new index without the deleted vectors, with live ids
// renumbered densely in their old order, and remap[old] = new id (or
// Removed). Links to deleted nodes are dropped; Delete has already relinked
// their neighbours. The receiver is left unchanged and stays searchable, so
// callers swap the new index in together with their id mapping; writes to
// the old index after Compact returns are not carried over.
func (x *Index) Compact(ctx context.Context) (*Index, []uint32, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	st := x.st.Load()
	n := x.n
	remap := make([]uint32, n)
	live, upperNeed := 0, 0
	for i := range n {
		if isDeleted(st, uint32(i)) {
			remap[i] = Removed
			continue
		}
		remap[i] = uint32(live)
		live++
		upperNeed += int(st.level[i]) * x.ustride
	}
	opt := x.opt
	opt.Capacity = live
	y, err := New(opt)
	if err != nil {
		return nil, nil, err
	}
	y.quant = x.quant
	y.rng = x.rng
	ns := y.alloc(nil, live, upperNeed)
	dim := x.dim
	for old := range n {
		if old&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		j := remap[old]
		if j == Removed {
			continue
		}
		if st.vecs != nil {
			copy(ns.vecs[int(j)*dim:int(j+1)*dim], st.vecs[old*dim:(old+1)*dim])
		} else {
			copy(ns.codes[int(j)*dim:int(j+1)*dim], st.codes[old*dim:(old+1)*dim])
		}
		if st.sqnorm != nil {
			ns.sqnorm[j] = st.sqnorm[old]
		}
		lv := int(st.level[old])
		ns.level[j] = uint8(lv)
		if lv > 0 {
			ns.upperOff[j] = uint32(y.upperLen)
			y.upperLen += lv * x.ustride
		}
		for l := 0; l <= lv; l++ {
			src, sb := x.row(st, uint32(old), l)
			dst, db := y.row(ns, j, l)
			c := 0
			cnt := min(int(atomic.LoadUint32(&src[sb])), x.maxLinks(l))
			for i := range cnt {
				if t := remap[atomic.LoadUint32(&src[sb+1+i])]; t != Removed {
					dst[db+1+c] = t
					c++
				}
			}
			dst[db] = uint32(c)
		}
	}
	y.n = live
	y.st.Store(ns)
	y.count.Store(int64(live))
	if live > 0 {
		t := x.top.Load()
		ep := uint32(t >> 8)
		if remap[ep] != Removed {
			y.top.Store(hasTopBit | uint64(remap[ep])<<8 | t&0xff)
		} else {
			// The entry point was deleted: the highest live node takes over.
			best := uint32(0)
			for i := range uint32(live) {
				if ns.level[i] > ns.level[best] {
					best = i
				}
			}
			y.top.Store(hasTopBit | uint64(best)<<8 | uint64(ns.level[best]))
		}
	}
	return y, remap, nil
}
