package search

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sextant-ai/sextant/hnsw"
)

// floatFile holds the float vectors of an int8 vector index by hnsw id, so
// the best 8-bit candidates can be rescored at full precision while only
// the codes stay in memory. With a directory the floats live in a file
// read with ReadAt (the OS page cache keeps the hot ones; a rescore reads
// a few dozen vectors); without one they stay in memory.
//
// Each file has a random name recorded in the vector snapshot, so a
// snapshot is only ever paired with the floats written for it. Several
// processes may open the same data directory: a file opened from a
// snapshot is only read, and the first append copies it to a new file of
// this process (copy on write), so no process ever writes a file another
// one reads.
type floatFile struct {
	dim  int
	path string // "" = in memory

	mu     sync.Mutex // appends
	f      *os.File
	n      int
	mem    []float32
	shared bool // opened from a snapshot: read only

	bufs sync.Pool // *[]byte of 4·dim
}

const floatPrefix = "vectors-"

func newFloatFile(dir string, dim int, vecs [][]float32) (*floatFile, error) {
	ff := &floatFile{dim: dim}
	if dir == "" {
		ff.mem = make([]float32, 0, len(vecs)*dim)
		for _, v := range vecs {
			ff.mem = append(ff.mem, v...)
		}
		ff.n = len(vecs)
		return ff, nil
	}
	var tok [8]byte
	rand.Read(tok[:])
	ff.path = filepath.Join(dir, floatPrefix+hex.EncodeToString(tok[:])+".f32")
	f, err := os.OpenFile(ff.path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("search: vector floats: %w", err)
	}
	ff.f = f
	buf := make([]byte, 0, 1<<20)
	for _, v := range vecs {
		buf = appendFloats(buf, v)
		if len(buf) >= 1<<20 {
			if _, err := f.Write(buf); err != nil {
				ff.close()
				return nil, fmt.Errorf("search: vector floats: %w", err)
			}
			buf = buf[:0]
		}
	}
	if _, err := f.Write(buf); err != nil {
		ff.close()
		return nil, fmt.Errorf("search: vector floats: %w", err)
	}
	ff.n = len(vecs)
	return ff, nil
}

// openFloatFile opens the floats a snapshot names, keeping its first n
// vectors (later appends were not snapshotted).
func openFloatFile(dir, name string, dim, n int) (*floatFile, error) {
	if name == "" {
		return nil, errors.New("snapshot names no float vector file")
	}
	if strings.ContainsAny(name, `/\`) || !strings.HasPrefix(name, floatPrefix) {
		return nil, fmt.Errorf("bad float vector file name %q", name)
	}
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	want := int64(n) * int64(dim) * 4
	fi, err := f.Stat()
	if err == nil && fi.Size() < want {
		err = fmt.Errorf("%s holds %d bytes, the snapshot needs %d", path, fi.Size(), want)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &floatFile{dim: dim, path: path, f: f, n: n, shared: true}, nil
}

// own copies a shared file's vectors to a new file of this process; the
// caller holds mu.
func (ff *floatFile) own() error {
	dir := filepath.Dir(ff.path)
	var tok [8]byte
	rand.Read(tok[:])
	path := filepath.Join(dir, floatPrefix+hex.EncodeToString(tok[:])+".f32")
	nf, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err == nil {
		_, err = io.Copy(nf, io.NewSectionReader(ff.f, 0, int64(ff.n)*int64(ff.dim)*4))
	}
	if err != nil {
		if nf != nil {
			nf.Close()
			os.Remove(path)
		}
		return fmt.Errorf("search: vector floats: %w", err)
	}
	old := ff.f
	ff.f, ff.path, ff.shared = nf, path, false
	old.Close()
	return nil
}

// name is the file's base name for the snapshot ("" in memory).
func (ff *floatFile) name() string {
	if ff == nil {
		return ""
	}
	if p := ff.currentPath(); p != "" {
		return filepath.Base(p)
	}
	return ""
}

func appendFloats(b []byte, v []float32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// append adds the vector of the next hnsw id.
func (ff *floatFile) append(v []float32) error {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.path == "" {
		ff.mem = append(ff.mem, v...)
		ff.n++
		return nil
	}
	if ff.shared {
		if err := ff.own(); err != nil {
			return err
		}
	}
	if _, err := ff.f.WriteAt(appendFloats(make([]byte, 0, 4*len(v)), v), int64(ff.n)*int64(ff.dim)*4); err != nil {
		return fmt.Errorf("search: vector floats: %w", err)
	}
	ff.n++
	return nil
}

// source is the hnsw.VectorSource: the float vector of id.
func (ff *floatFile) source(id uint32, dst []float32) []float32 {
	if cap(dst) < ff.dim {
		dst = make([]float32, ff.dim)
	}
	dst = dst[:ff.dim]
	if ff.path == "" {
		ff.mu.Lock()
		defer ff.mu.Unlock()
		if int(id) >= ff.n {
			return nil
		}
		copy(dst, ff.mem[int(id)*ff.dim:])
		return dst
	}
	ff.mu.Lock() // the file may be swapped by own or compact
	f := ff.f
	ff.mu.Unlock()
	bp, _ := ff.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 4*ff.dim)
		bp = &b
	}
	defer ff.bufs.Put(bp)
	b := *bp
	if _, err := f.ReadAt(b, int64(id)*int64(ff.dim)*4); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dst
}

// compact rewrites the floats after hnsw.Compact: remap[old] = new id.
func (ff *floatFile) compact(remap []uint32, n int) error {
	vecs := make([][]float32, n)
	for old, nw := range remap {
		if nw != hnsw.Removed {
			vecs[nw] = ff.source(uint32(old), nil)
		}
	}
	dir := ""
	if ff.path != "" {
		dir = filepath.Dir(ff.path)
	}
	next, err := newFloatFile(dir, ff.dim, vecs)
	if err != nil {
		return err
	}
	ff.mu.Lock()
	old := ff.f
	ff.f, ff.path, ff.n, ff.mem = next.f, next.path, next.n, next.mem
	ff.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (ff *floatFile) close() {
	if ff != nil && ff.f != nil {
		ff.f.Close()
	}
}

// removeOtherFloats deletes the float files in dir other than keep (the
// one the snapshot just written names). A process still reading a deleted
// file keeps its open handle; its own snapshot, if it writes one later,
// names its own file.
func removeOtherFloats(dir, keep string) {
	m, _ := filepath.Glob(filepath.Join(dir, floatPrefix+"*.f32"))
	for _, p := range m {
		if p != keep {
			os.Remove(p)
		}
	}
}

// currentPath is the file's path now (own and compact replace it).
func (ff *floatFile) currentPath() string {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	return ff.path
}
