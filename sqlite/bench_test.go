package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
)

// benchDocs makes n documents of one chunk of about size bytes, like
// records of a BEIR corpus.
func benchDocs(n, size, base int) ([]*sextant.Document, [][]sextant.Chunk) {
	docs := make([]*sextant.Document, n)
	chunks := make([][]sextant.Chunk, n)
	word := "retrieval "
	text := strings.Repeat(word, size/len(word))
	for i := range n {
		id := fmt.Sprintf("bench:doc%08d", base+i)
		docs[i] = &sextant.Document{ID: id, Collection: "bench", Source: "file:///corpus/part.jsonl#" + id, Title: "Title of " + id,
			MediaType: sextant.MediaJSONL, Hash: fmt.Sprintf("%064x", base+i), Size: int64(len(text)), Text: text, UpdatedAt: t0, IngestedAt: t0}
		chunks[i] = []sextant.Chunk{{ID: id + "#0", DocumentID: id, Text: text, End: len(text), Tokens: 100}}
	}
	return docs, chunks
}

// BenchmarkPutDocuments stores batches of 1000 single-chunk documents of
// 480 bytes into a growing store; MB/s counts document text.
func BenchmarkPutDocuments(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const batch = 1000
	b.SetBytes(int64(batch * 480))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		docs, chunks := benchDocs(batch, 480, i*batch)
		if err := db.PutDocuments(ctx, docs, chunks); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkScan reads 20000 single-chunk documents back, as an index
// rebuild does.
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range 20 {
		docs, chunks := benchDocs(1000, 480, i*1000)
		if err := db.PutDocuments(ctx, docs, chunks); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(20000 * 480)
	for b.Loop() {
		n := 0
		if err := db.Scan(ctx, func(_ *sextant.Document, cs []sextant.Chunk) error { n += len(cs); return nil }); err != nil || n != 20000 {
			b.Fatal(n, err)
		}
	}
}
