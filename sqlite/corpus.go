package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
)

// sectionSep joins a chunk's section path in the section column. Path
// elements containing it are rejected by validation.
const sectionSep = "\x1f"

// lookupBatch bounds the ids bound into one IN (...) list.
const lookupBatch = 500

// PutDocument stores doc and its chunks in one transaction, replacing the
// document with the same id and ALL its previous chunks. It validates doc
// and chunks first (see PutDocuments) and bumps the corpus generation.
func (db *DB) PutDocument(ctx context.Context, doc *sextant.Document, chunks []sextant.Chunk) error {
	return db.PutDocuments(ctx, []*sextant.Document{doc}, [][]sextant.Chunk{chunks})
}

// PutDocuments stores many documents in one transaction: chunks[i] are the
// chunks of docs[i]. Each document replaces the stored one with its id and
// all that one's chunks; each put bumps the corpus generation by one and
// appends a Change. Either every document of the batch is stored or none is,
// so batching only trades latency for throughput.
//
// Every document and chunk is validated before anything is written: the
// Document and Chunk Validate rules, plus chunk i has Ordinal i and
// DocumentID doc.ID, its Text equals doc.Text[Start:End], section path
// elements are non-empty and contain no U+001F, and an id appears once in
// the batch. The first problem is returned as an EINVALID error naming the
// document, and nothing is stored.
func (db *DB) PutDocuments(ctx context.Context, docs []*sextant.Document, chunks [][]sextant.Chunk) error {
	if len(docs) != len(chunks) {
		return sextant.Errorf(sextant.EINVALID, "sqlite: %d documents but %d chunk lists", len(docs), len(chunks))
	}
	seen := make(map[string]struct{}, len(docs))
	for i, d := range docs {
		if d == nil {
			return sextant.Errorf(sextant.EINVALID, "sqlite: document %d of the batch is nil", i)
		}
		if err := validatePut(d, chunks[i]); err != nil {
			return err
		}
		if _, dup := seen[d.ID]; dup {
			return sextant.Errorf(sextant.EINVALID, "sqlite: document %q appears twice in one batch", d.ID)
		}
		seen[d.ID] = struct{}{}
	}
	if len(docs) == 0 {
		return nil
	}
	return db.inTx(ctx, "put documents", func(tx *sql.Tx, gen *int64) error {
		ps, err := preparePut(ctx, tx)
		if err != nil {
			return err
		}
		defer ps.close()
		for i, d := range docs {
			if err := ps.put(ctx, d, chunks[i]); err != nil {
				return fmt.Errorf("document %q: %w", d.ID, err)
			}
			*gen++
			ps.changes = append(ps.changes, sextant.Change{Generation: *gen, DocumentID: d.ID})
		}
		return ps.flushChanges(ctx, tx)
	})
}

func validatePut(d *sextant.Document, chunks []sextant.Chunk) error {
	if err := d.Validate(); err != nil {
		return err
	}
	for _, l := range d.Labels {
		if l == "" {
			return sextant.Errorf(sextant.EINVALID, "document %q has an empty access label", d.ID)
		}
	}
	for i := range chunks {
		c := &chunks[i]
		if err := c.Validate(); err != nil {
			return sextant.Errorf(sextant.EINVALID, "document %q: %w", d.ID, err)
		}
		switch {
		case c.DocumentID != d.ID:
			return sextant.Errorf(sextant.EINVALID, "chunk %q belongs to document %q, not %q", c.ID, c.DocumentID, d.ID)
		case c.Ordinal != i:
			return sextant.Errorf(sextant.EINVALID, "document %q: chunk %q has ordinal %d at position %d (want 0, 1, 2, ... in order)", d.ID, c.ID, c.Ordinal, i)
		case c.End > len(d.Text) || d.Text[c.Start:c.End] != c.Text:
			return sextant.Errorf(sextant.EINVALID, "document %q: chunk %q text is not the document text at [%d,%d)", d.ID, c.ID, c.Start, c.End)
		case c.Tokens < 0:
			return sextant.Errorf(sextant.EINVALID, "document %q: chunk %q has a negative token count", d.ID, c.ID)
		}
		for _, s := range c.Section {
			if s == "" || strings.Contains(s, sectionSep) {
				return sextant.Errorf(sextant.EINVALID, "document %q: chunk %q has an empty section name or one containing U+001F", d.ID, c.ID)
			}
		}
		for j := range i {
			if chunks[j].ID == c.ID {
				return sextant.Errorf(sextant.EINVALID, "document %q: chunk id %q appears twice", d.ID, c.ID)
			}
		}
	}
	return nil
}

// putStmts are the statements of a put, prepared once per transaction.
type putStmts struct {
	del, insDoc, insChunk *sql.Stmt
	changes               []sextant.Change // appended in one multi-row insert at the end
}

func preparePut(ctx context.Context, tx *sql.Tx) (*putStmts, error) {
	ps := &putStmts{}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = tx.PrepareContext(ctx, q)
		return s
	}
	// Chunks go with their document: ON DELETE CASCADE over the
	// (doc, ordinal) index, in the same statement.
	ps.del = prep(`DELETE FROM documents WHERE id = ?`)
	ps.insDoc = prep(`INSERT INTO documents (id, tenant, collection, source, title, media_type, hash, size, text,
		metadata, labels, chunk_count, ingested_at, updated_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	ps.insChunk = prep(`INSERT INTO chunks (doc, ordinal, id, text, section, start_byte, end_byte, tokens)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		ps.close()
		return nil, err
	}
	return ps, nil
}

func (ps *putStmts) close() {
	for _, s := range []*sql.Stmt{ps.del, ps.insDoc, ps.insChunk} {
		if s != nil {
			s.Close()
		}
	}
}

// remove deletes the document with id and its chunks, reporting whether it
// existed.
func (ps *putStmts) remove(ctx context.Context, id string) (bool, error) {
	res, err := ps.del.ExecContext(ctx, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (ps *putStmts) put(ctx context.Context, d *sextant.Document, chunks []sextant.Chunk) error {
	if _, err := ps.remove(ctx, d.ID); err != nil {
		return err
	}
	meta, labels, err := encodeMeta(d)
	if err != nil {
		return err
	}
	res, err := ps.insDoc.ExecContext(ctx, d.ID, d.Tenant, collectionOf(d.Collection), d.Source, d.Title, d.MediaType,
		d.Hash, d.Size, d.Text, meta, labels, len(chunks), timeValue(d.IngestedAt), timeValue(d.UpdatedAt), timeValue(d.ExpiresAt))
	if err != nil {
		return err
	}
	rowid, err := res.LastInsertId()
	if err != nil {
		return err
	}
	for i := range chunks {
		c := &chunks[i]
		var section any
		if len(c.Section) > 0 {
			section = strings.Join(c.Section, sectionSep)
		}
		text := c.Text
		if c.Start == 0 && c.End == len(d.Text) {
			text = "" // the whole document text: stored once, in documents
		}
		if _, err := ps.insChunk.ExecContext(ctx, rowid, c.Ordinal, c.ID, text, section, c.Start, c.End, c.Tokens); err != nil {
			return fmt.Errorf("chunk %q: %w", c.ID, err)
		}
	}
	return nil
}

// flushChanges appends the collected changes to the log, many rows per
// statement.
func (ps *putStmts) flushChanges(ctx context.Context, tx *sql.Tx) error {
	const rows = 200
	for batch := range slices.Chunk(ps.changes, rows) {
		args := make([]any, 0, 3*len(batch))
		for _, c := range batch {
			args = append(args, c.Generation, c.DocumentID, c.Deleted)
		}
		q := `INSERT INTO changes (generation, document_id, deleted) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(batch)), ",")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	ps.changes = ps.changes[:0]
	return nil
}

// DeleteDocument removes the document with id and its chunks, bumping the
// corpus generation. It returns ENOTFOUND when there is no such document.
func (db *DB) DeleteDocument(ctx context.Context, id string) error {
	n, err := db.DeleteDocuments(ctx, []string{id})
	if err != nil {
		return err
	}
	if n == 0 {
		return sextant.Errorf(sextant.ENOTFOUND, "no document with id %q", id)
	}
	return nil
}

// DeleteDocuments removes the documents with the given ids and their chunks
// in one transaction, skipping ids that do not exist, and returns how many
// it removed. Each removal bumps the generation and appends a Change.
func (db *DB) DeleteDocuments(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	err := db.inTx(ctx, "delete documents", func(tx *sql.Tx, gen *int64) error {
		n = 0
		ps, err := preparePut(ctx, tx)
		if err != nil {
			return err
		}
		defer ps.close()
		for _, id := range ids {
			ok, err := ps.remove(ctx, id)
			if err != nil {
				return fmt.Errorf("document %q: %w", id, err)
			}
			if !ok {
				continue
			}
			n++
			*gen++
			ps.changes = append(ps.changes, sextant.Change{Generation: *gen, DocumentID: id, Deleted: true})
		}
		return ps.flushChanges(ctx, tx)
	})
	return n, err
}

// inTx runs fn in a write transaction with the current generation in *gen;
// whatever fn leaves in *gen is stored as the new generation on commit.
func (db *DB) inTx(ctx context.Context, op string, fn func(tx *sql.Tx, gen *int64) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.errorf(op, err)
	}
	defer tx.Rollback()
	var gen int64
	if err := tx.QueryRowContext(ctx, `SELECT generation FROM corpus`).Scan(&gen); err != nil {
		return db.errorf(op, err)
	}
	start := gen
	if err := fn(tx, &gen); err != nil {
		return db.errorf(op, err)
	}
	if gen != start {
		if _, err := tx.ExecContext(ctx, `UPDATE corpus SET generation = ?`, gen); err != nil {
			return db.errorf(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return db.errorf(op, err)
	}
	return nil
}

const docColumns = `d.id, d.tenant, d.collection, d.source, d.title, d.media_type, d.hash, d.size,
	d.metadata, d.labels, d.ingested_at, d.updated_at, d.expires_at`

// scanDoc reads docColumns (plus extra destinations) into a Document.
func scanDoc(row interface{ Scan(...any) error }, extra ...any) (*sextant.Document, error) {
	d := &sextant.Document{}
	var meta, labels sql.NullString
	var ing, upd, exp sql.NullInt64
	dest := append([]any{&d.ID, &d.Tenant, &d.Collection, &d.Source, &d.Title, &d.MediaType, &d.Hash, &d.Size,
		&meta, &labels, &ing, &upd, &exp}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &d.Metadata); err != nil {
			return nil, fmt.Errorf("document %q: decode metadata: %w", d.ID, err)
		}
	}
	if labels.Valid {
		if err := json.Unmarshal([]byte(labels.String), &d.Labels); err != nil {
			return nil, fmt.Errorf("document %q: decode labels: %w", d.ID, err)
		}
	}
	d.IngestedAt, d.UpdatedAt, d.ExpiresAt = timeOf(ing), timeOf(upd), timeOf(exp)
	return d, nil
}

// Document returns the document with id, including its Text, or ENOTFOUND.
func (db *DB) Document(ctx context.Context, id string) (*sextant.Document, error) {
	var text string
	row := db.read.QueryRowContext(ctx, `SELECT `+docColumns+`, d.text FROM documents d WHERE d.id = ?`, id)
	d, err := scanDoc(row, &text)
	if err == sql.ErrNoRows {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "no document with id %q", id)
	}
	if err != nil {
		return nil, db.errorf("document", err)
	}
	d.Text = text
	return d, nil
}

// LookupDocuments returns the stored documents among ids, keyed by id and
// without Text; ids not stored are absent from the map. Ingestion uses it to
// detect unchanged documents by content hash before extracting anything.
func (db *DB) LookupDocuments(ctx context.Context, ids []string) (map[string]*sextant.Document, error) {
	out := make(map[string]*sextant.Document, len(ids))
	for batch := range slices.Chunk(ids, lookupBatch) {
		q := `SELECT ` + docColumns + ` FROM documents d WHERE d.id IN (` + placeholders(len(batch)) + `)`
		rows, err := db.read.QueryContext(ctx, q, anySlice(batch)...)
		if err != nil {
			return nil, db.errorf("lookup documents", err)
		}
		for rows.Next() {
			d, err := scanDoc(rows)
			if err != nil {
				rows.Close()
				return nil, db.errorf("lookup documents", err)
			}
			out[d.ID] = d
		}
		if err := rows.Close(); err != nil {
			return nil, db.errorf("lookup documents", err)
		}
		if err := rows.Err(); err != nil {
			return nil, db.errorf("lookup documents", err)
		}
	}
	return out, nil
}

// chunkColumns reads a chunk joined with its document d. A chunk spanning
// its document's whole text is stored with an empty text (see putStmts.put), so
// single-chunk documents, the common case for records, keep their text
// once; the CASE reads d.text only for those.
const chunkColumns = `c.id, c.ordinal, CASE WHEN c.text = '' AND c.end_byte > c.start_byte THEN d.text ELSE c.text END,
	c.section, c.start_byte, c.end_byte, c.tokens`

// scanChunk reads chunkColumns (plus extra destinations) into c; DocumentID
// is left to the caller.
func scanChunk(row interface{ Scan(...any) error }, c *sextant.Chunk, extra ...any) error {
	var section sql.NullString
	dest := append([]any{&c.ID, &c.Ordinal, &c.Text, &section, &c.Start, &c.End, &c.Tokens}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	c.Section = nil
	if section.Valid && section.String != "" {
		c.Section = strings.Split(section.String, sectionSep)
	}
	return nil
}

// DocumentChunks returns the chunks of document id ordered by Ordinal; an
// unknown id yields no chunks and no error.
func (db *DB) DocumentChunks(ctx context.Context, id string) ([]sextant.Chunk, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+chunkColumns+` FROM documents d
		JOIN chunks c ON c.doc = d.rowid WHERE d.id = ? ORDER BY c.ordinal`, id)
	if err != nil {
		return nil, db.errorf("document chunks", err)
	}
	defer rows.Close()
	var out []sextant.Chunk
	for rows.Next() {
		c := sextant.Chunk{DocumentID: id}
		if err := scanChunk(rows, &c); err != nil {
			return nil, db.errorf("document chunks", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("document chunks", err)
	}
	return out, nil
}

// ChunksByID returns the chunks with the given ids, in the order of ids;
// unknown ids are skipped and a repeated id is returned each time.
func (db *DB) ChunksByID(ctx context.Context, ids []string) ([]sextant.Chunk, error) {
	found := make(map[string]sextant.Chunk, len(ids))
	for batch := range slices.Chunk(ids, lookupBatch) {
		q := `SELECT ` + chunkColumns + `, d.id FROM chunks c JOIN documents d ON d.rowid = c.doc
			WHERE c.id IN (` + placeholders(len(batch)) + `)`
		rows, err := db.read.QueryContext(ctx, q, anySlice(batch)...)
		if err != nil {
			return nil, db.errorf("chunks by id", err)
		}
		for rows.Next() {
			var c sextant.Chunk
			if err := scanChunk(rows, &c, &c.DocumentID); err != nil {
				rows.Close()
				return nil, db.errorf("chunks by id", err)
			}
			found[c.ID] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, db.errorf("chunks by id", err)
		}
	}
	out := make([]sextant.Chunk, 0, len(found))
	for _, id := range ids {
		if c, ok := found[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// Scan calls fn with every document (without Text) and its chunks ordered by
// Ordinal, in storage order, from one consistent snapshot of the store. It
// is the index rebuild path: two sequential reads merged in step, no
// per-document query. Each call gets fresh values fn may keep. fn's error
// stops the scan and is returned unchanged. A stored Collection of "" reads
// back as sextant.DefaultCollection, everywhere.
func (db *DB) Scan(ctx context.Context, fn func(doc *sextant.Document, chunks []sextant.Chunk) error) error {
	// One read transaction, so both cursors see the same snapshot.
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return db.errorf("scan", err)
	}
	defer tx.Rollback()
	docs, err := tx.QueryContext(ctx, `SELECT `+docColumns+`, d.rowid FROM documents d ORDER BY d.rowid`)
	if err != nil {
		return db.errorf("scan", err)
	}
	defer docs.Close()
	chunks, err := tx.QueryContext(ctx, `SELECT `+chunkColumns+`, c.doc FROM chunks c JOIN documents d ON d.rowid = c.doc
		ORDER BY c.doc, c.ordinal`)
	if err != nil {
		return db.errorf("scan", err)
	}
	defer chunks.Close()

	var (
		pending    sextant.Chunk
		pendingDoc int64
		havePend   bool
	)
	nextChunk := func() error {
		havePend = false
		if !chunks.Next() {
			return chunks.Err()
		}
		pending = sextant.Chunk{}
		if err := scanChunk(chunks, &pending, &pendingDoc); err != nil {
			return err
		}
		havePend = true
		return nil
	}
	if err := nextChunk(); err != nil {
		return db.errorf("scan", err)
	}
	for docs.Next() {
		var rowid int64
		d, err := scanDoc(docs, &rowid)
		if err != nil {
			return db.errorf("scan", err)
		}
		var cs []sextant.Chunk
		// Chunks whose document precedes this one cannot exist (foreign
		// key), but skip defensively rather than loop forever.
		for havePend && pendingDoc <= rowid {
			if pendingDoc == rowid {
				pending.DocumentID = d.ID
				cs = append(cs, pending)
			}
			if err := nextChunk(); err != nil {
				return db.errorf("scan", err)
			}
		}
		if err := fn(d, cs); err != nil {
			return err
		}
	}
	if err := docs.Err(); err != nil {
		return db.errorf("scan", err)
	}
	return nil
}

// StoreID is the store's identity: random, made when the store was
// created, never changed. Derived files kept beside the store (search
// snapshots) record it to tell this store from one that replaced it.
func (db *DB) StoreID() string { return db.storeID }

// Generation is the corpus generation: the number of puts and deletes ever
// applied. It never decreases.
func (db *DB) Generation(ctx context.Context) (int64, error) {
	var g int64
	if err := db.read.QueryRowContext(ctx, `SELECT generation FROM corpus`).Scan(&g); err != nil {
		return 0, db.errorf("generation", err)
	}
	return g, nil
}

// Changes returns the changes with Generation > since, in ascending order.
// After CompactChanges, a document changed several times appears once, at
// its latest generation, which is all a catching-up reader needs.
func (db *DB) Changes(ctx context.Context, since int64) ([]sextant.Change, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT generation, document_id, deleted FROM changes
		WHERE generation > ? ORDER BY generation`, since)
	if err != nil {
		return nil, db.errorf("changes", err)
	}
	defer rows.Close()
	var out []sextant.Change
	for rows.Next() {
		var c sextant.Change
		if err := rows.Scan(&c.Generation, &c.DocumentID, &c.Deleted); err != nil {
			return nil, db.errorf("changes", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("changes", err)
	}
	return out, nil
}

// CompactChanges drops every change superseded by a later change of the
// same document and returns how many it dropped. A reader catching up from
// any generation still sees each document whose state changed since then,
// at its latest generation.
func (db *DB) CompactChanges(ctx context.Context) (int64, error) {
	var n int64
	err := db.inTx(ctx, "compact changes", func(tx *sql.Tx, _ *int64) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE generation NOT IN
			(SELECT max(generation) FROM changes GROUP BY document_id)`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// DocumentInfo is a listed document (without Text) with its chunk count.
type DocumentInfo struct {
	Document *sextant.Document
	Chunks   int
}

// DocumentFilter selects documents to list. The zero value lists every
// document of the default tenant.
type DocumentFilter struct {
	Tenant       string              // "" = the default tenant
	Collection   string              // "" = every collection
	SourcePrefix string              // only sources starting with this
	Stale        sextant.StaleFilter // by TTL state at Now
	Now          time.Time           // clock for Stale; zero = time.Now()
	After        string              // keyset pagination: ids greater than this
	Limit        int                 // at most this many; 0 = no limit
}

// ListDocuments returns the documents matching f ordered by id, without
// Text.
func (db *DB) ListDocuments(ctx context.Context, f DocumentFilter) ([]DocumentInfo, error) {
	where := []string{"d.tenant = ?"}
	args := []any{f.Tenant}
	if f.Collection != "" {
		where = append(where, "d.collection = ?")
		args = append(args, f.Collection)
	}
	if f.SourcePrefix != "" {
		where = append(where, "d.source >= ? AND substr(d.source, 1, ?) = ?")
		args = append(args, f.SourcePrefix, len(f.SourcePrefix), f.SourcePrefix)
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch f.Stale {
	case sextant.StaleOnly:
		where = append(where, "d.expires_at IS NOT NULL AND d.expires_at <= ?")
		args = append(args, now.UnixNano())
	case sextant.StaleExclude:
		where = append(where, "(d.expires_at IS NULL OR d.expires_at > ?)")
		args = append(args, now.UnixNano())
	}
	if f.After != "" {
		where = append(where, "d.id > ?")
		args = append(args, f.After)
	}
	q := `SELECT ` + docColumns + `, d.chunk_count FROM documents d WHERE ` + strings.Join(where, " AND ") + ` ORDER BY d.id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, db.errorf("list documents", err)
	}
	defer rows.Close()
	var out []DocumentInfo
	for rows.Next() {
		var n int
		d, err := scanDoc(rows, &n)
		if err != nil {
			return nil, db.errorf("list documents", err)
		}
		out = append(out, DocumentInfo{Document: d, Chunks: n})
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("list documents", err)
	}
	return out, nil
}

// DocumentSources returns id → source URI of the documents of tenant and
// collection whose source starts with prefix. Ingestion's --prune uses it
// to find documents under a root that a run did not see.
func (db *DB) DocumentSources(ctx context.Context, tenant, collection, prefix string) (map[string]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, source FROM documents
		WHERE tenant = ? AND collection = ? AND source >= ? AND substr(source, 1, ?) = ?`,
		tenant, collectionOf(collection), prefix, len(prefix), prefix)
	if err != nil {
		return nil, db.errorf("document sources", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, src string
		if err := rows.Scan(&id, &src); err != nil {
			return nil, db.errorf("document sources", err)
		}
		out[id] = src
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("document sources", err)
	}
	return out, nil
}

// Stats summarises the store.
type Stats struct {
	StoreID     string
	Schema      int   // schema version
	Generation  int64 // corpus generation
	Documents   int64
	Chunks      int64
	TextBytes   int64            // bytes of document text
	Stale       int64            // documents past their TTL at the time asked
	Collections map[string]int64 // documents per collection
	FileBytes   int64            // database file plus its WAL on disk
	// LastUpdate is the latest time a document was added or changed
	// (Document.UpdatedAt); zero for an empty store. Deletions carry no
	// time and do not move it.
	LastUpdate time.Time
	// Quarantined counts documents held in quarantine now (not released).
	Quarantined int64
}

// Stats counts what the store holds; now decides staleness.
func (db *DB) Stats(ctx context.Context, now time.Time) (Stats, error) {
	s := Stats{StoreID: db.storeID, Collections: map[string]int64{}}
	var err error
	if s.Schema, err = db.SchemaVersion(ctx); err != nil {
		return s, err
	}
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s, db.errorf("stats", err)
	}
	defer tx.Rollback()
	var last sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT (SELECT generation FROM corpus), count(*), coalesce(sum(length(CAST(text AS BLOB))), 0),
		coalesce(sum(chunk_count), 0), count(CASE WHEN expires_at IS NOT NULL AND expires_at <= ? THEN 1 END),
		max(coalesce(updated_at, ingested_at)), (SELECT count(*) FROM quarantine WHERE released_at = 0) FROM documents`,
		now.UnixNano()).Scan(&s.Generation, &s.Documents, &s.TextBytes, &s.Chunks, &s.Stale, &last, &s.Quarantined)
	if err != nil {
		return s, db.errorf("stats", err)
	}
	if last.Valid && last.Int64 != 0 {
		s.LastUpdate = time.Unix(0, last.Int64).UTC()
	}
	rows, err := tx.QueryContext(ctx, `SELECT collection, count(*) FROM documents GROUP BY collection`)
	if err != nil {
		return s, db.errorf("stats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			return s, db.errorf("stats", err)
		}
		s.Collections[c] = n
	}
	if err := rows.Err(); err != nil {
		return s, db.errorf("stats", err)
	}
	for _, p := range []string{db.path, db.path + "-wal"} {
		if fi, err := statSize(p); err == nil {
			s.FileBytes += fi
		}
	}
	return s, nil
}

func encodeMeta(d *sextant.Document) (meta, labels any, err error) {
	if len(d.Metadata) > 0 {
		b, err := json.Marshal(d.Metadata)
		if err != nil {
			return nil, nil, err
		}
		meta = string(b)
	}
	if len(d.Labels) > 0 {
		b, err := json.Marshal(d.Labels)
		if err != nil {
			return nil, nil, err
		}
		labels = string(b)
	}
	return meta, labels, nil
}

func statSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func collectionOf(c string) string {
	if c == "" {
		return sextant.DefaultCollection
	}
	return c
}

// timeValue stores t as Unix nanoseconds, the zero time as NULL.
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func timeOf(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anySlice(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
