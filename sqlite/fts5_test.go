package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

func TestFTS5(t *testing.T) {
	ctx := context.Background()
	f, err := OpenFTS5(ctx, filepath.Join(t.TempDir(), "fts.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = f.Add(ctx, []FTS5Row{
		{"a#0", "a", "Rotating keys", "How to rotate signing keys safely."},
		{"b#0", "b", "Backups", "Back up the data directory nightly."},
		{"c#0", "c", "Misc", "Nothing about that here; OR NOT NEAR are just words."},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	q := FTS5Query("How do I rotate the keys?", map[string]bool{"how": true, "do": true, "i": true, "the": true})
	if q != `"rotate" OR "keys"` {
		t.Errorf("FTS5Query = %q", q)
	}
	hits, err := f.Search(ctx, q, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].ChunkID != "a#0" || hits[0].Score <= 0 {
		t.Errorf("hits = %+v", hits)
	}
	// Operator words are quoted, not interpreted.
	if _, err := f.Search(ctx, FTS5Query(`OR NOT "NEAR(`, nil), 5); err != nil {
		t.Errorf("operator words: %v", err)
	}
	if hits, err := f.Search(ctx, FTS5Query("?!", nil), 5); err != nil || hits != nil {
		t.Errorf("empty query: %v %v", hits, err)
	}
}

// FuzzFTS5Query checks that any text becomes a MATCH expression FTS5
// accepts: no input can inject query syntax.
func FuzzFTS5Query(f *testing.F) {
	ctx := context.Background()
	fts, err := OpenFTS5(ctx, filepath.Join(f.TempDir(), "fts.db"), 1)
	if err != nil {
		f.Fatal(err)
	}
	defer fts.Close()
	if err := fts.Add(ctx, []FTS5Row{{"a", "a", "title", "some body text"}}); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`a OR b`, `"quoted"`, `NEAR(a b)`, `col:term`, `a* -b ^c`, `日本語 ünïcode`, `'`, `""""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := fts.Search(ctx, FTS5Query(s, nil), 3); err != nil {
			t.Fatalf("FTS5Query(%q) = %q rejected: %v", s, FTS5Query(s, nil), err)
		}
	})
}
