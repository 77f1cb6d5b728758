package search

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/sqlite"
)

func hexHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// vecCorpus is a store of n one-chunk documents with clustered random
// vectors; document i has metadata bucket = i mod 100 (so a filter on
// buckets selects a known share) and the words "alpha" or "beta".
type vecCorpus struct {
	db   *sqlite.DB
	dir  string
	vecs map[string][]float32 // chunk id → vector
	docs map[string]*sextant.Document
}

var testSpace = sextant.EmbeddingSpace{Model: "test-embedder"}

func newVecCorpus(t testing.TB, n, dim int) *vecCorpus {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &vecCorpus{db: db, dir: dir, vecs: map[string][]float32{}, docs: map[string]*sextant.Document{}}
	rng := rand.New(rand.NewPCG(1, 2))
	centres := make([][]float32, 20)
	for i := range centres {
		centres[i] = make([]float32, dim)
		for j := range centres[i] {
			centres[i][j] = float32(rng.NormFloat64())
		}
	}
	var docs []*sextant.Document
	var chunks [][]sextant.Chunk
	var cvs []sextant.ChunkVector
	for i := range n {
		id := fmt.Sprintf("doc%04d", i)
		word := "alpha"
		if i%2 == 1 {
			word = "beta"
		}
		text := fmt.Sprintf("%s document number %d about %s", word, i, word)
		d := &sextant.Document{ID: id, Source: "file:///" + id, Hash: hexHash(text), Text: text, Title: "Title " + id,
			Metadata: map[string]string{"bucket": fmt.Sprint(i % 100)}}
		ch := sextant.Chunk{ID: id + "#0", DocumentID: id, Text: text, Start: 0, End: len(text)}
		docs, chunks = append(docs, d), append(chunks, []sextant.Chunk{ch})
		v := make([]float32, dim)
		cen := centres[rng.IntN(len(centres))]
		for j := range v {
			v[j] = cen[j] + 0.7*float32(rng.NormFloat64())
		}
		c.vecs[ch.ID] = v
		c.docs[id] = d
		cvs = append(cvs, sextant.ChunkVector{ChunkID: ch.ID, Hash: hexHash(text), Vector: v})
	}
	if err := db.PutDocuments(ctx, docs, chunks); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimSpace(ctx, testSpace); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutChunkVectors(ctx, testSpace, cvs); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *vecCorpus) open(t testing.TB, o Options) *Index {
	t.Helper()
	ix, err := Open(context.Background(), c.db, o)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// exactTop is the ground truth: cosine similarity over every chunk whose
// document passes f (by Filter.Match), best first.
func (c *vecCorpus) exactTop(q []float32, k int, f *sextant.Filter) []string {
	type sc struct {
		id string
		s  float64
	}
	var all []sc
	now := time.Now()
	for id, v := range c.vecs {
		d := c.docs[strings.TrimSuffix(id, "#0")]
		if !f.Match(d, now) {
			continue
		}
		all = append(all, sc{id, cosine(q, v)})
	}
	slices.SortFunc(all, func(a, b sc) int {
		if a.s != b.s {
			if a.s > b.s {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	var out []string
	for _, x := range all[:min(k, len(all))] {
		out = append(out, x.id)
	}
	return out
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

func ids(rs []Ranked) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ChunkID
	}
	return out
}

func randomQuery(rng *rand.Rand, dim int) []float32 {
	q := make([]float32, dim)
	for j := range q {
		q[j] = float32(rng.NormFloat64())
	}
	return q
}

// buckets returns a filter allowing pct% of the documents.
func buckets(pct int) sextant.Filter {
	var in []string
	for b := range pct {
		in = append(in, fmt.Sprint(b))
	}
	return sextant.Filter{In: map[string][]string{"bucket": in}}
}

func TestVectorFilteredSearchMatchesExact(t *testing.T) {
	const n, dim = 3000, 24
	c := newVecCorpus(t, n, dim)
	ix := c.open(t, Options{Vector: VectorOptions{Enabled: true, M: 12, EfConstruction: 100}})
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		pct       int
		minRecall float64
	}{{1, 1}, {10, 0.95}, {50, 0.95}, {100, 0.95}} {
		f := buckets(tc.pct)
		hit, total := 0, 0
		for range 40 {
			q := randomQuery(rng, dim)
			got, err := ix.RankWith(context.Background(), sextant.Query{Vector: q, K: 10, Mode: sextant.ModeVector, Filter: f}, Retrieval{})
			if err != nil {
				t.Fatal(err)
			}
			want := c.exactTop(q, 10, &f)
			now := time.Now()
			for _, r := range got {
				if !f.Match(c.docs[r.DocumentID], now) {
					t.Fatalf("%d%%: hit %s does not pass the filter", tc.pct, r.ChunkID)
				}
			}
			if tc.minRecall == 1 && !cmp.Equal(want, ids(got)) {
				t.Fatalf("%d%%: top 10 differs from exact filtered search:\n%s", tc.pct, cmp.Diff(want, ids(got)))
			}
			for _, id := range ids(got) {
				if slices.Contains(want, id) {
					hit++
				}
			}
			total += len(want)
		}
		if r := float64(hit) / float64(total); r < tc.minRecall {
			t.Errorf("%d%% selectivity: recall@10 %.3f < %.2f", tc.pct, r, tc.minRecall)
		}
	}
}

func TestVectorIndexFollowsStoreAndSnapshots(t *testing.T) {
	ctx := context.Background()
	const n, dim = 300, 8
	c := newVecCorpus(t, n, dim)
	o := Options{Dir: c.dir, Vector: VectorOptions{Enabled: true}}
	ix := c.open(t, o)
	if vs, ok := ix.VectorStats(); !ok || vs.Vectors != n || vs.Dim != dim || vs.Space != testSpace {
		t.Fatalf("vector stats %+v %v", vs, ok)
	}
	q := c.vecs["doc0007#0"]
	first, err := ix.RankWith(ctx, sextant.Query{Vector: q, K: 5, Mode: sextant.ModeVector}, Retrieval{})
	if err != nil || len(first) == 0 || first[0].ChunkID != "doc0007#0" {
		t.Fatalf("nearest to doc0007's own vector: %v %v", ids(first), err)
	}
	if err := ix.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	// Reopen: both snapshots load, results identical.
	ix2 := c.open(t, o)
	if !strings.Contains(ix2.OpenNotes(), "vector snapshot loaded") {
		t.Fatalf("open notes %q: want the vector snapshot loaded", ix2.OpenNotes())
	}
	again, err := ix2.RankWith(ctx, sextant.Query{Vector: q, K: 5, Mode: sextant.ModeVector}, Retrieval{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(first), ids(again)); diff != "" {
		t.Fatalf("after the snapshot round trip (-before +after):\n%s", diff)
	}
	// Delete doc0007 and replace doc0008 with a new vector; a reopened
	// index catches up from the change log.
	if err := c.db.DeleteDocument(ctx, "doc0007"); err != nil {
		t.Fatal(err)
	}
	d := *c.docs["doc0008"]
	d.Text, d.Hash = "gamma replaced", hexHash("gamma replaced")
	if err := c.db.PutDocument(ctx, &d, []sextant.Chunk{{ID: "doc0008#0", DocumentID: "doc0008", Text: d.Text, End: len(d.Text)}}); err != nil {
		t.Fatal(err)
	}
	nv := make([]float32, dim)
	nv[0] = 1
	if _, err := c.db.PutChunkVectors(ctx, testSpace, []sextant.ChunkVector{{ChunkID: "doc0008#0", Hash: hexHash("gamma replaced"), Vector: nv}}); err != nil {
		t.Fatal(err)
	}
	ix3 := c.open(t, o)
	if !strings.Contains(ix3.OpenNotes(), "caught up") || !strings.Contains(ix3.OpenNotes(), "vector snapshot loaded") {
		t.Fatalf("open notes %q", ix3.OpenNotes())
	}
	got, err := ix3.RankWith(ctx, sextant.Query{Vector: q, K: 5, Mode: sextant.ModeVector}, Retrieval{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ids(got), "doc0007#0") {
		t.Fatal("a deleted chunk is still returned")
	}
	top, err := ix3.RankWith(ctx, sextant.Query{Vector: nv, K: 1, Mode: sextant.ModeVector}, Retrieval{})
	if err != nil || len(top) != 1 || top[0].ChunkID != "doc0008#0" {
		t.Fatalf("the replaced chunk's new vector is not found: %v %v", ids(top), err)
	}
	if vs, _ := ix3.VectorStats(); vs.Vectors != n-1 {
		t.Fatalf("%d live vectors, want %d", vs.Vectors, n-1)
	}
	// The same through Refresh on the open index.
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	top, _ = ix.RankWith(ctx, sextant.Query{Vector: nv, K: 1, Mode: sextant.ModeVector}, Retrieval{})
	if len(top) != 1 || top[0].ChunkID != "doc0008#0" {
		t.Fatalf("after Refresh: %v", ids(top))
	}
	// A snapshot from another store is never used.
	if err := ix3.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
}

func TestVectorSnapshotDamagedRebuilds(t *testing.T) {
	c := newVecCorpus(t, 100, 8)
	o := Options{Dir: c.dir, Vector: VectorOptions{Enabled: true}}
	ix := c.open(t, o)
	if err := ix.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	path := c.dir + "/" + VectorSnapshotFile
	data, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[20] ^= 0xff
	if err := writeFileAtomic(path, data); err != nil {
		t.Fatal(err)
	}
	ix2 := c.open(t, o)
	if vs, ok := ix2.VectorStats(); !ok || vs.Vectors != 100 {
		t.Fatalf("after a damaged snapshot: %+v %v", vs, ok)
	}
	if !strings.Contains(ix2.OpenNotes(), "vectors rebuilt") {
		t.Fatalf("open notes %q: want the vectors rebuilt", ix2.OpenNotes())
	}
}

func TestInt8VectorsRescore(t *testing.T) {
	const n, dim = 800, 16
	c := newVecCorpus(t, n, dim)
	for _, dir := range []string{"", c.dir} {
		ix := c.open(t, Options{Dir: dir, Vector: VectorOptions{Enabled: true, Int8: true}})
		vs, _ := ix.VectorStats()
		if !vs.Int8 {
			t.Fatal("index is not int8")
		}
		rng := rand.New(rand.NewPCG(3, 4))
		hit, total := 0, 0
		for range 30 {
			q := randomQuery(rng, dim)
			got, err := ix.RankWith(context.Background(), sextant.Query{Vector: q, K: 10, Mode: sextant.ModeVector}, Retrieval{})
			if err != nil {
				t.Fatal(err)
			}
			want := c.exactTop(q, 10, &sextant.Filter{})
			for i, r := range got {
				if slices.Contains(want, r.ChunkID) {
					hit++
				}
				// Scores are float cosine similarities after rescoring.
				if math.Abs(r.Score-cosine(q, c.vecs[r.ChunkID])) > 1e-4 {
					t.Fatalf("result %d score %v, float cosine %v", i, r.Score, cosine(q, c.vecs[r.ChunkID]))
				}
			}
			total += len(want)
		}
		if r := float64(hit) / float64(total); r < 0.9 {
			t.Errorf("int8 (dir %q) recall@10 %.3f", dir, r)
		}
		if dir != "" {
			if err := ix.SaveSnapshot(); err != nil {
				t.Fatal(err)
			}
			ix2 := c.open(t, Options{Dir: dir, Vector: VectorOptions{Enabled: true, Int8: true}})
			if !strings.Contains(ix2.OpenNotes(), "vector snapshot loaded") {
				t.Fatalf("int8 snapshot not loaded: %q", ix2.OpenNotes())
			}
			q := c.vecs["doc0003#0"]
			got, _ := ix2.RankWith(context.Background(), sextant.Query{Vector: q, K: 1, Mode: sextant.ModeVector}, Retrieval{})
			if len(got) != 1 || got[0].ChunkID != "doc0003#0" || math.Abs(got[0].Score-1) > 1e-4 {
				t.Fatalf("after reload: %+v", got)
			}
		}
	}
}

func TestLexicalPathWithoutEmbedder(t *testing.T) {
	ctx := context.Background()
	c := newVecCorpus(t, 200, 8)
	// Vectors in the store, but no vector index configured: every query is
	// lexical, exactly as before vectors existed.
	ix := c.open(t, Options{})
	if _, ok := ix.VectorStats(); ok {
		t.Fatal("a vector index was built without being enabled")
	}
	auto, err := ix.Rank(ctx, sextant.Query{Text: "alpha document", K: 10})
	if err != nil {
		t.Fatal(err)
	}
	lex, err := ix.Rank(ctx, sextant.Query{Text: "alpha document", K: 10, Mode: sextant.ModeLexical})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lex, auto, cmp.AllowUnexported(Ranked{})); diff != "" {
		t.Fatalf("auto differs from lexical:\n%s", diff)
	}
	for _, r := range auto {
		if r.Scores != nil {
			t.Fatalf("lexical result carries stage scores %v", r.Scores)
		}
	}
	for _, m := range []sextant.SearchMode{sextant.ModeVector, sextant.ModeHybrid} {
		if _, err := ix.Rank(ctx, sextant.Query{Text: "alpha", Mode: m}); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Fatalf("mode %s without vectors: %v, want EINVALID", m, err)
		}
	}
	// With the vector index but no embedder, auto stays lexical for text
	// queries and goes hybrid when the query brings its vector.
	ixv := c.open(t, Options{Vector: VectorOptions{Enabled: true}})
	auto2, _ := ixv.Rank(ctx, sextant.Query{Text: "alpha document", K: 10})
	if diff := cmp.Diff(lex, auto2, cmp.AllowUnexported(Ranked{})); diff != "" {
		t.Fatalf("auto with vectors but no embedder differs from lexical:\n%s", diff)
	}
	hyb, err := ixv.Rank(ctx, sextant.Query{Text: "alpha document", K: 10, Vector: c.vecs["doc0002#0"]})
	if err != nil || len(hyb) == 0 || hyb[0].Scores[ScoreFused] == 0 {
		t.Fatalf("auto with a query vector: %+v %v", hyb, err)
	}
	if _, err := ixv.Rank(ctx, sextant.Query{Text: "alpha", Mode: sextant.ModeVector}); sextant.ErrorCode(err) != sextant.EINVALID ||
		!strings.Contains(err.Error(), "no embedder") {
		t.Fatalf("vector mode without an embedder: %v", err)
	}
}

func TestHybridEmbedsQueriesAndChecksSpace(t *testing.T) {
	ctx := context.Background()
	c := newVecCorpus(t, 200, 8)
	calls := 0
	embed := func(_ context.Context, texts []string) ([][]float32, error) {
		calls++
		out := make([][]float32, len(texts))
		for i := range texts {
			out[i] = c.vecs["doc0004#0"]
		}
		return out, nil
	}
	ix := c.open(t, Options{Vector: VectorOptions{Enabled: true, Embed: embed, Space: testSpace}})
	hits, err := ix.Search(ctx, sextant.Query{Text: "beta", K: 150})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(hits) == 0 {
		t.Fatalf("%d embed calls, %d hits", calls, len(hits))
	}
	if _, ok := hits[0].Scores[ScoreFused]; !ok {
		t.Fatalf("auto mode with an embedder is not hybrid: %v", hits[0].Scores)
	}
	// doc0004 matches the vector and is not a beta document: it is found
	// only through the vector side.
	found := false
	for _, h := range hits {
		if h.Chunk.ID == "doc0004#0" {
			found = true
			if _, lexical := h.Scores[ScoreBM25]; lexical {
				t.Fatal("doc0004 has a BM25 score for 'beta'")
			}
		}
	}
	if !found {
		t.Fatal("hybrid search lost the vector side's best chunk")
	}
	// An embedder of another space cannot query these vectors.
	other := c.open(t, Options{Vector: VectorOptions{Enabled: true, Embed: embed, Space: sextant.EmbeddingSpace{Model: "other"}}})
	if _, err := other.Rank(ctx, sextant.Query{Text: "beta", Mode: sextant.ModeHybrid}); sextant.ErrorCode(err) != sextant.ECONFLICT ||
		!strings.Contains(err.Error(), "reembed") {
		t.Fatalf("hybrid with another space: %v", err)
	}
	lex, _ := other.Rank(ctx, sextant.Query{Text: "beta", K: 5, Mode: sextant.ModeLexical})
	auto, _ := other.Rank(ctx, sextant.Query{Text: "beta", K: 5})
	if diff := cmp.Diff(lex, auto, cmp.AllowUnexported(Ranked{})); diff != "" {
		t.Fatalf("auto with a mismatched embedder is not lexical:\n%s", diff)
	}
	// A failing embedder: explicit hybrid fails, auto answers lexically.
	failing := c.open(t, Options{Vector: VectorOptions{Enabled: true, Space: testSpace,
		Embed: func(context.Context, []string) ([][]float32, error) {
			return nil, sextant.Errorf(sextant.EUNAVAILABLE, "embedding server down")
		}}})
	if _, err := failing.Rank(ctx, sextant.Query{Text: "beta", Mode: sextant.ModeHybrid}); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Fatalf("explicit hybrid with a failing embedder: %v", err)
	}
	got, err := failing.Rank(ctx, sextant.Query{Text: "beta", K: 5})
	if err != nil || len(got) != 5 {
		t.Fatalf("auto with a failing embedder: %v %v", got, err)
	}
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func TestWeightedFusionCompletesScores(t *testing.T) {
	for _, int8 := range []bool{false, true} {
		t.Run(fmt.Sprint("int8=", int8), func(t *testing.T) { testWeightedFusionCompletes(t, int8) })
	}
}

func testWeightedFusionCompletes(t *testing.T, int8 bool) {
	ctx := context.Background()
	c := newVecCorpus(t, 300, 8)
	ix := c.open(t, Options{Vector: VectorOptions{Enabled: true, Int8: int8}})
	q := c.vecs["doc0005#0"]
	r := Retrieval{Fusion: FusionWeighted, Normalize: NormZScore, VectorWeight: 0.3, Depth: 20}
	got, err := ix.RankWith(ctx, sextant.Query{Text: "alpha number 17", Vector: q, K: 40, Mode: sextant.ModeHybrid}, r)
	if err != nil {
		t.Fatal(err)
	}
	vecOnly := 0
	lexical, _ := ix.RankWith(ctx, sextant.Query{Text: "alpha number 17", K: 20, Mode: sextant.ModeLexical}, Retrieval{})
	for _, h := range got {
		bm, okB := h.Scores[ScoreBM25]
		cs, okV := h.Scores[ScoreVector]
		if !okB || !okV {
			t.Fatalf("%s lacks a stage score: %v", h.ChunkID, h.Scores)
		}
		// Every vector score is the exact cosine, whichever list found it.
		if math.Abs(cs-cosine(q, c.vecs[h.ChunkID])) > 1e-5 {
			t.Fatalf("%s vector score %v, cosine %v", h.ChunkID, cs, cosine(q, c.vecs[h.ChunkID]))
		}
		if !slices.Contains(ids(lexical), h.ChunkID) {
			vecOnly++
			// A chunk the lexical list did not return has its true BM25
			// score: 0 unless it holds a query term.
			if d := c.docs[strings.TrimSuffix(h.ChunkID, "#0")]; bm == 0 && strings.Contains(d.Text, "alpha") {
				t.Fatalf("%s holds 'alpha' but got BM25 0", h.ChunkID)
			}
		}
	}
	if vecOnly == 0 {
		t.Fatal("no candidate came from the vector list alone")
	}
}

// TestInt8FloatsSharedBetweenProcesses opens the same data directory twice
// (as a server and a CLI would): the second index reads the first one's
// float file and copies it before writing its own vectors, so neither
// corrupts the other's rescoring.
func TestInt8FloatsSharedBetweenProcesses(t *testing.T) {
	ctx := context.Background()
	const dim = 8
	c := newVecCorpus(t, 200, dim)
	o := Options{Dir: c.dir, Vector: VectorOptions{Enabled: true, Int8: true}}
	a := c.open(t, o)
	if err := a.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	b := c.open(t, o)
	if !strings.Contains(b.OpenNotes(), "vector snapshot loaded") {
		t.Fatalf("notes %q", b.OpenNotes())
	}
	// New chunks arrive; both indexes catch up and append their floats.
	var docs []*sextant.Document
	var chunks [][]sextant.Chunk
	var cvs []sextant.ChunkVector
	for i := range 20 {
		id := fmt.Sprintf("new%02d", i)
		text := "new document " + id
		docs = append(docs, &sextant.Document{ID: id, Source: "file:///" + id, Hash: hexHash(text), Text: text})
		chunks = append(chunks, []sextant.Chunk{{ID: id + "#0", DocumentID: id, Text: text, End: len(text)}})
		v := make([]float32, dim)
		v[i%dim], v[(i+3)%dim] = 1, float32(i)/10
		c.vecs[id+"#0"] = v
		cvs = append(cvs, sextant.ChunkVector{ChunkID: id + "#0", Hash: hexHash(text), Vector: v})
	}
	if err := c.db.PutDocuments(ctx, docs, chunks); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.PutChunkVectors(ctx, testSpace, cvs); err != nil {
		t.Fatal(err)
	}
	for _, ix := range []*Index{a, b} {
		if err := ix.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if pa, pb := a.vec.floats.currentPath(), b.vec.floats.currentPath(); pa == pb {
		t.Fatalf("both indexes write %s", pa)
	}
	for name, ix := range map[string]*Index{"a": a, "b": b} {
		for _, id := range []string{"doc0003#0", "new07#0"} {
			got, err := ix.RankWith(ctx, sextant.Query{Vector: c.vecs[id], K: 1, Mode: sextant.ModeVector}, Retrieval{})
			if err != nil || len(got) != 1 || got[0].ChunkID != id || math.Abs(got[0].Score-1) > 1e-4 {
				t.Fatalf("index %s, query %s: %+v %v", name, id, got, err)
			}
		}
	}
}
