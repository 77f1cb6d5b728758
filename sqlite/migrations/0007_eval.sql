-- Evaluation: the history of suite runs, the LLM judge's verdicts (a
-- persistent cache), and the online scores of sampled live answers.
--
-- Times are Unix nanoseconds (UTC).

-- One row per `sextant eval run`: the whole report as JSON, its key
-- metrics per variant as JSON for listing, and how many gates failed.
CREATE TABLE eval_runs (
	id           TEXT    PRIMARY KEY,
	suite        TEXT    NOT NULL,
	dataset      TEXT    NOT NULL,
	questions    INTEGER NOT NULL,
	failed_gates INTEGER NOT NULL,
	summary      TEXT    NOT NULL,  -- JSON: variant → metric → value (the suite's key metrics)
	report       TEXT    NOT NULL,  -- JSON: the run's report
	created_at   INTEGER NOT NULL
);
CREATE INDEX eval_runs_suite_created ON eval_runs (suite, created_at);
CREATE INDEX eval_runs_created ON eval_runs (created_at);

-- Verdicts of the LLM judge by key (a SHA-256 over the judge prompt's
-- version, the model, the question, the claim and the passages).
CREATE TABLE eval_verdicts (
	key        TEXT    PRIMARY KEY,
	verdict    TEXT    NOT NULL,  -- JSON: {label, support, reason}
	created_at INTEGER NOT NULL
);

-- The online evaluation of a live answer (sampled after it was sent).
CREATE TABLE answer_evals (
	answer_id              TEXT    PRIMARY KEY REFERENCES answers (id) ON DELETE CASCADE,
	assistant              TEXT    NOT NULL,
	groundedness           REAL    NOT NULL,
	hallucination_rate     REAL    NOT NULL,  -- unsupported claims / checkable claims
	citation_coverage      REAL    NOT NULL,
	grounded_citation_rate REAL    NOT NULL,
	relevance              REAL    NOT NULL,
	claims                 INTEGER NOT NULL,  -- checkable claims
	unsupported            INTEGER NOT NULL,
	judge                  TEXT    NOT NULL,  -- the judge's prompt version, '' for the built-in scorer
	created_at             INTEGER NOT NULL
);
CREATE INDEX answer_evals_created ON answer_evals (created_at);
