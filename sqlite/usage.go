package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
)

// AppendUsage appends usage records to the ledger in one transaction: all
// of them or, on error, none. Records are validated first; the first bad
// one is refused with EINVALID naming its request id.
func (db *DB) AppendUsage(ctx context.Context, recs []sextant.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return err
		}
	}
	stmts, err := db.usageStatements(ctx)
	if err != nil {
		return db.errorf("append usage", err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.errorf("append usage", err)
	}
	defer tx.Rollback()
	// A batch is written as a sum of multi-row INSERTs, largest first:
	// per row, one bound statement of 64 rows costs a fraction of 64
	// single-row executions.
	args := make([]any, 0, usageParams*insertSizes[0])
	for _, size := range insertSizes {
		var st *sql.Stmt
		for len(recs) >= size {
			if st == nil {
				st = tx.StmtContext(ctx, stmts.insert[size])
			}
			args = args[:0]
			for i := range recs[:size] {
				r := &recs[i]
				args = append(args, r.RequestID, r.Time.UnixNano(), r.Tenant, r.Project, r.Key, r.User,
					r.Assistant, r.Model, r.Provider, r.Usage.InputTokens, r.Usage.CachedInputTokens, r.Usage.OutputTokens,
					boolInt(r.Usage.Estimated), r.CostUSD, r.SavedUSD, r.Cache, boolInt(r.Success), boolInt(r.Priced))
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return db.errorf("append usage", err)
			}
			recs = recs[size:]
		}
	}
	if err := tx.Commit(); err != nil {
		return db.errorf("append usage", err)
	}
	return nil
}

// usageParams is the number of columns AppendUsage binds per record.
const usageParams = 18

// usageStmts are AppendUsage's multi-row INSERTs, prepared once on the
// write connection (preparing per batch, and one execution per row, were
// most of the ledger's CPU).
type usageStmts struct {
	mu     sync.Mutex
	insert map[int]*sql.Stmt // INSERT of n records, for n in insertSizes
}

func (db *DB) usageStatements(ctx context.Context) (*usageStmts, error) {
	u := &db.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.insert != nil {
		return u, nil
	}
	ins := map[int]*sql.Stmt{}
	for _, n := range insertSizes {
		st, err := db.write.PrepareContext(ctx, `INSERT INTO usage (request_id, time, tenant, project, key_id, user_id,
		assistant, model, provider, input_tokens, cached_input_tokens, output_tokens, estimated,
		cost_usd, saved_usd, cache, success, priced) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),", n), ","))
		if err != nil {
			for _, st := range ins {
				st.Close()
			}
			return nil, err
		}
		ins[n] = st
	}
	u.insert = ins
	return u, nil
}

func (u *usageStmts) close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	var errs []error
	for _, st := range u.insert {
		errs = append(errs, st.Close())
	}
	u.insert = nil
	return errors.Join(errs...)
}

// usageGroups maps a grouping to its SQL expression.
var usageGroups = map[string]string{
	"":                       `''`,
	sextant.UsageByDay:       `strftime('%Y-%m-%d', time / 1000000000, 'unixepoch')`,
	sextant.UsageByTenant:    `tenant`,
	sextant.UsageByProject:   `project`,
	sextant.UsageByKey:       `key_id`,
	sextant.UsageByUser:      `user_id`,
	sextant.UsageByAssistant: `assistant`,
	sextant.UsageByModel:     `model`,
}

// UsageTotals sums the ledger records q selects, one total per group in
// ascending group order (for q.By == "" a single overall total, also
// when nothing matched).
func (db *DB) UsageTotals(ctx context.Context, q sextant.UsageQuery) ([]sextant.UsageTotal, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	where, args := usageWhere(q)
	group := usageGroups[q.By]
	query := `SELECT ` + group + ` AS g, count(*), coalesce(sum(success), 0), count(CASE WHEN cache <> '' THEN 1 END),
		count(CASE WHEN priced = 0 THEN 1 END), coalesce(sum(input_tokens), 0), coalesce(sum(cached_input_tokens), 0),
		coalesce(sum(output_tokens), 0), coalesce(sum(cost_usd), 0), coalesce(sum(saved_usd), 0)
		FROM usage` + where
	if q.By != "" {
		query += ` GROUP BY g ORDER BY g`
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, db.errorf("usage totals", err)
	}
	defer rows.Close()
	var out []sextant.UsageTotal
	for rows.Next() {
		var t sextant.UsageTotal
		if err := rows.Scan(&t.Group, &t.Requests, &t.Succeeded, &t.CacheHits, &t.Unpriced, &t.InputTokens,
			&t.CachedInputTokens, &t.OutputTokens, &t.CostUSD, &t.SavedUSD); err != nil {
			return nil, db.errorf("usage totals", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("usage totals", err)
	}
	return out, nil
}

func usageWhere(q sextant.UsageQuery) (string, []any) {
	var conds []string
	var args []any
	if !q.Since.IsZero() {
		conds, args = append(conds, `time >= ?`), append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		conds, args = append(conds, `time < ?`), append(args, q.Until.UnixNano())
	}
	for _, c := range []struct{ col, v string }{{"tenant", q.Tenant}, {"project", q.Project}, {"key_id", q.Key}} {
		if c.v != "" {
			conds, args = append(conds, c.col+` = ?`), append(args, c.v)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// UsageRecords returns the ledger records q selects (q.By is ignored),
// oldest first, at most limit of them (0 = no limit).
func (db *DB) UsageRecords(ctx context.Context, q sextant.UsageQuery, limit int) ([]sextant.UsageRecord, error) {
	q.By = ""
	if err := q.Validate(); err != nil {
		return nil, err
	}
	where, args := usageWhere(q)
	query := `SELECT request_id, time, tenant, project, key_id, user_id, assistant, model, provider, input_tokens,
		cached_input_tokens, output_tokens, estimated, cost_usd, saved_usd, cache, success, priced FROM usage` + where + ` ORDER BY seq`
	if limit > 0 {
		query += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, db.errorf("usage records", err)
	}
	defer rows.Close()
	var out []sextant.UsageRecord
	for rows.Next() {
		var r sextant.UsageRecord
		var ns int64
		var est, ok, priced int
		if err := rows.Scan(&r.RequestID, &ns, &r.Tenant, &r.Project, &r.Key, &r.User, &r.Assistant, &r.Model,
			&r.Provider, &r.Usage.InputTokens, &r.Usage.CachedInputTokens, &r.Usage.OutputTokens, &est,
			&r.CostUSD, &r.SavedUSD, &r.Cache, &ok, &priced); err != nil {
			return nil, db.errorf("usage records", err)
		}
		r.Time = time.Unix(0, ns).UTC()
		r.Usage.Estimated, r.Success, r.Priced = est != 0, ok != 0, priced != 0
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("usage records", err)
	}
	return out, nil
}

// Spent returns what b's key or project spent from since on, by the
// ledger.
func (db *DB) Spent(ctx context.Context, b *sextant.Budget, since time.Time) (float64, error) {
	var query string
	args := []any{since.UnixNano()}
	switch b.Scope {
	case sextant.BudgetKey:
		query = `SELECT coalesce(sum(cost_usd), 0) FROM usage WHERE key_id = ? AND time >= ?`
		args = append([]any{b.ID}, args...)
	case sextant.BudgetProject:
		query = `SELECT coalesce(sum(cost_usd), 0) FROM usage WHERE tenant = ? AND project = ? AND time >= ?`
		args = append([]any{b.Tenant, b.ID}, args...)
	default:
		return 0, b.Validate()
	}
	var v float64
	if err := db.read.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return 0, db.errorf("budget spent", err)
	}
	return v, nil
}

// budgetTenant is the stored tenant of a budget: key ids are unique across
// tenants, so key budgets store none.
func budgetTenant(b *sextant.Budget) string {
	if b.Scope == sextant.BudgetKey {
		return ""
	}
	return b.Tenant
}

// PutBudget creates or replaces the budget with b's scope, tenant, id and
// period.
func (db *DB) PutBudget(ctx context.Context, b *sextant.Budget, now time.Time) error {
	if err := b.Validate(); err != nil {
		return err
	}
	th, err := json.Marshal(b.Thresholds)
	if err != nil {
		return fmt.Errorf("sqlite put budget: %w", err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO budgets (scope, tenant, id, period, limit_usd, thresholds, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (scope, tenant, id, period) DO UPDATE SET limit_usd = excluded.limit_usd,
			thresholds = excluded.thresholds, updated_at = excluded.updated_at`,
		b.Scope, budgetTenant(b), b.ID, b.Period, b.LimitUSD, string(th), now.UnixNano())
	return db.errorf("put budget", err)
}

// DeleteBudget removes a stored budget; ENOTFOUND when there is none.
func (db *DB) DeleteBudget(ctx context.Context, b *sextant.Budget) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM budgets WHERE scope = ? AND tenant = ? AND id = ? AND period = ?`,
		b.Scope, budgetTenant(b), b.ID, b.Period)
	if err != nil {
		return db.errorf("delete budget", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sextant.Errorf(sextant.ENOTFOUND, "budget %s: not found", b.Name())
	}
	return nil
}

// Budgets returns the stored budgets ordered by scope, tenant, id and
// period.
func (db *DB) Budgets(ctx context.Context) ([]sextant.Budget, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT scope, tenant, id, period, limit_usd, thresholds FROM budgets
		ORDER BY scope, tenant, id, period`)
	if err != nil {
		return nil, db.errorf("budgets", err)
	}
	defer rows.Close()
	var out []sextant.Budget
	for rows.Next() {
		var b sextant.Budget
		var th string
		if err := rows.Scan(&b.Scope, &b.Tenant, &b.ID, &b.Period, &b.LimitUSD, &th); err != nil {
			return nil, db.errorf("budgets", err)
		}
		if err := json.Unmarshal([]byte(th), &b.Thresholds); err != nil {
			return nil, sextant.Errorf(sextant.EINTERNAL, "sqlite budgets: budget %s: thresholds %q: %w", b.Name(), th, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("budgets", err)
	}
	return out, nil
}

// MarkBudgetAlert records that b's alert at threshold was sent for the
// window starting at windowStart. first is false when it had been recorded
// before (by this or another process): the alert must not be sent again.
func (db *DB) MarkBudgetAlert(ctx context.Context, b *sextant.Budget, windowStart time.Time, threshold float64, at time.Time) (first bool, err error) {
	res, err := db.write.ExecContext(ctx, `INSERT INTO budget_alerts (scope, tenant, id, period, window_start, threshold, fired_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		b.Scope, budgetTenant(b), b.ID, b.Period, windowStart.UnixNano(), threshold, at.UnixNano())
	if err != nil {
		return false, db.errorf("mark budget alert", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// BudgetAlerts returns the thresholds whose alerts were sent for b's
// window starting at windowStart, ascending.
func (db *DB) BudgetAlerts(ctx context.Context, b *sextant.Budget, windowStart time.Time) ([]float64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT threshold FROM budget_alerts
		WHERE scope = ? AND tenant = ? AND id = ? AND period = ? AND window_start = ? ORDER BY threshold`,
		b.Scope, budgetTenant(b), b.ID, b.Period, windowStart.UnixNano())
	if err != nil {
		return nil, db.errorf("budget alerts", err)
	}
	defer rows.Close()
	var out []float64
	for rows.Next() {
		var t float64
		if err := rows.Scan(&t); err != nil {
			return nil, db.errorf("budget alerts", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("budget alerts", err)
	}
	return out, nil
}
