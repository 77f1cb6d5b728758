-- The audit log (hash-chained, append-only records and signed checkpoints)
-- and API keys (stored as SHA-256 hashes of their secrets).
--
-- Times are Unix nanoseconds (UTC); NULL means the zero time. Hashes,
-- public keys and signatures are raw bytes.

-- audit_log.seq is the rowid: records are read back in chain order without
-- a separate index. payload is the redacted JSON; retention sets it to NULL
-- and stamps purged_at (a tombstone), keeping payload_hash so the chain
-- still verifies.
CREATE TABLE audit_log (
	seq          INTEGER PRIMARY KEY,
	time         INTEGER NOT NULL,
	kind         TEXT    NOT NULL,
	actor        TEXT    NOT NULL,
	tenant       TEXT    NOT NULL,
	request_id   TEXT    NOT NULL,
	payload      BLOB,
	payload_hash BLOB    NOT NULL,
	prev_hash    BLOB    NOT NULL,
	hash         BLOB    NOT NULL,
	purged_at    INTEGER
);
-- Export --since and retention walk time ranges (times never decrease).
CREATE INDEX audit_log_time ON audit_log (time);
-- Replay and investigations look answers up by request id.
CREATE INDEX audit_log_request ON audit_log (request_id) WHERE request_id <> '';

-- Append-only in the schema too: no statement through SQLite may delete a
-- record or change one, except retention turning a payload into a
-- tombstone. Someone with the file can still drop these triggers; the hash
-- chain and the signed checkpoints are what detect that.
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only: records cannot be deleted');
END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF seq, time, kind, actor, tenant, request_id, payload_hash, prev_hash, hash ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only: records cannot be changed');
END;
CREATE TRIGGER audit_log_tombstone_only BEFORE UPDATE OF payload, purged_at ON audit_log
WHEN NEW.payload IS NOT NULL OR NEW.purged_at IS NULL OR OLD.payload IS NULL
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only: a payload can only be purged once, to a tombstone');
END;

CREATE TABLE audit_checkpoints (
	seq        INTEGER PRIMARY KEY,
	hash       BLOB    NOT NULL,
	time       INTEGER NOT NULL,
	public_key BLOB    NOT NULL,
	signature  BLOB    NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

-- roles and groups are JSON arrays; groups NULL = every document of the
-- tenant, '[]' = unlabelled documents only.
CREATE TABLE api_keys (
	id           TEXT    PRIMARY KEY,
	name         TEXT    NOT NULL,
	hash         BLOB    NOT NULL UNIQUE,
	tenant       TEXT    NOT NULL,
	project      TEXT    NOT NULL,
	roles        TEXT    NOT NULL,
	groups       TEXT,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
);
