-- Guardrails: documents quarantined for indirect prompt injection, and the
-- approval queue for requests and tool calls a person must decide on.
--
-- A quarantined document stays in the corpus unchanged; retrieval leaves it
-- out while it has an active row here (released_at = 0). Text columns hold
-- de-identified text only. Times are Unix nanoseconds (UTC); 0 = not yet.

CREATE TABLE quarantine (
	document_id TEXT    NOT NULL,
	tenant      TEXT    NOT NULL,
	chunk_id    TEXT    NOT NULL,
	score       REAL    NOT NULL,
	reason      TEXT    NOT NULL,
	excerpt     TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	released_at INTEGER NOT NULL DEFAULT 0,
	released_by TEXT    NOT NULL DEFAULT '',
	note        TEXT    NOT NULL DEFAULT ''
);
-- At most one active quarantine per document; released ones are history.
CREATE UNIQUE INDEX quarantine_active ON quarantine (document_id) WHERE released_at = 0;
CREATE INDEX quarantine_document ON quarantine (document_id, created_at);

CREATE TABLE approvals (
	id         TEXT    PRIMARY KEY,
	kind       TEXT    NOT NULL,             -- 'tool_call' or 'request'
	tenant     TEXT    NOT NULL,
	principal  TEXT    NOT NULL,             -- who asked
	assistant  TEXT    NOT NULL,
	model      TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	answer_id  TEXT    NOT NULL,
	tool       TEXT    NOT NULL,
	call_id    TEXT    NOT NULL,
	arguments  TEXT    NOT NULL,             -- the call's JSON arguments, de-identified
	question   TEXT    NOT NULL,             -- de-identified
	key        TEXT    NOT NULL,             -- recognises the same request or call again
	reason     TEXT    NOT NULL,
	rule       TEXT    NOT NULL,
	status     TEXT    NOT NULL,             -- 'pending', 'approved' or 'rejected'
	created_at INTEGER NOT NULL,
	decided_at INTEGER NOT NULL DEFAULT 0,
	decided_by TEXT    NOT NULL DEFAULT '',
	note       TEXT    NOT NULL DEFAULT '',
	used_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX approvals_tenant ON approvals (tenant, status, id);
CREATE INDEX approvals_key ON approvals (tenant, key, created_at);
