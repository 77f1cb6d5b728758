-- The usage ledger (one row per request: who, which model, tokens, cost),
-- budgets set through the CLI or API, and the budget alerts already sent.
--
-- Times are Unix nanoseconds (UTC). Money is US dollars (REAL). Empty
-- strings, not NULLs, stand for "none" in the ledger's grouping columns so
-- GROUP BY and equality filters need no special cases.

CREATE TABLE usage (
	seq                 INTEGER PRIMARY KEY,
	request_id          TEXT    NOT NULL,
	time                INTEGER NOT NULL,
	tenant              TEXT    NOT NULL,
	project             TEXT    NOT NULL,
	key_id              TEXT    NOT NULL,
	user_id             TEXT    NOT NULL,
	assistant           TEXT    NOT NULL,
	model               TEXT    NOT NULL,
	provider            TEXT    NOT NULL,
	input_tokens        INTEGER NOT NULL,
	cached_input_tokens INTEGER NOT NULL,
	output_tokens       INTEGER NOT NULL,
	estimated           INTEGER NOT NULL,  -- tokens counted locally, not reported by the provider
	cost_usd            REAL    NOT NULL,
	saved_usd           REAL    NOT NULL,  -- response-cache hits and provider prompt-cache discounts
	cache               TEXT    NOT NULL,  -- '' generated, 'exact' or 'semantic' response-cache hit
	success             INTEGER NOT NULL,
	priced              INTEGER NOT NULL   -- 0: the model had no price, cost_usd is 0 for that reason
);
-- Reports scan time ranges; budgets sum one key's or project's spend since
-- the start of a window.
CREATE INDEX usage_time ON usage (time);
CREATE INDEX usage_key_time ON usage (key_id, time) WHERE key_id <> '';
CREATE INDEX usage_project_time ON usage (tenant, project, time) WHERE project <> '';

-- scope is 'key' or 'project'; tenant qualifies project budgets ('' for
-- key budgets: key ids are unique across tenants); thresholds is a JSON
-- array of fractions of the limit.
CREATE TABLE budgets (
	scope      TEXT    NOT NULL,
	tenant     TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	period     TEXT    NOT NULL,  -- 'daily' or 'monthly'
	limit_usd  REAL    NOT NULL,
	thresholds TEXT    NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (scope, tenant, id, period)
);

-- An alert is sent once per budget, window and threshold, across restarts.
CREATE TABLE budget_alerts (
	scope        TEXT    NOT NULL,
	tenant       TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	period       TEXT    NOT NULL,
	window_start INTEGER NOT NULL,
	threshold    REAL    NOT NULL,
	fired_at     INTEGER NOT NULL,
	PRIMARY KEY (scope, tenant, id, period, window_start, threshold)
);
