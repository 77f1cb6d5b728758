-- Answers and the conversations (sessions) they belong to. An answer keeps
-- everything needed to replay it: the prompt template's name and hash, the
-- model and sampling parameters, and the numbered sources with their chunk
-- ids and text (JSON). A session's answers, in turn order, are its
-- conversation.
--
-- Times are Unix nanoseconds (UTC).

CREATE TABLE sessions (
	id         TEXT    PRIMARY KEY,
	tenant     TEXT    NOT NULL,
	principal  TEXT    NOT NULL,
	assistant  TEXT    NOT NULL,
	turns      INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX sessions_owner ON sessions (tenant, principal, updated_at);

CREATE TABLE answers (
	rowid         INTEGER PRIMARY KEY,
	id            TEXT    NOT NULL UNIQUE,
	session_id    TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	turn          INTEGER NOT NULL,
	tenant        TEXT    NOT NULL,
	principal     TEXT    NOT NULL,
	assistant     TEXT    NOT NULL,
	question      TEXT    NOT NULL,
	query         TEXT    NOT NULL,
	text          TEXT    NOT NULL,
	finish_reason TEXT    NOT NULL,
	refusal       TEXT    NOT NULL,
	model         TEXT    NOT NULL,
	served        TEXT    NOT NULL,
	template      TEXT    NOT NULL,
	template_hash TEXT    NOT NULL,
	temperature   REAL,                      -- NULL = provider default
	seed          INTEGER,                   -- NULL = none
	max_tokens    INTEGER NOT NULL,
	input_tokens        INTEGER NOT NULL,
	cached_input_tokens INTEGER NOT NULL,
	output_tokens       INTEGER NOT NULL,
	tokens_estimated    INTEGER NOT NULL,
	cache         TEXT    NOT NULL,          -- '' generated, 'exact' or 'semantic'
	chunk_ids     TEXT    NOT NULL,          -- JSON array: the sources' chunk ids, in source order
	sources       TEXT    NOT NULL,          -- JSON array of sources (with text and quotes)
	sentences     TEXT    NOT NULL,          -- JSON array of sentences with citations and support
	timings       TEXT    NOT NULL,          -- JSON array of {stage, ns}
	created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX answers_session_turn ON answers (session_id, turn);
CREATE INDEX answers_tenant_created ON answers (tenant, created_at);
