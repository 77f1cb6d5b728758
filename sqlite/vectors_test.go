package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/sqlite"
)

// The store is the embedding cache llm.Embedder consults.
var _ llm.EmbedCache = (*sqlite.DB)(nil)

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func openVecDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// putDocs stores n one-chunk documents d0..d(n-1).
func putDocs(t *testing.T, db *sqlite.DB, n int, text func(i int) string) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("d%d", i)
		txt := text(i)
		doc := &sextant.Document{ID: id, Source: "file:///" + id, Hash: hashOf(txt), Text: txt, Title: "T" + id}
		ch := []sextant.Chunk{{ID: id + "#0", DocumentID: id, Text: txt, Start: 0, End: len(txt)}}
		if err := db.PutDocument(context.Background(), doc, ch); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEmbeddingCacheRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openVecDB(t)
	space := sextant.EmbeddingSpace{Model: "m", Dimensions: 3}
	hs := []string{hashOf("a"), hashOf("b")}
	got, err := db.Embeddings(ctx, space, hs)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != nil || got[1] != nil {
		t.Fatalf("empty cache returned %v", got)
	}
	if err := db.PutEmbeddings(ctx, space, hs, [][]float32{{1, 2, 3}, {4, 5, 6}}); err != nil {
		t.Fatal(err)
	}
	got, err = db.Embeddings(ctx, space, []string{hs[1], hashOf("c"), hs[0], hs[1]})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{4, 5, 6}, nil, {1, 2, 3}, {4, 5, 6}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("cache lookup (-want +got):\n%s", diff)
	}
	// Another space (same model, other dimensions) is another cache.
	other, err := db.Embeddings(ctx, sextant.EmbeddingSpace{Model: "m"}, hs)
	if err != nil || other[0] != nil {
		t.Fatalf("other space: %v, %v", other, err)
	}
	// A bad hash is an input error.
	if err := db.PutEmbeddings(ctx, space, []string{"xyz"}, [][]float32{{1, 2, 3}}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("bad hash: %v", err)
	}
}

func TestMixingDimensionsRefused(t *testing.T) {
	ctx := context.Background()
	db := openVecDB(t)
	putDocs(t, db, 2, func(i int) string { return fmt.Sprintf("text %d", i) })
	space := sextant.EmbeddingSpace{Model: "m"}
	if _, err := db.PutChunkVectors(ctx, space, []sextant.ChunkVector{{ChunkID: "d0#0", Hash: hashOf("x"), Vector: []float32{1, 0, 0}}}); err != nil {
		t.Fatal(err)
	}
	_, err := db.PutChunkVectors(ctx, space, []sextant.ChunkVector{{ChunkID: "d1#0", Hash: hashOf("y"), Vector: []float32{1, 0}}})
	if sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("2-dim vector into a 3-dim space: %v, want EINVALID", err)
	}
	if err := db.PutEmbeddings(ctx, space, []string{hashOf("z")}, [][]float32{{1, 2, 3, 4}}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("4-dim cache entry into a 3-dim space: %v, want EINVALID", err)
	}
	// A batch mixing sizes in a new space is refused too.
	if _, err := db.PutChunkVectors(ctx, sextant.EmbeddingSpace{Model: "n"}, []sextant.ChunkVector{
		{ChunkID: "d0#0", Hash: hashOf("x"), Vector: []float32{1, 0}},
		{ChunkID: "d1#0", Hash: hashOf("y"), Vector: []float32{1, 0, 0}},
	}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("mixed batch: %v", err)
	}
}

func TestChunkVectorsFollowTheCorpus(t *testing.T) {
	ctx := context.Background()
	db := openVecDB(t)
	putDocs(t, db, 3, func(i int) string { return fmt.Sprintf("text %d", i) })
	space := sextant.EmbeddingSpace{Model: "m"}
	if active, err := db.ClaimSpace(ctx, space); err != nil || !active {
		t.Fatalf("claim on an empty store: %v %v", active, err)
	}
	pending, err := db.PendingChunks(ctx, space, "", 10)
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending: %d %v", len(pending), err)
	}
	gen0, _ := db.Generation(ctx)
	n, err := db.PutChunkVectors(ctx, space, []sextant.ChunkVector{
		{ChunkID: "d0#0", Hash: hashOf("a"), Vector: []float32{1, 0}},
		{ChunkID: "d1#0", Hash: hashOf("b"), Vector: []float32{0, 1}},
		{ChunkID: "gone#0", Hash: hashOf("c"), Vector: []float32{1, 1}},
	})
	if err != nil || n != 2 {
		t.Fatalf("put: stored %d, %v (want 2: the unknown chunk is skipped)", n, err)
	}
	// Vectors in the active space are corpus changes, so indexes follow.
	gen1, _ := db.Generation(ctx)
	ch, _ := db.Changes(ctx, gen0)
	if gen1 != gen0+2 || len(ch) != 2 {
		t.Fatalf("generation %d → %d, %d changes; want +2", gen0, gen1, len(ch))
	}
	if c, _ := db.CountPending(ctx, space); c != 1 {
		t.Fatalf("count pending = %d, want 1", c)
	}
	vs, err := db.DocumentVectors(ctx, space, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]float32{"d1#0": {0, 1}}, vs); diff != "" {
		t.Fatal(diff)
	}
	// Replacing a document drops its chunks' vectors (cascade).
	putDocs(t, db, 1, func(int) string { return "new text" })
	if vs, _ := db.DocumentVectors(ctx, space, "d0"); len(vs) != 0 {
		t.Fatalf("replaced document kept vectors %v", vs)
	}
	var scanned []string
	if err := db.ScanVectors(ctx, space, func(id string, v []float32) error { scanned = append(scanned, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"d1#0"}, scanned); diff != "" {
		t.Fatal(diff)
	}
	sp, dim, err := db.ActiveSpace(ctx)
	if err != nil || sp != space || dim != 2 {
		t.Fatalf("active space %v %d %v", sp, dim, err)
	}
}

func TestSpaceChangeIsExplicit(t *testing.T) {
	ctx := context.Background()
	db := openVecDB(t)
	putDocs(t, db, 2, func(i int) string { return fmt.Sprintf("text %d", i) })
	a := sextant.EmbeddingSpace{Model: "a"}
	b := sextant.EmbeddingSpace{Model: "b", Dimensions: 2}
	if _, err := db.ClaimSpace(ctx, a); err != nil {
		t.Fatal(err)
	}
	put := func(space sextant.EmbeddingSpace, id string, v []float32) {
		t.Helper()
		if _, err := db.PutChunkVectors(ctx, space, []sextant.ChunkVector{{ChunkID: id, Hash: hashOf(id + space.Model), Vector: v}}); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "d0#0", []float32{1, 0, 0})
	// The store has vectors of a: an ingestion with b is refused, naming both.
	_, err := db.ClaimSpace(ctx, b)
	if sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Fatalf("claim b over a: %v, want ECONFLICT", err)
	}
	// Re-embedding to b: a stays active until every chunk has a b vector.
	st, err := db.BeginReembed(ctx, b)
	if err != nil || st.Active.Space != a || st.Target == nil || st.Target.Space != b {
		t.Fatalf("begin reembed: %+v %v", st, err)
	}
	if active, err := db.ClaimSpace(ctx, b); err != nil || active {
		t.Fatalf("claim the target: active=%v %v (want false, nil)", active, err)
	}
	gen0, _ := db.Generation(ctx)
	put(b, "d0#0", []float32{1, 0})
	if g, _ := db.Generation(ctx); g != gen0 {
		t.Fatalf("vectors of the target space changed the generation %d → %d", gen0, g)
	}
	if _, err := db.FinishReembed(ctx); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Fatalf("finish with a chunk left: %v, want ECONFLICT", err)
	}
	put(b, "d1#0", []float32{0, 1})
	switched, err := db.FinishReembed(ctx)
	if err != nil || !switched {
		t.Fatalf("finish: %v %v", switched, err)
	}
	st, _ = db.VectorState(ctx)
	if st.Active.Space != b || st.Active.Vectors != 2 || st.Target != nil || st.Active.Dim != 2 {
		t.Fatalf("after the switch: %+v", st.Active)
	}
	if g, _ := db.Generation(ctx); g != gen0+2 {
		t.Fatalf("switch recorded %d changes, want one per document (2)", g-gen0)
	}
	if vs, _ := db.DocumentVectors(ctx, a, "d0"); len(vs) != 0 {
		t.Fatalf("old space kept chunk vectors %v", vs)
	}
	// The old space's embeddings stay cached.
	got, _ := db.Embeddings(ctx, a, []string{hashOf("d0#0a")})
	if got[0] == nil {
		t.Fatal("old space's cache entry was dropped")
	}
	if switched, err := db.FinishReembed(ctx); err != nil || switched {
		t.Fatalf("finish with nothing in progress: %v %v", switched, err)
	}
}
