package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/bm25"
	"github.com/sextant-ai/sextant/hnsw"
)

// VectorStore is what the vector index reads of the store, besides Store
// (sqlite.DB provides it): the active embedding space and the chunk
// vectors in it.
type VectorStore interface {
	// ActiveSpace returns the space queries use and its vector length, or
	// the zero space when nothing was ever embedded.
	ActiveSpace(ctx context.Context) (sextant.EmbeddingSpace, int, error)
	// DocumentVectors returns the vectors in space of a document's chunks,
	// by chunk id; chunks without one are absent.
	DocumentVectors(ctx context.Context, space sextant.EmbeddingSpace, id string) (map[string][]float32, error)
	// ScanVectors calls fn with every chunk vector of space.
	ScanVectors(ctx context.Context, space sextant.EmbeddingSpace, fn func(chunkID string, v []float32) error) error
}

// VectorOptions configures the vector index. The zero value has none: the
// index is lexical only and costs nothing more than before vectors
// existed.
type VectorOptions struct {
	// Enabled keeps an ANN index of the store's chunk vectors (the store
	// must implement VectorStore), in step with the store like the lexical
	// index, and snapshotted beside it.
	Enabled bool
	// Embed embeds query text for vector and hybrid queries (llm.Embedder:
	// with the store as its cache, a repeated query is embedded once).
	// nil: only queries carrying Query.Vector can use the vector index.
	Embed sextant.EmbedFunc
	// Space is Embed's embedding space. When the store's vectors are of
	// another space, query text cannot be embedded comparably: vector and
	// hybrid queries without a Query.Vector are refused with an error
	// naming both spaces, and auto queries stay lexical.
	Space sextant.EmbeddingSpace
	// M, EfConstruction and EfSearch are the HNSW parameters (0 = the hnsw
	// defaults 16, 200, 64; searches use at least the candidate depth).
	M, EfConstruction, EfSearch int
	// Int8 keeps 8-bit codes in memory instead of float32 vectors (a
	// quarter of the memory) and rescores the best candidates with the
	// float vectors (see vectorSource).
	Int8 bool
	// Seed seeds the graph's level generator (deterministic builds).
	Seed uint64
}

// noNode marks a chunk number without a vector.
const noNode = ^uint32(0)

// vectors is the vector index over the lexical index's chunk numbers.
// Fields change only under Index.mu (write); hn is safe for concurrent
// searches.
type vectors struct {
	space   sextant.EmbeddingSpace
	dim     int
	hn      *hnsw.Index
	chunkOf []uint32 // hnsw id → chunk number
	nodeOf  []uint32 // chunk number → hnsw id, or noNode
	floats  *floatFile
}

func (o *VectorOptions) hnswOptions(dim int) hnsw.Options {
	q := hnsw.Float32
	if o.Int8 {
		q = hnsw.Int8
	}
	return hnsw.Options{Dim: dim, Metric: hnsw.Cosine, M: o.M, EfConstruction: o.EfConstruction,
		EfSearch: o.EfSearch, Quantization: q, Seed: o.Seed}
}

// vectorFingerprint identifies the settings that shape the vector index.
func (ix *Index) vectorFingerprint(space sextant.EmbeddingSpace, dim int) string {
	o := ix.opts.Vector.hnswOptions(dim)
	return fmt.Sprintf("space=%q/%d;dim=%d;metric=%v;m=%d;efc=%d;quant=%v;seed=%d",
		space.Model, space.Dimensions, dim, o.Metric, o.M, o.EfConstruction, o.Quantization, o.Seed)
}

func (ix *Index) vectorStore() VectorStore {
	if !ix.opts.Vector.Enabled {
		return nil
	}
	vs, _ := ix.store.(VectorStore)
	return vs
}

// buildVectors reads every vector of space from the store and builds an
// index over the chunks numbered in chunkID (vectors of chunks not in it
// are skipped: the change log brings them).
func (ix *Index) buildVectors(ctx context.Context, vs VectorStore, space sextant.EmbeddingSpace, dim int, chunkID []string) (*vectors, error) {
	num := make(map[string]uint32, len(chunkID))
	for n, id := range chunkID {
		if id != "" {
			num[id] = uint32(n)
		}
	}
	var vecs [][]float32
	var chunkOf []uint32
	err := vs.ScanVectors(ctx, space, func(id string, v []float32) error {
		n, ok := num[id]
		if !ok {
			return nil
		}
		if len(v) != dim {
			return sextant.Errorf(sextant.EINTERNAL, "search: chunk %q has a %d-dimensional vector in space %s of %d dimensions", id, len(v), space, dim)
		}
		vecs = append(vecs, v)
		chunkOf = append(chunkOf, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search: read vectors: %w", err)
	}
	v := &vectors{space: space, dim: dim, chunkOf: chunkOf, nodeOf: make([]uint32, len(chunkID))}
	for i := range v.nodeOf {
		v.nodeOf[i] = noNode
	}
	for id, n := range chunkOf {
		v.nodeOf[n] = uint32(id)
	}
	opt := ix.opts.Vector.hnswOptions(dim)
	if opt.Quantization == hnsw.Int8 {
		if len(vecs) == 0 {
			// Nothing to train the quantizer on yet: keep floats until the
			// next rebuild.
			opt.Quantization = hnsw.Float32
		} else {
			if v.floats, err = newFloatFile(ix.opts.Dir, dim, vecs); err != nil {
				return nil, err
			}
			opt.Source = v.floats.source
		}
	}
	if v.hn, err = hnsw.Build(ctx, opt, vecs); err != nil {
		v.floats.close()
		return nil, sextant.Errorf(sextant.EINTERNAL, "search: build vector index: %w", err)
	}
	return v, nil
}

// syncVectors makes the vector index follow the store's active space:
// built when missing, rebuilt when the space changed, dropped when the
// store has none. The caller holds ix.update.
func (ix *Index) syncVectors(ctx context.Context) error {
	vs := ix.vectorStore()
	if vs == nil {
		return nil
	}
	space, dim, err := vs.ActiveSpace(ctx)
	if err != nil {
		return fmt.Errorf("search: vectors: %w", err)
	}
	ix.mu.RLock()
	cur := ix.vec
	ix.mu.RUnlock()
	if cur != nil && cur.space == space && (cur.dim == dim || dim == 0) {
		return nil
	}
	if space.IsZero() || dim == 0 {
		ix.setVectors(nil)
		return nil
	}
	ix.mu.RLock()
	ids := append([]string(nil), ix.chunkID...)
	ix.mu.RUnlock()
	v, err := ix.buildVectors(ctx, vs, space, dim, ids)
	if err != nil {
		return err
	}
	// Only updaters (holding ix.update, as the caller does) change chunk
	// numbers, so ids is still the numbering.
	ix.setVectors(v)
	return nil
}

// setVectors publishes v (nil = no vector index).
func (ix *Index) setVectors(v *vectors) {
	ix.mu.Lock()
	old := ix.vec
	ix.vec = v
	ix.vdirty = true
	ix.hasVec.Store(v != nil && v.hn.Live() > 0)
	ix.mu.Unlock()
	if old != nil && old != v {
		old.floats.close()
	}
}

// docVectors reads the vectors of a changed document for apply, or nil
// when there is no vector index.
func (ix *Index) docVectors(ctx context.Context, id string) (map[string][]float32, error) {
	vs := ix.vectorStore()
	if vs == nil {
		return nil, nil
	}
	ix.mu.RLock()
	v := ix.vec
	ix.mu.RUnlock()
	if v == nil {
		return nil, nil
	}
	return vs.DocumentVectors(ctx, v.space, id)
}

// addVectors indexes the vectors of a just-added document's chunks; the
// caller holds the write lock. A vector of the wrong size (the store
// switched spaces meanwhile) is left out; syncVectors rebuilds.
func (ix *Index) addVectors(e *docEntry, ids []string, vecs map[string][]float32) error {
	v := ix.vec
	if v == nil || len(vecs) == 0 {
		return nil
	}
	for i, n := range e.chunks {
		vec, ok := vecs[ids[i]]
		if !ok || len(vec) != v.dim {
			continue
		}
		if v.floats != nil {
			if err := v.floats.append(vec); err != nil {
				return err
			}
		}
		id, err := v.hn.Add(vec)
		if err != nil {
			return sextant.Errorf(sextant.EINTERNAL, "search: index vector of chunk %q: %w", ids[i], err)
		}
		if int(id) != len(v.chunkOf) {
			return sextant.Errorf(sextant.EINTERNAL, "search: vector index numbering out of step (%d, want %d)", id, len(v.chunkOf))
		}
		v.chunkOf = append(v.chunkOf, n)
		for int(n) >= len(v.nodeOf) {
			v.nodeOf = append(v.nodeOf, noNode)
		}
		v.nodeOf[n] = id
	}
	ix.vdirty = true
	ix.hasVec.Store(v.hn.Live() > 0)
	return nil
}

// removeVectors unindexes the vectors of a removed document's chunks; the
// caller holds the write lock.
func (ix *Index) removeVectors(e *docEntry) {
	v := ix.vec
	if v == nil {
		return
	}
	for _, n := range e.chunks {
		if int(n) >= len(v.nodeOf) || v.nodeOf[n] == noNode {
			continue
		}
		_ = v.hn.Delete(v.nodeOf[n]) // ids come from this index: never ErrNotFound
		v.nodeOf[n] = noNode
		ix.vdirty = true
	}
	ix.hasVec.Store(v.hn.Live() > 0)
}

// compactVectors drops tombstones once they are a quarter of the graph;
// the caller holds the write lock.
func (ix *Index) compactVectors(ctx context.Context) error {
	v := ix.vec
	if v == nil || v.hn.Len() < 64 || (v.hn.Len()-v.hn.Live())*4 < v.hn.Len() {
		return nil
	}
	hn, remap, err := v.hn.Compact(ctx)
	if err != nil {
		return err
	}
	chunkOf := make([]uint32, hn.Len())
	for old, nw := range remap {
		if nw != hnsw.Removed {
			chunkOf[nw] = v.chunkOf[old]
		}
	}
	for i := range v.nodeOf {
		v.nodeOf[i] = noNode
	}
	for id, n := range chunkOf {
		v.nodeOf[n] = uint32(id)
	}
	if v.floats != nil {
		if err := v.floats.compact(remap, hn.Len()); err != nil {
			return err
		}
	}
	v.hn, v.chunkOf = hn, chunkOf
	ix.vdirty = true
	return nil
}

// queryVector returns q's embedding: q.Vector when given (checked against
// the index's dimension), else the embedding of q.Text by Options.Vector.Embed.
func (ix *Index) queryVector(ctx context.Context, q *sextant.Query) ([]float32, error) {
	ix.mu.RLock()
	v := ix.vec
	ix.mu.RUnlock()
	if v == nil {
		return nil, ix.noVectors()
	}
	if q.Vector != nil {
		if len(q.Vector) != v.dim {
			return nil, sextant.Errorf(sextant.EINVALID, "query vector has %d dimensions, the index's vectors (%s) have %d", len(q.Vector), v.space, v.dim)
		}
		return q.Vector, nil
	}
	if err := ix.canEmbed(v); err != nil {
		return nil, err
	}
	if q.Text == "" {
		return nil, sextant.Errorf(sextant.EINVALID, "a vector query needs query text or a query vector")
	}
	vecs, err := ix.opts.Vector.Embed(ctx, []string{q.Text})
	if err != nil {
		return nil, fmt.Errorf("search: embed query: %w", err)
	}
	if len(vecs) != 1 || len(vecs[0]) != v.dim {
		got := 0
		if len(vecs) == 1 {
			got = len(vecs[0])
		}
		return nil, sextant.Errorf(sextant.EINVALID, "embedder %s returned a %d-dimensional query vector; the index holds %d-dimensional vectors", ix.opts.Vector.Space, got, v.dim)
	}
	return vecs[0], nil
}

// canEmbed reports why query text cannot be embedded into v's space.
func (ix *Index) canEmbed(v *vectors) error {
	o := &ix.opts.Vector
	if o.Embed == nil {
		return sextant.Errorf(sextant.EINVALID, "no embedder is configured: vector search needs one to embed query text (configure embedder: in sextant.yaml), or a query vector")
	}
	if !o.Space.IsZero() && o.Space != v.space {
		return sextant.Errorf(sextant.ECONFLICT, "the store's vectors were made by %s but the configured embedder is %s: run `sextant reembed` to re-embed the corpus with it", v.space, o.Space)
	}
	return nil
}

func (ix *Index) noVectors() error {
	switch {
	case !ix.opts.Vector.Enabled:
		return sextant.Errorf(sextant.EINVALID, "vector search is off: no embedder is configured (lexical search only)")
	case ix.vectorStore() == nil:
		return sextant.Errorf(sextant.EINVALID, "vector search needs a store that keeps vectors")
	}
	return sextant.Errorf(sextant.EINVALID, "the store holds no vectors yet: ingest with an embedder configured, or run `sextant reembed`")
}

// autoHybrid reports whether an auto-mode query goes hybrid: vectors exist
// and the query can be put in their space.
func (ix *Index) autoHybrid(q *sextant.Query) bool {
	if !ix.hasVec.Load() {
		return false
	}
	ix.mu.RLock()
	v := ix.vec
	ix.mu.RUnlock()
	if v == nil {
		return false
	}
	if q.Vector != nil {
		return len(q.Vector) == v.dim
	}
	return ix.canEmbed(v) == nil
}

// rankVector returns the depth nearest chunks to qv that pass f, best
// first, with their cosine similarity. The filter is applied during the
// graph walk (hnsw's predicate, with its exact scan when the filter is
// selective), with Filter.Match semantics.
func (ix *Index) rankVector(qv []float32, depth int, f *sextant.Filter, now time.Time) ([]Ranked, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v := ix.vec
	if v == nil {
		return nil, ix.noVectors()
	}
	opt := hnsw.SearchOptions{K: depth, Ef: max(depth, v.hn.Options().EfSearch)}
	if allow := ix.allow(f, now); allow != nil {
		chunkOf := v.chunkOf
		opt.Filter = hnsw.FilterFunc(func(id uint32) bool {
			return int(id) < len(chunkOf) && chunkOf[id] != noNode && allow(chunkOf[id])
		})
	}
	res, err := v.hn.Search(qv, opt)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "search: vector query: %w", err)
	}
	out := make([]Ranked, 0, len(res))
	for _, r := range res {
		n := v.chunkOf[r.ID]
		e := ix.chunkDoc[n]
		if e == nil {
			continue
		}
		out = append(out, Ranked{ChunkID: ix.chunkID[n], DocumentID: e.doc.ID, Score: float64(r.Score), num: n})
	}
	return out, nil
}

// exactVector is rankVector by a brute-force scan (the ground truth for
// tests).
func (ix *Index) exactVector(qv []float32, depth int, f *sextant.Filter, now time.Time) ([]Ranked, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v := ix.vec
	if v == nil {
		return nil, ix.noVectors()
	}
	opt := hnsw.SearchOptions{K: depth}
	if allow := ix.allow(f, now); allow != nil {
		chunkOf := v.chunkOf
		opt.Filter = hnsw.FilterFunc(func(id uint32) bool { return chunkOf[id] != noNode && allow(chunkOf[id]) })
	}
	res, err := v.hn.Exact(qv, opt)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "search: vector query: %w", err)
	}
	out := make([]Ranked, 0, len(res))
	for _, r := range res {
		n := v.chunkOf[r.ID]
		if e := ix.chunkDoc[n]; e != nil {
			out = append(out, Ranked{ChunkID: ix.chunkID[n], DocumentID: e.doc.ID, Score: float64(r.Score), num: n})
		}
	}
	return out, nil
}

// chunkVector returns the stored (normalised) vector of chunk number n, or
// nil; the caller holds the read lock.
func (v *vectors) chunkVector(n uint32) []float32 {
	if v == nil || int(n) >= len(v.nodeOf) || v.nodeOf[n] == noNode {
		return nil
	}
	if v.floats != nil {
		// int8: the codes are approximate; the floats are exact.
		if f := v.floats.source(v.nodeOf[n], nil); f != nil {
			var ss float64
			for _, x := range f {
				ss += float64(x) * float64(x)
			}
			if ss > 0 {
				inv := float32(1 / math.Sqrt(ss))
				for i := range f {
					f[i] *= inv
				}
				return f
			}
		}
	}
	vec, err := v.hn.Vector(v.nodeOf[n])
	if err != nil {
		return nil
	}
	return vec
}

// VectorStats describes the vector index.
type VectorStats struct {
	Space   sextant.EmbeddingSpace
	Dim     int
	Vectors int   // live vectors
	Bytes   int64 // memory of the graph and vectors (codes for int8)
	Int8    bool
}

// VectorStats returns the vector index's figures; ok is false when there
// is no vector index.
func (ix *Index) VectorStats() (VectorStats, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v := ix.vec
	if v == nil {
		return VectorStats{}, false
	}
	return VectorStats{Space: v.space, Dim: v.dim, Vectors: v.hn.Live(), Bytes: v.hn.MemoryBytes(),
		Int8: v.hn.Options().Quantization == hnsw.Int8}, true
}

// completeVector returns vec plus the cosine similarity to qv of every
// chunk of lex that vec lacks and that has a vector, so weighted fusion
// sums true scores instead of imputing the missing ones.
func (ix *Index) completeVector(qv []float32, lex, vec []Ranked) []Ranked {
	have := make(map[uint32]bool, len(vec))
	for _, r := range vec {
		have[r.num] = true
	}
	unit := make([]float32, len(qv))
	var ss float64
	for _, x := range qv {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return vec
	}
	inv := float32(1 / math.Sqrt(ss))
	for i, x := range qv {
		unit[i] = x * inv
	}
	out := slices.Clip(vec)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v := ix.vec
	for _, r := range lex {
		if have[r.num] {
			continue
		}
		if cv := v.chunkVector(r.num); cv != nil {
			out = append(out, Ranked{ChunkID: r.ChunkID, DocumentID: r.DocumentID, Score: float64(dot(unit, cv)), num: r.num})
		}
	}
	return out
}

// completeLexical returns lex plus the BM25 score of every chunk of vec
// that lex lacks (0 when it holds no query term).
func (ix *Index) completeLexical(text string, lex, vec []Ranked) []Ranked {
	have := make(map[uint32]bool, len(lex))
	for _, r := range lex {
		have[r.num] = true
	}
	missing := make(map[uint32]Ranked)
	for _, r := range vec {
		if !have[r.num] {
			missing[r.num] = r
		}
	}
	if len(missing) == 0 {
		return lex
	}
	out := slices.Clip(lex)
	if terms := ix.analyzer.Terms(text); len(terms) > 0 {
		ix.mu.RLock()
		res := ix.lex.Search(bm25.Query{Terms: terms, Allow: func(n uint32) bool { _, ok := missing[n]; return ok }}, len(missing))
		ix.mu.RUnlock()
		for _, x := range res {
			r := missing[x.Doc]
			out = append(out, Ranked{ChunkID: r.ChunkID, DocumentID: r.DocumentID, Score: x.Score, num: r.num})
			delete(missing, x.Doc)
		}
	}
	for _, r := range vec { // in vec's order, for determinism
		if _, ok := missing[r.num]; ok {
			out = append(out, Ranked{ChunkID: r.ChunkID, DocumentID: r.DocumentID, Score: 0, num: r.num})
		}
	}
	return out
}
