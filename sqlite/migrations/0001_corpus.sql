-- The corpus: documents, their chunks, and the change log derived
-- structures (search indexes, caches) catch up from.
--
-- Times are Unix nanoseconds (UTC); NULL means the zero time.
-- documents.rowid is the internal key chunks point at; documents.id is the
-- public, stable document id. A replaced document gets a new rowid (delete +
-- insert in one transaction), which keeps chunks of one document contiguous
-- in chunk rowid order and lets Scan read both tables sequentially.

CREATE TABLE corpus (
	singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
	store_id   TEXT    NOT NULL,               -- random identity of this database
	generation INTEGER NOT NULL                -- bumped by every put and delete
);
INSERT INTO corpus (singleton, store_id, generation) VALUES (1, lower(hex(randomblob(16))), 0);

CREATE TABLE documents (
	rowid       INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	tenant      TEXT    NOT NULL,
	collection  TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	title       TEXT    NOT NULL,
	media_type  TEXT    NOT NULL,
	hash        TEXT    NOT NULL,
	size        INTEGER NOT NULL,
	text        TEXT    NOT NULL,
	metadata    TEXT,                          -- JSON object, NULL when empty
	labels      TEXT,                          -- JSON array, NULL when empty
	chunk_count INTEGER NOT NULL,
	ingested_at INTEGER,
	updated_at  INTEGER,
	expires_at  INTEGER
);
-- Listing and pruning by source (prefix ranges) within a collection.
CREATE INDEX documents_source ON documents (tenant, collection, source);

CREATE TABLE chunks (
	rowid   INTEGER PRIMARY KEY,
	doc     INTEGER NOT NULL REFERENCES documents (rowid) ON DELETE CASCADE,
	ordinal INTEGER NOT NULL,
	id      TEXT    NOT NULL UNIQUE,
	text    TEXT    NOT NULL,
	section TEXT,                              -- path elements joined by U+001F, NULL when empty
	start_byte INTEGER NOT NULL,             -- byte offsets into documents.text
	end_byte   INTEGER NOT NULL,
	tokens  INTEGER NOT NULL
);
CREATE UNIQUE INDEX chunks_doc_ordinal ON chunks (doc, ordinal);

CREATE TABLE changes (
	generation  INTEGER PRIMARY KEY,
	document_id TEXT    NOT NULL,
	deleted     INTEGER NOT NULL
);
