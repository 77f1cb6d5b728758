// Package bm25 is an in-memory inverted index with BM25F ranking and exact
// top-k retrieval by dynamic pruning.
//
// Documents are numbered by the index (0, 1, 2, … in order of Add) and have
// one or more fields (for example title and body), each a sequence of
// terms. Scoring is BM25F (Robertson, Zaragoza, Taylor 2004): a document's
// pseudo term frequency is the weighted sum of its per-field frequencies,
// each normalised by that field's length,
//
//	tf~ = Σ_f w_f · tf_f / (1 − b_f + b_f · len_f / avglen_f)
//
// and a query term contributes idf · tf~ / (k1 + tf~), with Lucene's
// idf = ln(1 + (N − df + 0.5) / (df + 0.5)). BM25F saturates term frequency
// once over all fields, so a term repeated in title and body does not count
// twice the way a weighted sum of per-field BM25 scores would.
//
// Top-k search uses block-max MaxScore: postings are grouped in blocks of
// 128 documents that carry the largest saturated term frequency inside them,
// so lists and blocks that cannot lift a document into the current top k
// are skipped without being decoded. The result is exactly the top k that
// scoring every posting would give (ties broken by lower document number).
//
// Deletion marks a tombstone; statistics (N, df, average lengths) include
// tombstoned documents until Compact drops their postings, as in Lucene.
// An Index is not safe for concurrent mutation; any number of Search calls
// may run concurrently when no Add, Delete or Compact is running.
package bm25

import (
	"errors"
	"fmt"
	"math"
)

// blockSize is the number of postings per block: large enough that block
// metadata is small next to the postings, small enough that block maxima
// stay tight.
const blockSize = 128

// MaxFields bounds the number of fields of an index.
const MaxFields = 8

// Options configures an Index. The zero value is one field, k1 = 0.9,
// b = 0.4 (the defaults of Anserini, tuned for short documents).
type Options struct {
	// K1 controls term-frequency saturation. 0 means 0.9.
	K1 float64
	// B controls document-length normalisation, in [0, 1]. 0 means 0.4;
	// a negative value means no normalisation.
	B float64
	// Fields names the relative weight of each field; its length is the
	// number of fields. nil means one field of weight 1.
	Fields []float64
	// FieldB optionally overrides B per field (same length as Fields);
	// entries follow the convention of B (0 = B, negative = none).
	FieldB []float64
}

// params are resolved options.
type params struct {
	k1 float64
	w  []float64
	b  []float64
}

func (o Options) resolve() (params, error) {
	p := params{k1: o.K1}
	if p.k1 == 0 {
		p.k1 = 0.9
	}
	if p.k1 < 0 || math.IsNaN(p.k1) || math.IsInf(p.k1, 0) {
		return p, fmt.Errorf("bm25: k1 must be a positive number, got %v", o.K1)
	}
	b := o.B
	switch {
	case b == 0:
		b = 0.4
	case b < 0:
		b = 0
	case b > 1 || math.IsNaN(b):
		return p, fmt.Errorf("bm25: b must be in [0,1], got %v", o.B)
	}
	p.w = o.Fields
	if len(p.w) == 0 {
		p.w = []float64{1}
	}
	if len(p.w) > MaxFields {
		return p, fmt.Errorf("bm25: %d fields, at most %d supported", len(p.w), MaxFields)
	}
	if o.FieldB != nil && len(o.FieldB) != len(p.w) {
		return p, fmt.Errorf("bm25: FieldB has %d entries for %d fields", len(o.FieldB), len(p.w))
	}
	p.w = append([]float64(nil), p.w...)
	p.b = make([]float64, len(p.w))
	for f, w := range p.w {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return p, fmt.Errorf("bm25: field %d weight must be a non-negative number, got %v", f, w)
		}
		p.b[f] = b
		if o.FieldB != nil {
			switch fb := o.FieldB[f]; {
			case fb == 0:
			case fb < 0:
				p.b[f] = 0
			case fb > 1 || math.IsNaN(fb):
				return p, fmt.Errorf("bm25: field %d b must be in [0,1], got %v", f, fb)
			default:
				p.b[f] = fb
			}
		}
	}
	return p, nil
}

// blockMeta locates one block of a posting list.
type blockMeta struct {
	off    uint32  // byte offset of the block's first posting in data
	last   uint32  // document number of the block's last posting
	n      uint32  // postings in the block
	maxSat float32 // upper bound of tf~/(k1+tf~) over the block, rounded up
}

// postings is one term's list: documents in increasing order, each as a
// uvarint gap from the previous document (the first is absolute) followed
// by one uvarint frequency per field.
type postings struct {
	data   []byte
	blocks []blockMeta
	df     uint32 // postings, including tombstoned documents
	last   uint32 // last document appended
}

// Index is a BM25F inverted index. See the package comment for the
// concurrency contract.
type Index struct {
	p     params
	nf    int
	ids   map[string]uint32 // term → term id
	terms []string          // term id → term
	lists []postings        // by term id

	lens    [][]uint32 // lens[f][doc]: field length in terms
	totLen  []uint64   // Σ lens over documents counted in statistics
	ndocs   uint32     // document numbers allocated
	nstat   uint32     // documents counted in statistics (live + pending)
	deleted []uint64   // tombstones, by document number
	pending uint32     // tombstoned documents whose postings remain
	nlive   uint32

	// boundAvg is the average field length the block maxima were computed
	// with. Normalised frequency grows with the average length, so maxima
	// stay valid upper bounds while the true average is no larger.
	boundAvg  []float64
	boundCoef []float64 // lenCoef(boundAvg)

	// Add's scratch: term id → slot, slot → term id, slot → frequencies.
	slot  map[uint32]int32
	order []uint32
	freqs []uint32
}

// New returns an empty index.
func New(o Options) (*Index, error) {
	p, err := o.resolve()
	if err != nil {
		return nil, err
	}
	return newIndex(p), nil
}

func newIndex(p params) *Index {
	nf := len(p.w)
	return &Index{
		p:        p,
		nf:       nf,
		ids:      make(map[string]uint32),
		lens:     make([][]uint32, nf),
		totLen:   make([]uint64, nf),
		boundAvg: make([]float64, nf),
		slot:     make(map[uint32]int32),
	}
}

// Fields returns the number of fields.
func (ix *Index) Fields() int { return ix.nf }

// Len returns the number of live (not deleted) documents.
func (ix *Index) Len() int { return int(ix.nlive) }

// Docs returns the number of document numbers allocated, live or deleted:
// every document number is below it.
func (ix *Index) Docs() uint32 { return ix.ndocs }

// Terms returns the number of distinct terms.
func (ix *Index) Terms() int { return len(ix.terms) }

// Deleted reports whether doc has been deleted (or was never added).
func (ix *Index) Deleted(doc uint32) bool {
	return doc >= ix.ndocs || ix.deleted[doc>>6]&(1<<(doc&63)) != 0
}

// SizeBytes estimates the memory held by postings, block metadata, field
// lengths and the term dictionary.
func (ix *Index) SizeBytes() int64 {
	var n int64
	for i := range ix.lists {
		l := &ix.lists[i]
		n += int64(cap(l.data)) + int64(cap(l.blocks))*16 + 48
		n += int64(len(ix.terms[i])) + 16 + 24 // dictionary entry and map slot, roughly
	}
	n += int64(ix.nf) * int64(ix.ndocs) * 4
	n += int64(len(ix.deleted)) * 8
	return n
}

// ErrTooManyDocs is returned by Add when document numbers are exhausted.
var ErrTooManyDocs = errors.New("bm25: too many documents")

// Add indexes a document whose fields[f] holds the terms of field f (fewer
// slices than fields means the rest are empty) and returns its number.
func (ix *Index) Add(fields ...[]string) (uint32, error) {
	if len(fields) > ix.nf {
		return 0, fmt.Errorf("bm25: document has %d fields, index has %d", len(fields), ix.nf)
	}
	if ix.ndocs == math.MaxUint32-1 {
		return 0, ErrTooManyDocs
	}
	doc := ix.ndocs
	ix.ndocs++
	ix.nstat++
	ix.nlive++
	if int(doc>>6) >= len(ix.deleted) {
		ix.deleted = append(ix.deleted, 0)
	}
	// Per distinct term of the document: its id and nf frequencies in a
	// flat buffer, so adding allocates nothing in the steady state.
	clear(ix.slot)
	ix.order = ix.order[:0]
	ix.freqs = ix.freqs[:0]
	for f := range ix.nf {
		var n uint32
		if f < len(fields) {
			for _, t := range fields[f] {
				id, ok := ix.ids[t]
				if !ok {
					id = uint32(len(ix.terms))
					ix.ids[t] = id
					ix.terms = append(ix.terms, t)
					ix.lists = append(ix.lists, postings{})
				}
				s, ok := ix.slot[id]
				if !ok {
					s = int32(len(ix.order))
					ix.slot[id] = s
					ix.order = append(ix.order, id)
					for range ix.nf {
						ix.freqs = append(ix.freqs, 0)
					}
				}
				ix.freqs[int(s)*ix.nf+f]++
				n++
			}
		}
		ix.lens[f] = append(ix.lens[f], n)
		ix.totLen[f] += uint64(n)
	}
	rebound := false
	for f := range ix.nf {
		if ix.avg(f) > ix.boundAvg[f] {
			rebound = true
		}
	}
	if rebound {
		// Postings appended below use the new bound; recomputeBounds
		// refreshes the rest with some headroom so that a growing
		// average does not recompute on every Add.
		ix.setBounds(1.05)
	}
	for s, id := range ix.order {
		ix.appendPosting(id, doc, ix.freqs[s*ix.nf:s*ix.nf+ix.nf])
	}
	if rebound {
		ix.recomputeBounds()
	}
	return doc, nil
}

// setBounds sets the averages block maxima are computed with.
func (ix *Index) setBounds(headroom float64) {
	for f := range ix.nf {
		ix.boundAvg[f] = ix.avg(f) * headroom
	}
	ix.boundCoef = ix.lenCoef(ix.boundAvg, ix.boundCoef)
}

// lenCoef returns, per field, b/avglen (0 when the average is 0): the
// factor of the document length in the length normalisation, so scoring a
// posting multiplies instead of dividing.
func (ix *Index) lenCoef(avg, dst []float64) []float64 {
	dst = append(dst[:0], make([]float64, ix.nf)...)
	for f := range ix.nf {
		if avg[f] > 0 {
			dst[f] = ix.p.b[f] / avg[f]
		}
	}
	return dst
}

func (ix *Index) avg(f int) float64 {
	if ix.nstat == 0 {
		return 0
	}
	return float64(ix.totLen[f]) / float64(ix.nstat)
}

// appendPosting appends doc with frequencies tfs to term id's list.
func (ix *Index) appendPosting(id, doc uint32, tfs []uint32) {
	l := &ix.lists[id]
	nb := len(l.blocks)
	if nb == 0 || l.blocks[nb-1].n == blockSize {
		l.blocks = append(l.blocks, blockMeta{off: uint32(len(l.data))})
		nb++
	}
	gap := doc
	if l.df > 0 {
		gap = doc - l.last
	}
	l.data = appendUvarint(l.data, uint64(gap))
	for _, tf := range tfs {
		l.data = appendUvarint(l.data, uint64(tf))
	}
	b := &l.blocks[nb-1]
	b.n++
	b.last = doc
	if s := roundUp(ix.sat(tfs, doc, ix.boundCoef)); s > b.maxSat {
		b.maxSat = s
	}
	l.df++
	l.last = doc
}

// sat returns tf~/(k1+tf~) for a posting of doc with field frequencies
// tfs, with coef the per-field b/avglen (see lenCoef).
func (ix *Index) sat(tfs []uint32, doc uint32, coef []float64) float64 {
	var t float64
	for f, tf := range tfs {
		if tf == 0 {
			continue
		}
		norm := 1.0
		if c := coef[f]; c > 0 {
			norm = 1 - ix.p.b[f] + float64(ix.lens[f][doc])*c
		}
		t += ix.p.w[f] * float64(tf) / norm
	}
	return t / (ix.p.k1 + t)
}

// roundUp converts a non-negative bound to float32 without rounding down.
func roundUp(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// recomputeBounds recomputes every block maximum with boundAvg.
func (ix *Index) recomputeBounds() {
	tfs := make([]uint32, ix.nf)
	for i := range ix.lists {
		l := &ix.lists[i]
		var doc uint32
		pos := 0
		first := true
		for b := range l.blocks {
			bm := &l.blocks[b]
			bm.maxSat = 0
			for range bm.n {
				gap, n := uvarint(l.data[pos:])
				pos += n
				if first {
					doc = uint32(gap)
					first = false
				} else {
					doc += uint32(gap)
				}
				for f := range tfs {
					v, n := uvarint(l.data[pos:])
					pos += n
					tfs[f] = uint32(v)
				}
				if s := roundUp(ix.sat(tfs, doc, ix.boundCoef)); s > bm.maxSat {
					bm.maxSat = s
				}
			}
		}
	}
}

// Delete tombstones doc. Deleting an unknown or deleted document is a
// no-op. When tombstoned postings exceed a fifth of the index, Delete
// compacts it.
func (ix *Index) Delete(doc uint32) {
	if ix.Deleted(doc) {
		return
	}
	ix.deleted[doc>>6] |= 1 << (doc & 63)
	ix.pending++
	ix.nlive--
	if ix.pending >= 64 && ix.pending*5 > ix.nstat {
		ix.Compact()
	}
}

// Compact drops the postings of deleted documents and their share of the
// statistics. Document numbers do not change.
func (ix *Index) Compact() {
	if ix.pending == 0 {
		return
	}
	for f := range ix.nf {
		for doc := range ix.ndocs {
			if ix.Deleted(doc) && ix.lens[f][doc] != 0 {
				ix.totLen[f] -= uint64(ix.lens[f][doc])
				ix.lens[f][doc] = 0
			}
		}
	}
	ix.nstat -= ix.pending
	ix.pending = 0
	ix.setBounds(1)
	tfs := make([]uint32, ix.nf)
	for i := range ix.lists {
		old := ix.lists[i]
		l := &ix.lists[i]
		*l = postings{data: make([]byte, 0, len(old.data))}
		var doc uint32
		pos := 0
		for k := range old.df {
			gap, n := uvarint(old.data[pos:])
			pos += n
			if k == 0 {
				doc = uint32(gap)
			} else {
				doc += uint32(gap)
			}
			for f := range tfs {
				v, n := uvarint(old.data[pos:])
				pos += n
				tfs[f] = uint32(v)
			}
			if !ix.Deleted(doc) {
				ix.appendPosting(uint32(i), doc, tfs)
			}
		}
	}
	// Terms left without postings stay in the dictionary (their ids are
	// stable); they cost a few bytes and match nothing.
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// uvarint decodes a uvarint from trusted data (written by appendUvarint or
// validated on decode).
func uvarint(b []byte) (uint64, int) {
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	var x uint64
	var s uint
	for i, c := range b {
		if c < 0x80 {
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, len(b)
}

// Shrink releases the spare capacity postings accumulate while growing
// (appends double their buffers); call it after a bulk build.
func (ix *Index) Shrink() {
	for i := range ix.lists {
		l := &ix.lists[i]
		if cap(l.data) > len(l.data) {
			l.data = append(make([]byte, 0, len(l.data)), l.data...)
		}
		if cap(l.blocks) > len(l.blocks) {
			l.blocks = append(make([]blockMeta, 0, len(l.blocks)), l.blocks...)
		}
	}
	ix.lists = append(make([]postings, 0, len(ix.lists)), ix.lists...)
	ix.terms = append(make([]string, 0, len(ix.terms)), ix.terms...)
}
