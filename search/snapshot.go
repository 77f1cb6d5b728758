package search

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/sextant-ai/sextant/bm25"
)

// SnapshotFile is the name of the index snapshot inside Options.Dir.
const SnapshotFile = "search.snapshot"

// Snapshot format, version 1 (integers uvarint, strings length-prefixed):
//
//	magic "SXSEARCH", version, settings fingerprint (with the store's identity
//	when it has one), store generation,
//	bm25 snapshot (length-prefixed, itself checksummed),
//	documents: count, then per document its metadata and its chunks as
//	(index number, chunk id) pairs,
//	crc32c of everything above (4 bytes, little endian).
const (
	snapMagic   = "SXSEARCH"
	snapVersion = 1
)

var (
	errNoSnapshot = errors.New("no snapshot")
	castagnoli    = crc32.MakeTable(crc32.Castagnoli)
)

// SaveSnapshot writes the index to Options.Dir atomically (temporary file,
// fsync, rename), recording the store generation it reflects. It is a
// no-op when snapshots are disabled or nothing changed since the last one.
func (ix *Index) SaveSnapshot() error {
	if ix.opts.Dir == "" {
		return nil
	}
	ix.save.Lock()
	defer ix.save.Unlock()
	ix.mu.RLock()
	if !ix.dirty && !ix.vdirty {
		ix.mu.RUnlock()
		return nil
	}
	var data []byte
	var err error
	if ix.dirty {
		data, err = ix.encode()
	}
	gen := ix.gen
	// The vector snapshot is written under the read lock so it records
	// the same generation as the lexical one.
	if err == nil && ix.vdirty && ix.vectorStore() != nil {
		if err = ix.saveVectorSnapshot(); err != nil {
			err = fmt.Errorf("search: save vector snapshot: %w", err)
		}
	}
	ix.mu.RUnlock()
	if err != nil {
		return err
	}
	if data != nil {
		path := filepath.Join(ix.opts.Dir, SnapshotFile)
		if err := writeFileAtomic(path, data); err != nil {
			return fmt.Errorf("search: save snapshot: %w", err)
		}
	}
	ix.mu.Lock()
	if ix.gen == gen {
		ix.dirty, ix.vdirty = false, false
	}
	ix.mu.Unlock()
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// encode serialises the index; the caller holds the read lock.
func (ix *Index) encode() ([]byte, error) {
	lex, err := ix.lex.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(lex)+len(ix.chunkID)*48+len(ix.docs)*128)
	b = append(b, snapMagic...)
	b = binary.AppendUvarint(b, snapVersion)
	b = appendString(b, ix.snapshotFingerprint())
	b = binary.AppendUvarint(b, uint64(ix.gen))
	b = binary.AppendUvarint(b, uint64(len(lex)))
	b = append(b, lex...)
	b = binary.AppendUvarint(b, uint64(len(ix.docs)))
	for _, e := range ix.docs {
		d := &e.doc
		for _, s := range []string{d.ID, d.Tenant, d.Collection, d.Source, d.Title, d.MediaType, d.Hash} {
			b = appendString(b, s)
		}
		b = binary.AppendVarint(b, d.Size)
		b = binary.AppendUvarint(b, uint64(len(d.Metadata)))
		for k, v := range d.Metadata {
			b = appendString(b, k)
			b = appendString(b, v)
		}
		b = binary.AppendUvarint(b, uint64(len(d.Labels)))
		for _, l := range d.Labels {
			b = appendString(b, l)
		}
		for _, t := range []time.Time{d.IngestedAt, d.UpdatedAt, d.ExpiresAt} {
			b = appendTime(b, t)
		}
		b = binary.AppendUvarint(b, uint64(len(e.chunks)))
		for _, n := range e.chunks {
			b = binary.AppendUvarint(b, uint64(n))
			b = appendString(b, ix.chunkID[n])
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime writes 0 for the zero time, else 1 and Unix nanoseconds
// (times outside the int64 nanosecond range are clamped).
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.AppendVarint(b, t.UnixNano())
}

// loadSnapshot replaces the index contents with the snapshot in
// Options.Dir. It fails with errNoSnapshot when there is none, and with a
// descriptive error when the file is damaged, was built with other
// settings, or is newer than the store.
func (ix *Index) loadSnapshot(storeGen int64) error {
	path := filepath.Join(ix.opts.Dir, SnapshotFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return errNoSnapshot
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	snap, err := decodeSnapshot(data, ix.snapshotFingerprint())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if snap.gen > storeGen {
		return fmt.Errorf("%s: snapshot is at generation %d, newer than the store (%d)", path, snap.gen, storeGen)
	}
	ix.mu.Lock()
	ix.lex, ix.docs, ix.chunkDoc, ix.chunkID, ix.otherTen, ix.gen = snap.lex, snap.docs, snap.chunkDoc, snap.chunkID, snap.otherTen, snap.gen
	ix.otherColl = snap.otherColl
	ix.dirty = false
	ix.mu.Unlock()
	return nil
}

// snapshot is a decoded snapshot.
type snapshot struct {
	gen       int64
	lex       *bm25.Index
	docs      map[string]*docEntry
	chunkDoc  []*docEntry
	chunkID   []string
	otherTen  int
	otherColl int
}

// errSettings reports a snapshot built with other index settings.
var errSettings = errors.New("snapshot was built for another store or with other index settings")

// decodeSnapshot parses and validates a snapshot; every inconsistency is
// an error, never a panic.
func decodeSnapshot(data []byte, fingerprint string) (*snapshot, error) {
	if len(data) < len(snapMagic)+4 || string(data[:len(snapMagic)]) != snapMagic {
		return nil, errors.New("not a search snapshot")
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, errors.New("snapshot checksum mismatch")
	}
	r := &sreader{b: body[len(snapMagic):]}
	if v := r.uvarint(); r.err == nil && v != snapVersion {
		return nil, fmt.Errorf("snapshot version %d, this build reads %d", v, snapVersion)
	}
	if fp := r.str(); r.err == nil && fp != fingerprint {
		return nil, errSettings
	}
	gen := r.uvarint()
	if gen > math.MaxInt64 {
		r.fail("generation out of range")
	}
	lexData := r.bytes(r.count(1))
	if r.err != nil {
		return nil, r.err
	}
	lex, err := bm25.Unmarshal(lexData)
	if err != nil {
		return nil, err
	}
	s := &snapshot{gen: int64(gen), lex: lex, docs: make(map[string]*docEntry),
		chunkDoc: make([]*docEntry, lex.Docs()), chunkID: make([]string, lex.Docs())}
	ndocs := r.count(8)
	live := 0
	for range ndocs {
		e := &docEntry{}
		d := &e.doc
		for _, p := range []*string{&d.ID, &d.Tenant, &d.Collection, &d.Source, &d.Title, &d.MediaType, &d.Hash} {
			*p = r.str()
		}
		d.Size = r.varint()
		if n := r.count(2); n > 0 {
			d.Metadata = make(map[string]string, n)
			for range n {
				k := r.str()
				d.Metadata[k] = r.str()
			}
		}
		if n := r.count(1); n > 0 {
			d.Labels = make([]string, n)
			for i := range d.Labels {
				d.Labels[i] = r.str()
			}
		}
		for _, p := range []*time.Time{&d.IngestedAt, &d.UpdatedAt, &d.ExpiresAt} {
			*p = r.time()
		}
		nch := r.count(2)
		for range nch {
			n := r.uvarint()
			id := r.str()
			if r.err != nil {
				break
			}
			if n >= uint64(len(s.chunkDoc)) || lex.Deleted(uint32(n)) || s.chunkDoc[n] != nil || id == "" {
				r.fail("chunk %q has bad or duplicate index number %d", id, n)
				break
			}
			e.chunks = append(e.chunks, uint32(n))
			s.chunkDoc[n] = e
			s.chunkID[n] = id
			live++
		}
		if r.err != nil {
			return nil, r.err
		}
		if _, dup := s.docs[d.ID]; dup || d.ID == "" {
			return nil, fmt.Errorf("snapshot: bad or duplicate document id %q", d.ID)
		}
		s.docs[d.ID] = e
		if d.Tenant != "" {
			s.otherTen++
		}
		if !inDefaultCollection(&e.doc) {
			s.otherColl++
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("snapshot: %d trailing bytes", len(r.b))
	}
	if live != lex.Len() {
		return nil, fmt.Errorf("snapshot: %d chunks listed for %d indexed", live, lex.Len())
	}
	return s, nil
}

// sreader decodes snapshot fields, remembering the first error.
type sreader struct {
	b   []byte
	err error
}

func (r *sreader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("snapshot: "+format, args...)
	}
}

func (r *sreader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *sreader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated or bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count of items each taking at least minBytes.
func (r *sreader) count(minBytes int) int {
	v := r.uvarint()
	if r.err == nil && v > uint64(len(r.b)/minBytes) {
		r.fail("count %d exceeds the remaining data", v)
		return 0
	}
	return int(v)
}

func (r *sreader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *sreader) str() string { return string(r.bytes(r.count(1))) }

func (r *sreader) time() time.Time {
	switch flag := r.bytes(1); {
	case r.err != nil:
		return time.Time{}
	case flag[0] == 0:
		return time.Time{}
	case flag[0] == 1:
		return time.Unix(0, r.varint()).UTC()
	default:
		r.fail("bad time flag %d", flag[0])
		return time.Time{}
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
