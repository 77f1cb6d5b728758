package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sextant-ai/sextant"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const approvalColumns = `id, kind, tenant, principal, assistant, model, session_id, answer_id, tool, call_id, arguments,
	question, key, reason, rule, status, created_at, decided_at, decided_by, note, used_at`

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func scanApproval(row interface{ Scan(...any) error }) (*sextant.Approval, error) {
	a := &sextant.Approval{}
	var status string
	var created, decided, used int64
	if err := row.Scan(&a.ID, &a.Kind, &a.Tenant, &a.Principal, &a.Assistant, &a.Model, &a.SessionID, &a.AnswerID,
		&a.Tool, &a.CallID, &a.Arguments, &a.Question, &a.Key, &a.Reason, &a.Rule, &status, &created, &decided,
		&a.DecidedBy, &a.Note, &used); err != nil {
		return nil, err
	}
	a.Status = sextant.ApprovalStatus(status)
	a.CreatedAt, a.DecidedAt, a.UsedAt = fromNanos(created), fromNanos(decided), fromNanos(used)
	return a, nil
}

// PutApproval stores a new approval. It must have an id, a kind and status
// pending; an existing id is refused with ECONFLICT.
func (db *DB) PutApproval(ctx context.Context, a *sextant.Approval) error {
	switch {
	case a.ID == "":
		return sextant.Errorf(sextant.EINVALID, "sqlite: approval has no id")
	case a.Kind != sextant.ApprovalToolCall && a.Kind != sextant.ApprovalRequest:
		return sextant.Errorf(sextant.EINVALID, "sqlite: approval %s: kind %q (want %s or %s)", a.ID, a.Kind, sextant.ApprovalToolCall, sextant.ApprovalRequest)
	case a.Status != sextant.ApprovalPending:
		return sextant.Errorf(sextant.EINVALID, "sqlite: approval %s: a new approval is pending, not %q", a.ID, a.Status)
	}
	created := a.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	err := db.inTx(ctx, "put approval", func(tx *sql.Tx, _ *int64) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO approvals (`+approvalColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', '', 0)`,
			a.ID, a.Kind, a.Tenant, a.Principal, a.Assistant, a.Model, a.SessionID, a.AnswerID, a.Tool, a.CallID,
			a.Arguments, a.Question, a.Key, a.Reason, a.Rule, string(a.Status), created.UnixNano())
		return err
	})
	var de *sqlitedrv.Error
	if errors.As(err, &de) && de.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return &sextant.Error{Code: sextant.ECONFLICT, Op: "sqlite put approval", Message: fmt.Sprintf("approval %s already exists", a.ID), Err: err}
	}
	return err
}

// Approval returns the approval with id, or ENOTFOUND.
func (db *DB) Approval(ctx context.Context, id string) (*sextant.Approval, error) {
	a, err := scanApproval(db.read.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "approval %q not found", id)
	}
	if err != nil {
		return nil, db.errorf("approval", err)
	}
	return a, nil
}

// ApprovalByKey returns the newest approval of tenant with key, or
// ENOTFOUND.
func (db *DB) ApprovalByKey(ctx context.Context, tenant, key string) (*sextant.Approval, error) {
	a, err := scanApproval(db.read.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals
		WHERE tenant = ? AND key = ? ORDER BY created_at DESC, id DESC LIMIT 1`, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "no approval with key %q", key)
	}
	if err != nil {
		return nil, db.errorf("approval by key", err)
	}
	return a, nil
}

// DecideApproval approves or rejects a pending approval and returns it as
// decided. ENOTFOUND for an unknown id, ECONFLICT when it was decided
// already (the first decision stands), EINVALID for another status.
func (db *DB) DecideApproval(ctx context.Context, id string, status sextant.ApprovalStatus, by, note string, at time.Time) (*sextant.Approval, error) {
	if status != sextant.ApprovalApproved && status != sextant.ApprovalRejected {
		return nil, sextant.Errorf(sextant.EINVALID, "approval %s: decide %q (want approved or rejected)", id, status)
	}
	if at.IsZero() {
		at = time.Now()
	}
	var out *sextant.Approval
	err := db.inTx(ctx, "decide approval", func(tx *sql.Tx, _ *int64) error {
		cur, err := scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return sextant.Errorf(sextant.ENOTFOUND, "approval %q not found", id)
		}
		if err != nil {
			return err
		}
		if cur.Status != sextant.ApprovalPending {
			return sextant.Errorf(sextant.ECONFLICT, "approval %s was already %s by %s at %s", id, cur.Status, cur.DecidedBy, cur.DecidedAt.Format(time.RFC3339))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, note = ? WHERE id = ?`,
			string(status), at.UnixNano(), by, note, id); err != nil {
			return err
		}
		cur.Status, cur.DecidedAt, cur.DecidedBy, cur.Note = status, fromNanos(at.UnixNano()), by, note
		out = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UseApproval marks an approved request approval as used. ECONFLICT when
// it is not approved or was used already; ENOTFOUND for an unknown id.
func (db *DB) UseApproval(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	return db.inTx(ctx, "use approval", func(tx *sql.Tx, _ *int64) error {
		res, err := tx.ExecContext(ctx, `UPDATE approvals SET used_at = ? WHERE id = ? AND status = 'approved' AND used_at = 0`, nanos(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var status string
		var used int64
		switch err := tx.QueryRowContext(ctx, `SELECT status, used_at FROM approvals WHERE id = ?`, id).Scan(&status, &used); {
		case errors.Is(err, sql.ErrNoRows):
			return sextant.Errorf(sextant.ENOTFOUND, "approval %q not found", id)
		case err != nil:
			return err
		case used != 0:
			return sextant.Errorf(sextant.ECONFLICT, "approval %s was used already", id)
		}
		return sextant.Errorf(sextant.ECONFLICT, "approval %s is %s, not approved", id, status)
	})
}

// ListApprovals lists approvals of f.Tenant, newest first, by f's other
// conditions.
func (db *DB) ListApprovals(ctx context.Context, f sextant.ApprovalFilter) ([]sextant.Approval, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		return nil, sextant.Errorf(sextant.EINVALID, "limit %d: at most 1000", f.Limit)
	}
	switch f.Status {
	case "", sextant.ApprovalPending, sextant.ApprovalApproved, sextant.ApprovalRejected:
	default:
		return nil, sextant.Errorf(sextant.EINVALID, "status %q: want pending, approved or rejected", f.Status)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+approvalColumns+` FROM approvals
		WHERE tenant = ? AND (? = '' OR status = ?) AND (? = '' OR principal = ?) AND (? = '' OR id < ?)
		ORDER BY id DESC LIMIT ?`,
		f.Tenant, string(f.Status), string(f.Status), f.Principal, f.Principal, f.Before, f.Before, f.Limit)
	if err != nil {
		return nil, db.errorf("list approvals", err)
	}
	defer rows.Close()
	var out []sextant.Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, db.errorf("list approvals", err)
		}
		out = append(out, *a)
	}
	return out, db.errorf("list approvals", rows.Err())
}
