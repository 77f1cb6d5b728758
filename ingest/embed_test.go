package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/sqlite"
)

func TestEmbedText(t *testing.T) {
	doc := &sextant.Document{Title: "Guide"}
	for _, tc := range []struct {
		section []string
		text    string
		want    string
	}{
		{nil, "Body.", "Guide\nBody."},
		{[]string{"Guide"}, "Body.", "Guide\nBody."},
		{[]string{"Guide", "Install"}, " Body. ", "Guide\nGuide › Install\nBody."},
	} {
		if got := ingest.EmbedText(doc, &sextant.Chunk{Section: tc.section, Text: tc.text}); got != tc.want {
			t.Errorf("EmbedText(%v, %q) = %q, want %q", tc.section, tc.text, got, tc.want)
		}
	}
	if got := ingest.EmbedText(&sextant.Document{}, &sextant.Chunk{Text: "  "}); got != "" {
		t.Errorf("empty chunk: %q", got)
	}
}

// TestEmbedChunksResumes interrupts EmbedChunks by cancelling its context
// after the first group and checks that a second run embeds exactly the
// rest: progress lives in the store.
func TestEmbedChunksResumes(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 10 {
		id := fmt.Sprintf("d%02d", i)
		text := fmt.Sprintf("text of document %d", i)
		if err := db.PutDocument(ctx, &sextant.Document{ID: id, Source: "file:///" + id, Hash: "h" + id, Title: "T" + id, Text: text},
			[]sextant.Chunk{{ID: id + "#0", DocumentID: id, Text: text, End: len(text)}}); err != nil {
			t.Fatal(err)
		}
	}
	space := sextant.EmbeddingSpace{Model: "m"}
	var embedded []string
	rctx, cancel := context.WithCancel(ctx)
	calls := 0
	embed := func(ctx context.Context, texts []string) ([][]float32, error) {
		calls++
		if calls == 2 {
			cancel() // "killed" during the second group
			return nil, ctx.Err()
		}
		out := make([][]float32, len(texts))
		for i, s := range texts {
			embedded = append(embedded, s)
			out[i] = []float32{float32(len(s)), 1}
		}
		return out, nil
	}
	var progress []ingest.EmbedProgress
	sum, err := ingest.EmbedChunks(rctx, db, ingest.EmbedOptions{Space: space, Embed: embed, Group: 4,
		Progress: func(p ingest.EmbedProgress) { progress = append(progress, p) }})
	if !errors.Is(err, context.Canceled) || sum.Embedded != 4 || sum.Pending != 10 {
		t.Fatalf("interrupted run: %+v %v", sum, err)
	}
	if last := progress[len(progress)-1]; !last.Finished || last.Done != 4 || last.Total != 10 {
		t.Fatalf("progress %+v", progress)
	}
	if n, _ := db.CountPending(ctx, space); n != 6 {
		t.Fatalf("%d pending after the interruption, want 6", n)
	}
	embedded = nil
	sum, err = ingest.EmbedChunks(ctx, db, ingest.EmbedOptions{Space: space, Group: 4,
		Embed: func(ctx context.Context, texts []string) ([][]float32, error) {
			out := make([][]float32, len(texts))
			for i, s := range texts {
				embedded = append(embedded, s)
				out[i] = []float32{float32(len(s)), 1}
			}
			return out, nil
		}})
	if err != nil || sum.Embedded != 6 || len(embedded) != 6 {
		t.Fatalf("resumed run: %+v %v, embedded %d texts", sum, err, len(embedded))
	}
	for _, s := range embedded {
		if !strings.HasPrefix(s, "Td0") || strings.Contains(s, "document 0\n") {
			t.Fatalf("embedded text %q", s)
		}
	}
	if n, _ := db.CountPending(ctx, space); n != 0 {
		t.Fatalf("%d pending after the second run", n)
	}
	// Wrong count from the embedder is an error, not a silent mismatch.
	db.PutDocument(ctx, &sextant.Document{ID: "x", Source: "file:///x", Hash: "hx", Text: "x"}, []sextant.Chunk{{ID: "x#0", DocumentID: "x", Text: "x", End: 1}})
	_, err = ingest.EmbedChunks(ctx, db, ingest.EmbedOptions{Space: space,
		Embed: func(context.Context, []string) ([][]float32, error) { return nil, nil }})
	if sextant.ErrorCode(err) != sextant.EINTERNAL {
		t.Fatalf("embedder returning no vectors: %v", err)
	}
	if _, err := ingest.EmbedChunks(ctx, db, ingest.EmbedOptions{Embed: embed}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("no space: %v", err)
	}
}
