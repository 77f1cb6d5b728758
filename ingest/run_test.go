package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)} }

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// copyFixtures copies testdata files into a new directory.
func copyFixtures(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, filepath.Base(n)), b)
	}
	return dir
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

var recordFields = ingest.RecordFields{
	Title:   []string{"title", "name"},
	Text:    []string{"text", "body"},
	CSVText: []string{"question", "answer"},
}

func run(t *testing.T, db *sqlite.DB, opts ingest.Options, paths ...string) ingest.Summary {
	t.Helper()
	sum, err := ingest.Run(context.Background(), paths, opts, db)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// checkStore asserts every stored document is whole: chunks numbered 0..n-1,
// each the document text at its offsets, the count matching the listing.
func checkStore(t *testing.T, db *sqlite.DB) map[string]*sextant.Document {
	t.Helper()
	ctx := context.Background()
	docs := map[string]*sextant.Document{}
	infos, err := db.ListDocuments(ctx, sqlite.DocumentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		d, err := db.Document(ctx, in.Document.ID)
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := db.DocumentChunks(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(chunks) != in.Chunks || len(chunks) == 0 {
			t.Errorf("%s: %d chunks, listing says %d", d.ID, len(chunks), in.Chunks)
		}
		for i, c := range chunks {
			if c.Ordinal != i || d.Text[c.Start:c.End] != c.Text || c.ID != ingest.ChunkID(d.ID, i) {
				t.Errorf("%s: chunk %d inconsistent: %+v", d.ID, i, c)
			}
		}
		docs[d.ID] = d
	}
	return docs
}

func TestRunFormats(t *testing.T) {
	db := openStore(t)
	dir := copyFixtures(t, "guide.md", "notes.txt", "page.html", "report.pdf", "corpus.jsonl", "records.json", "single.json", "faq.csv")
	writeFile(t, filepath.Join(dir, "more", "beir.jsonl.gz"), gzipped([]byte(`{"_id":"g1","title":"Gzip","text":"Compressed corpora are read transparently."}`+"\n")))
	writeFile(t, filepath.Join(dir, "README"), []byte("A file without an extension is sniffed as text.\n"))
	writeFile(t, filepath.Join(dir, ".hidden", "secret.txt"), []byte("hidden directories are skipped"))
	writeFile(t, filepath.Join(dir, ".dotfile.txt"), []byte("hidden files are skipped"))
	clk := newClock()
	sum := run(t, db, ingest.Options{Collection: "kb", Fields: recordFields, Now: clk.Now, Metadata: map[string]string{"team": "docs"}, Labels: []string{"staff", " eng", "staff"}}, dir)

	// 5 single-document files, 3+2+1+2+1 records.
	if len(listIDs(t, db)) != 14 || sum.Added != 5+9 || sum.Failed != 0 || sum.Skipped != 0 || sum.Updated != 0 || sum.Files != 10 {
		t.Errorf("summary %+v", sum)
	}
	docs := checkStore(t, db)
	abs, _ := filepath.Abs(dir)
	byID := func(id string) *sextant.Document {
		t.Helper()
		d := docs[id]
		if d == nil {
			var ids []string
			for id := range docs {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			t.Fatalf("no document %q among %q", id, ids)
		}
		return d
	}
	guide := byID(ingest.FileID("kb", filepath.Join(abs, "guide.md")))
	src, _ := os.ReadFile(filepath.Join(dir, "guide.md"))
	if guide.Text != string(src) || guide.Title != "Sextant Field Guide" || guide.MediaType != sextant.MediaMarkdown ||
		guide.Source != "file://"+filepath.ToSlash(filepath.Join(abs, "guide.md")) || guide.Size != int64(len(src)) {
		t.Errorf("guide.md document: %+v", guide)
	}
	if diff := cmp.Diff([]string{"eng", "staff"}, guide.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if guide.Metadata["team"] != "docs" || !guide.IngestedAt.Equal(clk.Now()) || !guide.ExpiresAt.IsZero() || guide.Collection != "kb" {
		t.Errorf("guide.md: %+v", guide)
	}
	if d := byID(ingest.FileID("kb", filepath.Join(abs, "report.pdf"))); d.Title != "Quarterly Report" || !strings.Contains(d.Text, "Revenue grew") {
		t.Errorf("report.pdf: %+v", d)
	}
	if d := byID(ingest.FileID("kb", filepath.Join(abs, "page.html"))); d.MediaType != sextant.MediaHTML || strings.Contains(d.Text, "tracking") {
		t.Errorf("page.html: %+v", d)
	}
	if d := byID(ingest.FileID("kb", filepath.Join(abs, "README"))); d.MediaType != sextant.MediaText || d.Title != "README" {
		t.Errorf("README: %+v", d)
	}
	rec := byID("kb:5836")
	wantMeta := map[string]string{"year": "2010", "venue": "Blood", "open": "true", "team": "docs"}
	if diff := cmp.Diff(wantMeta, rec.Metadata); diff != "" {
		t.Errorf("record metadata (-want +got):\n%s", diff)
	}
	if rec.Source != "file://"+filepath.ToSlash(filepath.Join(abs, "corpus.jsonl"))+"#5836" || rec.MediaType != sextant.MediaJSONL {
		t.Errorf("record source %q media %q", rec.Source, rec.MediaType)
	}
	if d := byID("kb:7912"); d.Title != "7912" {
		t.Errorf("untitled record title %q, want its id", d.Title)
	}
	if d := byID("kb:g1"); d.Title != "Gzip" {
		t.Errorf("gzip record: %+v", d)
	}
	if d := byID("kb:q2"); d.Metadata["team"] != "docs" || !strings.HasPrefix(d.Text, "Where are invoices?") {
		t.Errorf("csv record: %+v (flags win over record fields)", d)
	}
	single := byID(ingest.FileID("kb", filepath.Join(abs, "single.json")) + "@1")
	if single.Title != "Release notes 2.1" || !strings.HasSuffix(single.Source, "single.json#@1") {
		t.Errorf("single.json: %+v", single)
	}
	for _, d := range docs {
		if strings.Contains(d.Text, "hidden") {
			t.Errorf("hidden file ingested: %s", d.Source)
		}
	}
	// Chunk 0 is the front matter, unstructured; then the sections.
	chunks, _ := db.DocumentChunks(context.Background(), guide.ID)
	if len(chunks) < 2 || len(chunks[1].Section) == 0 || chunks[1].Section[0] != "Field Guide" {
		t.Errorf("guide chunks lack sections: %+v", chunks)
	}
}

func listIDs(t *testing.T, db *sqlite.DB) []string {
	infos, err := db.ListDocuments(context.Background(), sqlite.DocumentFilter{Collection: "kb"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range infos {
		ids = append(ids, in.Document.ID)
	}
	return ids
}

func TestRunIdempotentAndUpdate(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	dir := copyFixtures(t, "guide.md", "notes.txt", "corpus.jsonl", "faq.csv")
	clk := newClock()
	opts := ingest.Options{Now: clk.Now, Fields: recordFields}
	first := run(t, db, opts, dir)
	if first.Added != 2+3+2 {
		t.Fatalf("first run %+v", first)
	}
	gen, _ := db.Generation(ctx)

	clk.Add(time.Hour)
	second := run(t, db, opts, dir)
	if second.Unchanged != first.Added || second.Added+second.Updated+second.Deleted != 0 || second.Chunks != 0 {
		t.Errorf("second run %+v, want everything unchanged", second)
	}
	if g, _ := db.Generation(ctx); g != gen {
		t.Errorf("generation moved from %d to %d on an unchanged re-ingest", gen, g)
	}

	// Change one file and one record.
	notes := filepath.Join(dir, "notes.txt")
	abs, _ := filepath.Abs(notes)
	id := ingest.FileID(sextant.DefaultCollection, abs)
	before, _ := db.DocumentChunks(ctx, id)
	long := strings.Repeat("A new paragraph about the pipeline. It has two sentences.\n\n", 60)
	writeFile(t, notes, []byte(long))
	corpus, _ := os.ReadFile(filepath.Join(dir, "corpus.jsonl"))
	writeFile(t, filepath.Join(dir, "corpus.jsonl"), bytes.Replace(corpus, []byte("group of disorders"), []byte("group of blood disorders"), 1))
	clk.Add(time.Hour)
	third := run(t, db, opts, dir)
	if third.Updated != 2 || third.Unchanged != first.Added-2 || third.Added != 0 {
		t.Errorf("third run %+v, want 2 updated", third)
	}
	after, _ := db.DocumentChunks(ctx, id)
	if len(after) <= len(before) || !strings.HasPrefix(after[0].Text, "A new paragraph") {
		t.Errorf("chunks not replaced: %d before, %d after", len(before), len(after))
	}
	d, _ := db.Document(ctx, id)
	if !d.IngestedAt.Equal(newClock().Now()) || !d.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("times: ingested %v updated %v", d.IngestedAt, d.UpdatedAt)
	}
	rec, _ := db.Document(ctx, "default:5836")
	if !strings.Contains(rec.Text, "blood disorders") {
		t.Errorf("record not updated: %q", rec.Text)
	}
	checkStore(t, db)

	// Settings count as content: new metadata or labels update, --force
	// rewrites everything.
	opts.Metadata = map[string]string{"v": "2"}
	if s := run(t, db, opts, dir); s.Updated != first.Added {
		t.Errorf("metadata change: %+v", s)
	}
	opts.Force = true
	if s := run(t, db, opts, dir); s.Updated != first.Added {
		t.Errorf("force: %+v", s)
	}
}

func TestRunTTL(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	dir := copyFixtures(t, "notes.txt")
	clk := newClock()
	opts := ingest.Options{Now: clk.Now, TTL: 24 * time.Hour}
	run(t, db, opts, dir)
	infos, _ := db.ListDocuments(ctx, sqlite.DocumentFilter{})
	d := infos[0].Document
	if !d.ExpiresAt.Equal(clk.Now().Add(24*time.Hour)) || d.Stale(clk.Now()) || !d.Stale(clk.Now().Add(25*time.Hour)) {
		t.Errorf("expires %v", d.ExpiresAt)
	}
	clk.Add(48 * time.Hour)
	if s := run(t, db, opts, dir); s.Unchanged != 1 {
		t.Errorf("same TTL re-ingest: %+v", s)
	}
	stale, _ := db.ListDocuments(ctx, sqlite.DocumentFilter{Stale: sextant.StaleOnly, Now: clk.Now()})
	if len(stale) != 1 {
		t.Errorf("%d stale documents, want 1", len(stale))
	}
	opts.TTL = 72 * time.Hour
	if s := run(t, db, opts, dir); s.Updated != 1 {
		t.Errorf("new TTL: %+v", s)
	}
	stale, _ = db.ListDocuments(ctx, sqlite.DocumentFilter{Stale: sextant.StaleOnly, Now: clk.Now()})
	if len(stale) != 0 {
		t.Errorf("%d stale after refresh", len(stale))
	}
	opts.TTL = 0
	if s := run(t, db, opts, dir); s.Updated != 1 {
		t.Errorf("TTL removed: %+v", s)
	}
}

func TestRunPrune(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	dir := copyFixtures(t, "guide.md", "notes.txt", "corpus.jsonl")
	writeFile(t, filepath.Join(dir, "sub", "a.txt"), []byte("Sub file."))
	writeFile(t, filepath.Join(dir, "sub", "b.md"), []byte("# B\n\nAnother."))
	other := copyFixtures(t, "faq.csv")
	opts := ingest.Options{Fields: recordFields}
	run(t, db, opts, dir, other)
	run(t, db, ingest.Options{Collection: "elsewhere"}, dir) // another collection, same files

	os.Remove(filepath.Join(dir, "notes.txt"))
	corpus, _ := os.ReadFile(filepath.Join(dir, "corpus.jsonl"))
	lines := strings.SplitAfter(string(corpus), "\n")
	writeFile(t, filepath.Join(dir, "corpus.jsonl"), []byte(lines[0]+lines[1])) // drops record 7912
	os.RemoveAll(filepath.Join(dir, "sub"))

	// Without --prune nothing goes.
	if s := run(t, db, opts, dir); s.Deleted != 0 {
		t.Errorf("deleted without prune: %+v", s)
	}
	opts.Prune = true
	s := run(t, db, opts, dir)
	if s.Deleted != 4 {
		t.Errorf("pruned %d, want 4 (notes.txt, record 7912, sub/a.txt, sub/b.md): %+v", s.Deleted, s)
	}
	docs := checkStore(t, db)
	if _, ok := docs["default:7912"]; ok {
		t.Error("record 7912 survived")
	}
	if _, ok := docs["default:q1"]; !ok {
		t.Error("a document outside the pruned root was deleted")
	}
	elsewhere, _ := db.ListDocuments(ctx, sqlite.DocumentFilter{Collection: "elsewhere"})
	if len(elsewhere) != 2+3+2 {
		t.Errorf("another collection lost documents: %d left", len(elsewhere))
	}

	// A file that fails to parse keeps its records; a vanished root prunes.
	writeFile(t, filepath.Join(dir, "corpus.jsonl"), []byte("{\"_id\": \"4983\", \"text\": \"still here\"}\n{broken\n"))
	if s := run(t, db, opts, dir); s.Deleted != 0 || s.Failed != 1 {
		t.Errorf("partial file pruned: %+v", s)
	}
	os.RemoveAll(dir)
	if s := run(t, db, opts, dir); s.Deleted != 3 || s.Failed != 0 {
		t.Errorf("vanished root: %+v", s)
	}
	if s := run(t, db, opts, dir); s.Failed != 1 {
		t.Errorf("missing root with nothing stored should fail: %+v", s)
	}
}

func TestRunBadInputs(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	dir := copyFixtures(t, "bad/latin1.txt", "bad/utf16.txt", "bad/binary.txt", "bad/notlatin.txt", "bad/malformed.json",
		"bad/malformed.jsonl", "bad/malformed.csv", "bad/broken.pdf", "bad/image.png", "bad/empty.txt", "bad/nocsvtext.csv", "notes.txt")
	writeFile(t, filepath.Join(dir, "big.txt"), bytes.Repeat([]byte("big "), 1000))
	writeFile(t, filepath.Join(dir, "corrupt.txt.gz"), gzipped([]byte("hello"))[:15])
	writeFile(t, filepath.Join(dir, "dup.jsonl"), []byte(`{"_id":"d1","text":"one"}`+"\n"+`{"_id":"d1","text":"again"}`+"\n"))
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	s := run(t, db, ingest.Options{MaxBytes: 2000}, dir)
	type got struct{ Kind, Reason string }
	byFile := map[string][]got{}
	for _, p := range s.Problems {
		rel, _ := filepath.Rel(dir, p.Path)
		byFile[rel] = append(byFile[rel], got{p.Kind, p.Record + " " + p.Reason})
	}
	want := map[string][]string{
		"latin1.txt":         {"note Windows-1252"},
		"utf16.txt":          {"note UTF-16LE"},
		"binary.txt":         {"failed binary"},
		"notlatin.txt":       {"failed not valid UTF-8"},
		"malformed.json":     {"failed malformed JSON"},
		"malformed.jsonl":    {"failed line 2", "failed line 4"},
		"malformed.csv":      {"failed row 2", "failed row 3"},
		"broken.pdf":         {"failed malformed PDF"},
		"image.png":          {"skipped unsupported file type .png"},
		"empty.txt":          {"skipped no text"},
		"nocsvtext.csv":      {"failed no text column"},
		"big.txt":            {"skipped larger than the 2000-byte limit"},
		"corrupt.txt.gz":     {"failed unreadable"},
		"dup.jsonl":          {"failed duplicate record id"},
		"dangling.txt":       {"skipped broken symbolic link"},
		"malformed.jsonl#ok": nil,
	}
	for file, reasons := range want {
		if reasons == nil {
			continue
		}
		g := byFile[file]
		if len(g) != len(reasons) {
			t.Errorf("%s: problems %+v, want %q", file, g, reasons)
			continue
		}
		for i, r := range reasons {
			kind, text, _ := strings.Cut(r, " ")
			if g[i].Kind != kind || !strings.Contains(g[i].Reason, text) {
				t.Errorf("%s: problem %+v, want %s containing %q", file, g[i], kind, text)
			}
		}
	}
	for file := range byFile {
		if _, ok := want[file]; !ok {
			t.Errorf("unexpected problem for %s: %+v", file, byFile[file])
		}
	}
	docs := checkStore(t, db)
	// notes, latin1, utf16, malformed.json item 1, malformed.jsonl a and c,
	// malformed.csv r1, dup.jsonl d1 (first).
	if len(docs) != 8 || s.Added != 8 {
		t.Errorf("%d documents stored, summary %+v", len(docs), s)
	}
	if d := docs["default:d1"]; d == nil || d.Text != "one" {
		t.Errorf("duplicate id overwrote the first record: %+v", d)
	}
	latin, _ := filepath.Abs(filepath.Join(dir, "latin1.txt"))
	if d := docs[ingest.FileID("default", latin)]; d == nil || !strings.HasPrefix(d.Text, "Café crème") {
		t.Errorf("latin1.txt: %+v", d)
	}

	// Nothing stored before is lost when its file turns bad.
	notes := filepath.Join(dir, "notes.txt")
	notesAbs, _ := filepath.Abs(notes)
	notesID := ingest.FileID("default", notesAbs)
	writeFile(t, notes, []byte("\x00\x01binary now"))
	s = run(t, db, ingest.Options{MaxBytes: 2000, Prune: true}, dir)
	if d, err := db.Document(ctx, notesID); err != nil || !strings.Contains(d.Text, "Meeting notes") {
		t.Errorf("good document lost after its file turned bad: %v %v", d, err)
	}
	if s.Deleted != 0 {
		t.Errorf("prune deleted documents of failed files: %+v", s)
	}
}

func TestRunUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files regardless of permissions")
	}
	db := openStore(t)
	dir := copyFixtures(t, "notes.txt")
	p := filepath.Join(dir, "notes.txt")
	os.Chmod(p, 0)
	defer os.Chmod(p, 0o644)
	s := run(t, db, ingest.Options{}, dir)
	if s.Failed != 1 || !strings.Contains(s.Problems[0].Reason, "unreadable") {
		t.Errorf("summary %+v", s)
	}
}

func TestRunOptionsAndProgress(t *testing.T) {
	db := openStore(t)
	for _, o := range []ingest.Options{
		{Collection: "bad name"},
		{Tenant: "t/x"},
		{Chunk: ingest.ChunkOptions{Tokens: 4}},
		{Metadata: map[string]string{"a=b": "c"}},
		{TTL: -time.Hour},
	} {
		if _, err := ingest.Run(context.Background(), nil, o, db); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("%+v: %v, want EINVALID", o, err)
		}
	}
	dir := copyFixtures(t, "guide.md", "notes.txt", "corpus.jsonl")
	var mu sync.Mutex
	var last ingest.Progress
	calls := 0
	s := run(t, db, ingest.Options{Tenant: "acme", Progress: func(p ingest.Progress) {
		mu.Lock()
		defer mu.Unlock()
		last = p
		calls++
	}}, dir)
	if !last.Done || last.FilesDone != 3 || last.FilesTotal != 3 || last.Added != s.Added || last.BytesDone != last.BytesTotal || calls < 1 {
		t.Errorf("last progress %+v after %d calls, summary %+v", last, calls, s)
	}
	if _, err := db.Document(context.Background(), "acme/default:4983"); err != nil {
		t.Errorf("tenant-scoped id: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ingest.Run(ctx, []string{dir}, ingest.Options{Collection: "c2"}, db); err != context.Canceled {
		t.Errorf("cancelled run: %v", err)
	}
}

func TestRunMissingAndUnreadableDirectory(t *testing.T) {
	db := openStore(t)
	dir := copyFixtures(t, "notes.txt")
	missing := filepath.Join(dir, "nope.txt")
	s := run(t, db, ingest.Options{}, dir, missing)
	if s.Added != 1 || s.Failed != 1 || s.Problems[0].Path != missing || s.Problems[0].Reason != "no such file or directory" {
		t.Errorf("summary %+v", s)
	}
}
