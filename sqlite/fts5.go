package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/sextant-ai/sextant"
)

// FTS5 is a SQLite FTS5 full-text index ranked by FTS5's bm25(), through
// the same driver as the store. It is the peer the retrieval benchmark
// measures Sextant's own index against, on the same chunks and queries; the
// product does not search with it.
type FTS5 struct {
	db     *sql.DB
	search *sql.Stmt
}

// FTS5Row is one indexed chunk.
type FTS5Row struct {
	ChunkID, DocumentID, Title, Body string
}

// FTS5Hit is one ranked chunk. Score is -bm25(), so higher is better as
// everywhere else in Sextant.
type FTS5Hit struct {
	ChunkID, DocumentID string
	Score               float64
}

// OpenFTS5 creates (or opens) an FTS5 index in the database file path. The
// table uses the porter stemmer over unicode61 with diacritics removed, the
// closest FTS5 comes to Sextant's analyzer; titleWeight weights the title
// column in bm25() (body weight 1).
func OpenFTS5(ctx context.Context, path string, titleWeight float64) (*FTS5, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(OFF)")
	q.Add("_pragma", "cache_size(-262144)")
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return nil, sextant.Errorf(sextant.EUNAVAILABLE, "fts5: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
		chunk_id UNINDEXED, document_id UNINDEXED, title, body,
		tokenize = 'porter unicode61 remove_diacritics 2')`); err != nil {
		db.Close()
		return nil, sextant.Errorf(sextant.EUNAVAILABLE, "fts5: create table in %s: %w", path, err)
	}
	stmt, err := db.PrepareContext(ctx, fmt.Sprintf(`SELECT chunk_id, document_id, bm25(chunks_fts, 0, 0, %g, 1) AS r
		FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY r LIMIT ?`, titleWeight))
	if err != nil {
		db.Close()
		return nil, sextant.Errorf(sextant.EUNAVAILABLE, "fts5: prepare search: %w", err)
	}
	return &FTS5{db: db, search: stmt}, nil
}

// Close closes the index database.
func (f *FTS5) Close() error {
	f.search.Close()
	return f.db.Close()
}

// Add indexes rows in one transaction.
func (f *FTS5) Add(ctx context.Context, rows []FTS5Row) error {
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("fts5: add: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO chunks_fts(chunk_id, document_id, title, body) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("fts5: add: %w", err)
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.ChunkID, r.DocumentID, r.Title, r.Body); err != nil {
			return fmt.Errorf("fts5: add chunk %q: %w", r.ChunkID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("fts5: add: %w", err)
	}
	return nil
}

// Optimize merges the index b-trees, as one would before serving queries.
func (f *FTS5) Optimize(ctx context.Context) error {
	if _, err := f.db.ExecContext(ctx, `INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("fts5: optimize: %w", err)
	}
	return nil
}

// FTS5Query turns free text into an FTS5 MATCH expression: the words of
// text (letters and digits), lower-cased, each quoted (so no word is read
// as an operator), minus stop, joined with OR — the bag-of-words semantics
// of BM25. It returns "" when no word is left.
func FTS5Query(text string, stop map[string]bool) string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	var b strings.Builder
	seen := map[string]bool{}
	for _, w := range words {
		if stop[w] || seen[w] {
			continue
		}
		seen[w] = true
		if b.Len() > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString(`"` + w + `"`)
	}
	return b.String()
}

// Search returns the k best chunks for a MATCH expression (see FTS5Query).
func (f *FTS5) Search(ctx context.Context, match string, k int) ([]FTS5Hit, error) {
	if match == "" {
		return nil, nil
	}
	rows, err := f.search.QueryContext(ctx, match, k)
	if err != nil {
		return nil, fmt.Errorf("fts5: search %q: %w", match, err)
	}
	defer rows.Close()
	var out []FTS5Hit
	for rows.Next() {
		var h FTS5Hit
		if err := rows.Scan(&h.ChunkID, &h.DocumentID, &h.Score); err != nil {
			return nil, fmt.Errorf("fts5: search: %w", err)
		}
		h.Score = -h.Score
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fts5: search: %w", err)
	}
	return out, nil
}
