package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/sextant-ai/sextant"
)

// The embedding store: a cache of vectors by (space, content hash) that
// llm.Embedder consults (DB implements llm.EmbedCache), the chunk vectors
// the vector index is built from, and the state of the store's spaces (see
// migrations/0005_vectors.sql).

// SpaceInfo describes one embedding space held by the store.
type SpaceInfo struct {
	Space   sextant.EmbeddingSpace
	Dim     int   // vector length; 0 until the first vector is stored
	Vectors int64 // chunks with a vector in this space
}

// VectorState is which spaces the store uses: Active serves queries (nil
// when nothing was ever embedded), Target is a re-embedding in progress
// (nil when none). Chunks counts every stored chunk and Cached every cached
// embedding of every space.
type VectorState struct {
	Active, Target *SpaceInfo
	Chunks         int64
	Cached         int64
}

// Embeddings returns, for each hash, the cached vector of space or nil. It
// implements llm.EmbedCache.
func (db *DB) Embeddings(ctx context.Context, space sextant.EmbeddingSpace, hashes []string) ([][]float32, error) {
	out := make([][]float32, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	id, _, err := db.spaceID(ctx, db.read, space)
	if err != nil || id == 0 {
		return out, err
	}
	keys := make([]any, 0, min(len(hashes), lookupBatch))
	pos := make(map[string][]int, len(hashes))
	for i, h := range hashes {
		b, err := hashKey(h)
		if err != nil {
			return nil, err
		}
		pos[string(b)] = append(pos[string(b)], i)
	}
	uniq := make([]string, 0, len(pos))
	for k := range pos {
		uniq = append(uniq, k)
	}
	slices.Sort(uniq)
	for batch := range slices.Chunk(uniq, lookupBatch) {
		keys = keys[:0]
		keys = append(keys, id)
		for _, k := range batch {
			keys = append(keys, []byte(k))
		}
		rows, err := db.read.QueryContext(ctx, `SELECT hash, vector FROM embeddings WHERE space = ? AND hash IN (`+placeholders(len(batch))+`)`, keys...)
		if err != nil {
			return nil, db.errorf("embeddings", err)
		}
		for rows.Next() {
			var h, blob []byte
			if err := rows.Scan(&h, &blob); err != nil {
				rows.Close()
				return nil, db.errorf("embeddings", err)
			}
			v, err := decodeVector(blob)
			if err != nil {
				rows.Close()
				return nil, db.errorf("embeddings", err)
			}
			for _, i := range pos[string(h)] {
				out[i] = v
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, db.errorf("embeddings", err)
		}
	}
	return out, nil
}

// PutEmbeddings caches vectors[i] under hashes[i] in space (an existing
// entry is kept). Every vector must have the space's length, fixed by the
// first vector ever stored in it; a vector of another length is refused
// with EINVALID and nothing is stored. It implements llm.EmbedCache.
func (db *DB) PutEmbeddings(ctx context.Context, space sextant.EmbeddingSpace, hashes []string, vectors [][]float32) error {
	if len(hashes) != len(vectors) {
		return sextant.Errorf(sextant.EINVALID, "sqlite: %d hashes but %d vectors", len(hashes), len(vectors))
	}
	if len(hashes) == 0 {
		return nil
	}
	if err := space.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, "put embeddings", func(tx *sql.Tx, _ *int64) error {
		sp, err := db.ensureSpace(ctx, tx, space, vectors)
		if err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO embeddings (space, hash, vector) VALUES (?, ?, ?) ON CONFLICT (space, hash) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i, h := range hashes {
			k, err := hashKey(h)
			if err != nil {
				return err
			}
			if _, err := ins.ExecContext(ctx, sp, k, encodeVector(vectors[i])); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutChunkVectors stores vectors of chunks in space, replacing a chunk's
// previous vector in that space, and caches each under its hash. Chunks no
// longer in the store (their document was replaced or deleted meanwhile)
// are skipped; it returns how many were stored. Vectors must all have the
// space's length (EINVALID otherwise, nothing stored). When space is the
// active one, each document whose vectors changed gets a corpus change, so
// indexes following the change log pick the vectors up.
func (db *DB) PutChunkVectors(ctx context.Context, space sextant.EmbeddingSpace, vecs []sextant.ChunkVector) (int, error) {
	if len(vecs) == 0 {
		return 0, nil
	}
	if err := space.Validate(); err != nil {
		return 0, err
	}
	vs := make([][]float32, len(vecs))
	for i := range vecs {
		vs[i] = vecs[i].Vector
	}
	stored := 0
	err := db.inTx(ctx, "put chunk vectors", func(tx *sql.Tx, gen *int64) error {
		stored = 0
		sp, err := db.ensureSpace(ctx, tx, space, vs)
		if err != nil {
			return err
		}
		var active sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT active FROM vector_state`).Scan(&active); err != nil {
			return err
		}
		var stmts []*sql.Stmt
		prep := func(q string) *sql.Stmt {
			if err != nil {
				return nil
			}
			var s *sql.Stmt
			s, err = tx.PrepareContext(ctx, q)
			stmts = append(stmts, s)
			return s
		}
		chunk := prep(`SELECT c.rowid, d.id FROM chunks c JOIN documents d ON d.rowid = c.doc WHERE c.id = ?`)
		insEmb := prep(`INSERT INTO embeddings (space, hash, vector) VALUES (?, ?, ?) ON CONFLICT (space, hash) DO NOTHING`)
		getEmb := prep(`SELECT rowid FROM embeddings WHERE space = ? AND hash = ?`)
		link := prep(`INSERT INTO chunk_vectors (chunk, space, embedding) VALUES (?, ?, ?)
			ON CONFLICT (chunk, space) DO UPDATE SET embedding = excluded.embedding`)
		defer func() {
			for _, s := range stmts {
				if s != nil {
					s.Close()
				}
			}
		}()
		if err != nil {
			return err
		}
		var docs []string
		seen := map[string]bool{}
		for i := range vecs {
			cv := &vecs[i]
			k, err := hashKey(cv.Hash)
			if err != nil {
				return fmt.Errorf("chunk %q: %w", cv.ChunkID, err)
			}
			var rowid int64
			var doc string
			switch err := chunk.QueryRowContext(ctx, cv.ChunkID).Scan(&rowid, &doc); {
			case errors.Is(err, sql.ErrNoRows):
				continue
			case err != nil:
				return err
			}
			if _, err := insEmb.ExecContext(ctx, sp, k, encodeVector(cv.Vector)); err != nil {
				return err
			}
			var emb int64
			if err := getEmb.QueryRowContext(ctx, sp, k).Scan(&emb); err != nil {
				return err
			}
			if _, err := link.ExecContext(ctx, rowid, sp, emb); err != nil {
				return err
			}
			stored++
			if !seen[doc] {
				seen[doc] = true
				docs = append(docs, doc)
			}
		}
		if !active.Valid || active.Int64 != sp || len(docs) == 0 {
			return nil
		}
		ps := &putStmts{}
		for _, d := range docs {
			*gen++
			ps.changes = append(ps.changes, sextant.Change{Generation: *gen, DocumentID: d})
		}
		return ps.flushChanges(ctx, tx)
	})
	return stored, err
}

// PendingChunks returns up to limit chunks with no vector in space and an
// id greater than after, in id order (pass the last id returned to go on).
// Each chunk's DocumentID is set.
func (db *DB) PendingChunks(ctx context.Context, space sextant.EmbeddingSpace, after string, limit int) ([]sextant.Chunk, error) {
	if limit <= 0 {
		limit = 256
	}
	id, _, err := db.spaceID(ctx, db.read, space)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+chunkColumns+`, d.id FROM chunks c JOIN documents d ON d.rowid = c.doc
		WHERE c.id > ? AND NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk = c.rowid AND v.space = ?)
		ORDER BY c.id LIMIT ?`, after, id, limit)
	if err != nil {
		return nil, db.errorf("pending chunks", err)
	}
	defer rows.Close()
	var out []sextant.Chunk
	for rows.Next() {
		var c sextant.Chunk
		if err := scanChunk(rows, &c, &c.DocumentID); err != nil {
			return nil, db.errorf("pending chunks", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("pending chunks", err)
	}
	return out, nil
}

// CountPending returns how many chunks have no vector in space.
func (db *DB) CountPending(ctx context.Context, space sextant.EmbeddingSpace) (int64, error) {
	id, _, err := db.spaceID(ctx, db.read, space)
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.read.QueryRowContext(ctx, `SELECT count(*) FROM chunks c
		WHERE NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk = c.rowid AND v.space = ?)`, id).Scan(&n)
	if err != nil {
		return 0, db.errorf("count pending", err)
	}
	return n, nil
}

// DocumentVectors returns the vectors in space of document id's chunks, by
// chunk id. Chunks without a vector are absent.
func (db *DB) DocumentVectors(ctx context.Context, space sextant.EmbeddingSpace, id string) (map[string][]float32, error) {
	sp, _, err := db.spaceID(ctx, db.read, space)
	if err != nil || sp == 0 {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT c.id, e.vector FROM documents d JOIN chunks c ON c.doc = d.rowid
		JOIN chunk_vectors v ON v.chunk = c.rowid AND v.space = ? JOIN embeddings e ON e.rowid = v.embedding
		WHERE d.id = ?`, sp, id)
	if err != nil {
		return nil, db.errorf("document vectors", err)
	}
	defer rows.Close()
	out := map[string][]float32{}
	for rows.Next() {
		var cid string
		var blob []byte
		if err := rows.Scan(&cid, &blob); err != nil {
			return nil, db.errorf("document vectors", err)
		}
		v, err := decodeVector(blob)
		if err != nil {
			return nil, db.errorf("document vectors", fmt.Errorf("chunk %q: %w", cid, err))
		}
		out[cid] = v
	}
	if err := rows.Err(); err != nil {
		return nil, db.errorf("document vectors", err)
	}
	return out, nil
}

// ScanVectors calls fn with every chunk vector of space, from one
// consistent snapshot of the store. fn may keep v. fn's error stops the
// scan and is returned unchanged.
func (db *DB) ScanVectors(ctx context.Context, space sextant.EmbeddingSpace, fn func(chunkID string, v []float32) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return db.errorf("scan vectors", err)
	}
	defer tx.Rollback()
	sp, _, err := db.spaceID(ctx, tx, space)
	if err != nil || sp == 0 {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT c.id, e.vector FROM chunk_vectors v JOIN chunks c ON c.rowid = v.chunk
		JOIN embeddings e ON e.rowid = v.embedding WHERE v.space = ? ORDER BY v.chunk`, sp)
	if err != nil {
		return db.errorf("scan vectors", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cid string
		var blob []byte
		if err := rows.Scan(&cid, &blob); err != nil {
			return db.errorf("scan vectors", err)
		}
		v, err := decodeVector(blob)
		if err != nil {
			return db.errorf("scan vectors", fmt.Errorf("chunk %q: %w", cid, err))
		}
		if err := fn(cid, v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return db.errorf("scan vectors", err)
	}
	return nil
}

// ActiveSpace returns the space queries use and its vector length; the
// zero space when nothing was ever embedded.
func (db *DB) ActiveSpace(ctx context.Context) (sextant.EmbeddingSpace, int, error) {
	var model sql.NullString
	var dims, dim sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT s.model, s.dimensions, s.dim FROM vector_state st
		LEFT JOIN embedding_spaces s ON s.id = st.active`).Scan(&model, &dims, &dim)
	if err != nil {
		return sextant.EmbeddingSpace{}, 0, db.errorf("active space", err)
	}
	if !model.Valid {
		return sextant.EmbeddingSpace{}, 0, nil
	}
	return sextant.EmbeddingSpace{Model: model.String, Dimensions: int(dims.Int64)}, int(dim.Int64), nil
}

// VectorState reports the active and target spaces with their counts.
func (db *DB) VectorState(ctx context.Context) (VectorState, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return VectorState{}, db.errorf("vector state", err)
	}
	defer tx.Rollback()
	st, err := vectorState(ctx, tx)
	if err != nil {
		return st, db.errorf("vector state", err)
	}
	return st, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func vectorState(ctx context.Context, q querier) (VectorState, error) {
	var st VectorState
	var active, target sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT active, target, (SELECT count(*) FROM chunks), (SELECT count(*) FROM embeddings)
		FROM vector_state`).Scan(&active, &target, &st.Chunks, &st.Cached); err != nil {
		return st, err
	}
	info := func(id int64) (*SpaceInfo, error) {
		s := &SpaceInfo{}
		var dim sql.NullInt64
		err := q.QueryRowContext(ctx, `SELECT model, dimensions, dim, (SELECT count(*) FROM chunk_vectors WHERE space = ?1)
			FROM embedding_spaces WHERE id = ?1`, id).Scan(&s.Space.Model, &s.Space.Dimensions, &dim, &s.Vectors)
		s.Dim = int(dim.Int64)
		return s, err
	}
	var err error
	if active.Valid {
		if st.Active, err = info(active.Int64); err != nil {
			return st, err
		}
	}
	if target.Valid {
		if st.Target, err = info(target.Int64); err != nil {
			return st, err
		}
	}
	return st, nil
}

// ClaimSpace makes space the one new chunk vectors are written to, for an
// ingestion with that embedder. It returns true when space is (now) the
// active space: it already was, or no chunk had a vector yet. It returns
// false when space is the target of a re-embedding in progress (vectors go
// there; queries keep the active space until the re-embedding finishes).
// Any other space is refused with ECONFLICT: the store's vectors were made
// by another model, and changing it is explicit (`sextant reembed`).
func (db *DB) ClaimSpace(ctx context.Context, space sextant.EmbeddingSpace) (bool, error) {
	if err := space.Validate(); err != nil {
		return false, err
	}
	active := false
	err := db.inTx(ctx, "claim embedding space", func(tx *sql.Tx, _ *int64) error {
		st, err := vectorState(ctx, tx)
		if err != nil {
			return err
		}
		switch {
		case st.Active != nil && st.Active.Space == space:
			active = true
			return nil
		case st.Target != nil && st.Target.Space == space:
			return nil
		case st.Active == nil || st.Active.Vectors == 0:
			id, err := db.createSpace(ctx, tx, space)
			if err != nil {
				return err
			}
			active = true
			_, err = tx.ExecContext(ctx, `UPDATE vector_state SET active = ?, target = NULL`, id)
			return err
		}
		return spaceConflict(st, space)
	})
	return active, err
}

func spaceConflict(st VectorState, space sextant.EmbeddingSpace) error {
	msg := fmt.Sprintf("the store's vectors (%d chunks) were made by embedding model %s with %d dimensions, but the embedder is %s: "+
		"run `sextant reembed` to re-embed every chunk with %s (resumable; the old vectors serve queries until it finishes), or configure %s again",
		st.Active.Vectors, st.Active.Space, st.Active.Dim, space, space.Model, st.Active.Space)
	if st.Target != nil {
		msg += fmt.Sprintf("; a re-embedding to %s is in progress (%d of %d chunks done)", st.Target.Space, st.Target.Vectors, st.Chunks)
	}
	return sextant.Errorf(sextant.ECONFLICT, "%s", msg)
}

// BeginReembed records space as the target of a re-embedding: chunk
// vectors are written to it while the active space keeps serving, until
// FinishReembed switches. When no chunk has a vector yet, space becomes the
// active space at once; when it already is the active space, there is
// nothing to switch and the target is cleared. Calling it again with the
// same space resumes; with another space, it replaces the target (vectors
// already made for the old target stay cached).
func (db *DB) BeginReembed(ctx context.Context, space sextant.EmbeddingSpace) (VectorState, error) {
	if err := space.Validate(); err != nil {
		return VectorState{}, err
	}
	var out VectorState
	err := db.inTx(ctx, "begin reembed", func(tx *sql.Tx, _ *int64) error {
		st, err := vectorState(ctx, tx)
		if err != nil {
			return err
		}
		id, err := db.createSpace(ctx, tx, space)
		if err != nil {
			return err
		}
		switch {
		case st.Active != nil && st.Active.Space == space:
			_, err = tx.ExecContext(ctx, `UPDATE vector_state SET target = NULL`)
		case st.Active == nil || st.Active.Vectors == 0:
			_, err = tx.ExecContext(ctx, `UPDATE vector_state SET active = ?, target = NULL`, id)
		default:
			_, err = tx.ExecContext(ctx, `UPDATE vector_state SET target = ?`, id)
		}
		if err != nil {
			return err
		}
		out, err = vectorState(ctx, tx)
		return err
	})
	return out, err
}

// FinishReembed makes the target space active once every chunk has a
// vector in it: in one transaction it switches, drops the old space's
// chunk vectors (their cached embeddings stay) and records a corpus change
// for every document, so indexes rebuild their vectors. It returns false
// when no re-embedding is in progress, and ECONFLICT when chunks still lack
// a target vector (run the re-embedding again to finish them).
func (db *DB) FinishReembed(ctx context.Context) (bool, error) {
	switched := false
	err := db.inTx(ctx, "finish reembed", func(tx *sql.Tx, gen *int64) error {
		var active, target sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT active, target FROM vector_state`).Scan(&active, &target); err != nil {
			return err
		}
		if !target.Valid {
			return nil
		}
		var pending int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM chunks c
			WHERE NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk = c.rowid AND v.space = ?)`, target.Int64).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			return sextant.Errorf(sextant.ECONFLICT, "re-embedding not finished: %d chunks still have no vector in the new space; run `sextant reembed` again", pending)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE vector_state SET active = target, target = NULL`); err != nil {
			return err
		}
		if active.Valid {
			if _, err := tx.ExecContext(ctx, `DELETE FROM chunk_vectors WHERE space = ?`, active.Int64); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO changes (generation, document_id, deleted)
			SELECT ? + row_number() OVER (ORDER BY rowid), id, 0 FROM documents`, *gen)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		*gen += n
		switched = true
		return nil
	})
	return switched, err
}

// spaceID returns the id and vector length of space, or 0 when the store
// has never seen it.
func (db *DB) spaceID(ctx context.Context, q querier, space sextant.EmbeddingSpace) (int64, int, error) {
	var id int64
	var dim sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT id, dim FROM embedding_spaces WHERE model = ? AND dimensions = ?`,
		space.Model, space.Dimensions).Scan(&id, &dim)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, db.errorf("embedding space", err)
	}
	return id, int(dim.Int64), nil
}

func (db *DB) createSpace(ctx context.Context, tx *sql.Tx, space sextant.EmbeddingSpace) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO embedding_spaces (model, dimensions) VALUES (?, ?)
		ON CONFLICT (model, dimensions) DO NOTHING`, space.Model, space.Dimensions); err != nil {
		return 0, err
	}
	id, _, err := db.spaceID(ctx, tx, space)
	return id, err
}

// ensureSpace returns the id of space, creating it, and checks that every
// vector is valid and of the space's length, fixing the length on first
// use.
func (db *DB) ensureSpace(ctx context.Context, tx *sql.Tx, space sextant.EmbeddingSpace, vectors [][]float32) (int64, error) {
	id, err := db.createSpace(ctx, tx, space)
	if err != nil {
		return 0, err
	}
	var dim sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT dim FROM embedding_spaces WHERE id = ?`, id).Scan(&dim); err != nil {
		return 0, err
	}
	want := int(dim.Int64)
	if !dim.Valid {
		want = len(vectors[0])
	}
	for i, v := range vectors {
		if len(v) != want {
			if dim.Valid {
				return 0, sextant.Errorf(sextant.EINVALID, "embedding model %s returned a %d-dimensional vector, but the store holds %d-dimensional vectors for it: "+
					"vectors of different sizes are never mixed; if the model changed, re-embed under another model name or dimensions (sextant reembed)",
					space, len(v), want)
			}
			return 0, sextant.Errorf(sextant.EINVALID, "embedding model %s returned vectors of different sizes in one batch (%d and %d)", space, want, len(v))
		}
		if len(v) == 0 || len(v) > 65536 {
			return 0, sextant.Errorf(sextant.EINVALID, "embedding model %s: vector %d has %d dimensions (want 1..65536)", space, i, len(v))
		}
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return 0, sextant.Errorf(sextant.EINVALID, "embedding model %s: vector %d has a non-finite value at %d", space, i, j)
			}
		}
	}
	if !dim.Valid {
		if _, err := tx.ExecContext(ctx, `UPDATE embedding_spaces SET dim = ? WHERE id = ?`, want, id); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// hashKey decodes a hex SHA-256 content hash.
func hashKey(h string) ([]byte, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return nil, sextant.Errorf(sextant.EINVALID, "content hash %q is not a hex SHA-256", truncate(h, 80))
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// encodeVector writes v as little-endian float32 values.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decodeVector reads a vector written by encodeVector.
func decodeVector(b []byte) ([]float32, error) {
	if len(b) == 0 || len(b)%4 != 0 {
		return nil, fmt.Errorf("stored vector of %d bytes is not a float32 array", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}
