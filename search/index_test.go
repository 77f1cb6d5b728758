package search

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
)

// memStore is an in-memory Store with a change log.
type memStore struct {
	mu      sync.Mutex
	gen     int64
	order   []string
	docs    map[string]*sextant.Document
	chunks  map[string][]sextant.Chunk
	changes []sextant.Change
}

func newMemStore() *memStore {
	return &memStore{docs: map[string]*sextant.Document{}, chunks: map[string][]sextant.Chunk{}}
}

func (s *memStore) put(d *sextant.Document, cs []sextant.Chunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[d.ID]; !ok {
		s.order = append(s.order, d.ID)
	}
	s.docs[d.ID] = d
	s.chunks[d.ID] = cs
	s.gen++
	s.changes = append(s.changes, sextant.Change{Generation: s.gen, DocumentID: d.ID})
}

func (s *memStore) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.docs, id)
	delete(s.chunks, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	s.gen++
	s.changes = append(s.changes, sextant.Change{Generation: s.gen, DocumentID: id, Deleted: true})
}

func (s *memStore) Generation(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, nil
}

func (s *memStore) Changes(_ context.Context, since int64) ([]sextant.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sextant.Change
	for _, c := range s.changes {
		if c.Generation > since {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) Document(_ context.Context, id string) (*sextant.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[id]
	if !ok {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "document %q not found", id)
	}
	c := *d
	return &c, nil
}

func (s *memStore) DocumentChunks(_ context.Context, id string) ([]sextant.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.chunks[id]), nil
}

func (s *memStore) ChunksByID(_ context.Context, ids []string) ([]sextant.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sextant.Chunk
	for _, id := range ids {
		for _, cs := range s.chunks {
			for _, c := range cs {
				if c.ID == id {
					out = append(out, c)
				}
			}
		}
	}
	return out, nil
}

func (s *memStore) Scan(_ context.Context, fn func(*sextant.Document, []sextant.Chunk) error) error {
	s.mu.Lock()
	ids := slices.Clone(s.order)
	s.mu.Unlock()
	for _, id := range ids {
		s.mu.Lock()
		d, ok := s.docs[id]
		cs := slices.Clone(s.chunks[id])
		s.mu.Unlock()
		if !ok {
			continue
		}
		c := *d
		if err := fn(&c, cs); err != nil {
			return err
		}
	}
	return nil
}

// makeDoc builds a document whose chunks are the given paragraphs.
func makeDoc(id, title string, paras ...string) (*sextant.Document, []sextant.Chunk) {
	text := strings.Join(paras, "\n\n")
	d := &sextant.Document{ID: id, Source: "file:///" + id, Title: title, Hash: "h-" + id, Text: text,
		Collection: sextant.DefaultCollection, MediaType: sextant.MediaText}
	var cs []sextant.Chunk
	off := 0
	for i, p := range paras {
		cs = append(cs, sextant.Chunk{ID: fmt.Sprintf("%s#%d", id, i), DocumentID: id, Ordinal: i, Text: p,
			Start: off, End: off + len(p), Section: []string{title}})
		off += len(p) + 2
	}
	return d, cs
}

func open(t *testing.T, s Store, o Options) *Index {
	t.Helper()
	ix, err := Open(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func chunkIDs(hits []sextant.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Chunk.ID)
	}
	return out
}

func TestSearchHits(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	s.put(makeDoc("install", "Installing Sextant", "Download the binary and run sextant ingest docs/.", "On Linux, copy it to /usr/local/bin."))
	s.put(makeDoc("search", "Searching", "Use sextant search with filters like --filter team=infra.", "Ranking uses BM25F over titles and bodies."))
	ix := open(t, s, Options{})
	hits, err := ix.Search(ctx, sextant.Query{Text: "how do I install on linux?"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].Chunk.ID != "install#1" {
		t.Fatalf("hits = %v, want install#1 first", chunkIDs(hits))
	}
	h := hits[0]
	if h.Document.Title != "Installing Sextant" || h.Document.Source != "file:///install" || h.Document.Text != "" {
		t.Errorf("hydrated document = %+v", h.Document)
	}
	if h.Chunk.Text != "On Linux, copy it to /usr/local/bin." || !slices.Equal(h.Chunk.Section, []string{"Installing Sextant"}) {
		t.Errorf("hydrated chunk = %+v", h.Chunk)
	}
	if h.Snippet != "On «Linux», copy it to /usr/local/bin." {
		t.Errorf("snippet = %q", h.Snippet)
	}
	if h.Score <= 0 || h.Scores["bm25"] != h.Score {
		t.Errorf("scores = %v %v", h.Score, h.Scores)
	}
	// The snippet-free view returns the same hits, snippets left empty.
	bare, err := ix.Unmarked().Search(ctx, sextant.Query{Text: "how do I install on linux?"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range hits {
		hits[i].Snippet = ""
	}
	if diff := cmp.Diff(hits, bare); diff != "" {
		t.Errorf("Unmarked().Search differs from Search without snippets (-Search +Unmarked):\n%s", diff)
	}
	if hits, _ := ix.Search(ctx, sextant.Query{Text: "the and of"}); len(hits) != 0 {
		t.Errorf("stop-word query returned %v", chunkIDs(hits))
	}
	if _, err := ix.Search(ctx, sextant.Query{Text: "x", Mode: sextant.ModeVector}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("vector mode: err = %v, want EINVALID", err)
	}
	if _, err := ix.Search(ctx, sextant.Query{Text: "x", K: -1}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("k=-1: err = %v, want EINVALID", err)
	}
}

func TestApplyUpdatesAndDeletes(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	s.put(makeDoc("a", "Alpha", "apples and oranges"))
	ix := open(t, s, Options{})
	s.put(makeDoc("b", "Beta", "bananas"))
	s.put(makeDoc("a", "Alpha", "pears only now"))
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ix.Generation() != 3 {
		t.Errorf("generation = %d, want 3", ix.Generation())
	}
	q := func(text string) []string {
		hits, err := ix.Search(ctx, sextant.Query{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		return chunkIDs(hits)
	}
	if got := q("apples"); got != nil {
		t.Errorf("replaced text still found: %v", got)
	}
	if got := q("pears"); !slices.Equal(got, []string{"a#0"}) {
		t.Errorf("pears = %v", got)
	}
	if got := q("bananas"); !slices.Equal(got, []string{"b#0"}) {
		t.Errorf("bananas = %v", got)
	}
	s.remove("b")
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := q("bananas"); got != nil {
		t.Errorf("deleted doc found: %v", got)
	}
	// Applying the same changes again is harmless.
	all, _ := s.Changes(ctx, 0)
	if err := ix.Apply(ctx, all); err != nil {
		t.Fatal(err)
	}
	if got := q("pears"); !slices.Equal(got, []string{"a#0"}) {
		t.Errorf("after re-apply, pears = %v", got)
	}
	if st := ix.Stats(); st.Documents != 1 || st.Chunks != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestDefaultCollectionFilter: the built-in assistant's filter (the
// default collection) is not asked per candidate while every document is
// in the default tenant and collection, and is again once one is not —
// with the same results as Filter.Match either way, after changes, a
// rebuild and a snapshot load.
func TestDefaultCollectionFilter(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	for i := range 20 {
		s.put(makeDoc(fmt.Sprintf("d%d", i), "Doc", fmt.Sprintf("river number %d", i)))
	}
	o := Options{Dir: t.TempDir()}
	ix := open(t, s, o)
	f := sextant.Filter{Collections: []string{sextant.DefaultCollection}}
	search := func(ix *Index) []string {
		hits, err := ix.Search(ctx, sextant.Query{Text: "river", K: 100, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		got := chunkIDs(hits)
		sort.Strings(got)
		return got
	}
	check := func(ix *Index, admits bool, n int) {
		t.Helper()
		ix.mu.RLock()
		a := ix.admitsAll(&f)
		ix.mu.RUnlock()
		if a != admits {
			t.Errorf("admitsAll = %v, want %v", a, admits)
		}
		if got := search(ix); len(got) != n {
			t.Errorf("%d hits %v, want %d", len(got), got, n)
		}
	}
	check(ix, true, 20)
	for _, other := range []sextant.Filter{{Tenant: "acme", Collections: f.Collections}, {Collections: f.Collections, Groups: []string{}},
		{Collections: f.Collections, Stale: sextant.StaleExclude}, {Collections: []string{"wiki"}}} {
		ix.mu.RLock()
		a := ix.admitsAll(&other)
		ix.mu.RUnlock()
		if a {
			t.Errorf("admitsAll(%+v) = true", other)
		}
	}
	d, cs := makeDoc("w", "Wiki", "river in the wiki")
	d.Collection = "wiki"
	s.put(d, cs)
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	check(ix, false, 20) // the wiki document is filtered out
	if err := ix.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	check(open(t, s, o), false, 20) // from the snapshot
	if err := ix.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	check(ix, false, 20)
	s.remove("w")
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	check(ix, true, 20)
}

// TestFiltersAgreeWithMatch checks, on random documents and filters, that
// a filtered search returns exactly the matching chunks whose documents
// pass sextant.Filter.Match — the reference semantics.
func TestFiltersAgreeWithMatch(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	s := newMemStore()
	words := []string{"river", "mountain", "forest", "desert", "ocean"}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	docs := map[string]*sextant.Document{}
	for i := range 300 {
		d, cs := makeDoc(fmt.Sprintf("d%03d", i), "Doc "+pick(words), pick(words)+" "+pick(words), pick(words))
		d.Tenant = []string{"", "", "acme"}[rng.IntN(3)]
		d.Collection = []string{"default", "wiki", "tickets"}[rng.IntN(3)]
		d.Metadata = map[string]string{}
		if rng.IntN(4) > 0 {
			d.Metadata["team"] = pick([]string{"infra", "web", "data"})
		}
		if rng.IntN(2) == 0 {
			d.Metadata["lang"] = pick([]string{"en", "fr"})
		}
		if rng.IntN(3) == 0 {
			d.Labels = []string{pick([]string{"hr", "eng", "exec"})}
		}
		d.UpdatedAt = now.AddDate(0, 0, -rng.IntN(400))
		if rng.IntN(3) == 0 {
			d.ExpiresAt = now.AddDate(0, 0, rng.IntN(20)-10)
		}
		docs[d.ID] = d
		s.put(d, cs)
	}
	ix := open(t, s, Options{Now: func() time.Time { return now }})
	filters := []sextant.Filter{
		{},
		{Tenant: "acme"},
		{Collections: []string{"wiki", "tickets"}},
		{Collections: []string{sextant.DefaultCollection}},
		{Equals: map[string]string{"team": "infra"}},
		{In: map[string][]string{"team": {"web", "data"}}, Equals: map[string]string{"lang": "en"}},
		{UpdatedAfter: now.AddDate(0, 0, -100)},
		{UpdatedBefore: now.AddDate(0, 0, -200), Collections: []string{"wiki"}},
		{Stale: sextant.StaleExclude},
		{Stale: sextant.StaleOnly, Tenant: "acme"},
		{Groups: []string{}},
		{Groups: []string{"eng", "exec"}},
		{DocumentIDs: []string{"d001", "d002", "d150"}},
		{Tenant: "acme", In: map[string][]string{"lang": {"fr"}}, Stale: sextant.StaleExclude, Groups: []string{"hr"}},
	}
	for fi, f := range filters {
		for _, w := range words {
			hits, err := ix.Search(ctx, sextant.Query{Text: w, K: 10000, Filter: f})
			if err != nil {
				t.Fatal(err)
			}
			got := chunkIDs(hits)
			var want []string
			for id, d := range docs {
				if !f.Match(d, now) {
					continue
				}
				for _, c := range s.chunks[id] {
					if strings.Contains(c.Text, w) || strings.Contains(d.Title, w) {
						want = append(want, c.ID)
					}
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if !cmp.Equal(want, got) {
				t.Errorf("filter %d %+v, query %q: %s", fi, f, w, cmp.Diff(want, got))
			}
		}
	}
	// Filtering inside the traversal returns K hits when K exist.
	hits, _ := ix.Search(ctx, sextant.Query{Text: "river", K: 3, Filter: sextant.Filter{Tenant: "acme", Collections: []string{"wiki"}}})
	if len(hits) != 3 {
		t.Errorf("filtered top 3 returned %d hits", len(hits))
	}
}

func TestSnapshotLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newMemStore()
	for i := range 50 {
		s.put(makeDoc(fmt.Sprintf("d%d", i), fmt.Sprintf("Title %d", i), fmt.Sprintf("body text number %d about topic%d", i, i%7)))
	}
	d, cs := makeDoc("meta", "Meta", "with metadata topic3")
	d.Tenant, d.Metadata, d.Labels = "acme", map[string]string{"k": "v"}, []string{"eng"}
	d.UpdatedAt, d.ExpiresAt = time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.put(d, cs)
	o := Options{Dir: dir}
	queries := []sextant.Query{{Text: "topic3", K: 100}, {Text: "body number 7"}, {Text: "metadata", Filter: sextant.Filter{Tenant: "acme", Equals: map[string]string{"k": "v"}}}}
	results := func(ix *Index) [][]sextant.Hit {
		var out [][]sextant.Hit
		for _, q := range queries {
			h, err := ix.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, h)
		}
		return out
	}

	ix := open(t, s, o)
	if ix.OpenNotes() != "rebuilt (no snapshot)" {
		t.Errorf("first open: %q", ix.OpenNotes())
	}
	want := results(ix)
	if err := ix.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	ix2 := open(t, s, o)
	if ix2.OpenNotes() != "snapshot loaded" {
		t.Errorf("second open: %q", ix2.OpenNotes())
	}
	if diff := cmp.Diff(want, results(ix2)); diff != "" {
		t.Errorf("results differ after snapshot load (-want +got):\n%s", diff)
	}

	// The store moves on: the snapshot is loaded and caught up.
	s.put(makeDoc("new", "New", "fresh topic3 arrival"))
	s.remove("d3")
	ix3 := open(t, s, o)
	if !strings.HasPrefix(ix3.OpenNotes(), "snapshot loaded and caught up") {
		t.Errorf("third open: %q", ix3.OpenNotes())
	}
	fresh := open(t, s, Options{})
	// Tombstoned chunks count in the statistics until compaction (as in
	// Lucene), so scores may differ slightly; the hits must not.
	hitIDs := func(ix *Index) [][]string {
		var out [][]string
		for _, h := range results(ix) {
			out = append(out, chunkIDs(h))
		}
		return out
	}
	if diff := cmp.Diff(hitIDs(fresh), hitIDs(ix3)); diff != "" {
		t.Errorf("caught-up index differs from a rebuild (-rebuild +caught-up):\n%s", diff)
	}

	path := filepath.Join(dir, SnapshotFile)
	data, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"corrupt":   append(append([]byte(nil), data[:len(data)/2]...), append([]byte{data[len(data)/2] ^ 1}, data[len(data)/2+1:]...)...),
		"truncated": data[:len(data)-9],
		"empty":     {},
		"foreign":   []byte("hello world, not a snapshot"),
	} {
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		ix := open(t, s, o)
		if !strings.HasPrefix(ix.OpenNotes(), "rebuilt (") {
			t.Errorf("%s snapshot: notes %q, want a rebuild", name, ix.OpenNotes())
		}
		if diff := cmp.Diff(results(fresh), results(ix)); diff != "" {
			t.Errorf("%s snapshot: results differ from a rebuild:\n%s", name, diff)
		}
	}

	// Other settings invalidate the snapshot; so does a store that is
	// behind the snapshot (restored from an older backup).
	os.WriteFile(path, data, 0o644)
	if ix := open(t, s, Options{Dir: dir, K1: 1.5}); !strings.Contains(ix.OpenNotes(), "other index settings") {
		t.Errorf("changed settings: notes %q", ix.OpenNotes())
	}
	os.WriteFile(path, data, 0o644)
	if ix := open(t, newMemStore(), o); !strings.Contains(ix.OpenNotes(), "newer than the store") {
		t.Errorf("older store: notes %q", ix.OpenNotes())
	}
}

func TestConcurrentSearchAndApply(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	for i := range 100 {
		s.put(makeDoc(fmt.Sprintf("d%d", i), "T", fmt.Sprintf("common words item%d", i)))
	}
	ix := open(t, s, Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ix.Search(ctx, sextant.Query{Text: "common item5", K: 5, Filter: sextant.Filter{Collections: []string{"default"}}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 200 {
		s.put(makeDoc(fmt.Sprintf("d%d", i%100), "T", fmt.Sprintf("common words item%d v%d", i, i)))
		if i%3 == 0 {
			s.remove(fmt.Sprintf("d%d", (i+50)%100))
		}
		if err := ix.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestRankDocuments(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	// Document a has three strongly matching chunks; RankDocuments must
	// still return three distinct documents.
	s.put(makeDoc("a", "A", "zebra zebra zebra", "zebra zebra", "zebra zebra zebra zebra"))
	s.put(makeDoc("b", "B", "zebra and more words here"))
	s.put(makeDoc("c", "C", "a zebra among many other animals in a long paragraph of text"))
	ix := open(t, s, Options{})
	got, err := ix.RankDocuments(ctx, sextant.Query{Text: "zebra", K: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.DocumentID)
	}
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("documents = %v, want [a b c]", ids)
	}
	chunks, _ := ix.Rank(ctx, sextant.Query{Text: "zebra", K: 1})
	if got[0].Score != chunks[0].Score {
		t.Errorf("document score %v is not its best chunk's %v", got[0].Score, chunks[0].Score)
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	s := newMemStore()
	d, cs := makeDoc("x", "X", "some text", "more text")
	d.Metadata = map[string]string{"a": "b"}
	d.Labels = []string{"l"}
	d.UpdatedAt = time.Unix(1700000000, 0)
	s.put(d, cs)
	ix, err := Open(context.Background(), s, Options{})
	if err != nil {
		f.Fatal(err)
	}
	data, _ := ix.encode()
	fp := ix.opts.fingerprint()
	f.Add(data)
	f.Add(data[:len(data)-4])
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeSnapshot(b, fp)
		// Also with a valid checksum, to reach the structural checks.
		framed := append(slices.Clip(b), 0, 0, 0, 0)
		c := crcOf(framed[:len(framed)-4])
		copy(framed[len(framed)-4:], []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)})
		if snap, err := decodeSnapshot(framed, fp); err == nil {
			for n := range snap.chunkDoc {
				if snap.chunkDoc[n] != nil && snap.lex.Deleted(uint32(n)) {
					t.Fatalf("chunk %d listed but deleted", n)
				}
			}
			_ = maps.Keys(snap.docs)
		}
	})
}

func TestRefreshManyChangesRebuilds(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	ix := open(t, s, Options{})
	for i := range 5200 {
		s.put(makeDoc(fmt.Sprintf("d%d", i), "T", fmt.Sprintf("word%d shared", i)))
	}
	s.remove("d7")
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := ix.Stats(); st.Chunks != 5199 || st.Documents != 5199 || st.Generation != 5201 {
		t.Errorf("stats after a large refresh = %+v", st)
	}
	hits, err := ix.Search(ctx, sextant.Query{Text: "word4321"})
	if err != nil || len(hits) != 1 || hits[0].Chunk.ID != "d4321#0" {
		t.Errorf("hits = %v, %v", chunkIDs(hits), err)
	}
}

// idStore is a memStore with an identity, as sqlite.DB has.
type idStore struct {
	*memStore
	id string
}

func (s idStore) StoreID() string { return s.id }

// A snapshot left beside a store that replaced the one it was built from
// is rebuilt, even when the new store's generation has caught up with the
// snapshot's (a generation check alone would catch up from the old
// store's contents).
func TestSnapshotOfAnotherStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := idStore{newMemStore(), "a"}
	for i := range 5 {
		old.put(makeDoc(fmt.Sprintf("old%d", i), "Old", "retired zebra handbook"))
	}
	ix := open(t, old, Options{Dir: dir})
	if err := ix.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	repl := idStore{newMemStore(), "b"}
	for i := range 7 {
		repl.put(makeDoc(fmt.Sprintf("new%d", i), "New", "current zebra handbook"))
	}
	ix = open(t, repl, Options{Dir: dir})
	if !strings.Contains(ix.OpenNotes(), "another store") {
		t.Errorf("replaced store: notes %q, want a rebuild", ix.OpenNotes())
	}
	hits, err := ix.Search(ctx, sextant.Query{Text: "zebra", K: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if strings.HasPrefix(h.Chunk.DocumentID, "old") {
			t.Errorf("hit %s from the replaced store", h.Chunk.DocumentID)
		}
	}
	if len(hits) != 7 {
		t.Errorf("%d hits, want the new store's 7", len(hits))
	}
	// The same store reopens from its snapshot.
	if err := ix.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	if ix := open(t, repl, Options{Dir: dir}); ix.OpenNotes() != "snapshot loaded" {
		t.Errorf("same store: notes %q", ix.OpenNotes())
	}
}
