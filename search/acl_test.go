package search_test

// Tenant isolation and document ACLs end to end: documents ingested with
// tenants and access labels (as `sextant ingest --labels` does) into the
// real store, indexed, and searched on behalf of principals whose requests
// try to reach further than they may. No hit may come from another tenant
// or from a document whose labels the caller's groups do not cover — and
// every document the caller may read is still found.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/search"
	"github.com/sextant-ai/sextant/sqlite"
)

// aclCorpus ingests, for each tenant and label set, three documents whose
// text shares the query words, and returns the store.
func aclCorpus(t *testing.T) (*sqlite.DB, string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	root := t.TempDir()
	for _, tenant := range []string{"", "acme", "globex"} {
		for _, labels := range [][]string{nil, {"hr"}, {"eng"}, {"hr", "exec"}} {
			dir := filepath.Join(root, fmt.Sprintf("t-%s-%v", tenant, labels))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				text := fmt.Sprintf("# Salary review %d\n\nThe salary review policy for %s %v covers bonus rules, payroll dates and the budget.\n",
					i, tenant, labels)
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc%d.md", i)), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			sum, err := ingest.Run(ctx, []string{dir}, ingest.Options{Tenant: tenant, Collection: "policies", Labels: labels}, db)
			if err != nil || sum.Added != 3 {
				t.Fatalf("ingest %s: %+v, %v", dir, sum, err)
			}
		}
	}
	return db, root
}

// readable lists the ids of the documents of the store that p may read.
func readable(t *testing.T, db *sqlite.DB, p *sextant.Principal) []string {
	t.Helper()
	var ids []string
	f := sextant.Filter{Groups: p.Groups}
	err := db.Scan(context.Background(), func(d *sextant.Document, _ []sextant.Chunk) error {
		if d.Tenant == p.Tenant && f.Readable(d.Labels) {
			ids = append(ids, d.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

func TestACLTenantIsolation(t *testing.T) {
	ctx := context.Background()
	db, root := aclCorpus(t)
	ix, err := search.Open(ctx, db, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var all []*sextant.Document
	db.Scan(ctx, func(d *sextant.Document, _ []sextant.Chunk) error { all = append(all, d); return nil })
	if len(all) != 36 {
		t.Fatalf("%d documents ingested; want 36", len(all))
	}
	var otherIDs []string // documents of globex, named explicitly by acme's requests
	for _, d := range all {
		if d.Tenant == "globex" {
			otherIDs = append(otherIDs, d.ID)
		}
	}

	principals := []*sextant.Principal{
		{ID: "k1", Tenant: "acme", Groups: []string{"hr"}},
		{ID: "k2", Tenant: "acme", Groups: []string{"eng"}},
		{ID: "k3", Tenant: "acme", Groups: []string{"exec", "eng"}},
		{ID: "k4", Tenant: "acme", Groups: []string{}}, // unlabelled documents only
		{ID: "k5", Tenant: "acme"},                     // every document of acme
		{ID: "k6", Tenant: "globex", Groups: []string{"hr"}},
		{ID: "k7", Tenant: "", Groups: []string{"eng"}},
		{ID: "k8", Tenant: "nobody"}, // a tenant with no documents
	}
	// What requests ask for: nothing special, another tenant, wider
	// groups, other tenants' documents by id.
	requests := []sextant.Filter{
		{},
		{Tenant: "globex"},
		{Groups: []string{"hr", "eng", "exec"}},
		{Groups: nil, Tenant: ""},
		{DocumentIDs: otherIDs},
		{Collections: []string{"policies"}, Groups: []string{"exec"}},
	}
	queries := []string{"salary review", "payroll bonus budget", "policy", "acme", "globex hr"}
	for _, p := range principals {
		want := readable(t, db, p)
		for ri, req := range requests {
			for _, q := range queries {
				f := p.Scope(req)
				hits, err := ix.Search(ctx, sextant.Query{Text: q, K: 1000, Filter: f})
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, h := range hits {
					stored, err := db.Document(ctx, h.Document.ID)
					if err != nil {
						t.Fatal(err)
					}
					if stored.Tenant != p.Tenant {
						t.Fatalf("principal %s (tenant %q), request %d, %q: hit %s of tenant %q", p.ID, p.Tenant, ri, q, stored.ID, stored.Tenant)
					}
					if !(&sextant.Filter{Groups: p.Groups}).Readable(stored.Labels) {
						t.Fatalf("principal %s (groups %v), request %d, %q: hit %s labelled %v", p.ID, p.Groups, ri, q, stored.ID, stored.Labels)
					}
					if h.Chunk.DocumentID != stored.ID {
						t.Fatalf("hit chunk %s belongs to %s, not %s", h.Chunk.ID, h.Chunk.DocumentID, stored.ID)
					}
					seen[stored.ID] = true
				}
				// Nothing readable is lost: the widest query finds every
				// document p may read (unless the request narrows it).
				if q == "salary review" && ri == 0 {
					got := slices.Sorted(func(yield func(string) bool) {
						for id := range seen {
							if !yield(id) {
								return
							}
						}
					})
					if !slices.Equal(got, want) {
						t.Errorf("principal %s: found %d documents, may read %d:\n got %v\nwant %v", p.ID, len(got), len(want), got, want)
					}
				}
				if ri == 4 && len(hits) > 0 && p.Tenant != "globex" {
					t.Fatalf("principal %s reached another tenant's documents by id", p.ID)
				}
			}
		}
	}

	// Relabelling a document (re-ingest with other --labels) takes it away
	// from callers who lost access, as soon as the index catches up.
	dir := filepath.Join(root, "t-acme-[]")
	if _, err := ingest.Run(ctx, []string{dir}, ingest.Options{Tenant: "acme", Collection: "policies", Labels: []string{"exec"}}, db); err != nil {
		t.Fatal(err)
	}
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	p := &sextant.Principal{ID: "k4", Tenant: "acme", Groups: []string{}}
	hits, err := ix.Search(ctx, sextant.Query{Text: "salary review", K: 1000, Filter: p.Scope(sextant.Filter{})})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 0 {
		t.Errorf("after relabelling acme's unlabelled documents, a caller without groups still gets %d hits (first %s labelled %v)",
			len(hits), hits[0].Document.ID, hits[0].Document.Labels)
	}
}
