package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sextant-ai/sextant"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// EvalRun is one stored evaluation run. The store keeps the report as the
// JSON the evaluation package writes; it reads only the columns it lists
// by.
type EvalRun struct {
	ID          string
	Suite       string
	Dataset     string
	Questions   int
	FailedGates int
	Summary     []byte // JSON: variant → metric → value
	Report      []byte // JSON; EvalRuns leaves it nil
	CreatedAt   time.Time
}

// PutEvalRun stores a run. A second run with the same id is refused with
// ECONFLICT.
func (db *DB) PutEvalRun(ctx context.Context, r *EvalRun) error {
	switch {
	case r.ID == "" || r.Suite == "":
		return sextant.Errorf(sextant.EINVALID, "sqlite: an evaluation run needs an id and a suite")
	case r.CreatedAt.IsZero():
		return sextant.Errorf(sextant.EINVALID, "sqlite: evaluation run %q has no time", r.ID)
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO eval_runs (id, suite, dataset, questions, failed_gates, summary, report, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Suite, r.Dataset, r.Questions, r.FailedGates, string(r.Summary), string(r.Report),
		r.CreatedAt.UnixNano())
	var de *sqlitedrv.Error
	if errors.As(err, &de) && de.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return sextant.Errorf(sextant.ECONFLICT, "evaluation run %q already exists", r.ID)
	}
	return db.errorf("put eval run", err)
}

// EvalRun returns the run with id, report included, or ENOTFOUND.
func (db *DB) EvalRun(ctx context.Context, id string) (*EvalRun, error) {
	r, err := scanEvalRun(db.read.QueryRowContext(ctx, `SELECT id, suite, dataset, questions, failed_gates, summary, report, created_at
		FROM eval_runs WHERE id = ?`, id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "evaluation run %q not found (sextant eval history lists them)", id)
	}
	return r, db.errorf("eval run", err)
}

// LastEvalRun returns the newest run of a suite, report included, or
// ENOTFOUND.
func (db *DB) LastEvalRun(ctx context.Context, suite string) (*EvalRun, error) {
	r, err := scanEvalRun(db.read.QueryRowContext(ctx, `SELECT id, suite, dataset, questions, failed_gates, summary, report, created_at
		FROM eval_runs WHERE suite = ? ORDER BY created_at DESC, id DESC LIMIT 1`, suite), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "suite %q has no stored run", suite)
	}
	return r, db.errorf("last eval run", err)
}

// EvalRuns lists runs newest first, without their reports: those of one
// suite, or of every suite when suite is "", at most limit (≤ 0: all).
func (db *DB) EvalRuns(ctx context.Context, suite string, limit int) ([]EvalRun, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, suite, dataset, questions, failed_gates, summary, '', created_at
		FROM eval_runs WHERE ? = '' OR suite = ? ORDER BY created_at DESC, id DESC LIMIT ?`, suite, suite, limit)
	if err != nil {
		return nil, db.errorf("eval runs", err)
	}
	defer rows.Close()
	var out []EvalRun
	for rows.Next() {
		r, err := scanEvalRun(rows, false)
		if err != nil {
			return nil, db.errorf("eval runs", err)
		}
		out = append(out, *r)
	}
	return out, db.errorf("eval runs", rows.Err())
}

func scanEvalRun(row interface{ Scan(...any) error }, withReport bool) (*EvalRun, error) {
	var r EvalRun
	var summary, report string
	var created int64
	if err := row.Scan(&r.ID, &r.Suite, &r.Dataset, &r.Questions, &r.FailedGates, &summary, &report, &created); err != nil {
		return nil, err
	}
	r.Summary = []byte(summary)
	if withReport {
		r.Report = []byte(report)
	}
	r.CreatedAt = time.Unix(0, created).UTC()
	return &r, nil
}

// Verdict returns the judge verdict stored under key (the JSON given to
// PutVerdict) and whether there is one.
func (db *DB) Verdict(ctx context.Context, key string) ([]byte, bool, error) {
	var v string
	err := db.read.QueryRowContext(ctx, `SELECT verdict FROM eval_verdicts WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, db.errorf("verdict", err)
	}
	return []byte(v), true, nil
}

// PutVerdict stores (or replaces) the judge verdict under key.
func (db *DB) PutVerdict(ctx context.Context, key string, verdict []byte, at time.Time) error {
	if key == "" {
		return sextant.Errorf(sextant.EINVALID, "sqlite: a verdict needs a key")
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO eval_verdicts (key, verdict, created_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET verdict = excluded.verdict, created_at = excluded.created_at`, key, string(verdict), at.UnixNano())
	return db.errorf("put verdict", err)
}

// AnswerEval is the online evaluation of one stored answer.
type AnswerEval struct {
	AnswerID             string
	Assistant            string
	Groundedness         float64
	HallucinationRate    float64
	CitationCoverage     float64
	GroundedCitationRate float64
	Relevance            float64
	Claims, Unsupported  int
	Judge                string // the judge's prompt version; "" = the built-in scorer
	CreatedAt            time.Time
}

// PutAnswerEval stores (or replaces) an answer's evaluation. The answer
// must be stored: an unknown answer id is ENOTFOUND.
func (db *DB) PutAnswerEval(ctx context.Context, e *AnswerEval) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO answer_evals (answer_id, assistant, groundedness, hallucination_rate,
		citation_coverage, grounded_citation_rate, relevance, claims, unsupported, judge, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (answer_id) DO UPDATE SET assistant = excluded.assistant, groundedness = excluded.groundedness,
		hallucination_rate = excluded.hallucination_rate, citation_coverage = excluded.citation_coverage,
		grounded_citation_rate = excluded.grounded_citation_rate, relevance = excluded.relevance, claims = excluded.claims,
		unsupported = excluded.unsupported, judge = excluded.judge, created_at = excluded.created_at`,
		e.AnswerID, e.Assistant, e.Groundedness, e.HallucinationRate, e.CitationCoverage, e.GroundedCitationRate, e.Relevance,
		e.Claims, e.Unsupported, e.Judge, e.CreatedAt.UnixNano())
	var de *sqlitedrv.Error
	if errors.As(err, &de) && de.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return sextant.Errorf(sextant.ENOTFOUND, "answer %q is not stored; its evaluation cannot be kept", e.AnswerID)
	}
	return db.errorf("put answer eval", err)
}

// AnswerEval returns the evaluation of an answer, or ENOTFOUND.
func (db *DB) AnswerEval(ctx context.Context, answerID string) (*AnswerEval, error) {
	var e AnswerEval
	var created int64
	err := db.read.QueryRowContext(ctx, `SELECT answer_id, assistant, groundedness, hallucination_rate, citation_coverage,
		grounded_citation_rate, relevance, claims, unsupported, judge, created_at FROM answer_evals WHERE answer_id = ?`, answerID).
		Scan(&e.AnswerID, &e.Assistant, &e.Groundedness, &e.HallucinationRate, &e.CitationCoverage, &e.GroundedCitationRate,
			&e.Relevance, &e.Claims, &e.Unsupported, &e.Judge, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "answer %q has no evaluation", answerID)
	}
	if err != nil {
		return nil, db.errorf("answer eval", err)
	}
	e.CreatedAt = time.Unix(0, created).UTC()
	return &e, nil
}
