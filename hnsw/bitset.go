package hnsw

import "math/bits"

// Bitset is a set of ids, one bit each; it implements Filter and tells
// Search its exact size. Build one per filter (from metadata and ACLs) and
// reuse it across queries.
type Bitset []uint64

// NewBitset returns an empty set for ids below n.
func NewBitset(n int) Bitset { return make(Bitset, (n+63)/64) }

// Set adds id; ids beyond the set's size are ignored.
func (b Bitset) Set(id uint32) {
	if w := int(id >> 6); w < len(b) {
		b[w] |= 1 << (id & 63)
	}
}

// Unset removes id.
func (b Bitset) Unset(id uint32) {
	if w := int(id >> 6); w < len(b) {
		b[w] &^= 1 << (id & 63)
	}
}

// Allows reports whether id is in the set.
func (b Bitset) Allows(id uint32) bool {
	w := int(id >> 6)
	return w < len(b) && b[w]&(1<<(id&63)) != 0
}

// Count returns the number of ids in the set.
func (b Bitset) Count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

func trailingZeros(v uint64) int { return bits.TrailingZeros64(v) }
