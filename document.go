package sextant

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Media types Sextant extracts text from.
const (
	MediaText     = "text/plain"
	MediaMarkdown = "text/markdown"
	MediaHTML     = "text/html"
	MediaPDF      = "application/pdf"
	MediaJSON     = "application/json"
	MediaJSONL    = "application/jsonl"
	MediaCSV      = "text/csv"
)

// DefaultCollection is the collection documents land in when none is named.
const DefaultCollection = "default"

// Document is one ingested source document: a file, or one record of a JSON,
// JSONL or CSV file. The store is its source of truth.
//
// Text is the extracted plain text every chunk's byte offsets point into. For
// plain text and Markdown it is the source bytes unchanged, so offsets are
// also offsets into the file.
type Document struct {
	ID         string            // stable: derived from collection + source (+ record id)
	Tenant     string            // owning tenant; "" is the single-tenant default
	Collection string            // logical corpus; DefaultCollection when empty
	Source     string            // source URI, e.g. file:///abs/path.md or file:///abs/c.jsonl#rec-42
	Title      string            // document title (heading, <title>, record title, file name)
	MediaType  string            // one of the Media* constants
	Hash       string            // hex SHA-256 of the source bytes (record bytes for JSON/CSV records)
	Size       int64             // source size in bytes
	Text       string            // extracted text, UTF-8
	Metadata   map[string]string // free-form metadata (--meta and per-record fields)
	Labels     []string          // access labels: who may read it (empty = everyone in the tenant)
	IngestedAt time.Time         // first ingestion
	UpdatedAt  time.Time         // last change of content or metadata
	ExpiresAt  time.Time         // zero = no TTL; past it the document is stale
}

// Stale reports whether the document's TTL has passed at now.
func (d *Document) Stale(now time.Time) bool {
	return !d.ExpiresAt.IsZero() && !now.Before(d.ExpiresAt)
}

// Validate reports the first thing wrong with d, as an EINVALID *Error.
func (d *Document) Validate() error {
	switch {
	case d.ID == "":
		return Errorf(EINVALID, "document has no id")
	case d.Source == "":
		return Errorf(EINVALID, "document %q has no source", d.ID)
	case d.Hash == "":
		return Errorf(EINVALID, "document %q has no content hash", d.ID)
	case !utf8.ValidString(d.Text):
		return Errorf(EINVALID, "document %q text is not valid UTF-8", d.ID)
	}
	for k := range d.Metadata {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return Errorf(EINVALID, "document %q has invalid metadata key %q", d.ID, k)
		}
	}
	return nil
}

// Chunk is a retrievable span of a document's Text. Start and End are byte
// offsets into Document.Text (End exclusive), so Text == doc.Text[Start:End]
// and a citation can point back into the source.
type Chunk struct {
	ID         string   // stable: document id + ordinal
	DocumentID string   // owning document
	Ordinal    int      // 0-based position within the document
	Text       string   // the chunk's text
	Section    []string // heading path, outermost first; empty when the source has no structure
	Start      int      // byte offset of Text in Document.Text
	End        int      // byte offset one past the end of Text
	Tokens     int      // token count used by the chunker's budget
}

// Validate reports the first thing wrong with c, as an EINVALID *Error.
func (c *Chunk) Validate() error {
	switch {
	case c.ID == "":
		return Errorf(EINVALID, "chunk has no id")
	case c.DocumentID == "":
		return Errorf(EINVALID, "chunk %q has no document id", c.ID)
	case c.Start < 0 || c.End < c.Start:
		return Errorf(EINVALID, "chunk %q has invalid offsets [%d,%d)", c.ID, c.Start, c.End)
	case c.End-c.Start != len(c.Text):
		return Errorf(EINVALID, "chunk %q offsets [%d,%d) do not match its %d text bytes", c.ID, c.Start, c.End, len(c.Text))
	}
	return nil
}

// SectionPath joins a section path for display: "Guide › Install › Linux".
func SectionPath(section []string) string { return strings.Join(section, " › ") }
