package hnsw

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"os"
	"unsafe"
)

// Snapshot format, version 1, all integers little-endian:
//
//	magic "SXHNSW\x00\x01"
//	header: version u32, dim u32, metric u8, quant u8, M u16, efConstruction
//	        u32, efSearch u32, seed u64, rng u64, n u64, upperLen u64,
//	        top u64, deleted u64
//	[int8]  lo [dim]f32, step [dim]f32
//	vectors [n·dim]f32, or codes [n·dim]u8
//	[l2]    sqnorm [n]f32
//	level [n]u8, upperOff [n]u32, links0 [n·(1+2M)]u32, upper [upperLen]u32,
//	deleted [(n+63)/64]u64
//	crc32c u32 of every byte before it
//
// Slabs are written and read in bulk, as their in-memory bytes on
// little-endian machines.
const (
	snapshotMagic   = "SXHNSW\x00\x01"
	snapshotVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// DecodeOptions supply what a snapshot does not hold.
type DecodeOptions struct {
	// Source supplies float vectors for rescoring an Int8 index.
	Source VectorSource
}

// Encode writes a snapshot of the index to w. It holds the writer lock,
// so the snapshot is consistent; searches continue meanwhile.
func (x *Index) Encode(w io.Writer) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	st := x.st.Load()
	n := x.n
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	e := &encoder{w: bw}
	e.bytes([]byte(snapshotMagic))
	e.u32(snapshotVersion)
	e.u32(uint32(x.dim))
	e.bytes([]byte{byte(x.opt.Metric), byte(x.opt.Quantization)})
	e.u16(uint16(x.m))
	e.u32(uint32(x.opt.EfConstruction))
	e.u32(uint32(x.opt.EfSearch))
	e.u64(x.opt.Seed)
	e.u64(x.rng)
	e.u64(uint64(n))
	e.u64(uint64(x.upperLen))
	e.u64(x.top.Load())
	e.u64(uint64(x.ndel.Load()))
	if x.opt.Quantization == Int8 {
		e.f32s(x.quant.lo)
		e.f32s(x.quant.step)
	}
	if st.vecs != nil {
		e.f32s(st.vecs[:n*x.dim])
	} else {
		e.bytes(st.codes[:n*x.dim])
	}
	if st.sqnorm != nil {
		e.f32s(st.sqnorm[:n])
	}
	e.bytes(st.level[:n])
	e.u32s(st.upperOff[:n])
	e.u32s(st.links0[:n*x.stride])
	e.u32s(st.upper[:x.upperLen])
	e.u64s(st.deleted[:(n+63)/64])
	if e.err != nil {
		return fmt.Errorf("hnsw: writing snapshot: %w", e.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("hnsw: writing snapshot: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("hnsw: writing snapshot: %w", err)
	}
	return nil
}

type encoder struct {
	w   *bufio.Writer
	buf [8]byte
	err error
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.buf[:], v); e.bytes(e.buf[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:], v); e.bytes(e.buf[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:], v); e.bytes(e.buf[:8]) }

func (e *encoder) u32s(v []uint32) {
	if littleEndian {
		e.bytes(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
		return
	}
	for _, x := range v {
		e.u32(x)
	}
}

func (e *encoder) f32s(v []float32) {
	if littleEndian {
		e.bytes(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
		return
	}
	for _, x := range v {
		e.u32(math.Float32bits(x))
	}
}

func (e *encoder) u64s(v []uint64) {
	if littleEndian {
		e.bytes(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 8*len(v)))
		return
	}
	for _, x := range v {
		e.u64(x)
	}
}

// Decode reads a snapshot written by Encode, verifies its checksum and its
// structure (every link in range, every count within M), and returns the
// index. A damaged or foreign stream gives an error wrapping ErrCorrupt.
func Decode(r io.Reader, opt DecodeOptions) (*Index, error) {
	return decode(r, opt, true)
}

// corruptf returns an ErrCorrupt error.
func corruptf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
}

type decoder struct {
	r    *bufio.Reader
	crc  hash.Hash32
	err  error
	buf  [8]byte
	left int64 // bytes known to remain in the input, or -1
}

// inputSize returns how many bytes remain in r when r can tell (a file, a
// bytes.Reader), or -1.
func inputSize(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case interface {
		Stat() (os.FileInfo, error)
		Seek(int64, int) (int64, error)
	}:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		off, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return fi.Size() - off
	}
	return -1
}

// read fills b from the stream, feeding the checksum.
func (d *decoder) read(b []byte) {
	if d.err != nil {
		return
	}
	if d.left >= 0 {
		d.left -= int64(len(b))
	}
	if _, err := io.ReadFull(d.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			d.err = corruptf("truncated")
		} else {
			d.err = err
		}
		return
	}
	d.crc.Write(b)
}

func (d *decoder) u8() uint8   { d.read(d.buf[:1]); return d.buf[0] }
func (d *decoder) u16() uint16 { d.read(d.buf[:2]); return binary.LittleEndian.Uint16(d.buf[:]) }
func (d *decoder) u32() uint32 { d.read(d.buf[:4]); return binary.LittleEndian.Uint32(d.buf[:]) }
func (d *decoder) u64() uint64 { d.read(d.buf[:8]); return binary.LittleEndian.Uint64(d.buf[:]) }

// readChunk is how much a decoder reads before allocating more, so a
// header claiming a huge index fails at end of input instead of allocating
// what it claims.
const readChunk = 16 << 20

// bulk reads count elements of size bytes each into dst's bytes, growing
// dst chunk by chunk.
func bulk[T any](d *decoder, count, size int) []T {
	if d.err != nil {
		return nil
	}
	if count < 0 || count > math.MaxInt/size/2 {
		d.err = corruptf("slab of %d elements", count)
		return nil
	}
	step := max(readChunk/size, 1)
	var out []T
	if d.left >= 0 && int64(count)*int64(size) > d.left {
		d.err = corruptf("truncated: a slab of %d bytes, %d left in the input", int64(count)*int64(size), d.left)
		return nil
	}
	if count <= step || d.left >= 0 {
		// Small, or the input is known to hold it: allocate once.
		out = make([]T, 0, count)
	} else {
		out = make([]T, 0, step)
	}
	for len(out) < count && d.err == nil {
		if len(out) == cap(out) && cap(out) < count {
			// Grow exactly towards count once the data proves to be there.
			nc := min(count, 2*cap(out))
			grown := make([]T, len(out), nc)
			copy(grown, out)
			out = grown
		}
		next := min(cap(out), count)
		part := out[len(out):next]
		out = out[:next]
		if len(part) == 0 {
			continue
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(part))), len(part)*size)
		d.read(b)
	}
	if d.err != nil {
		return nil
	}
	if !littleEndian {
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), len(out)*size)
		for i := 0; i+size <= len(b); i += size {
			switch size {
			case 4:
				binary.NativeEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(b[i:]))
			case 8:
				binary.NativeEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:]))
			}
		}
	}
	return out
}

func decode(r io.Reader, dopt DecodeOptions, checkCRC bool) (*Index, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<20), crc: crc32.New(castagnoli), left: inputSize(r)}
	var magic [8]byte
	d.read(magic[:])
	if d.err != nil {
		return nil, d.err
	}
	if string(magic[:]) != snapshotMagic {
		return nil, corruptf("not an hnsw snapshot (bad magic)")
	}
	if v := d.u32(); d.err == nil && v != snapshotVersion {
		return nil, corruptf("snapshot version %d, this build reads version %d", v, snapshotVersion)
	}
	opt := Options{
		Dim:            int(d.u32()),
		Metric:         Metric(d.u8()),
		Quantization:   Quantization(d.u8()),
		M:              int(d.u16()),
		EfConstruction: int(d.u32()),
		EfSearch:       int(d.u32()),
		Seed:           d.u64(),
		Source:         dopt.Source,
	}
	rng := d.u64()
	n64, upperLen64, top, ndel := d.u64(), d.u64(), d.u64(), d.u64()
	if d.err != nil {
		return nil, d.err
	}
	if opt.Dim == 0 || opt.M == 0 || opt.EfConstruction == 0 || opt.EfSearch == 0 ||
		opt.EfConstruction > 1<<20 || opt.EfSearch > 1<<20 {
		return nil, corruptf("bad parameters dim=%d M=%d ef=%d/%d", opt.Dim, opt.M, opt.EfConstruction, opt.EfSearch)
	}
	if err := opt.normalize(); err != nil {
		return nil, corruptf("%v", err)
	}
	if n64 >= math.MaxUint32 || upperLen64 > 1<<40 {
		return nil, corruptf("%d nodes, %d upper links", n64, upperLen64)
	}
	x, err := New(opt)
	if err != nil {
		return nil, corruptf("%v", err)
	}
	n, upperLen, dim := int(n64), int(upperLen64), x.dim
	if opt.Quantization == Int8 {
		q := &quantizer{lo: bulk[float32](d, dim, 4), step: bulk[float32](d, dim, 4)}
		if d.err == nil {
			for i := range q.lo {
				if !finite(q.lo[i]) || !finite(q.step[i]) || q.step[i] <= 0 {
					return nil, corruptf("quantizer range of dimension %d", i)
				}
			}
		}
		x.quant = q
	}
	st := &storage{cap: n}
	if opt.Quantization == Int8 {
		st.codes = bulk[uint8](d, n*dim, 1)
	} else {
		st.vecs = bulk[float32](d, n*dim, 4)
	}
	if opt.Metric == Euclidean {
		st.sqnorm = bulk[float32](d, n, 4)
	}
	st.level = bulk[uint8](d, n, 1)
	st.upperOff = bulk[uint32](d, n, 4)
	st.links0 = bulk[uint32](d, n*x.stride, 4)
	st.upper = bulk[uint32](d, upperLen, 4)
	st.deleted = bulk[uint64](d, (n+63)/64, 8)
	if d.err != nil {
		return nil, d.err
	}
	want := d.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(d.r, sum[:]); err != nil {
		return nil, corruptf("truncated checksum")
	}
	if checkCRC && binary.LittleEndian.Uint32(sum[:]) != want {
		return nil, corruptf("checksum mismatch")
	}
	if err := x.validate(st, n, upperLen, top, ndel); err != nil {
		return nil, err
	}
	x.n, x.upperLen, x.rng = n, upperLen, rng
	x.st.Store(st)
	x.count.Store(int64(n))
	x.ndel.Store(int64(ndel))
	x.top.Store(top)
	return x, nil
}

func finite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// validate checks that a decoded graph cannot send a search out of range.
func (x *Index) validate(st *storage, n, upperLen int, top, ndel uint64) error {
	if n == 0 {
		if top != 0 || ndel != 0 || upperLen != 0 {
			return corruptf("empty index with an entry point or tombstones")
		}
		return nil
	}
	if top&hasTopBit == 0 || top&^(hasTopBit|0xffffffffff) != 0 {
		return corruptf("bad entry point %#x", top)
	}
	ep, epLevel := uint32(top>>8), int(top&0xff)
	if int(ep) >= n || int(st.level[ep]) != epLevel {
		return corruptf("entry point %d at level %d", ep, epLevel)
	}
	for i := range n {
		lv := int(st.level[i])
		if lv > epLevel {
			return corruptf("node %d at level %d above the entry point's %d", i, lv, epLevel)
		}
		if lv > 0 {
			if end := int(st.upperOff[i]) + lv*x.ustride; end > upperLen || end < 0 {
				return corruptf("node %d: upper links out of range", i)
			}
		}
		for l := 0; l <= lv; l++ {
			arr, base := x.row(st, uint32(i), l)
			c := int(arr[base])
			if c > x.maxLinks(l) {
				return corruptf("node %d level %d: %d links, limit %d", i, l, c, x.maxLinks(l))
			}
			for _, nb := range arr[base+1 : base+1+c] {
				if int(nb) >= n {
					return corruptf("node %d level %d: link to %d of %d nodes", i, l, nb, n)
				}
				// An upper-level link must lead to a node that has that
				// level, or the walk would read another node's row.
				if int(st.level[nb]) < l {
					return corruptf("node %d level %d: link to node %d, which tops out at level %d", i, l, nb, st.level[nb])
				}
			}
		}
	}
	var cnt uint64
	for i, w := range st.deleted {
		if i == len(st.deleted)-1 && n%64 != 0 && w>>(n%64) != 0 {
			return corruptf("tombstones beyond the last node")
		}
		cnt += uint64(bits.OnesCount64(w))
	}
	if cnt != ndel {
		return corruptf("%d tombstones, header says %d", cnt, ndel)
	}
	return nil
}
