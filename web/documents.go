package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
)

// DocumentJSON is a stored document as the documents endpoints show it.
type DocumentJSON struct {
	ID         string            `json:"id"`
	Collection string            `json:"collection"`
	Title      string            `json:"title"`
	URI        string            `json:"uri"`
	MediaType  string            `json:"media_type"`
	Hash       string            `json:"hash"`
	Size       int64             `json:"size"`
	Chunks     *int              `json:"chunks,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Labels     []string          `json:"labels,omitempty"`
	IngestedAt time.Time         `json:"ingested_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	ExpiresAt  *time.Time        `json:"expires_at,omitempty"`
	Text       *string           `json:"text,omitempty"`
	ChunkList  []ChunkJSON       `json:"chunk_list,omitempty"`
}

// ChunkJSON is one chunk of a document.
type ChunkJSON struct {
	ID      string `json:"id"`
	Ordinal int    `json:"ordinal"`
	Section string `json:"section,omitempty"`
	Start   int    `json:"start"`
	End     int    `json:"end"`
	Tokens  int    `json:"tokens"`
	Text    string `json:"text"`
}

// UploadResponse is the answer of POST /v1/documents.
type UploadResponse struct {
	Summary   ingest.Summary `json:"summary"`
	Documents []DocumentJSON `json:"documents"`
}

func documentJSON(d *sextant.Document) DocumentJSON {
	out := DocumentJSON{ID: d.ID, Collection: d.Collection, Title: d.Title, URI: d.Source, MediaType: d.MediaType, Hash: d.Hash,
		Size: d.Size, Metadata: d.Metadata, Labels: d.Labels, IngestedAt: d.IngestedAt, UpdatedAt: d.UpdatedAt}
	if out.Collection == "" {
		out.Collection = sextant.DefaultCollection
	}
	if !d.ExpiresAt.IsZero() {
		t := d.ExpiresAt
		out.ExpiresAt = &t
	}
	return out
}

// mediaExt gives an extension to an upload named without one, from its
// Content-Type, so ingestion picks the right extractor.
var mediaExt = map[string]string{
	"text/plain": ".txt", "text/markdown": ".md", "text/x-markdown": ".md", "text/html": ".html",
	"application/pdf": ".pdf", "application/json": ".json", "application/jsonl": ".jsonl",
	"application/x-ndjson": ".jsonl", "application/x-jsonlines": ".jsonl", "text/csv": ".csv",
}

// uploadName checks an upload's file name and returns the name to store
// it under.
func uploadName(name, contentType string) (string, error) {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	switch {
	case name == "" || name == "." || name == "/" || name == "..":
		return "", invalidParam("name", "the upload has no file name (multipart filename, or ?name= for a raw body)")
	case strings.HasPrefix(name, "."):
		return "", invalidParam("name", "file name %q starts with a dot", name)
	case len(name) > 200:
		return "", invalidParam("name", "file name is longer than 200 bytes")
	case strings.ContainsAny(name, "\x00#?"):
		return "", invalidParam("name", "file name %q holds a character not allowed in names (NUL, # or ?)", name)
	}
	if filepath.Ext(name) == "" {
		if mt, _, err := mime.ParseMediaType(contentType); err == nil {
			name += mediaExt[mt]
		}
	}
	return name, nil
}

// checkName checks a tenant or collection name before it becomes a
// directory (ingestion checks the same rule again).
func checkName(param, s string) error {
	if s == "" || len(s) > 64 {
		return invalidParam(param, "must be 1-64 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') || s == "." || s == ".." {
			return invalidParam(param, "%q may hold only letters, digits, '.', '_' and '-'", s)
		}
	}
	return nil
}

// uploadOptions are the settings of one upload, from multipart fields or
// query parameters.
type uploadOptions struct {
	collection string
	metadata   map[string]string
	labels     []string
	ttl        time.Duration
}

func (u *uploadOptions) set(key, value string) error {
	switch key {
	case "collection":
		if err := checkName("collection", value); err != nil {
			return err
		}
		u.collection = value
	case "metadata":
		var m map[string]string
		if err := json.Unmarshal([]byte(value), &m); err != nil {
			return invalidParam("metadata", "want a JSON object of strings: %v", err)
		}
		for k, v := range m {
			if u.metadata == nil {
				u.metadata = map[string]string{}
			}
			u.metadata[k] = v
		}
	case "meta":
		k, v, ok := strings.Cut(value, "=")
		if !ok || k == "" {
			return invalidParam("meta", "want key=value, got %q", value)
		}
		if u.metadata == nil {
			u.metadata = map[string]string{}
		}
		u.metadata[k] = v
	case "labels", "label":
		for _, l := range strings.Split(value, ",") {
			if l = strings.TrimSpace(l); l != "" {
				u.labels = append(u.labels, l)
			}
		}
	case "ttl":
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return invalidParam("ttl", "want a positive duration such as 720h, got %q", value)
		}
		u.ttl = d
	case "name":
	default:
		return invalidParam(key, "unknown field (want collection, metadata, meta, labels, ttl, name or file)")
	}
	return nil
}

// uploadDocument serves POST /v1/documents: a multipart/form-data upload
// (one or more "file" parts, plus collection, metadata, meta, labels and
// ttl fields) or a raw body named by ?name= (with the same settings as
// query parameters). The files are kept under Options.UploadDir and
// ingested; the response lists the stored documents.
func (s *Server) uploadDocument(w http.ResponseWriter, r *http.Request) {
	if s.opts.Store == nil || s.opts.UploadDir == "" {
		writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "uploads are not configured on this server"))
		return
	}
	p := principal(r)
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxUploadBytes+1<<20)
	var opts uploadOptions
	var files []string
	cleanup := func() {
		for _, f := range files {
			os.Remove(f + ".part")
		}
	}
	defer cleanup()
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	dirFor := func() (string, error) {
		coll := opts.collection
		if coll == "" {
			coll = sextant.DefaultCollection
		}
		tenant := "_default"
		if p.Tenant != "" {
			if err := checkName("tenant", p.Tenant); err != nil {
				return "", err
			}
			tenant = p.Tenant
		}
		dir := filepath.Join(s.opts.UploadDir, tenant, coll)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", sextant.Errorf(sextant.EINTERNAL, "upload directory: %v", err)
		}
		return dir, nil
	}
	// save streams one upload into dir/name.part; it is renamed into place
	// once every part arrived.
	save := func(name, contentType string, src io.Reader) error {
		name, err := uploadName(name, contentType)
		if err != nil {
			return err
		}
		dir, err := dirFor()
		if err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		f, err := os.Create(path + ".part")
		if err != nil {
			return sextant.Errorf(sextant.EINTERNAL, "saving upload: %v", err)
		}
		files = append(files, path)
		n, err := io.Copy(f, io.LimitReader(src, s.opts.MaxUploadBytes+1))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return sextant.Errorf(sextant.EINVALID, "reading upload %q: %v", name, err)
		}
		if n > s.opts.MaxUploadBytes {
			return &http.MaxBytesError{Limit: s.opts.MaxUploadBytes}
		}
		return nil
	}
	switch mt {
	case "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			writeError(w, invalidParam("", "malformed multipart body: %v", err))
			return
		}
		_ = params
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					writeError(w, err)
				} else {
					writeError(w, invalidParam("", "malformed multipart body: %v", err))
				}
				return
			}
			if err := s.uploadPart(part, &opts, save); err != nil {
				writeError(w, err)
				return
			}
		}
		if len(files) == 0 {
			writeError(w, invalidParam("file", "no file part in the form"))
			return
		}
	default:
		q := r.URL.Query()
		for k, vs := range q {
			for _, v := range vs {
				if err := opts.set(k, v); err != nil {
					writeError(w, err)
					return
				}
			}
		}
		if err := save(q.Get("name"), ct, r.Body); err != nil {
			writeError(w, err)
			return
		}
	}
	// Every part arrived: put the files in place (replacing earlier
	// uploads of the same names) and ingest them.
	for _, f := range files {
		if err := os.Rename(f+".part", f); err != nil {
			writeError(w, sextant.Errorf(sextant.EINTERNAL, "saving upload: %v", err))
			return
		}
	}
	iopts := ingest.Options{Tenant: p.Tenant, Collection: opts.collection,
		Metadata: opts.metadata, Labels: opts.labels, TTL: opts.ttl, MaxBytes: s.opts.MaxUploadBytes, Workers: 1, Now: s.opts.Now}
	if s.opts.IngestPolicy != nil {
		if err := s.opts.IngestPolicy(&iopts); err != nil {
			writeError(w, err)
			return
		}
	}
	sum, err := ingest.Run(r.Context(), files, iopts, s.opts.Store)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.opts.Refresh != nil {
		if err := s.opts.Refresh(r.Context()); err != nil {
			s.log.Warn("index refresh after upload failed", "err", err)
		}
	}
	out := UploadResponse{Summary: sum, Documents: []DocumentJSON{}}
	for _, f := range files {
		out.Documents = append(out.Documents, s.uploadedDocuments(r, p, opts.collection, f)...)
	}
	if sum.Added+sum.Updated+sum.Unchanged == 0 {
		msg := "nothing was ingested"
		if len(sum.Problems) > 0 {
			msg = fmt.Sprintf("nothing was ingested: %s: %s", filepath.Base(sum.Problems[0].Path), sum.Problems[0].Reason)
		}
		writeError(w, &apiError{err: sextant.Errorf(sextant.EINVALID, "%s", msg), status: http.StatusUnprocessableEntity, code: "not_ingested", details: sum.Problems})
		return
	}
	status := http.StatusOK
	if sum.Added > 0 {
		status = http.StatusCreated
	}
	if sum.Added+sum.Updated > 0 { // a change of data: in the audit log (admin.go)
		ids := make([]string, 0, len(out.Documents))
		for _, d := range out.Documents {
			ids = append(ids, d.ID)
		}
		if err := s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: p.Tenant, Payload: map[string]any{
			"action": "documents.upload", "collection": collOr(opts.collection), "added": sum.Added, "updated": sum.Updated,
			"documents": ids}}); err != nil {
			writeError(w, err)
			return
		}
	}
	writeJSON(w, status, out)
}

// uploadPart handles one multipart part: a file, or a setting.
func (s *Server) uploadPart(part *multipart.Part, opts *uploadOptions, save func(name, ct string, r io.Reader) error) error {
	defer part.Close()
	name := part.FormName()
	if name == "file" || name == "files" || part.FileName() != "" {
		return save(part.FileName(), part.Header.Get("Content-Type"), part)
	}
	v, err := io.ReadAll(io.LimitReader(part, 64<<10+1))
	if err != nil {
		return invalidParam(name, "reading the field: %v", err)
	}
	if len(v) > 64<<10 {
		return invalidParam(name, "field is longer than 64 KiB")
	}
	return opts.set(name, string(v))
}

// uploadedDocuments returns the documents ingested from the file at path:
// one for a whole file, one per record for JSON, JSONL and CSV files.
func (s *Server) uploadedDocuments(r *http.Request, p sextant.Principal, collection, path string) []DocumentJSON {
	ctx := r.Context()
	if s.opts.List != nil {
		docs, err := s.opts.List(ctx, DocumentList{Tenant: p.Tenant, Collection: collOr(collection), SourcePrefix: ingest.FileURI(path), Limit: 1000})
		if err == nil {
			out := make([]DocumentJSON, 0, len(docs))
			for _, d := range docs {
				if src := d.Document.Source; src != ingest.FileURI(path) && !strings.HasPrefix(src, ingest.FileURI(path)+"#") {
					continue // another file whose name extends this one's
				}
				dj := documentJSON(d.Document)
				n := d.Chunks
				dj.Chunks = &n
				out = append(out, dj)
			}
			return out
		}
	}
	id := ingest.FileID(ingest.Scope(p.Tenant, collOr(collection)), path)
	if d, err := s.opts.Store.Document(ctx, id); err == nil {
		return []DocumentJSON{documentJSON(d)}
	}
	return nil
}

func collOr(c string) string {
	if c == "" {
		return sextant.DefaultCollection
	}
	return c
}

// listDocuments serves GET /v1/documents?collection=&source_prefix=&stale=&after=&limit=.
func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request) {
	if s.opts.List == nil {
		writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "document listing is not configured on this server"))
		return
	}
	p := principal(r)
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "collection", "source_prefix", "stale", "after", "limit":
		default:
			writeError(w, invalidParam(k, "unknown query parameter (want collection, source_prefix, stale, after or limit)"))
			return
		}
	}
	lq := DocumentList{Tenant: p.Tenant, Collection: q.Get("collection"), SourcePrefix: q.Get("source_prefix"), After: q.Get("after"), Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, invalidParam("limit", "want 1..1000, got %q", v))
			return
		}
		lq.Limit = n
	}
	var err error
	if lq.Stale, err = parseStale(q.Get("stale"), "stale"); err != nil {
		writeError(w, err)
		return
	}
	docs, err := s.opts.List(r.Context(), lq)
	if err != nil {
		writeError(w, err)
		return
	}
	type page struct {
		Object    string         `json:"object"`
		Data      []DocumentJSON `json:"data"`
		NextAfter string         `json:"next_after,omitempty"`
	}
	out := page{Object: "list", Data: make([]DocumentJSON, 0, len(docs))}
	f := p.Scope(sextant.Filter{})
	for _, d := range docs {
		if !f.Readable(d.Document.Labels) {
			continue
		}
		dj := documentJSON(d.Document)
		n := d.Chunks
		dj.Chunks = &n
		out.Data = append(out.Data, dj)
	}
	if len(docs) == lq.Limit {
		out.NextAfter = docs[len(docs)-1].Document.ID
	}
	writeJSON(w, http.StatusOK, out)
}

// visibleDocument returns the document id names when the caller may read
// it; another tenant's or an unreadable document is not found, so its
// existence does not leak.
func (s *Server) visibleDocument(r *http.Request, id string) (*sextant.Document, error) {
	d, err := s.opts.Store.Document(r.Context(), id)
	if err != nil {
		return nil, err
	}
	p := principal(r)
	f := p.Scope(sextant.Filter{})
	if d.Tenant != p.Tenant || !f.Readable(d.Labels) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "document %q not found", id)
	}
	return d, nil
}

// getDocument serves GET /v1/documents/{id}?text=false&chunks=true.
func (s *Server) getDocument(w http.ResponseWriter, r *http.Request) {
	if s.opts.Store == nil {
		writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "no document store is configured"))
		return
	}
	q := r.URL.Query()
	withText, err := boolParam(q, "text", true)
	if err != nil {
		writeError(w, err)
		return
	}
	withChunks, err := boolParam(q, "chunks", false)
	if err != nil {
		writeError(w, err)
		return
	}
	d, err := s.visibleDocument(r, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := documentJSON(d)
	if withText {
		out.Text = &d.Text
	}
	chunks, err := s.opts.Store.DocumentChunks(r.Context(), d.ID)
	if err != nil {
		writeError(w, err)
		return
	}
	n := len(chunks)
	out.Chunks = &n
	if withChunks {
		out.ChunkList = make([]ChunkJSON, 0, n)
		for _, c := range chunks {
			out.ChunkList = append(out.ChunkList, ChunkJSON{ID: c.ID, Ordinal: c.Ordinal, Section: sextant.SectionPath(c.Section),
				Start: c.Start, End: c.End, Tokens: c.Tokens, Text: c.Text})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func boolParam(q url.Values, name string, def bool) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidParam(name, "want true or false, got %q", v)
	}
	return b, nil
}

// deleteDocument serves DELETE /v1/documents/{id}. An uploaded file whose
// document is deleted is removed too, so the upload directory does not
// keep what the store no longer has.
func (s *Server) deleteDocument(w http.ResponseWriter, r *http.Request) {
	if s.opts.Store == nil {
		writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "no document store is configured"))
		return
	}
	d, err := s.visibleDocument(r, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.opts.Store.DeleteDocuments(r.Context(), []string{d.ID}); err != nil {
		writeError(w, err)
		return
	}
	if s.opts.UploadDir != "" && !strings.Contains(d.Source, "#") {
		if u, err := url.Parse(d.Source); err == nil && u.Scheme == "file" {
			if abs, err := filepath.Abs(s.opts.UploadDir); err == nil && strings.HasPrefix(u.Path, filepath.ToSlash(abs)+"/") {
				os.Remove(filepath.FromSlash(u.Path))
			}
		}
	}
	if s.opts.Refresh != nil {
		if err := s.opts.Refresh(r.Context()); err != nil {
			s.log.Warn("index refresh after delete failed", "err", err)
		}
	}
	if err := s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: d.Tenant, Payload: map[string]any{
		"action": "document.delete", "document": d.ID, "collection": d.Collection, "uri": d.Source}}); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "object": "document", "deleted": true})
}
