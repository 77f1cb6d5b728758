package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
)

// The audit log's tables are append-only (triggers refuse deletes and
// changes other than tombstoning a payload); package audit owns the chain
// and the checkpoint signatures, this file only stores and reads them.

const auditColumns = `seq, time, kind, actor, tenant, request_id, payload, payload_hash, prev_hash, hash, purged_at`

// auditStmts are the append path's statements, prepared once on the write
// connection: preparing them per batch cost a fifth of an append's CPU.
type auditStmts struct {
	mu     sync.Mutex
	insert map[int]*sql.Stmt // INSERT of n records, for n in insertSizes
	cp     *sql.Stmt         // INSERT of one checkpoint
	head   *sql.Stmt         // the last record
	cpHead *sql.Stmt         // the last checkpoint
}

// insertSizes are the row counts of the prepared multi-row INSERTs; a
// batch is written as a sum of them, largest first.
var insertSizes = [...]int{64, 16, 4, 1}

// stmts returns the prepared statements, preparing them on first use.
func (db *DB) auditStatements(ctx context.Context) (*auditStmts, error) {
	a := &db.audit
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.insert != nil {
		return a, nil
	}
	prep := func(q string) (*sql.Stmt, error) { return db.write.PrepareContext(ctx, q) }
	var err error
	ins := map[int]*sql.Stmt{}
	for _, n := range insertSizes {
		if ins[n], err = prep(`INSERT INTO audit_log (` + auditColumns + `) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),", n), ",")); err != nil {
			return nil, err
		}
	}
	if a.cp, err = prep(`INSERT INTO audit_checkpoints (seq, hash, time, public_key, signature) VALUES (?, ?, ?, ?, ?)`); err != nil {
		return nil, err
	}
	if a.head, err = prep(`SELECT seq, hash, time FROM audit_log ORDER BY seq DESC LIMIT 1`); err != nil {
		return nil, err
	}
	if a.cpHead, err = prep(`SELECT seq, time FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`); err != nil {
		return nil, err
	}
	a.insert = ins
	return a, nil
}

func (a *auditStmts) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, st := range a.insert {
		errs = append(errs, st.Close())
	}
	for _, st := range []*sql.Stmt{a.cp, a.head, a.cpHead} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	a.insert = nil
	return errors.Join(errs...)
}

// AppendAudit runs build with the log's head inside one write transaction
// and stores the records and checkpoints it returns. The transaction
// commits with synchronous=FULL: in WAL mode that syncs the log file on
// commit, so appended records survive power loss, not only a process
// crash (the corpus tables commit with NORMAL). The caller batches records
// to share that sync.
func (db *DB) AppendAudit(ctx context.Context, build func(head sextant.AuditHead) ([]sextant.AuditRecord, []sextant.AuditCheckpoint, error)) error {
	const op = "audit append"
	stmts, err := db.auditStatements(ctx)
	if err != nil {
		return db.errorf(op, err)
	}
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
	head, err := auditHead(ctx, tx.StmtContext(ctx, stmts.head), tx.StmtContext(ctx, stmts.cpHead))
	if err != nil {
		return db.errorf(op, err)
	}
	recs, cps, err := build(head)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		if err := insertAuditRecords(ctx, tx, stmts, head, recs); err != nil {
			return db.errorf(op, err)
		}
	}
	cpStmt := tx.StmtContext(ctx, stmts.cp)
	for i := range cps {
		cp := &cps[i]
		if _, err := cpStmt.ExecContext(ctx, cp.Seq, cp.Hash[:], cp.Time.UnixNano(), cp.PublicKey, cp.Signature); err != nil {
			return db.errorf(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return db.errorf(op, err)
	}
	return nil
}

func insertAuditRecords(ctx context.Context, tx *sql.Tx, stmts *auditStmts, head sextant.AuditHead, recs []sextant.AuditRecord) error {
	want := head.Seq + 1
	for i := range recs {
		if recs[i].Seq != want+int64(i) {
			return sextant.Errorf(sextant.EINTERNAL, "audit: record %d does not follow the log's head %d", recs[i].Seq, want+int64(i)-1)
		}
	}
	args := make([]any, 0, 11*insertSizes[0])
	for _, size := range insertSizes {
		var stmt *sql.Stmt
		for len(recs) >= size {
			if stmt == nil {
				stmt = tx.StmtContext(ctx, stmts.insert[size])
			}
			args = args[:0]
			for i := range recs[:size] {
				r := &recs[i]
				args = append(args, r.Seq, r.Time.UnixNano(), string(r.Kind), r.Actor, r.Tenant, r.RequestID,
					r.Payload, r.PayloadHash[:], r.PrevHash[:], r.Hash[:], timeValue(r.PurgedAt))
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return err
			}
			recs = recs[size:]
		}
	}
	return nil
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

func auditHead(ctx context.Context, headQ, cpQ rowQuerier) (sextant.AuditHead, error) {
	var (
		h    sextant.AuditHead
		hash []byte
		t    int64
	)
	err := headQ.QueryRowContext(ctx).Scan(&h.Seq, &hash, &t)
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
	err = cpQ.QueryRowContext(ctx).Scan(&h.CheckpointSeq, &t)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return h, err
	default:
		h.CheckpointTime = time.Unix(0, t).UTC()
	}
	return h, nil
}

// queryText runs a one-row query given as text, for the read side.
type queryText struct {
	q interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	sql string
}

func (t queryText) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return t.q.QueryRowContext(ctx, t.sql, args...)
}

// AuditHead returns the last record and checkpoint of the audit log.
func (db *DB) AuditHead(ctx context.Context) (sextant.AuditHead, error) {
	h, err := auditHead(ctx, queryText{db.read, `SELECT seq, hash, time FROM audit_log ORDER BY seq DESC LIMIT 1`},
		queryText{db.read, `SELECT seq, time FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`})
	return h, db.errorf("audit head", err)
}

// auditReadColumns are the columns AuditRecords reads: the three hashes
// come back as one 96-byte value, which saves the per-column work of the
// driver on the verification path (a third of its time per row).
const auditReadColumns = `seq, time, kind, actor, tenant, request_id, payload, CAST(payload_hash || prev_hash || hash AS BLOB), purged_at`

// auditMmap is the memory map AuditRecords asks for: reading pages through
// the map instead of read calls makes a full scan (verify, export) about a
// fifth cheaper.
const auditMmap = 1 << 40

// AuditRecords yields the audit records with Seq >= from in Seq order,
// from one read snapshot. A record's Payload is valid only until the next
// iteration (it is the driver's buffer, not a copy: a full scan copies a
// gigabyte less); copy it to keep it.
func (db *DB) AuditRecords(ctx context.Context, from int64) iter.Seq2[sextant.AuditRecord, error] {
	return func(yield func(sextant.AuditRecord, error) bool) {
		conn, err := db.read.Conn(ctx)
		if err != nil {
			yield(sextant.AuditRecord{}, db.errorf("audit records", err))
			return
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA mmap_size = %d`, int64(auditMmap))); err != nil {
			yield(sextant.AuditRecord{}, db.errorf("audit records", err))
			return
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA mmap_size = 0`)
		rows, err := conn.QueryContext(ctx, `SELECT `+auditReadColumns+` FROM audit_log WHERE seq >= ? ORDER BY seq`, from)
		if err != nil {
			yield(sextant.AuditRecord{}, db.errorf("audit records", err))
			return
		}
		defer rows.Close()
		var (
			kind            string
			t               int64
			purged          sql.NullInt64
			payload, hashes sql.RawBytes
		)
		for rows.Next() {
			var r sextant.AuditRecord
			if err := rows.Scan(&r.Seq, &t, &kind, &r.Actor, &r.Tenant, &r.RequestID, &payload, &hashes, &purged); err != nil {
				yield(r, db.errorf("audit records", err))
				return
			}
			r.Kind = sextant.AuditKind(kind)
			r.Time = time.Unix(0, t).UTC()
			r.Payload = []byte(payload)
			// A hash of the wrong size is tampering like any other: leave
			// the fields zero and let verification name the record.
			if len(hashes) == 96 {
				copy(r.PayloadHash[:], hashes[:32])
				copy(r.PrevHash[:], hashes[32:64])
				copy(r.Hash[:], hashes[64:])
			}
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

// AuditByRequest returns the records of request id (one request may have
// several: its answer, policy decisions, approvals), in Seq order, with
// their payloads copied. It reads the request_id index; an unknown id
// gives an empty list.
func (db *DB) AuditByRequest(ctx context.Context, requestID string) ([]sextant.AuditRecord, error) {
	if requestID == "" {
		return nil, nil
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+auditReadColumns+` FROM audit_log WHERE request_id = ? AND request_id <> '' ORDER BY seq`, requestID)
	if err != nil {
		return nil, db.errorf("audit by request", err)
	}
	defer rows.Close()
	var out []sextant.AuditRecord
	for rows.Next() {
		var (
			r       sextant.AuditRecord
			kind    string
			t       int64
			purged  sql.NullInt64
			payload []byte
			hashes  []byte
		)
		if err := rows.Scan(&r.Seq, &t, &kind, &r.Actor, &r.Tenant, &r.RequestID, &payload, &hashes, &purged); err != nil {
			return nil, db.errorf("audit by request", err)
		}
		r.Kind, r.Time, r.Payload, r.PurgedAt = sextant.AuditKind(kind), time.Unix(0, t).UTC(), payload, timeOf(purged)
		if len(hashes) == 96 {
			copy(r.PayloadHash[:], hashes[:32])
			copy(r.PrevHash[:], hashes[32:64])
			copy(r.Hash[:], hashes[64:])
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("audit by request", err)
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
