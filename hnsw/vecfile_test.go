package hnsw

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestFvecsRoundTrip(t *testing.T) {
	vecs := [][]float32{{1, 2, 3}, {-4, 5.5, 0}, {7, 8, 9}}
	var b bytes.Buffer
	if err := WriteFvecs(&b, vecs); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFvecs(bytes.NewReader(b.Bytes()), "x.fvecs", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1][1] != 5.5 || got[2][2] != 9 {
		t.Fatalf("got %v", got)
	}
	got, _ = ReadFvecs(bytes.NewReader(b.Bytes()), "x.fvecs", 2)
	if len(got) != 2 {
		t.Fatalf("limit 2 read %d", len(got))
	}
	var ib bytes.Buffer
	WriteIvecs(&ib, [][]int32{{1, -2}, {3, 4}})
	rows, err := ReadIvecs(&ib, "gt.ivecs", 0)
	if err != nil || len(rows) != 2 || rows[0][1] != -2 {
		t.Fatalf("ivecs: %v %v", rows, err)
	}
	bv := []byte{2, 0, 0, 0, 7, 255}
	bvecs, err := ReadBvecs(bytes.NewReader(bv), "b.bvecs", 0)
	if err != nil || bvecs[0][1] != 255 {
		t.Fatalf("bvecs: %v %v", bvecs, err)
	}
}

func TestFvecsErrors(t *testing.T) {
	rec := func(dim int32, vals ...float32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(dim))
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint32(b, mathFloat32bits(v))
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"short header", []byte{1, 0}, "a.fvecs: record 0: truncated header"},
		{"zero dim", rec(0), "record 0: dimension 0 out of range"},
		{"negative dim", rec(-3), "dimension -3 out of range"},
		{"huge dim", rec(1 << 20), "out of range"},
		{"short values", rec(3, 1, 2), "record 0: truncated: want 12 bytes of values, got 8"},
		{"mixed dims", append(rec(2, 1, 2), rec(3, 1, 2, 3)...), "record 1: dimension 3 differs from the first record's 2"},
		{"nan", rec(2, 1, float32(nan())), "record 0: value 1 is NaN"},
	} {
		_, err := ReadFvecs(bytes.NewReader(tc.in), "a.fvecs", 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestVectorsJSONL(t *testing.T) {
	in := `{"id": "a", "vector": [1, 2.5, -3]}

{"id": "b", "vector": [0, 0, 1e-3]}
`
	recs, err := ReadVectorsJSONL(strings.NewReader(in), "corpus.vectors.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ID != "a" || recs[0].Vector[1] != 2.5 || recs[1].Vector[2] != 1e-3 {
		t.Fatalf("got %+v", recs)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"vector": [1]}`, "q.jsonl:1: missing \"id\""},
		{`{"id": "", "vector": [1]}`, "q.jsonl:1: empty \"id\""},
		{`{"id": "x"}`, "q.jsonl:1: id \"x\": missing or empty \"vector\""},
		{`{"id": "x", "vector": [1, 2]}` + "\n" + `{"id": "y", "vector": [1]}`, "q.jsonl:2: id \"y\": dimension 1 differs from the first vector's 2"},
		{`{"id": "x", "vector": [1]}` + "\n" + `{"id": "x", "vector": [2]}`, "q.jsonl:2: duplicate id \"x\" (first on line 1)"},
		{`{"id": "x", "vector": ["a"]}`, "q.jsonl:1: not a JSON object"},
		{`{"id": "x", "vector": [1e300]}`, "does not fit in float32"},
		{`{"id": "x", "vector": [1]} {}`, "more than one JSON value"},
		{`[1,2]`, "q.jsonl:1: not a JSON object"},
	} {
		_, err := ReadVectorsJSONL(strings.NewReader(tc.in), "q.jsonl")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func FuzzReadFvecs(f *testing.F) {
	var b bytes.Buffer
	WriteFvecs(&b, [][]float32{{1, 2}, {3, 4}})
	f.Add(b.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0xc0, 0x7f})
	f.Fuzz(func(t *testing.T, in []byte) {
		vecs, err := ReadFvecs(bytes.NewReader(in), "f.fvecs", 0)
		if err != nil {
			return
		}
		// Whatever reads must write back to the same bytes.
		var out bytes.Buffer
		WriteFvecs(&out, vecs)
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("round trip changed the bytes")
		}
		ReadIvecs(bytes.NewReader(in), "f.ivecs", 0)
		ReadBvecs(bytes.NewReader(in), "f.bvecs", 0)
	})
}

func FuzzReadVectorsJSONL(f *testing.F) {
	f.Add(`{"id": "a", "vector": [1, 2]}` + "\n" + `{"id": "b", "vector": [3, 4]}`)
	f.Add(`{"id": "a", "vector": []}`)
	f.Add(`{"id": 1, "vector": [1]}`)
	f.Add("\n\n{}")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := ReadVectorsJSONL(strings.NewReader(in), "v.jsonl")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if r.ID == "" || len(r.Vector) == 0 || len(r.Vector) != len(recs[0].Vector) || seen[r.ID] {
				t.Fatalf("accepted a bad record: %+v", r)
			}
			seen[r.ID] = true
		}
	})
}

func mathFloat32bits(f float32) uint32 { return math.Float32bits(f) }
