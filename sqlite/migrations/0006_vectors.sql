-- Embeddings: the cache of vectors by (embedding space, content hash), the
-- chunk vectors that link each chunk to its embedding, and which space the
-- search index uses.
--
-- An embedding space is a model plus the dimensions asked of it. Its vector
-- length (dim) is fixed by the first vector stored and every later vector
-- must match it, so one space never mixes sizes. A chunk has at most one
-- vector per space; while `sextant reembed` fills a new (target) space, the
-- active space keeps serving queries, and finishing the re-embedding makes
-- the target active and drops the old space's chunk vectors (the cached
-- embeddings stay, so switching back costs nothing).

CREATE TABLE embedding_spaces (
	id         INTEGER PRIMARY KEY,
	model      TEXT    NOT NULL,
	dimensions INTEGER NOT NULL,              -- requested size; 0 = the model's native size
	dim        INTEGER,                       -- vector length; NULL until the first vector
	UNIQUE (model, dimensions)
);

CREATE TABLE embeddings (
	rowid  INTEGER PRIMARY KEY,
	space  INTEGER NOT NULL REFERENCES embedding_spaces (id),
	hash   BLOB    NOT NULL,                  -- SHA-256 of the embedded text (32 bytes)
	vector BLOB    NOT NULL                   -- dim little-endian float32 values
);
CREATE UNIQUE INDEX embeddings_key ON embeddings (space, hash);

-- Keyed by chunk first: replacing a document deletes its chunks, and the
-- cascade finds their vectors by this key.
CREATE TABLE chunk_vectors (
	chunk     INTEGER NOT NULL REFERENCES chunks (rowid) ON DELETE CASCADE,
	space     INTEGER NOT NULL REFERENCES embedding_spaces (id),
	embedding INTEGER NOT NULL REFERENCES embeddings (rowid),
	PRIMARY KEY (chunk, space)
) WITHOUT ROWID;
CREATE INDEX chunk_vectors_space ON chunk_vectors (space, chunk);

CREATE TABLE vector_state (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	active    INTEGER REFERENCES embedding_spaces (id),  -- the space queries use; NULL = none yet
	target    INTEGER REFERENCES embedding_spaces (id)   -- a re-embedding in progress; NULL = none
);
INSERT INTO vector_state (singleton) VALUES (1);
