package hnsw

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// The .fvecs, .bvecs and .ivecs formats (from the TEXMEX corpus) store each
// vector as a little-endian int32 dimension followed by that many float32,
// uint8 or int32 values. All records of a file share one dimension.

// maxFileDim bounds the dimension a vector file may declare, so a corrupt
// header cannot ask for gigabytes.
const maxFileDim = 1 << 16

// ReadFvecs reads up to limit vectors (limit <= 0: all) from an .fvecs
// stream. The rows share one backing array. name is used in errors.
func ReadFvecs(r io.Reader, name string, limit int) ([][]float32, error) {
	var out [][]float32
	var slab []float32
	err := readVecs(r, name, limit, 4, func(dim int, rec []byte) error {
		if slab == nil || len(slab)+dim > cap(slab) {
			slab = make([]float32, 0, dim*max(1024, len(out)/2))
		}
		start := len(slab)
		for i := range dim {
			f := math.Float32frombits(binary.LittleEndian.Uint32(rec[4*i:]))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return fmt.Errorf("value %d is %v", i, f)
			}
			slab = append(slab, f)
		}
		out = append(out, slab[start:len(slab):len(slab)])
		return nil
	})
	return out, err
}

// ReadBvecs reads up to limit vectors from a .bvecs stream (uint8 values),
// widening them to float32.
func ReadBvecs(r io.Reader, name string, limit int) ([][]float32, error) {
	var out [][]float32
	err := readVecs(r, name, limit, 1, func(dim int, rec []byte) error {
		v := make([]float32, dim)
		for i, b := range rec[:dim] {
			v[i] = float32(b)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// ReadIvecs reads up to limit rows from an .ivecs stream, the usual format
// of ground-truth neighbour lists.
func ReadIvecs(r io.Reader, name string, limit int) ([][]int32, error) {
	var out [][]int32
	err := readVecs(r, name, limit, 4, func(dim int, rec []byte) error {
		v := make([]int32, dim)
		for i := range v {
			v[i] = int32(binary.LittleEndian.Uint32(rec[4*i:]))
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func readVecs(r io.Reader, name string, limit, width int, emit func(dim int, rec []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var hdr [4]byte
	var rec []byte
	dim := -1
	for n := 0; limit <= 0 || n < limit; n++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: record %d: truncated header", name, n)
		}
		d := int(int32(binary.LittleEndian.Uint32(hdr[:])))
		if d <= 0 || d > maxFileDim {
			return fmt.Errorf("%s: record %d: dimension %d out of range 1..%d (is this a vector file of this kind?)", name, n, d, maxFileDim)
		}
		if dim >= 0 && d != dim {
			return fmt.Errorf("%s: record %d: dimension %d differs from the first record's %d", name, n, d, dim)
		}
		dim = d
		if cap(rec) < d*width {
			rec = make([]byte, d*width)
		}
		rec = rec[:d*width]
		if got, err := io.ReadFull(br, rec); err != nil {
			return fmt.Errorf("%s: record %d: truncated: want %d bytes of values, got %d", name, n, len(rec), got)
		}
		if err := emit(d, rec); err != nil {
			return fmt.Errorf("%s: record %d: %w", name, n, err)
		}
	}
	return nil
}

// ReadFvecsFile opens path and reads it with ReadFvecs.
func ReadFvecsFile(path string, limit int) ([][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadFvecs(f, path, limit)
}

// WriteFvecs writes vectors in .fvecs format.
func WriteFvecs(w io.Writer, vectors [][]float32) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var b [4]byte
	for _, v := range vectors {
		binary.LittleEndian.PutUint32(b[:], uint32(len(v)))
		bw.Write(b[:])
		for _, f := range v {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(f))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}

// WriteIvecs writes integer rows in .ivecs format.
func WriteIvecs(w io.Writer, rows [][]int32) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var b [4]byte
	for _, v := range rows {
		binary.LittleEndian.PutUint32(b[:], uint32(len(v)))
		bw.Write(b[:])
		for _, x := range v {
			binary.LittleEndian.PutUint32(b[:], uint32(x))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}

// Record is one line of a vector JSONL file: {"id": "...", "vector": [...]}.
type Record struct {
	ID     string    `json:"id"`
	Vector []float32 `json:"vector"`
}

// maxJSONLine bounds one JSONL line (a 65536-dimension vector in decimal
// fits comfortably).
const maxJSONLine = 16 << 20

// ReadVectorsJSONL reads a vector JSONL stream (corpus.vectors.jsonl,
// queries.vectors.jsonl): one object per line with a non-empty string id
// and a non-empty numeric vector; all vectors share one dimension and ids
// are unique. Blank lines are skipped. Errors name the file and line.
func ReadVectorsJSONL(r io.Reader, name string) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxJSONLine)
	var out []Record
	seen := map[string]int{}
	dim := -1
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var raw struct {
			ID     *string   `json:"id"`
			Vector []float64 `json:"vector"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON object with id and vector: %v", name, line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s:%d: more than one JSON value on the line", name, line)
		}
		switch {
		case raw.ID == nil:
			return nil, fmt.Errorf("%s:%d: missing \"id\"", name, line)
		case *raw.ID == "":
			return nil, fmt.Errorf("%s:%d: empty \"id\"", name, line)
		case len(raw.Vector) == 0:
			return nil, fmt.Errorf("%s:%d: id %q: missing or empty \"vector\"", name, line, *raw.ID)
		case len(raw.Vector) > maxFileDim:
			return nil, fmt.Errorf("%s:%d: id %q: dimension %d above %d", name, line, *raw.ID, len(raw.Vector), maxFileDim)
		case dim >= 0 && len(raw.Vector) != dim:
			return nil, fmt.Errorf("%s:%d: id %q: dimension %d differs from the first vector's %d", name, line, *raw.ID, len(raw.Vector), dim)
		}
		if prev, dup := seen[*raw.ID]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate id %q (first on line %d)", name, line, *raw.ID, prev)
		}
		seen[*raw.ID] = line
		dim = len(raw.Vector)
		v := make([]float32, dim)
		for i, f := range raw.Vector {
			if math.Abs(f) > math.MaxFloat32 {
				return nil, fmt.Errorf("%s:%d: id %q: value %d (%g) does not fit in float32", name, line, *raw.ID, i, f)
			}
			v[i] = float32(f)
		}
		out = append(out, Record{ID: *raw.ID, Vector: v})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxJSONLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// ReadVectorsJSONLFile opens path and reads it with ReadVectorsJSONL.
func ReadVectorsJSONLFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadVectorsJSONL(f, path)
}
