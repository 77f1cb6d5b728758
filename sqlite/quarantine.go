package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/sextant-ai/sextant"
)

// Quarantine records that a document is quarantined. A document already in
// active quarantine stays as it is: the first finding is kept and nil is
// returned.
func (db *DB) Quarantine(ctx context.Context, q *sextant.Quarantine) error {
	if q.DocumentID == "" {
		return sextant.Errorf(sextant.EINVALID, "sqlite: quarantine without a document id")
	}
	at := q.CreatedAt
	if at.IsZero() {
		at = time.Now()
	}
	return db.inTx(ctx, "quarantine", func(tx *sql.Tx, _ *int64) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO quarantine (document_id, tenant, chunk_id, score, reason, excerpt, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			q.DocumentID, q.Tenant, q.ChunkID, q.Score, q.Reason, q.Excerpt, at.UnixNano())
		return err
	})
}

// ActiveQuarantines returns the ids of the documents in active quarantine,
// in id order.
func (db *DB) ActiveQuarantines(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT document_id FROM quarantine WHERE released_at = 0 ORDER BY document_id`)
	if err != nil {
		return nil, db.errorf("active quarantines", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, db.errorf("active quarantines", err)
		}
		ids = append(ids, id)
	}
	return ids, db.errorf("active quarantines", rows.Err())
}

// QuarantineFilter selects quarantine records to list.
type QuarantineFilter struct {
	Tenant string // only this tenant's; "*" = every tenant (the command line)
	All    bool   // released ones too (history); false = active only
	Limit  int    // at most this many, newest first; 0 = 1000
}

const quarantineColumns = `document_id, tenant, chunk_id, score, reason, excerpt, created_at, released_at, released_by, note`

func scanQuarantine(row interface{ Scan(...any) error }) (sextant.Quarantine, error) {
	var q sextant.Quarantine
	var created, released int64
	err := row.Scan(&q.DocumentID, &q.Tenant, &q.ChunkID, &q.Score, &q.Reason, &q.Excerpt, &created, &released, &q.ReleasedBy, &q.Note)
	q.CreatedAt = time.Unix(0, created).UTC()
	if released != 0 {
		q.ReleasedAt = time.Unix(0, released).UTC()
	}
	return q, err
}

// Quarantines lists quarantine records, newest first.
func (db *DB) Quarantines(ctx context.Context, f QuarantineFilter) ([]sextant.Quarantine, error) {
	if f.Limit <= 0 || f.Limit > 100000 {
		f.Limit = 1000
	}
	q := `SELECT ` + quarantineColumns + ` FROM quarantine WHERE (? = '*' OR tenant = ?) AND (? OR released_at = 0)
		ORDER BY created_at DESC, rowid DESC LIMIT ?`
	rows, err := db.read.QueryContext(ctx, q, f.Tenant, f.Tenant, f.All, f.Limit)
	if err != nil {
		return nil, db.errorf("quarantines", err)
	}
	defer rows.Close()
	var out []sextant.Quarantine
	for rows.Next() {
		r, err := scanQuarantine(rows)
		if err != nil {
			return nil, db.errorf("quarantines", err)
		}
		out = append(out, r)
	}
	return out, db.errorf("quarantines", rows.Err())
}

// ReleaseQuarantine ends the active quarantine of a document, recording who
// released it, when and why, and returns the released record. ENOTFOUND
// when the document is not in active quarantine.
func (db *DB) ReleaseQuarantine(ctx context.Context, documentID, by, note string, at time.Time) (*sextant.Quarantine, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var out sextant.Quarantine
	err := db.inTx(ctx, "release quarantine", func(tx *sql.Tx, _ *int64) error {
		res, err := tx.ExecContext(ctx, `UPDATE quarantine SET released_at = ?, released_by = ?, note = ?
			WHERE document_id = ? AND released_at = 0`, at.UnixNano(), by, note, documentID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sextant.Errorf(sextant.ENOTFOUND, "document %q is not in quarantine", documentID)
		}
		out, err = scanQuarantine(tx.QueryRowContext(ctx, `SELECT `+quarantineColumns+` FROM quarantine
			WHERE document_id = ? ORDER BY released_at DESC, rowid DESC LIMIT 1`, documentID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
