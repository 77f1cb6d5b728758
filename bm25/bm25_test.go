package bm25

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustNew(t testing.TB, o Options) *Index {
	t.Helper()
	ix, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func mustAdd(t testing.TB, ix *Index, fields ...[]string) uint32 {
	t.Helper()
	d, err := ix.Add(fields...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestScoreHandComputed checks single-field BM25 against values computed by
// hand from the formula in the package comment.
func TestScoreHandComputed(t *testing.T) {
	ix := mustNew(t, Options{K1: 1.2, B: 0.75})
	// Lengths 3, 5, 2: avgdl = 10/3.
	mustAdd(t, ix, strings.Fields("cat dog cat"))
	mustAdd(t, ix, strings.Fields("dog bird fish fish fish"))
	mustAdd(t, ix, strings.Fields("cat fish"))

	// "cat": df 2, N 3 → idf = ln(1 + (3-2+0.5)/(2+0.5)) = ln(1.6).
	// doc 0: tf 2, len 3: norm = 0.25 + 0.75·3/(10/3) = 0.925,
	//   tf~ = 2/0.925 = 2.162162…, sat = tf~/(1.2+tf~) = 0.643086…
	// doc 2: tf 1, len 2: norm = 0.25 + 0.75·0.6 = 0.7,
	//   tf~ = 1.428571…, sat = 0.543478…
	idfCat := math.Log(1.6)
	want0 := idfCat * (2 / 0.925) / (1.2 + 2/0.925)
	want2 := idfCat * (1 / 0.7) / (1.2 + 1/0.7)
	got := ix.Search(Query{Terms: []string{"cat"}}, 10)
	if len(got) != 2 || got[0].Doc != 0 || got[1].Doc != 2 {
		t.Fatalf("cat: got %+v, want docs 0 then 2", got)
	}
	if !near(got[0].Score, want0) || !near(got[1].Score, want2) {
		t.Errorf("cat scores = %v, %v; want %v, %v", got[0].Score, got[1].Score, want0, want2)
	}
	// Pin the literal value too: ln(1.6) = 0.470003629…, × 0.643086816… = 0.302253137…
	if !near(got[0].Score, 0.30225313777860807) {
		t.Errorf("cat doc 0 score = %.17g, want 0.30225313777860807", got[0].Score)
	}

	// "fish dog": doc 1 has fish ×3 and dog; idf(fish) = idf(dog) = ln(1.6).
	// doc 1: len 5, norm = 0.25 + 0.75·1.5 = 1.375.
	norm1 := 0.25 + 0.75*5/(10.0/3)
	sat := func(tf, norm float64) float64 { x := tf / norm; return x / (1.2 + x) }
	want1 := idfCat*sat(3, norm1) + idfCat*sat(1, norm1)
	got = ix.Search(Query{Terms: []string{"fish", "dog"}}, 1)
	if len(got) != 1 || got[0].Doc != 1 || !near(got[0].Score, want1) {
		t.Errorf("fish dog top 1 = %+v, want doc 1 score %v", got, want1)
	}

	// A repeated query term counts twice.
	once := ix.Search(Query{Terms: []string{"bird"}}, 1)
	twice := ix.Search(Query{Terms: []string{"bird", "bird"}}, 1)
	if !near(twice[0].Score, 2*once[0].Score) {
		t.Errorf("bird bird = %v, want 2 × %v", twice[0].Score, once[0].Score)
	}
	if got := ix.Search(Query{Terms: []string{"unicorn"}}, 5); got != nil {
		t.Errorf("unknown term matched %+v", got)
	}
}

// TestScoreBM25F checks the two-field formula by hand: frequencies are
// combined before saturation, each normalised by its own field length.
func TestScoreBM25F(t *testing.T) {
	ix := mustNew(t, Options{K1: 1.0, B: 0.5, Fields: []float64{2, 1}, FieldB: []float64{-1, 0}})
	mustAdd(t, ix, []string{"heart"}, strings.Fields("heart attack risk"))
	mustAdd(t, ix, []string{"lung"}, strings.Fields("heart lung lung cancer risk factors"))
	// Title: b = 0 (no normalisation), weight 2. Body: b = 0.5, avg 4.5.
	// doc 0: tf~ = 2·1 + 1·1/(0.5+0.5·3/4.5) = 2 + 1/0.8333… = 3.2
	// doc 1: tf~ = 0 + 1/(0.5+0.5·6/4.5) = 1/1.1666… = 0.857142…
	// idf(heart) = ln(1 + (2-2+0.5)/(2+0.5)) = ln(1.2)
	idf := math.Log(1.2)
	tf0 := 2 + 1/(0.5+0.5*3/4.5)
	tf1 := 1 / (0.5 + 0.5*6/4.5)
	got := ix.Search(Query{Terms: []string{"heart"}}, 2)
	want := []Result{{0, idf * tf0 / (1 + tf0)}, {1, idf * tf1 / (1 + tf1)}}
	if len(got) != 2 || got[0].Doc != 0 || got[1].Doc != 1 || !near(got[0].Score, want[0].Score) || !near(got[1].Score, want[1].Score) {
		t.Errorf("heart = %+v, want %+v", got, want)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{K1: -1}, {K1: math.NaN()}, {B: 1.5}, {Fields: []float64{1, -2}},
		{Fields: []float64{1, 1}, FieldB: []float64{0.5}}, {Fields: make([]float64, MaxFields+1)},
		{Fields: []float64{1}, FieldB: []float64{2}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want error", o)
		}
	}
	ix := mustNew(t, Options{})
	if _, err := ix.Add([]string{"a"}, []string{"b"}); err == nil {
		t.Error("Add with more fields than the index has succeeded")
	}
}

// corpus builds a random index with a Zipf vocabulary: a few very common
// terms (long lists, many blocks) and a long tail.
func corpus(t testing.TB, rng *rand.Rand, ndocs, vocab int, o Options) (*Index, [][][]string) {
	ix := mustNew(t, o)
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(vocab-1))
	nf := max(1, len(o.Fields))
	docs := make([][][]string, ndocs)
	for d := range ndocs {
		fields := make([][]string, nf)
		for f := range nf {
			n := rng.IntN(40) + 1
			if f == 0 && nf > 1 {
				n = rng.IntN(6)
			}
			for range n {
				fields[f] = append(fields[f], fmt.Sprintf("t%d", zipf.Uint64()))
			}
		}
		docs[d] = fields
		mustAdd(t, ix, fields...)
	}
	return ix, docs
}

func randomQuery(rng *rand.Rand, vocab int) []string {
	n := rng.IntN(8) + 1
	q := make([]string, n)
	for i := range q {
		// Bias toward common terms so lists are long and pruning matters.
		if rng.IntN(2) == 0 {
			q[i] = fmt.Sprintf("t%d", rng.IntN(20))
		} else {
			q[i] = fmt.Sprintf("t%d", rng.IntN(vocab+5))
		}
	}
	return q
}

// TestPruningMatchesExhaustive is the central property: block-max
// MaxScore returns exactly the top k of exhaustive scoring — same
// documents, same order, bit-identical scores — with and without filters
// and deletions.
func TestPruningMatchesExhaustive(t *testing.T) {
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 99))
		o := Options{K1: 0.5 + rng.Float64()*1.5, B: 0.1 + rng.Float64()*0.8}
		if seed%2 == 1 {
			o.Fields = []float64{1 + rng.Float64()*3, 1}
		}
		ndocs := 200 + rng.IntN(3000)
		ix, _ := corpus(t, rng, ndocs, 500, o)
		if seed%3 == 0 {
			for range ndocs / 10 {
				ix.Delete(uint32(rng.IntN(ndocs)))
			}
		}
		for qi := range 60 {
			q := Query{Terms: randomQuery(rng, 500)}
			switch qi % 3 {
			case 1:
				mod := uint32(2 + rng.IntN(5))
				q.Allow = func(d uint32) bool { return d%mod != 0 }
			case 2:
				q.Allow = func(d uint32) bool { return d%7 == 3 }
			}
			k := []int{1, 3, 10, 100}[rng.IntN(4)]
			got := ix.Search(q, k)
			want := ix.exhaustive(q, k)
			if !cmp.Equal(want, got) {
				t.Fatalf("seed %d query %v k %d:\n%s", seed, q.Terms, k, cmp.Diff(want, got))
			}
		}
	}
}

func TestDelete(t *testing.T) {
	ix := mustNew(t, Options{})
	a := mustAdd(t, ix, strings.Fields("alpha beta"))
	b := mustAdd(t, ix, strings.Fields("alpha gamma"))
	ix.Delete(a)
	ix.Delete(a) // idempotent
	ix.Delete(12345)
	if ix.Len() != 1 {
		t.Errorf("Len = %d, want 1", ix.Len())
	}
	got := ix.Search(Query{Terms: []string{"alpha"}}, 10)
	if len(got) != 1 || got[0].Doc != b {
		t.Errorf("after delete: %+v, want only doc %d", got, b)
	}
	if got := ix.Search(Query{Terms: []string{"beta"}}, 10); len(got) != 0 {
		t.Errorf("deleted doc's term still matches: %+v", got)
	}
	ix.Delete(b)
	if got := ix.Search(Query{Terms: []string{"alpha"}}, 10); got != nil {
		t.Errorf("empty index returned %+v", got)
	}
}

// TestCompactEqualsFresh checks that after compaction scores equal those of
// an index built from the surviving documents alone.
func TestCompactEqualsFresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	o := Options{Fields: []float64{2, 1}}
	ix, docs := corpus(t, rng, 1500, 300, o)
	fresh := mustNew(t, o)
	var freshToOld []uint32
	for d := range docs {
		if rng.IntN(3) == 0 {
			ix.Delete(uint32(d))
			continue
		}
		mustAdd(t, fresh, docs[d]...)
		freshToOld = append(freshToOld, uint32(d))
	}
	ix.Compact()
	if ix.pending != 0 {
		t.Fatalf("pending = %d after Compact", ix.pending)
	}
	for range 50 {
		q := Query{Terms: randomQuery(rng, 300)}
		got := ix.Search(q, 20)
		want := fresh.Search(q, 20)
		for i := range want {
			want[i].Doc = freshToOld[want[i].Doc]
		}
		if len(got) != len(want) {
			t.Fatalf("query %v: %d results, want %d", q.Terms, len(got), len(want))
		}
		for i := range want {
			if got[i].Doc != want[i].Doc || !near(got[i].Score, want[i].Score) {
				t.Fatalf("query %v rank %d: got %+v, want %+v", q.Terms, i, got[i], want[i])
			}
		}
	}
}

// TestAddAfterSearch checks that bounds stay valid as documents with longer
// fields raise the average length after the index has been searched.
func TestAddAfterSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ix := mustNew(t, Options{})
	for i := range 3000 {
		n := 2 + i/100 // lengths grow: the average keeps rising
		var f []string
		for range n {
			f = append(f, fmt.Sprintf("t%d", rng.IntN(50)))
		}
		mustAdd(t, ix, f)
		if i%97 == 0 {
			q := Query{Terms: randomQuery(rng, 50)}
			if got, want := ix.Search(q, 10), ix.exhaustive(q, 10); !cmp.Equal(want, got) {
				t.Fatalf("after %d docs: %s", i+1, cmp.Diff(want, got))
			}
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ix, _ := corpus(t, rng, 2000, 400, Options{K1: 1.1, B: 0.6, Fields: []float64{3, 1}, FieldB: []float64{0.3, 0}})
	for d := range uint32(200) {
		ix.Delete(d * 3)
	}
	data, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.MarshalBinary()
	if string(again) != string(data) {
		t.Error("re-encoding a decoded snapshot gives different bytes")
	}
	for range 40 {
		q := Query{Terms: randomQuery(rng, 400)}
		if a, b := ix.Search(q, 10), got.Search(q, 10); !cmp.Equal(a, b) {
			t.Fatalf("query %v differs after round trip: %s", q.Terms, cmp.Diff(a, b))
		}
	}
	if got.Len() != ix.Len() || got.Docs() != ix.Docs() || got.Terms() != ix.Terms() {
		t.Errorf("counts differ: %d/%d/%d vs %d/%d/%d", got.Len(), got.Docs(), got.Terms(), ix.Len(), ix.Docs(), ix.Terms())
	}
	// Every single-byte corruption is detected.
	for i := 0; i < len(data); i += 1 + len(data)/300 {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x5a
		if _, err := Unmarshal(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipping byte %d: err = %v, want ErrCorrupt", i, err)
		}
	}
	for _, n := range []int{0, 5, 12, len(data) / 2, len(data) - 1} {
		if _, err := Unmarshal(data[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrCorrupt", n, err)
		}
	}
}

func TestSnapshotEmpty(t *testing.T) {
	ix := mustNew(t, Options{})
	data, _ := ix.MarshalBinary()
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 0 || got.Search(Query{Terms: []string{"x"}}, 3) != nil {
		t.Error("empty snapshot decoded to a non-empty index")
	}
	mustAdd(t, got, []string{"x"})
	if len(got.Search(Query{Terms: []string{"x"}}, 3)) != 1 {
		t.Error("decoded empty index does not accept documents")
	}
}

// FuzzUnmarshal feeds arbitrary bytes to the decoder, both as whole
// snapshots (mostly rejected by the checksum) and as bodies with a valid
// frame, which exercises the structural checks. Whatever decodes must
// search and re-encode without panicking.
func FuzzUnmarshal(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	ix, _ := corpus(f, rng, 40, 30, Options{Fields: []float64{2, 1}})
	ix.Delete(3)
	seed, _ := ix.MarshalBinary()
	f.Add(seed)
	f.Add(seed[len(snapshotMagic) : len(seed)-4])
	empty, _ := mustNew(f, Options{}).MarshalBinary()
	f.Add(empty)
	f.Add([]byte(snapshotMagic))
	f.Add([]byte{1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		try := func(ix *Index, err error) {
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error does not wrap ErrCorrupt: %v", err)
				}
				return
			}
			for _, q := range [][]string{{"t1"}, {"t2", "t3", "t1"}, {"t0"}} {
				ix.Search(Query{Terms: q}, 5)
			}
			if _, err := ix.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
		}
		try(Unmarshal(data))
		framed := append([]byte(snapshotMagic), data...)
		framed = append(framed, 0, 0, 0, 0)
		sum := crc32Sum(framed[:len(framed)-4])
		copy(framed[len(framed)-4:], sum)
		try(Unmarshal(framed))
	})
}

func crc32Sum(b []byte) []byte {
	c := crcOf(b)
	return []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}
