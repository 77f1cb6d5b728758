package ingest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/ingest"
)

// fakePII replaces every "x@example.com" address (x a letter) with
// [EMAIL], as a real policy (the guard's redactor) would.
func fakePII(text string) (string, []ingest.Replacement) {
	var b strings.Builder
	var reps []ingest.Replacement
	last := 0
	for i := 0; ; {
		k := strings.Index(text[i:], "@example.com")
		if k < 0 {
			break
		}
		at := i + k
		start, end := at-1, at+len("@example.com")
		b.WriteString(text[last:start])
		b.WriteString("[EMAIL]")
		reps = append(reps, ingest.Replacement{Start: start, End: end, Len: len("[EMAIL]")})
		last, i = end, end
	}
	b.WriteString(text[last:])
	return b.String(), reps
}

func TestRunPII(t *testing.T) {
	db := openStore(t)
	dir := t.TempDir()
	md := "# Contacts\n\nWrite to a@example.com for billing.\n\n## Support\n\nSupport is b@example.com, all week.\n"
	writeFile(t, filepath.Join(dir, "contacts.md"), []byte(md))
	writeFile(t, filepath.Join(dir, "people.jsonl"), []byte(`{"id": "p1", "text": "Reach c@example.com any time."}`+"\n"))
	sum, err := ingest.Run(t.Context(), []string{dir}, ingest.Options{PII: fakePII, Metadata: map[string]string{"pii": "redact"}}, db)
	if err != nil || sum.Added != 2 {
		t.Fatalf("ingest: %+v %v", sum, err)
	}
	ids, err := db.LookupDocuments(t.Context(), []string{ingest.FileID("", filepath.Join(dir, "contacts.md"))})
	if err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		doc, err := db.Document(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(doc.Text, "@example.com") || strings.Count(doc.Text, "[EMAIL]") != 2 {
			t.Fatalf("stored text %q", doc.Text)
		}
		chunks, err := db.DocumentChunks(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		var sections []string
		for _, c := range chunks {
			if doc.Text[c.Start:c.End] != c.Text {
				t.Errorf("chunk %s offsets [%d,%d) do not match its text %q", c.ID, c.Start, c.End, c.Text)
			}
			if strings.Contains(c.Text, "@example.com") {
				t.Errorf("chunk %s holds a raw address", c.ID)
			}
			sections = append(sections, strings.Join(c.Section, " > "))
		}
		if got := strings.Join(sections, "|"); !strings.Contains(got, "Contacts > Support") {
			t.Errorf("sections after redaction: %q", got)
		}
	}
	// Ingesting again is a no-op; a different policy (metadata) re-ingests.
	again, err := ingest.Run(t.Context(), []string{dir}, ingest.Options{PII: fakePII, Metadata: map[string]string{"pii": "redact"}}, db)
	if err != nil || again.Unchanged != 2 {
		t.Errorf("second run: %+v %v", again, err)
	}
	changed, err := ingest.Run(t.Context(), []string{dir}, ingest.Options{Metadata: map[string]string{"pii": "allow"}}, db)
	if err != nil || changed.Updated != 2 {
		t.Errorf("policy change: %+v %v", changed, err)
	}
}
