package bm25

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchIndex is a 100,000-document, two-field index with a Zipf
// vocabulary of 50,000 terms, and queries mixing common and rare terms.
func benchIndex(b *testing.B) (*Index, [][]string) {
	b.Helper()
	rng := rand.New(rand.NewPCG(42, 42))
	ix := mustNew(b, Options{Fields: []float64{2, 1}})
	zipf := rand.NewZipf(rng, 1.07, 2, 49_999)
	term := func() string { return fmt.Sprintf("t%d", zipf.Uint64()) }
	for range 100_000 {
		title := make([]string, rng.IntN(8)+1)
		for i := range title {
			title[i] = term()
		}
		body := make([]string, 60+rng.IntN(120))
		for i := range body {
			body[i] = term()
		}
		mustAdd(b, ix, title, body)
	}
	qs := make([][]string, 200)
	for i := range qs {
		q := make([]string, 2+rng.IntN(8))
		for j := range q {
			q[j] = term()
		}
		qs[i] = q
	}
	return ix, qs
}

func BenchmarkSearch(b *testing.B) {
	ix, qs := benchIndex(b)
	b.Run("maxscore", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ix.Search(Query{Terms: qs[i%len(qs)]}, 10)
		}
	})
	b.Run("maxscore-filtered", func(b *testing.B) {
		allow := func(d uint32) bool { return d%10 == 0 }
		for i := 0; b.Loop(); i++ {
			ix.Search(Query{Terms: qs[i%len(qs)], Allow: allow}, 10)
		}
	})
	b.Run("exhaustive", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			ix.exhaustive(Query{Terms: qs[i%len(qs)]}, 10)
		}
	})
}

func BenchmarkAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	docs := make([][]string, 1000)
	for i := range docs {
		d := make([]string, 150)
		for j := range d {
			d[j] = fmt.Sprintf("t%d", rng.IntN(20000))
		}
		docs[i] = d
	}
	ix := mustNew(b, Options{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ix.Add(docs[i%len(docs)])
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	ix, _ := benchIndex(b)
	data, _ := ix.MarshalBinary()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}
