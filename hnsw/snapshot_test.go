package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

func snapshotOf(t testing.TB, x *Index) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := x.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	data := clustered(20, 1200, 24, 12)
	for _, tc := range []struct {
		name   string
		metric Metric
		quant  Quantization
	}{
		{"cosine", Cosine, Float32},
		{"dot", InnerProduct, Float32},
		{"l2", Euclidean, Float32},
		{"cosine-int8", Cosine, Int8},
		{"l2-int8", Euclidean, Int8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := func(id uint32, dst []float32) []float32 { return data[id] }
			opt := Options{Dim: 24, Metric: tc.metric, M: 8, EfConstruction: 50, Seed: 9, Quantization: tc.quant}
			if tc.quant == Int8 {
				opt.Source = src
			}
			x := build(t, opt, data[:1000])
			for i := uint32(0); i < 1000; i += 7 {
				if err := x.Delete(i); err != nil {
					t.Fatal(err)
				}
			}
			snap := snapshotOf(t, x)
			y, err := Decode(bytes.NewReader(snap), DecodeOptions{Source: src})
			if err != nil {
				t.Fatal(err)
			}
			if y.Len() != x.Len() || y.Live() != x.Live() || y.MemoryBytes() > x.MemoryBytes() {
				t.Fatalf("decoded len %d live %d mem %d; want %d %d <=%d", y.Len(), y.Live(), y.MemoryBytes(), x.Len(), x.Live(), x.MemoryBytes())
			}
			for _, q := range data[1000:1050] {
				a, _ := x.Search(q, SearchOptions{K: 10})
				b, _ := y.Search(q, SearchOptions{K: 10})
				if len(a) != len(b) {
					t.Fatalf("%v vs %v", a, b)
				}
				for i := range a {
					if a[i] != b[i] {
						t.Fatalf("results differ after round trip: %v vs %v", a, b)
					}
				}
			}
			// Both keep inserting identically: the level generator state
			// travels with the snapshot.
			for _, v := range data[1000:1100] {
				ia, err1 := x.Add(v)
				ib, err2 := y.Add(v)
				if err1 != nil || err2 != nil || ia != ib {
					t.Fatalf("add after decode: %d %v / %d %v", ia, err1, ib, err2)
				}
			}
			if !bytes.Equal(snapshotOf(t, x), snapshotOf(t, y)) {
				t.Fatal("snapshots differ after identical inserts")
			}
		})
	}
}

func TestSnapshotRejectsDamage(t *testing.T) {
	x := build(t, Options{Dim: 8, M: 4, Seed: 1}, clustered(21, 100, 8, 3))
	snap := snapshotOf(t, x)
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("NOTHNSW!"), snap[8:]...),
		"truncated": snap[:len(snap)/2],
		"no crc":    snap[:len(snap)-4],
		"flipped":   flip(snap, len(snap)/2),
		"version":   flip(snap, 8),
	}
	for name, b := range cases {
		if _, err := Decode(bytes.NewReader(b), DecodeOptions{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode = %v, want ErrCorrupt", name, err)
		}
	}
	// A link out of range with a valid checksum is caught by validation.
	bad := bytes.Clone(snap)
	body := bad[:len(bad)-4]
	off := len(body) - 4*len(x.st.Load().upper[:x.upperLen]) - 8*((x.n+63)/64) - 4*x.n*x.stride + 4
	binary.LittleEndian.PutUint32(body[off:], 1<<30)
	binary.LittleEndian.PutUint32(bad[len(bad)-4:], crc32.Checksum(body, castagnoli))
	if _, err := Decode(bytes.NewReader(bad), DecodeOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("out-of-range link: Decode = %v, want ErrCorrupt", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

// FuzzDecode feeds arbitrary bytes to the decoder twice: as is (checksum
// checked) and with the checksum ignored, so the structural validation is
// exercised too. Whatever decodes must then be usable without panicking.
func FuzzDecode(f *testing.F) {
	data := clustered(22, 60, 6, 3)
	for _, opt := range []Options{
		{Dim: 6, M: 3, Seed: 1},
		{Dim: 6, M: 3, Seed: 1, Metric: Euclidean, Quantization: Int8},
	} {
		x, err := New(opt)
		if err != nil {
			f.Fatal(err)
		}
		if opt.Quantization == Int8 {
			x.Train(data)
		}
		f.Add(snapshotOf(f, x))
		for _, v := range data[:40] {
			x.Add(v)
		}
		x.Delete(3)
		f.Add(snapshotOf(f, x))
	}
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, check := range []bool{true, false} {
			x, err := decode(bytes.NewReader(b), DecodeOptions{}, check)
			if err != nil {
				continue
			}
			q := make([]float32, x.dim)
			q[0] = 1
			x.Search(q, SearchOptions{K: 3})
			x.Search(q, SearchOptions{K: 3, Filter: FilterFunc(func(id uint32) bool { return id%2 == 0 })})
			x.Exact(q, SearchOptions{K: 3})
			if x.opt.Quantization == Float32 {
				x.Add(q)
			}
			x.Compact(t.Context())
		}
	})
}
