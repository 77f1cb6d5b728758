package rag_test

import (
	"testing"

	"github.com/sextant-ai/sextant/rag"
)

// BenchmarkAsk answers one question over the fixtures with the extractive
// generator, records included; pipeline-ms is the time outside the
// generator.
func BenchmarkAsk(b *testing.B) {
	w := newWorldB(b)
	req := &rag.Request{Question: "How is PDF text extracted?", NoCache: true}
	var overhead float64
	b.ReportAllocs()
	for b.Loop() {
		res, err := w.p.Ask(b.Context(), req)
		if err != nil {
			b.Fatal(err)
		}
		overhead += float64(res.Overhead().Microseconds()) / 1000
	}
	b.ReportMetric(overhead/float64(b.N), "pipeline-ms/op")
}
