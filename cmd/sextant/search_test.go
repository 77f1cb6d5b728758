package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/search"
)

func TestParseFilters(t *testing.T) {
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	tests := []struct {
		in   []string
		want sextant.Filter
	}{
		{nil, sextant.Filter{}},
		{[]string{"team=infra"}, sextant.Filter{Equals: map[string]string{"team": "infra"}}},
		{[]string{"team=infra|web", "lang=en"}, sextant.Filter{Equals: map[string]string{"lang": "en"}, In: map[string][]string{"team": {"infra", "web"}}}},
		{[]string{"updated>=2024-01-01", "updated<2024-06-01"}, sextant.Filter{UpdatedAfter: day("2024-01-01"), UpdatedBefore: day("2024-06-01")}},
		{[]string{"updated>2024-01-01", "updated<=2024-06-01"}, sextant.Filter{UpdatedAfter: day("2024-01-02"), UpdatedBefore: day("2024-06-02")}},
		{[]string{"updated>=2024-01-01T10:00:00Z"}, sextant.Filter{UpdatedAfter: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)}},
		{[]string{"note=a=b"}, sextant.Filter{Equals: map[string]string{"note": "a=b"}}},
	}
	for _, tt := range tests {
		got, err := parseFilters(tt.in)
		if err != nil {
			t.Errorf("parseFilters(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseFilters(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range [][]string{{"novalue"}, {"=x"}, {"updated>=yesterday"}, {"a=1", "a=2"}} {
		if _, err := parseFilters(bad); err == nil || exitCode(err) != 2 {
			t.Errorf("parseFilters(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestSearchCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := openStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	put := func(id, title, text string, meta map[string]string, updated time.Time) {
		d := &sextant.Document{ID: id, Source: "file:///docs/" + id + ".md", Title: title, Hash: "h" + id,
			Text: text, MediaType: sextant.MediaMarkdown, Metadata: meta, UpdatedAt: updated, IngestedAt: updated}
		c := sextant.Chunk{ID: id + "#0", DocumentID: id, Text: text, End: len(text), Section: []string{"Keys"}}
		if err := st.PutDocument(ctx, d, []sextant.Chunk{c}); err != nil {
			t.Fatal(err)
		}
	}
	put("rotate", "Key rotation", "Rotate the signing keys every 90 days with sextant keys rotate.", map[string]string{"team": "security"}, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	put("backup", "Backups", "Back up the data directory; keys are not part of the backup.", map[string]string{"team": "infra"}, time.Date(2023, 5, 1, 0, 0, 0, 0, time.UTC))
	st.Close()

	sh := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append(args, "--data", dir), func(string) string { return "" }, strings.NewReader(""), &out, &errb)
		return out.String(), err
	}
	out, err := sh("search", "rotating keys")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, " 1. Key rotation › Keys") || !strings.Contains(out, "«Rotate» the signing «keys»") || !strings.Contains(out, "2 results") {
		t.Errorf("text output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, search.SnapshotFile)); err != nil {
		t.Errorf("no snapshot after the first search: %v", err)
	}

	out, err = sh("search", "keys", "--filter", "team=infra|ops", "--json", "--k", "5")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Hits []jsonHit `json:"hits"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bad JSON %v:\n%s", err, out)
	}
	if len(res.Hits) != 1 || res.Hits[0].DocumentID != "backup" || res.Hits[0].Source != "file:///docs/backup.md" {
		t.Errorf("filtered JSON hits = %+v", res.Hits)
	}
	out, _ = sh("search", "keys", "--filter", "updated>=2024-01-01", "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Hits) != 1 || res.Hits[0].DocumentID != "rotate" {
		t.Errorf("updated filter: %v %+v", err, res.Hits)
	}
	if out, _ := sh("search", "nothing-matches-this"); !strings.Contains(out, "no results") {
		t.Errorf("no-match output: %q", out)
	}
	for _, bad := range [][]string{{"search"}, {"search", "x", "--k", "0"}, {"search", "x", "--stale", "maybe"}, {"search", "x", "--filter", "oops"}} {
		if _, err := sh(bad...); exitCode(err) != 2 {
			t.Errorf("%q: err = %v, want a usage error", bad, err)
		}
	}
}

func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{"team=infra", "a=b|c", "updated>=2024-01-01", "updated<2024-01-01T00:00:00Z", "updated>", "=", "updated<=x", "k=v=w", "updated"} {
		f.Add(s, "lang=en")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		fl, err := parseFilters([]string{a, b})
		if err != nil {
			if exitCode(err) != 2 {
				t.Fatalf("parseFilters(%q, %q): non-usage error %v", a, b, err)
			}
			return
		}
		for k := range fl.Equals {
			if k == "" {
				t.Fatalf("empty key from %q, %q", a, b)
			}
		}
	})
}
