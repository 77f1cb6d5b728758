-- Prompt templates and assistants managed at runtime (HTTP API and
-- `sextant templates|assistants`), over the configuration's and the
-- binary's own. Installation-wide, like the configuration file: the
-- answer pipeline is one for every tenant.
--
-- Times are Unix nanoseconds (UTC).

-- Every version of every template ever set or used, content-addressed:
-- hash is the hex SHA-256 of body, the hash answers record, so any
-- answer's template can be found again for replay. Versions are never
-- deleted.
CREATE TABLE template_versions (
	name       TEXT    NOT NULL,
	hash       TEXT    NOT NULL,
	body       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT    NOT NULL,  -- who set it: a key id, "cli:USER", or "builtin" / "file" for versions recorded from the binary or DATA/templates
	PRIMARY KEY (name, hash)
) WITHOUT ROWID;
CREATE INDEX template_versions_created ON template_versions (name, created_at);

-- The version in use per name, when one was set through the API or the
-- command line (otherwise the file or built-in template is).
CREATE TABLE template_active (
	name         TEXT    PRIMARY KEY,
	hash         TEXT    NOT NULL,
	activated_at INTEGER NOT NULL,
	activated_by TEXT    NOT NULL,
	FOREIGN KEY (name, hash) REFERENCES template_versions (name, hash)
);

-- Assistants defined at runtime: spec is the JSON of the API's assistant
-- body. One applies over a configured assistant of the same name.
CREATE TABLE assistant_specs (
	name       TEXT    PRIMARY KEY,
	spec       TEXT    NOT NULL,
	updated_at INTEGER NOT NULL,
	updated_by TEXT    NOT NULL
);

-- Bumped by every change of the two tables above, so a running server
-- polls one integer to notice a change made by another process.
CREATE TABLE prompt_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	generation INTEGER NOT NULL
);
INSERT INTO prompt_state (id, generation) VALUES (1, 0);
