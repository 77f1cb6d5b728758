package eval

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
)

// TestRelevantNames checks the names a drafted golden set gives documents
// and that each name, read back by RankedIDs, picks out its own document
// among all of them and no other.
func TestRelevantNames(t *testing.T) {
	docs := []DraftSource{
		{DocumentID: "default:ingestion.md-aaaaaaaaaaaa", URI: "file:///r/docs/ingestion.md"},
		{DocumentID: "default:setup.md-bbbbbbbbbbbb", URI: "file:///r/docs/guides/setup.md"},
		{DocumentID: "default:setup.md-cccccccccccc", URI: "file:///r/docs/admin/setup.md"},
		{DocumentID: "default:notes.md-dddddddddddd", URI: "file:///r/a/x/notes.md"},
		{DocumentID: "default:notes.md-eeeeeeeeeeee", URI: "file:///r/b/x/notes.md"},
		// A record: the file's path names every record of it.
		{DocumentID: "default:rec-1", URI: "file:///r/data/faq.jsonl#rec-1"},
		// A record whose id looks like a file name: a file of that name
		// must not be named by it (document ids match first).
		{DocumentID: "default:guide.md", URI: "file:///r/data/c.jsonl#guide.md"},
		{DocumentID: "default:guide.md-ffffffffffff", URI: "file:///r/docs/guide.md"},
		// No extension: the name needs a '/' for uriMatch to read it as a path.
		{DocumentID: "default:README-111111111111", URI: "file:///r/docs/README"},
		// The same file in two collections: one path, shared.
		{DocumentID: "default:dup.md-222222222222", URI: "file:///r/dup.md"},
		{DocumentID: "other:dup.md-333333333333", URI: "file:///r/dup.md"},
		// Escapes stay as the URI spells them (uriMatch compares URIs).
		{DocumentID: "default:my notes.md-444444444444", URI: "file:///r/my%20notes.md"},
		// Not a file.
		{DocumentID: "web:page", URI: "https://example.com/page.html"},
	}
	got := relevantNames(docs)
	want := []string{
		"ingestion.md", "guides/setup.md", "admin/setup.md", "a/x/notes.md", "b/x/notes.md",
		"default:rec-1", "default:guide.md", "docs/guide.md", "docs/README", "dup.md", "dup.md",
		"my%20notes.md", "web:page",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	var sources []sextant.Source
	for _, d := range docs {
		sources = append(sources, sextant.Source{DocumentID: d.DocumentID, URI: d.URI})
	}
	for i, name := range got {
		it := Item{RelevantIDs: []string{name}}
		// One source at a time: RankedIDs keeps the first of equal ids.
		for j := range sources {
			id := it.RankedIDs(sources[j : j+1])[0]
			own := sources[j].DocumentID == docs[i].DocumentID || sources[j].URI == docs[i].URI
			if (id == name) != own {
				t.Errorf("%s named %q: source %s counted as %q", docs[i].DocumentID, name, sources[j].DocumentID, id)
			}
		}
	}
}

func TestPathSuffixes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/a/b/c.md", []string{"c.md", "b/c.md", "a/b/c.md"}},
		{"c.md", []string{"c.md"}},
		{"/", nil},
		{"", nil},
		{"/a//c.md/", []string{"c.md", "a//c.md"}},
	} {
		if diff := cmp.Diff(tc.want, pathSuffixes(tc.in)); diff != "" {
			t.Errorf("pathSuffixes(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

// TestDraftNamesFiles checks that Draft's questions name file documents by
// path and records by id.
func TestDraftNamesFiles(t *testing.T) {
	text := "Setup starts with a configuration file that names the data directory and the listen address of the server."
	docs := []DraftSource{
		{DocumentID: "default:setup.md-aaaaaaaaaaaa", URI: "file:///home/me/repo/docs/guides/setup.md", Title: "Guide setup",
			Chunks: []sextant.Chunk{{Text: text}}},
		{DocumentID: "default:setup.md-bbbbbbbbbbbb", URI: "file:///home/me/repo/docs/admin/setup.md", Title: "Admin setup",
			Chunks: []sextant.Chunk{{Text: "Administrators rotate the signing keys of every tenant once a quarter and record each rotation in the audit log."}}},
		{DocumentID: "default:faq-7", URI: "file:///home/me/repo/data/faq.jsonl#faq-7", Title: "Refunds",
			Chunks: []sextant.Chunk{{Text: "Refunds are issued within fourteen days of a return when the goods arrive back undamaged and complete."}}},
	}
	items, err := Draft(context.Background(), docs, DraftOptions{N: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.RelevantIDs...)
	}
	if diff := cmp.Diff([]string{"guides/setup.md", "admin/setup.md", "default:faq-7"}, got); diff != "" {
		t.Errorf("relevant ids (-want +got):\n%s", diff)
	}
}
