package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/sqlite"
)

const docsUsage = `Usage: sextant docs [list] [--collection C] [--stale] [--source PREFIX] [--limit N] [--json]
       sextant docs show ID [--chunks] [--json]
       sextant docs delete ID...
       sextant docs stats [--json]
       sextant docs quarantine [list|release ID] (see sextant docs quarantine -h)

Inspect the documents in the store.

Flags:
`

func runDocs(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "quarantine" {
		return runDocsQuarantine(ctx, e, args[1:]) // quarantine.go
	}
	sub := "list"
	if len(args) > 0 && (args[0] == "list" || args[0] == "show" || args[0] == "delete" || args[0] == "stats") {
		sub, args = args[0], args[1:]
	}
	fs := newFlagSet("docs "+sub, e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), docsUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	collection := fs.String("collection", "", "list: only this collection")
	stale := fs.Bool("stale", false, "list: only documents past their TTL")
	source := fs.String("source", "", "list: only sources starting with this URI prefix (file:///abs/dir/)")
	limit := fs.Int("limit", 0, "list: at most this many documents (0 = all)")
	withChunks := fs.Bool("chunks", false, "show: also print the chunks")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(pos) > 0:
		return usageErrorf("docs: unknown subcommand %q (want list, show, delete or stats)", pos[0])
	case sub == "show" && len(pos) != 1:
		return usageErrorf("docs show: name one document id")
	case sub == "delete" && len(pos) == 0:
		return usageErrorf("docs delete: name at least one document id")
	case sub == "stats" && len(pos) > 0:
		return usageErrorf("docs stats: takes no arguments")
	}
	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	switch sub {
	case "show":
		return docsShow(ctx, e.stdout, st, pos[0], *withChunks, *asJSON, now)
	case "delete":
		for _, id := range pos {
			if err := st.DeleteDocument(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted %s\n", id)
		}
		return nil
	case "stats":
		s, err := st.Stats(ctx, now)
		if err != nil {
			return err
		}
		vs, err := st.VectorState(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, struct {
				sqlite.Stats
				Vectors sqlite.VectorState
			}{s, vs})
		}
		fmt.Fprintf(e.stdout, "store %s (schema %d, generation %d): %d documents, %d chunks, %.1f MB of text, %d stale, %.1f MB on disk\n",
			st.Path(), s.Schema, s.Generation, s.Documents, s.Chunks, float64(s.TextBytes)/1e6, s.Stale, float64(s.FileBytes)/1e6)
		for c, n := range s.Collections {
			fmt.Fprintf(e.stdout, "  collection %q: %d documents\n", c, n)
		}
		writeVectorState(e.stdout, vs)
		return nil
	}
	f := sqlite.DocumentFilter{Collection: *collection, SourcePrefix: *source, Limit: *limit, Now: now}
	if *stale {
		f.Stale = sextant.StaleOnly
	}
	infos, err := st.ListDocuments(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		views := make([]docView, 0, len(infos))
		for _, in := range infos {
			views = append(views, viewDoc(in.Document, in.Chunks, now))
		}
		return writeJSON(e.stdout, views)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tSOURCE\tCHUNKS\tUPDATED\tSTALE")
	for _, in := range infos {
		d := in.Document
		staleMark := ""
		if d.Stale(now) {
			staleMark = "stale"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, clip(d.Title, 48), clip(d.Source, 72), in.Chunks,
			d.UpdatedAt.Local().Format("2006-01-02 15:04"), staleMark)
	}
	return tw.Flush()
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// docView is a document as sextant docs prints it in JSON.
type docView struct {
	ID         string            `json:"id"`
	Tenant     string            `json:"tenant,omitempty"`
	Collection string            `json:"collection"`
	Source     string            `json:"source"`
	Title      string            `json:"title"`
	MediaType  string            `json:"media_type"`
	Hash       string            `json:"hash"`
	Size       int64             `json:"size"`
	Chunks     int               `json:"chunks"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Labels     []string          `json:"labels,omitempty"`
	IngestedAt time.Time         `json:"ingested_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	ExpiresAt  *time.Time        `json:"expires_at,omitempty"`
	Stale      bool              `json:"stale"`
	Text       string            `json:"text,omitempty"`
}

type chunkView struct {
	ID      string   `json:"id"`
	Ordinal int      `json:"ordinal"`
	Section []string `json:"section,omitempty"`
	Start   int      `json:"start"`
	End     int      `json:"end"`
	Tokens  int      `json:"tokens"`
	Text    string   `json:"text"`
}

func viewDoc(d *sextant.Document, chunks int, now time.Time) docView {
	v := docView{ID: d.ID, Tenant: d.Tenant, Collection: d.Collection, Source: d.Source, Title: d.Title,
		MediaType: d.MediaType, Hash: d.Hash, Size: d.Size, Chunks: chunks, Metadata: d.Metadata, Labels: d.Labels,
		IngestedAt: d.IngestedAt, UpdatedAt: d.UpdatedAt, Stale: d.Stale(now), Text: d.Text}
	if !d.ExpiresAt.IsZero() {
		v.ExpiresAt = &d.ExpiresAt
	}
	return v
}

func docsShow(ctx context.Context, w io.Writer, st *sqlite.DB, id string, withChunks, asJSON bool, now time.Time) error {
	d, err := st.Document(ctx, id)
	if err != nil {
		return err
	}
	chunks, err := st.DocumentChunks(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		out := struct {
			docView
			ChunkList []chunkView `json:"chunk_list,omitempty"`
		}{docView: viewDoc(d, len(chunks), now)}
		if withChunks {
			for _, c := range chunks {
				out.ChunkList = append(out.ChunkList, chunkView{c.ID, c.Ordinal, c.Section, c.Start, c.End, c.Tokens, c.Text})
			}
		}
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "id:          %s\ntitle:       %s\nsource:      %s\ncollection:  %s\nmedia type:  %s\nhash:        %s\nsize:        %d bytes\nchunks:      %d\n",
		d.ID, d.Title, d.Source, d.Collection, d.MediaType, d.Hash, d.Size, len(chunks))
	fmt.Fprintf(w, "ingested:    %s\nupdated:     %s\n", d.IngestedAt.Local().Format(time.RFC3339), d.UpdatedAt.Local().Format(time.RFC3339))
	if !d.ExpiresAt.IsZero() {
		state := "fresh"
		if d.Stale(now) {
			state = "STALE"
		}
		fmt.Fprintf(w, "expires:     %s (%s)\n", d.ExpiresAt.Local().Format(time.RFC3339), state)
	}
	if len(d.Labels) > 0 {
		fmt.Fprintf(w, "labels:      %v\n", d.Labels)
	}
	for k, v := range d.Metadata {
		fmt.Fprintf(w, "meta:        %s=%s\n", k, v)
	}
	if !withChunks {
		fmt.Fprintf(w, "\n%s\n", d.Text)
		return nil
	}
	for _, c := range chunks {
		fmt.Fprintf(w, "\n--- chunk %d [%d,%d) %d tokens", c.Ordinal, c.Start, c.End, c.Tokens)
		if len(c.Section) > 0 {
			fmt.Fprintf(w, " — %s", sextant.SectionPath(c.Section))
		}
		fmt.Fprintf(w, "\n%s\n", c.Text)
	}
	return nil
}
