package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
)

const benchText = `Alterations of the architecture of cerebral white matter in the developing human brain can affect
cortical development and result in functional disabilities. A line scan diffusion-weighted magnetic resonance
imaging (MRI) sequence with diffusion tensor analysis was applied to measure the apparent diffusion coefficient,
to calculate relative anisotropy, and to delineate three-dimensional fiber architecture in cerebral white matter
in preterm (n = 17) and full-term infants (n = 7). COVID-19 and IL-6 levels rose 2.5-fold in 1,000 patients.`

func BenchmarkAnalyzerTerms(b *testing.B) {
	a := NewAnalyzer(AnalyzerOptions{})
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	var dst []string
	for b.Loop() {
		dst = a.AppendTerms(dst[:0], benchText)
	}
}

func BenchmarkRank(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields(strings.ToLower(strings.NewReplacer(".", "", ",", "", "(", "", ")", "").Replace(benchText)))
	for i := range 2000 {
		words = append(words, fmt.Sprintf("w%d", i))
	}
	s := newMemStore()
	for d := range 20000 {
		var body []string
		for range 40 + rng.IntN(80) {
			body = append(body, words[rng.IntN(len(words))])
		}
		s.put(makeDoc(fmt.Sprintf("d%d", d), words[rng.IntN(len(words))], strings.Join(body, " ")))
	}
	ix, err := Open(context.Background(), s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	queries := []string{"cerebral white matter diffusion in preterm infants", "w17 anisotropy", "covid-19 patients il-6", "fiber architecture w999 w5"}
	ctx := context.Background()
	for _, f := range []struct {
		name string
		f    sextant.Filter
	}{{"nofilter", sextant.Filter{}}, {"filter", sextant.Filter{DocumentIDs: []string{"d1", "d2", "d3"}, Collections: []string{"default"}}},
		{"collection", sextant.Filter{Collections: []string{"default"}}}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := ix.Rank(ctx, sextant.Query{Text: queries[i%len(queries)], Filter: f.f}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSearch is a whole search — rank, read the chunks, hydrate the
// hits — with snippets (Index.Search) and without (Unmarked, what the
// answer pipeline uses).
func BenchmarkSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields(strings.ToLower(strings.NewReplacer(".", "", ",", "", "(", "", ")", "").Replace(benchText)))
	for i := range 2000 {
		words = append(words, fmt.Sprintf("w%d", i))
	}
	s := newMemStore()
	for d := range 5000 {
		var body []string
		for range 120 + rng.IntN(120) {
			body = append(body, words[rng.IntN(len(words))])
		}
		s.put(makeDoc(fmt.Sprintf("d%d", d), words[rng.IntN(len(words))], strings.Join(body, " ")+"."))
	}
	ix, err := Open(context.Background(), s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	queries := []string{"cerebral white matter diffusion in preterm infants", "w17 anisotropy", "covid-19 patients il-6", "fiber architecture w999 w5"}
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		search func(context.Context, sextant.Query) ([]sextant.Hit, error)
	}{{"snippets", ix.Search}, {"unmarked", ix.Unmarked().Search}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.search(ctx, sextant.Query{Text: queries[i%len(queries)]}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
