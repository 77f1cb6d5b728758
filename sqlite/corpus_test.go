package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// makeDoc returns a document with n chunks of its text, one per paragraph.
func makeDoc(id string, paras ...string) (*sextant.Document, []sextant.Chunk) {
	text := strings.Join(paras, "\n\n")
	d := &sextant.Document{
		ID: id, Collection: "c1", Source: "file:///x/" + id + ".txt", Title: "Title " + id,
		MediaType: sextant.MediaText, Hash: fmt.Sprintf("hash-%s-%d", id, len(text)), Size: int64(len(text)),
		Text: text, Metadata: map[string]string{"lang": "en", "id": id}, Labels: []string{"staff"},
		IngestedAt: t0, UpdatedAt: t0.Add(time.Hour),
	}
	var cs []sextant.Chunk
	off := 0
	for i, p := range paras {
		cs = append(cs, sextant.Chunk{
			ID: fmt.Sprintf("%s#%d", id, i), DocumentID: id, Ordinal: i, Text: p,
			Section: []string{"Top", fmt.Sprintf("S%d", i)}, Start: off, End: off + len(p), Tokens: len(strings.Fields(p)),
		})
		off += len(p) + 2
	}
	return d, cs
}

func TestPutGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	d, cs := makeDoc("a", "first paragraph", "second one", "third")
	d.ExpiresAt = t0.Add(48 * time.Hour)
	cs[1].Section = nil
	if err := db.PutDocument(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	got, err := db.Document(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("Document (-want +got):\n%s", diff)
	}
	gotChunks, err := db.DocumentChunks(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cs, gotChunks); diff != "" {
		t.Errorf("DocumentChunks (-want +got):\n%s", diff)
	}
	looked, err := db.LookupDocuments(ctx, []string{"a", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	want := *d
	want.Text = ""
	if diff := cmp.Diff(map[string]*sextant.Document{"a": &want}, looked); diff != "" {
		t.Errorf("LookupDocuments (-want +got):\n%s", diff)
	}
}

func TestPutReplacesAllChunks(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	d, cs := makeDoc("a", "one", "two", "three", "four")
	if err := db.PutDocument(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	d2, cs2 := makeDoc("a", "only one now")
	if err := db.PutDocument(ctx, d2, cs2); err != nil {
		t.Fatal(err)
	}
	got, err := db.DocumentChunks(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cs2, got); diff != "" {
		t.Errorf("chunks after replace (-want +got):\n%s", diff)
	}
	old, err := db.ChunksByID(ctx, []string{"a#1", "a#3"})
	if err != nil || len(old) != 0 {
		t.Errorf("old chunks still reachable: %v %v", old, err)
	}
	s, err := db.Stats(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Documents != 1 || s.Chunks != 1 || s.Generation != 2 {
		t.Errorf("stats = %+v, want 1 document, 1 chunk, generation 2", s)
	}
	if n := countRows(t, db, "chunks"); n != 1 {
		t.Errorf("%d chunk rows after replace, want 1", n)
	}
	if err := db.DeleteDocument(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, "chunks"); n != 0 {
		t.Errorf("%d chunk rows after delete, want 0", n)
	}
}

func countRows(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.read.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeleteAndChanges(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for _, id := range []string{"a", "b", "c"} {
		d, cs := makeDoc(id, "text of "+id)
		if err := db.PutDocument(ctx, d, cs); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteDocument(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	err := db.DeleteDocument(ctx, "b")
	if sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("second delete: %v, want ENOTFOUND", err)
	}
	if _, err := db.Document(ctx, "b"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("Document after delete: %v, want ENOTFOUND", err)
	}
	d, cs := makeDoc("a", "new text of a")
	if err := db.PutDocument(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	gen, err := db.Generation(ctx)
	if err != nil || gen != 5 {
		t.Fatalf("Generation = %d, %v; want 5", gen, err)
	}
	changes, err := db.Changes(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []sextant.Change{{Generation: 2, DocumentID: "b", Deleted: false}, {Generation: 3, DocumentID: "c", Deleted: false}, {Generation: 4, DocumentID: "b", Deleted: true}, {Generation: 5, DocumentID: "a", Deleted: false}}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("Changes(1) (-want +got):\n%s", diff)
	}
	n, err := db.CompactChanges(ctx)
	if err != nil || n != 2 {
		t.Errorf("CompactChanges = %d, %v; want 2 dropped", n, err)
	}
	changes, _ = db.Changes(ctx, 0)
	want = []sextant.Change{{Generation: 3, DocumentID: "c", Deleted: false}, {Generation: 4, DocumentID: "b", Deleted: true}, {Generation: 5, DocumentID: "a", Deleted: false}}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("Changes after compaction (-want +got):\n%s", diff)
	}
	if g, _ := db.Generation(ctx); g != 5 {
		t.Errorf("compaction changed the generation to %d", g)
	}
	if n, err := db.DeleteDocuments(ctx, []string{"a", "zz", "c"}); n != 2 || err != nil {
		t.Errorf("DeleteDocuments = %d, %v; want 2", n, err)
	}
}

func TestChunksByIDOrder(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	d, cs := makeDoc("a", "p0", "p1", "p2")
	e, es := makeDoc("b", "q0")
	if err := db.PutDocuments(ctx, []*sextant.Document{d, e}, [][]sextant.Chunk{cs, es}); err != nil {
		t.Fatal(err)
	}
	got, err := db.ChunksByID(ctx, []string{"a#2", "nope", "b#0", "a#0", "a#2"})
	if err != nil {
		t.Fatal(err)
	}
	want := []sextant.Chunk{cs[2], es[0], cs[0], cs[2]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ChunksByID (-want +got):\n%s", diff)
	}
	// More ids than one IN list holds.
	many := make([]string, 0, 1200)
	for i := range 1200 {
		many = append(many, fmt.Sprintf("x%d", i))
	}
	many = append(many, "b#0")
	got, err = db.ChunksByID(ctx, many)
	if err != nil || len(got) != 1 || got[0].ID != "b#0" {
		t.Errorf("ChunksByID(1201 ids) = %v, %v", got, err)
	}
}

func TestScan(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	want := map[string][]sextant.Chunk{}
	for i := range 50 {
		id := fmt.Sprintf("d%02d", i)
		paras := []string{}
		for j := range i % 4 { // some documents have no chunks
			paras = append(paras, fmt.Sprintf("para %d of %s", j, id))
		}
		d, cs := makeDoc(id, paras...)
		if len(paras) == 0 {
			d.Text = ""
		}
		if err := db.PutDocument(ctx, d, cs); err != nil {
			t.Fatal(err)
		}
		want[id] = cs
	}
	// Replace and delete some, so rowids interleave.
	for i := 0; i < 50; i += 7 {
		id := fmt.Sprintf("d%02d", i)
		d, cs := makeDoc(id, "replaced", "twice")
		if err := db.PutDocument(ctx, d, cs); err != nil {
			t.Fatal(err)
		}
		want[id] = cs
	}
	for i := 3; i < 50; i += 11 {
		id := fmt.Sprintf("d%02d", i)
		if err := db.DeleteDocument(ctx, id); err != nil {
			t.Fatal(err)
		}
		delete(want, id)
	}
	got := map[string][]sextant.Chunk{}
	err := db.Scan(ctx, func(d *sextant.Document, cs []sextant.Chunk) error {
		if d.Text != "" || d.Hash == "" || d.Metadata["id"] != d.ID {
			t.Errorf("scanned document %+v", d)
		}
		if _, dup := got[d.ID]; dup {
			t.Errorf("document %s scanned twice", d.ID)
		}
		got[d.ID] = cs
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scan (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	n := 0
	err = db.Scan(ctx, func(*sextant.Document, []sextant.Chunk) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Scan returned %v after %d calls, want the callback's error after 1", err, n)
	}
}

func TestPutValidation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		modify func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk
	}{
		{"no id", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk { d.ID = ""; return cs }},
		{"no hash", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk { d.Hash = ""; return cs }},
		{"bad utf8", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk { d.Text = "\xff"; return nil }},
		{"offsets past text", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk {
			cs[1].Start, cs[1].End = 100, 100+len(cs[1].Text)
			return cs
		}},
		{"text differs", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk { cs[0].Text = "xxx"; return cs }},
		{"ordinal gap", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk { return cs[1:] }},
		{"wrong doc", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk { cs[0].DocumentID = "zz"; return cs }},
		{"dup chunk id", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk { cs[1].ID = cs[0].ID; return cs }},
		{"section sep", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk {
			cs[0].Section = []string{"a\x1fb"}
			return cs
		}},
		{"empty section", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk {
			cs[0].Section = []string{""}
			return cs
		}},
		{"bad metadata key", func(d *sextant.Document, cs []sextant.Chunk) []sextant.Chunk {
			d.Metadata["a=b"] = "x"
			return cs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			good, goodChunks := makeDoc("good", "kept")
			if err := db.PutDocument(ctx, good, goodChunks); err != nil {
				t.Fatal(err)
			}
			d, cs := makeDoc("a", "alpha", "beta")
			cs = tt.modify(d, cs)
			other, otherChunks := makeDoc("b", "b text")
			err := db.PutDocuments(ctx, []*sextant.Document{other, d}, [][]sextant.Chunk{otherChunks, cs})
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("PutDocuments = %v, want EINVALID", err)
			}
			// Nothing of the batch was stored, nothing before was lost.
			if g, _ := db.Generation(ctx); g != 1 {
				t.Errorf("generation %d after a rejected batch, want 1", g)
			}
			if _, err := db.Document(ctx, "b"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
				t.Errorf("batch partly stored: %v", err)
			}
			if _, err := db.Document(ctx, "good"); err != nil {
				t.Errorf("earlier document lost: %v", err)
			}
		})
	}
}

func TestListDocuments(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for i, src := range []string{"file:///r/a.txt", "file:///r/sub/b.txt", "file:///q/c.txt", "file:///r/d.jsonl#1"} {
		d, cs := makeDoc(fmt.Sprintf("d%d", i), "x")
		d.Source = src
		if i == 1 {
			d.ExpiresAt = t0
		}
		if i == 2 {
			d.Collection = "other"
			d.UpdatedAt = t0.Add(3 * time.Hour) // the latest change
		}
		if err := db.PutDocument(ctx, d, cs); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(f DocumentFilter) []string {
		t.Helper()
		infos, err := db.ListDocuments(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range infos {
			if in.Chunks != 1 {
				t.Errorf("%s: %d chunks, want 1", in.Document.ID, in.Chunks)
			}
			out = append(out, in.Document.ID)
		}
		return out
	}
	now := t0.Add(time.Minute)
	for _, tt := range []struct {
		f    DocumentFilter
		want []string
	}{
		{DocumentFilter{}, []string{"d0", "d1", "d2", "d3"}},
		{DocumentFilter{Collection: "c1"}, []string{"d0", "d1", "d3"}},
		{DocumentFilter{SourcePrefix: "file:///r/"}, []string{"d0", "d1", "d3"}},
		{DocumentFilter{SourcePrefix: "file:///r/sub/"}, []string{"d1"}},
		{DocumentFilter{Stale: sextant.StaleOnly, Now: now}, []string{"d1"}},
		{DocumentFilter{Stale: sextant.StaleExclude, Now: now}, []string{"d0", "d2", "d3"}},
		{DocumentFilter{Stale: sextant.StaleOnly, Now: t0.Add(-time.Second)}, nil},
		{DocumentFilter{After: "d1", Limit: 2}, []string{"d2", "d3"}},
		{DocumentFilter{Tenant: "t2"}, nil},
	} {
		if diff := cmp.Diff(tt.want, ids(tt.f)); diff != "" {
			t.Errorf("ListDocuments(%+v) (-want +got):\n%s", tt.f, diff)
		}
	}
	src, err := db.DocumentSources(ctx, "", "c1", "file:///r/")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"d0": "file:///r/a.txt", "d1": "file:///r/sub/b.txt", "d3": "file:///r/d.jsonl#1"}
	if diff := cmp.Diff(want, src); diff != "" {
		t.Errorf("DocumentSources (-want +got):\n%s", diff)
	}
	s, err := db.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	migs, _ := loadMigrations(migrationFiles)
	if s.Stale != 1 || s.Collections["c1"] != 3 || s.Collections["other"] != 1 || s.FileBytes == 0 || s.Schema != len(migs) || s.StoreID == "" ||
		!s.LastUpdate.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("Stats = %+v", s)
	}
	if empty, err := openTest(t).Stats(ctx, now); err != nil || !empty.LastUpdate.IsZero() {
		t.Errorf("empty store: Stats = %+v, %v", empty, err)
	}
}

func TestReopenKeepsDataAndIdentity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, cs := makeDoc("a", "persisted")
	if err := db.PutDocument(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	id := db.ID()
	db.Close()
	db, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.ID() != id || len(id) != 32 {
		t.Errorf("store id %q after reopen, want %q", db.ID(), id)
	}
	if got, err := db.Document(ctx, "a"); err != nil || got.Text != "persisted" {
		t.Errorf("Document after reopen = %v, %v", got, err)
	}
	other := openTest(t)
	if other.ID() == id {
		t.Error("two databases share an identity")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (99, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, dir, Options{})
	if sextant.ErrorCode(err) != sextant.ECONFLICT || !strings.Contains(err.Error(), "newer sextant") {
		t.Errorf("Open of a newer database = %v, want ECONFLICT naming a newer sextant", err)
	}
}

func TestLoadMigrations(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("CREATE TABLE t (x);")}
	for _, tt := range []struct {
		files []string
		ok    bool
	}{
		{[]string{"0001_a.sql", "0002_b.sql"}, true},
		{[]string{"0001_a.sql", "0003_b.sql"}, false},
		{[]string{"0002_a.sql"}, false},
		{[]string{"0001_a.sql", "0001_b.sql"}, false},
		{[]string{"a.sql"}, false},
		{[]string{"0001.sql"}, false},
	} {
		fsys := fstest.MapFS{}
		for _, f := range tt.files {
			fsys["migrations/"+f] = sql
		}
		_, err := loadMigrations(fsys)
		if (err == nil) != tt.ok {
			t.Errorf("loadMigrations(%v) = %v, want ok=%v", tt.files, err, tt.ok)
		}
	}
	if _, err := loadMigrations(migrationFiles); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}

// TestConcurrentHandles opens the same directory twice, as a server and a
// CLI ingest would, and writes and reads from both at once.
func TestConcurrentHandles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var dbs [2]*DB
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range dbs {
		wg.Add(1)
		go func() { // concurrent first open races on migrations
			defer wg.Done()
			db, err := Open(ctx, dir, Options{})
			if err != nil {
				errs <- err
				return
			}
			dbs[i] = db
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	defer dbs[0].Close()
	defer dbs[1].Close()
	if dbs[0].ID() != dbs[1].ID() {
		t.Fatal("two handles see different stores")
	}
	const perWriter = 40
	for w, db := range dbs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				d, cs := makeDoc(fmt.Sprintf("w%d-%d", w, i), "alpha beta", "gamma")
				if err := db.PutDocument(ctx, d, cs); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range perWriter {
				if err := db.Scan(ctx, func(d *sextant.Document, cs []sextant.Chunk) error {
					if len(cs) != 2 {
						return fmt.Errorf("document %s seen with %d chunks", d.ID, len(cs))
					}
					return nil
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if g, _ := dbs[1].Generation(ctx); g != 2*perWriter {
		t.Errorf("generation %d, want %d", g, 2*perWriter)
	}
}

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for _, p := range []struct {
		pool string
		q    string
		want string
	}{
		{"write", "PRAGMA journal_mode", "wal"},
		{"write", "PRAGMA synchronous", "1"},
		{"write", "PRAGMA foreign_keys", "1"},
		{"read", "PRAGMA foreign_keys", "1"},
		{"read", "PRAGMA query_only", "1"},
		{"read", "PRAGMA busy_timeout", "30000"},
	} {
		pool := db.write
		if p.pool == "read" {
			pool = db.read
		}
		var got string
		if err := pool.QueryRowContext(ctx, p.q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("%s pool %s = %s, want %s", p.pool, p.q, got, p.want)
		}
	}
}

// A chunk that is its document's whole text is stored once and read back
// whole through every read path.
func TestWholeTextChunkStoredOnce(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	d, cs := makeDoc("w", "the only paragraph")
	if err := db.PutDocument(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := db.read.QueryRow(`SELECT text FROM chunks`).Scan(&stored); err != nil || stored != "" {
		t.Errorf("stored chunk text %q, %v; want it left to the document", stored, err)
	}
	got, _ := db.DocumentChunks(ctx, "w")
	byID, _ := db.ChunksByID(ctx, []string{"w#0"})
	var scanned []sextant.Chunk
	db.Scan(ctx, func(_ *sextant.Document, c []sextant.Chunk) error { scanned = c; return nil })
	for name, c := range map[string][]sextant.Chunk{"DocumentChunks": got, "ChunksByID": byID, "Scan": scanned} {
		if diff := cmp.Diff(cs, c); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	d, cs := makeDoc("a", strings.Repeat("x", 100000))
	if err := db.PutDocument(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := statSize(db.Path() + "-wal"); err != nil || n != 0 {
		t.Errorf("WAL is %d bytes after a checkpoint (%v)", n, err)
	}
	if got, err := db.Document(ctx, "a"); err != nil || len(got.Text) != 100000 {
		t.Errorf("document after checkpoint: %v", err)
	}
}
