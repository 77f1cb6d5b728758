package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"iter"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
)

// The audit log's tables are append-only (triggers refuse deletes and
// changes other than tombstoning a payload); package audit owns the chain
// and the checkpoint signatures, this file only stores and reads them.

const auditColumns = `seq, time, kind, actor, tenant, request_id, payload, payload_hash, prev_hash, hash, purged_at`

// AppendAudit runs build with the log's head inside one write transaction
// and stores the records and checkpoints it returns. The transaction
// commits with synchronous=FULL: in WAL mode that syncs the log file on
// commit, so appended records survive power loss, not only a process
// crash (the corpus tables commit with NORMAL). The caller batches records
// to share that sync.
func (db *DB) AppendAudit(ctx context.Context, build func(head sextant.AuditHead) ([]sextant.AuditRecord, []sextant.AuditCheckpoint, error)) error {
	const op = "audit append"
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return db.errorf(op, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return db.errorf(op, err)
	}
	// Back to the corpus tables' setting on the way out, even when ctx has
	// ended, since the connection is shared.
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`)

	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return db.errorf(op, err)
	}
	defer tx.Rollback()
	head, err := auditHead(ctx, tx)
	if err != nil {
		return db.errorf(op, err)
	}
	recs, cps, err := build(head)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		if err := insertAuditRecords(ctx, tx, head, recs); err != nil {
			return db.errorf(op, err)
		}
	}
	for i := range cps {
		cp := &cps[i]
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, time, public_key, signature) VALUES (?, ?, ?, ?, ?)`,
			cp.Seq, cp.Hash[:], cp.Time.UnixNano(), cp.PublicKey, cp.Signature); err != nil {
			return db.errorf(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return db.errorf(op, err)
	}
	return nil
}

// insertRows is how many records one INSERT statement carries: fewer
// statements per batch, within SQLite's 32766 bound on parameters.
const insertRows = 64

func insertAuditRecords(ctx context.Context, tx *sql.Tx, head sextant.AuditHead, recs []sextant.AuditRecord) error {
	want := head.Seq + 1
	for i := range recs {
		if recs[i].Seq != want+int64(i) {
			return sextant.Errorf(sextant.EINTERNAL, "audit: record %d does not follow the log's head %d", recs[i].Seq, want+int64(i)-1)
		}
	}
	full := `INSERT INTO audit_log (` + auditColumns + `) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),", insertRows), ",")
	stmt, err := tx.PrepareContext(ctx, full)
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, 0, 11*insertRows)
	for len(recs) > 0 {
		n := min(len(recs), insertRows)
		args = args[:0]
		for i := range recs[:n] {
			r := &recs[i]
			args = append(args, r.Seq, r.Time.UnixNano(), string(r.Kind), r.Actor, r.Tenant, r.RequestID,
				r.Payload, r.PayloadHash[:], r.PrevHash[:], r.Hash[:], timeValue(r.PurgedAt))
		}
		if n == insertRows {
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			q := `INSERT INTO audit_log (` + auditColumns + `) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),", n), ",")
			_, err = tx.ExecContext(ctx, q, args...)
		}
		if err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func auditHead(ctx context.Context, q queryRower) (sextant.AuditHead, error) {
	var (
		h    sextant.AuditHead
		hash []byte
		t    int64
	)
	err := q.QueryRowContext(ctx, `SELECT seq, hash, time FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &hash, &t)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return h, err
	default:
		if len(hash) != 32 {
			return h, sextant.Errorf(sextant.EINTERNAL, "audit: record %d has a %d-byte hash", h.Seq, len(hash))
		}
		copy(h.Hash[:], hash)
		h.Time = time.Unix(0, t).UTC()
	}
	err = q.QueryRowContext(ctx, `SELECT seq, time FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`).Scan(&h.CheckpointSeq, &t)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return h, err
	default:
		h.CheckpointTime = time.Unix(0, t).UTC()
	}
	return h, nil
}

// AuditHead returns the last record and checkpoint of the audit log.
func (db *DB) AuditHead(ctx context.Context) (sextant.AuditHead, error) {
	h, err := auditHead(ctx, db.read)
	return h, db.errorf("audit head", err)
}

// AuditRecords yields the audit records with Seq >= from in Seq order,
// from one read snapshot. Each record is fresh: the caller may keep it.
func (db *DB) AuditRecords(ctx context.Context, from int64) iter.Seq2[sextant.AuditRecord, error] {
	return func(yield func(sextant.AuditRecord, error) bool) {
		rows, err := db.read.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE seq >= ? ORDER BY seq`, from)
		if err != nil {
			yield(sextant.AuditRecord{}, db.errorf("audit records", err))
			return
		}
		defer rows.Close()
		var (
			kind                    string
			t                       int64
			purged                  sql.NullInt64
			payload, ph, prev, hash sql.RawBytes
		)
		for rows.Next() {
			var r sextant.AuditRecord
			if err := rows.Scan(&r.Seq, &t, &kind, &r.Actor, &r.Tenant, &r.RequestID, &payload, &ph, &prev, &hash, &purged); err != nil {
				yield(r, db.errorf("audit records", err))
				return
			}
			r.Kind = sextant.AuditKind(kind)
			r.Time = time.Unix(0, t).UTC()
			if payload != nil {
				r.Payload = append(make([]byte, 0, len(payload)), payload...)
			}
			if len(ph) != 32 || len(prev) != 32 || len(hash) != 32 {
				// A hash of the wrong size is tampering like any other:
				// leave the field zero and let verification name it.
				ph, prev, hash = fit32(ph), fit32(prev), fit32(hash)
			}
			copy(r.PayloadHash[:], ph)
			copy(r.PrevHash[:], prev)
			copy(r.Hash[:], hash)
			r.PurgedAt = timeOf(purged)
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(sextant.AuditRecord{}, db.errorf("audit records", err))
		}
	}
}

func fit32(b []byte) []byte {
	if len(b) == 32 {
		return b
	}
	return nil
}

// AuditCheckpoints returns every checkpoint of the audit log, by Seq.
func (db *DB) AuditCheckpoints(ctx context.Context) ([]sextant.AuditCheckpoint, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, hash, time, public_key, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, db.errorf("audit checkpoints", err)
	}
	defer rows.Close()
	var out []sextant.AuditCheckpoint
	for rows.Next() {
		var (
			cp   sextant.AuditCheckpoint
			hash []byte
			t    int64
		)
		if err := rows.Scan(&cp.Seq, &hash, &t, &cp.PublicKey, &cp.Signature); err != nil {
			return nil, db.errorf("audit checkpoints", err)
		}
		copy(cp.Hash[:], fit32(hash))
		cp.Time = time.Unix(0, t).UTC()
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("audit checkpoints", err)
	}
	return out, nil
}

// AuditSeqAt returns the Seq of the first record at or after t (one past
// the last record when there is none). Record times never decrease along
// the chain, so this bounds an export by time without a scan.
func (db *DB) AuditSeqAt(ctx context.Context, t time.Time) (int64, error) {
	var seq sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT min(seq) FROM audit_log WHERE time >= ?`, t.UnixNano()).Scan(&seq)
	if err != nil {
		return 0, db.errorf("audit seq at", err)
	}
	if seq.Valid {
		return seq.Int64, nil
	}
	var last int64
	if err := db.read.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit_log`).Scan(&last); err != nil {
		return 0, db.errorf("audit seq at", err)
	}
	return last + 1, nil
}

// PurgeAudit replaces with a tombstone (payload NULL, purged_at = now) the
// payload of every record of kind whose time is before before, and returns
// how many it purged. Hashes stay, so the chain still verifies.
func (db *DB) PurgeAudit(ctx context.Context, kind sextant.AuditKind, before, now time.Time) (int64, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, db.errorf("audit purge", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE audit_log SET payload = NULL, purged_at = ?
		WHERE time < ? AND kind = ? AND payload IS NOT NULL`, now.UnixNano(), before.UnixNano(), string(kind))
	if err != nil {
		return 0, db.errorf("audit purge", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, db.errorf("audit purge", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, db.errorf("audit purge", err)
	}
	return n, nil
}
