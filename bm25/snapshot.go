package bm25

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"unicode/utf8"
)

// Snapshot format, version 1 (all integers uvarint unless noted):
//
//	magic "SXBM25\r\n" (8 bytes)
//	version
//	k1, then per field: weight, b     (float64 bits, uvarint)
//	fields
//	ndocs, nstat, pending, nlive
//	tombstones: ndocs bits as ceil(ndocs/64) uint64 words (uvarint each)
//	per field: ndocs lengths
//	nterms, then per term: len, bytes, df, len(data), data
//	crc32c of everything above (4 bytes, little endian)
//
// Block metadata and bounds are derived while validating the postings, so
// they are not stored.

const (
	snapshotMagic   = "SXBM25\r\n"
	snapshotVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the index as a versioned, checksummed snapshot.
func (ix *Index) MarshalBinary() ([]byte, error) {
	size := 64 + int(ix.ndocs)*ix.nf*2 + len(ix.deleted)*9
	for i := range ix.lists {
		size += len(ix.terms[i]) + len(ix.lists[i].data) + 12
	}
	b := make([]byte, 0, size)
	b = append(b, snapshotMagic...)
	b = appendUvarint(b, snapshotVersion)
	b = appendUvarint(b, uint64(ix.nf))
	b = appendUvarint(b, math.Float64bits(ix.p.k1))
	for f := range ix.nf {
		b = appendUvarint(b, math.Float64bits(ix.p.w[f]))
		b = appendUvarint(b, math.Float64bits(ix.p.b[f]))
	}
	b = appendUvarint(b, uint64(ix.ndocs))
	b = appendUvarint(b, uint64(ix.nstat))
	b = appendUvarint(b, uint64(ix.pending))
	b = appendUvarint(b, uint64(ix.nlive))
	for _, w := range ix.deleted[:(ix.ndocs+63)/64] {
		b = appendUvarint(b, w)
	}
	for f := range ix.nf {
		for _, n := range ix.lens[f] {
			b = appendUvarint(b, uint64(n))
		}
	}
	b = appendUvarint(b, uint64(len(ix.terms)))
	for i, t := range ix.terms {
		l := &ix.lists[i]
		b = appendUvarint(b, uint64(len(t)))
		b = append(b, t...)
		b = appendUvarint(b, uint64(l.df))
		b = appendUvarint(b, uint64(len(l.data)))
		b = append(b, l.data...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// ErrCorrupt is wrapped by every Unmarshal error about the snapshot bytes.
var ErrCorrupt = errors.New("bm25: corrupt snapshot")

// Unmarshal decodes a snapshot written by MarshalBinary. It verifies the
// checksum and every structural invariant (lengths, document order and
// range, statistics), so a damaged or foreign file yields an error wrapping
// ErrCorrupt, never a panic or an index that misbehaves later.
func Unmarshal(data []byte) (*Index, error) {
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a bm25 snapshot", ErrCorrupt)
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return decodeBody(body[len(snapshotMagic):])
}

// reader decodes uvarints from a byte slice, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad or truncated %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count that must be at most max and at most the remaining
// bytes divided by minBytes (each counted item takes at least that many
// bytes), so a forged count cannot make the decoder allocate wildly.
func (r *reader) count(what string, max uint64, minBytes int) int {
	v := r.uvarint(what)
	if r.err != nil {
		return 0
	}
	if v > max || (minBytes > 0 && v > uint64(len(r.b)/minBytes)) {
		r.fail("%s %d out of range", what, v)
		return 0
	}
	return int(v)
}

func (r *reader) float(what string) float64 {
	return math.Float64frombits(r.uvarint(what))
}

func (r *reader) bytes(what string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("truncated %s", what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func decodeBody(body []byte) (*Index, error) {
	r := &reader{b: body}
	if v := r.uvarint("version"); r.err == nil && v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrCorrupt, v, snapshotVersion)
	}
	nf := r.count("field count", MaxFields, 0)
	if r.err == nil && nf == 0 {
		r.fail("no fields")
	}
	o := Options{K1: r.float("k1"), Fields: make([]float64, nf), FieldB: make([]float64, nf)}
	for f := range nf {
		o.Fields[f] = r.float("field weight")
		b := r.float("field b")
		if b == 0 {
			b = -1 // stored resolved: 0 means none
		}
		o.FieldB[f] = b
	}
	if r.err != nil {
		return nil, r.err
	}
	o.B = -1
	p, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	ix := newIndex(p)
	ndocs := r.count("document count", math.MaxUint32-1, nf)
	nstat := r.count("statistics document count", uint64(ndocs), 0)
	pending := r.count("pending deletions", uint64(ndocs), 0)
	nlive := r.count("live document count", uint64(ndocs), 0)
	if r.err != nil {
		return nil, r.err
	}
	ix.ndocs, ix.nstat, ix.pending, ix.nlive = uint32(ndocs), uint32(nstat), uint32(pending), uint32(nlive)
	words := (ndocs + 63) / 64
	ix.deleted = make([]uint64, words)
	ndeleted := 0
	for i := range words {
		w := r.uvarint("tombstones")
		if i == words-1 && ndocs%64 != 0 && w>>(ndocs%64) != 0 {
			r.fail("tombstone beyond the last document")
		}
		ix.deleted[i] = w
		for ; w != 0; w &= w - 1 {
			ndeleted++
		}
	}
	if r.err == nil && (ndeleted+nlive != ndocs || pending > ndeleted || nlive+pending != nstat) {
		r.fail("document counts disagree (docs %d, live %d, deleted %d, pending %d, counted %d)", ndocs, nlive, ndeleted, pending, nstat)
	}
	for f := range nf {
		if r.err != nil {
			break
		}
		ix.lens[f] = make([]uint32, ndocs)
		for d := range ndocs {
			v := r.uvarint("field length")
			if v > math.MaxUint32 {
				r.fail("field length %d out of range", v)
			}
			ix.lens[f][d] = uint32(v)
			ix.totLen[f] += v
		}
	}
	nterms := r.count("term count", math.MaxUint32, 3)
	if r.err != nil {
		return nil, r.err
	}
	ix.terms = make([]string, 0, nterms)
	ix.lists = make([]postings, nterms)
	ix.setBounds(1)
	for i := range nterms {
		tl := r.count("term length", 1<<16, 1)
		term := string(r.bytes("term", tl))
		df := r.count("document frequency", uint64(ndocs), 0)
		dl := r.count("postings length", math.MaxUint32, 1)
		pdata := r.bytes("postings", dl)
		if r.err != nil {
			return nil, r.err
		}
		if !utf8.ValidString(term) {
			return nil, fmt.Errorf("%w: term %d is not valid UTF-8", ErrCorrupt, i)
		}
		if _, dup := ix.ids[term]; dup {
			return nil, fmt.Errorf("%w: term %q appears twice", ErrCorrupt, term)
		}
		ix.ids[term] = uint32(i)
		ix.terms = append(ix.terms, term)
		if err := ix.loadPostings(uint32(i), df, pdata); err != nil {
			return nil, fmt.Errorf("%w: term %q: %v", ErrCorrupt, term, err)
		}
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	return ix, nil
}

// loadPostings validates a term's postings and rebuilds its list (block
// metadata and bounds) by appending them.
func (ix *Index) loadPostings(id uint32, df int, data []byte) error {
	ix.lists[id] = postings{data: make([]byte, 0, len(data))}
	tfs := make([]uint32, ix.nf)
	var doc uint32
	for k := range df {
		gap, n := binary.Uvarint(data)
		if n <= 0 {
			return errors.New("truncated postings")
		}
		data = data[n:]
		next := uint64(doc) + gap
		if k == 0 {
			next = gap
		} else if gap == 0 {
			return errors.New("documents out of order")
		}
		if next >= uint64(ix.ndocs) {
			return fmt.Errorf("document %d out of range", next)
		}
		doc = uint32(next)
		var sum uint64
		for f := range tfs {
			v, n := binary.Uvarint(data)
			if n <= 0 {
				return errors.New("truncated frequencies")
			}
			data = data[n:]
			if v > uint64(ix.lens[f][doc]) {
				return fmt.Errorf("frequency %d exceeds field length %d of document %d", v, ix.lens[f][doc], doc)
			}
			tfs[f] = uint32(v)
			sum += v
		}
		if sum == 0 {
			return fmt.Errorf("posting of document %d has no occurrences", doc)
		}
		if ix.Deleted(doc) && ix.pending == 0 {
			return fmt.Errorf("posting of deleted document %d after compaction", doc)
		}
		ix.appendPosting(id, doc, tfs)
	}
	if len(data) != 0 {
		return fmt.Errorf("%d bytes after the last posting", len(data))
	}
	return nil
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
