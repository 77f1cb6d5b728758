package search

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/sextant-ai/sextant/hnsw"
)

// VectorSnapshotFile is the name of the vector index snapshot inside
// Options.Dir, beside SnapshotFile.
const VectorSnapshotFile = "vectors.snapshot"

// Vector snapshot format, version 1:
//
//	magic "SXVECTOR", header length (u32 LE), header, crc32c of the header
//	(u32 LE), then the hnsw snapshot (itself versioned and checksummed).
//	header (integers uvarint, strings length-prefixed): version, settings
//	fingerprint (space, dimension, graph parameters), store generation,
//	store id, float vector file name (int8 only), node count, then each
//	node's chunk id ("" for a deleted node).
//
// The snapshot is used only together with a lexical snapshot of the same
// generation from the same store; otherwise the vectors are rebuilt from
// the store.
const (
	vsnapMagic   = "SXVECTOR"
	vsnapVersion = 1
)

// storeID returns the store's identity when it has one (sqlite.DB.ID).
func (ix *Index) storeID() string {
	if s, ok := ix.store.(interface{ ID() string }); ok {
		return s.ID()
	}
	return ""
}

// saveVectorSnapshot writes the vector index; the caller holds the read
// lock. With no vector index it removes a stale snapshot.
func (ix *Index) saveVectorSnapshot() error {
	path := filepath.Join(ix.opts.Dir, VectorSnapshotFile)
	v := ix.vec
	if v == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	h := binary.AppendUvarint(nil, vsnapVersion)
	h = appendString(h, ix.vectorFingerprint(v.space, v.dim))
	h = binary.AppendUvarint(h, uint64(ix.gen))
	h = appendString(h, ix.storeID())
	h = appendString(h, v.floats.name())
	h = binary.AppendUvarint(h, uint64(len(v.chunkOf)))
	for id, n := range v.chunkOf {
		cid := ""
		if !v.hn.IsDeleted(uint32(id)) {
			cid = ix.chunkID[n]
		}
		h = appendString(h, cid)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	bw := bufio.NewWriterSize(f, 1<<20)
	bw.WriteString(vsnapMagic)
	bw.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(h))))
	bw.Write(h)
	bw.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(h, castagnoli)))
	err = v.hn.Encode(bw)
	if err == nil {
		err = bw.Flush()
	}
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
	if v.floats != nil && v.floats.path != "" {
		removeOtherFloats(dir, v.floats.currentPath())
	}
	return nil
}

// loadVectorSnapshot reads the vector snapshot for the lexical index just
// loaded (at ix.gen) and installs it when it matches the store's identity,
// generation and active space; the error says why it was not used.
func (ix *Index) loadVectorSnapshot(space interface{ String() string }, fingerprint string, dim int) (*vectors, error) {
	path := filepath.Join(ix.opts.Dir, VectorSnapshotFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var head [len(vsnapMagic) + 4]byte
	if _, err := io.ReadFull(f, head[:]); err != nil || string(head[:len(vsnapMagic)]) != vsnapMagic {
		return nil, errors.New("not a vector snapshot")
	}
	hlen := binary.LittleEndian.Uint32(head[len(vsnapMagic):])
	if fi, err := f.Stat(); err != nil || int64(hlen)+4 > fi.Size() {
		return nil, errors.New("vector snapshot header truncated")
	}
	hb := make([]byte, int(hlen)+4)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, errors.New("vector snapshot header truncated")
	}
	h := hb[:hlen]
	if crc32.Checksum(h, castagnoli) != binary.LittleEndian.Uint32(hb[hlen:]) {
		return nil, errors.New("vector snapshot header checksum mismatch")
	}
	r := &sreader{b: h}
	if ver := r.uvarint(); r.err == nil && ver != vsnapVersion {
		return nil, fmt.Errorf("vector snapshot version %d, this build reads %d", ver, vsnapVersion)
	}
	if fp := r.str(); r.err == nil && fp != fingerprint {
		return nil, fmt.Errorf("vector snapshot was built for other settings or another embedding space (the store's is %s)", space)
	}
	gen := r.uvarint()
	if r.err == nil && (gen > math.MaxInt64 || int64(gen) != ix.gen) {
		return nil, fmt.Errorf("vector snapshot is at generation %d, the lexical index at %d", gen, ix.gen)
	}
	if id := r.str(); r.err == nil && id != ix.storeID() {
		return nil, errors.New("vector snapshot belongs to another store")
	}
	floatName := r.str()
	n := r.count(1)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = r.str()
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("vector snapshot header: %d trailing bytes", len(r.b))
	}
	v := &vectors{dim: dim, chunkOf: make([]uint32, n), nodeOf: make([]uint32, len(ix.chunkID))}
	var dopt hnsw.DecodeOptions
	if ix.opts.Vector.Int8 && floatName != "" {
		if v.floats, err = openFloatFile(ix.opts.Dir, floatName, dim, n); err != nil {
			return nil, err
		}
		dopt.Source = v.floats.source
	}
	hn, err := hnsw.Decode(f, dopt)
	if err != nil {
		v.floats.close()
		return nil, err
	}
	if hn.Len() != n || hn.Options().Dim != dim {
		v.floats.close()
		return nil, fmt.Errorf("vector snapshot lists %d nodes of %d dimensions, its graph holds %d of %d", n, dim, hn.Len(), hn.Options().Dim)
	}
	num := make(map[string]uint32, len(ix.chunkID))
	for i, id := range ix.chunkID {
		if id != "" {
			num[id] = uint32(i)
		}
	}
	for i := range v.nodeOf {
		v.nodeOf[i] = noNode
	}
	for id, cid := range ids {
		c, ok := num[cid]
		switch {
		case cid == "" || !ok:
			// Deleted node, or a chunk the lexical snapshot does not hold:
			// tombstone it so it is never returned.
			if !hn.IsDeleted(uint32(id)) {
				if err := hn.Delete(uint32(id)); err != nil {
					v.floats.close()
					return nil, err
				}
			}
			v.chunkOf[id] = noNode
		case v.nodeOf[c] != noNode:
			v.floats.close()
			return nil, fmt.Errorf("vector snapshot lists chunk %q twice", cid)
		default:
			v.chunkOf[id] = c
			v.nodeOf[c] = uint32(id)
		}
	}
	v.hn = hn
	return v, nil
}
