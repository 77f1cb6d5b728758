// Package search retrieves chunks for queries: the text analyzer, the
// lexical (BM25F) index over the store's chunks with metadata and access
// filters applied inside the traversal, the vector (HNSW) index over the
// store's chunk vectors with the same filters applied during the graph
// walk, hybrid retrieval (both run concurrently and fused by reciprocal
// rank or normalised weighted scores), MMR diversification, a re-ranking
// stage (the built-in feature reranker or a hosted cross-encoder), hit
// hydration with marked snippets, and the snapshots that make start-up
// fast.
//
// Without Options.Vector the index is lexical only and the lexical path is
// exactly what it was before vectors existed.
//
// The store is the source of truth; the index is derived from it. Open
// loads the snapshot when it is valid and current, catches up from the
// store's change log when it is older, and rebuilds from a full scan when
// it is missing, damaged or built with other settings. A bad snapshot never
// makes Open fail.
package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/bm25"
)

// Store is the part of the corpus store the index reads.
type Store interface {
	// Generation returns the current corpus generation.
	Generation(ctx context.Context) (int64, error)
	// Changes returns changes with Generation > since, ascending.
	Changes(ctx context.Context, since int64) ([]sextant.Change, error)
	// Document returns a document (ENOTFOUND when absent).
	Document(ctx context.Context, id string) (*sextant.Document, error)
	// DocumentChunks returns a document's chunks in order.
	DocumentChunks(ctx context.Context, id string) ([]sextant.Chunk, error)
	// ChunksByID returns the chunks named, in the order of ids; unknown ids
	// are skipped.
	ChunksByID(ctx context.Context, ids []string) ([]sextant.Chunk, error)
	// Scan calls fn with every document (Text may be empty) and its chunks.
	Scan(ctx context.Context, fn func(doc *sextant.Document, chunks []sextant.Chunk) error) error
}

// Options configures an Index. The zero value is the tuned default.
type Options struct {
	// Dir is where the snapshot file lives (normally the data directory).
	// "" disables snapshots: every Open rebuilds from the store.
	Dir string
	// Analyzer overrides the analyzer options (zero = the default analyzer).
	Analyzer AnalyzerOptions
	// K1 and B are the BM25 parameters; 0 means the tuned defaults
	// (DefaultK1, DefaultB); a negative B turns length normalisation off.
	K1, B float64
	// TitleWeight is the weight of the title field (document title and
	// section path) relative to the chunk body; 0 means DefaultTitleWeight.
	TitleWeight float64
	// Now is the clock for TTL (stale) filtering; nil means time.Now.
	Now func() time.Time
	// Logger receives notes about snapshot use and rebuilds; nil discards.
	Logger *slog.Logger

	// Vector configures the vector (ANN) index; the zero value has none.
	Vector VectorOptions
	// Retrieval is how vector and hybrid queries are fused, diversified
	// and re-ranked (zero = RRF k=60, no MMR, no reranker).
	Retrieval Retrieval
}

// Tuned defaults, chosen on the BEIR SciFact train queries (see
// docs/search.md for the sweep).
const (
	DefaultK1          = 1.2
	DefaultB           = 0.55
	DefaultTitleWeight = 2.0
)

func (o *Options) bm25() bm25.Options {
	k1, b, tw := o.K1, o.B, o.TitleWeight
	if k1 == 0 {
		k1 = DefaultK1
	}
	if b == 0 {
		b = DefaultB
	}
	if tw == 0 {
		tw = DefaultTitleWeight
	}
	return bm25.Options{K1: k1, B: b, Fields: []float64{tw, 1}}
}

// fingerprint identifies everything that shapes the index contents, so a
// snapshot built with other settings is rebuilt rather than trusted.
func (o *Options) fingerprint() string {
	a := o.Analyzer
	return fmt.Sprintf("fields=title+section,body;analyzer=v1,stop=%q,nostem=%v,noparts=%v,max=%d;bm25=%+v",
		a.StopWords, a.NoStem, a.NoParts, a.MaxTermBytes, o.bm25())
}

// identified is implemented by stores that carry an identity that
// outlives their generation counter (sqlite.DB: a random id made when the
// store is created). A snapshot records it, so a snapshot left beside a
// replaced store is rebuilt even when the new store's generation has
// passed the snapshot's.
type identified interface {
	StoreID() string
}

// snapshotFingerprint is the settings fingerprint plus the store's
// identity when it has one.
func (ix *Index) snapshotFingerprint() string {
	fp := ix.opts.fingerprint()
	if s, ok := ix.store.(identified); ok {
		fp += ";store=" + s.StoreID()
	}
	return fp
}

// docEntry is the in-memory record of one indexed document: its metadata
// (for filters and hits) and the index numbers of its chunks. Entries are
// immutable once published; a changed document gets a new entry.
type docEntry struct {
	doc    sextant.Document // without Text
	chunks []uint32
}

// Index is the lexical index over a store's chunks. It is safe for
// concurrent use: searches run in parallel with each other and are
// serialised against updates (Apply, Refresh) by a read-write lock.
type Index struct {
	store    Store
	opts     Options
	analyzer *Analyzer
	now      func() time.Time
	log      *slog.Logger

	// save serialises snapshot writers; update serialises updaters
	// (Apply, Refresh, Rebuild), which read the store outside mu and must
	// not publish what they read out of order.
	save   sync.Mutex
	update sync.Mutex

	mu        sync.RWMutex
	lex       *bm25.Index
	gen       int64                // store generation the index reflects
	docs      map[string]*docEntry // by document id
	chunkDoc  []*docEntry          // by index number; nil when deleted
	chunkID   []string             // by index number
	otherTen  int                  // documents outside the default tenant
	otherColl int                  // documents outside the default collection
	dirty     bool                 // changed since the last snapshot
	openNotes string
	vnote     string

	vec    *vectors    // the vector index; nil = none
	vdirty bool        // vectors changed since the last snapshot
	hasVec atomic.Bool // vec holds live vectors (read without the lock)
}

// Open builds the index over store: from the snapshot in o.Dir when it is
// valid (catching up from the change log when it is older than the store),
// otherwise from a full scan. It fails only when the store itself fails.
func Open(ctx context.Context, store Store, o Options) (*Index, error) {
	ix := &Index{store: store, opts: o, analyzer: NewAnalyzer(o.Analyzer), now: o.Now, log: o.Logger}
	if ix.now == nil {
		ix.now = time.Now
	}
	if ix.log == nil {
		ix.log = slog.New(slog.DiscardHandler)
	}
	if _, err := bm25.New(o.bm25()); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "search: %v", err)
	}
	if err := o.Retrieval.Validate(); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "search: %w", err)
	}
	if o.Vector.Enabled {
		if _, ok := store.(VectorStore); !ok {
			return nil, sextant.Errorf(sextant.EINVALID, "search: vectors enabled but the store keeps no vectors")
		}
	}
	storeGen, err := store.Generation(ctx)
	if err != nil {
		return nil, fmt.Errorf("search: open: %w", err)
	}
	if o.Dir != "" {
		switch err := ix.loadSnapshot(storeGen); {
		case err == nil:
			if err := ix.openVectorSnapshot(ctx); err != nil {
				return nil, err
			}
			if ix.gen == storeGen {
				err := ix.finishOpen(ctx)
				ix.openNotes = "snapshot loaded" + ix.vectorNote()
				return ix, err
			}
			from := ix.gen
			if err := ix.Refresh(ctx); err == nil {
				ix.openNotes = fmt.Sprintf("snapshot loaded and caught up from generation %d to %d", from, ix.gen) + ix.vectorNote()
				return ix, nil
			} else if ctx.Err() != nil {
				return nil, err
			} else {
				ix.log.Warn("search: catching up from the snapshot failed; rebuilding", "err", err)
				ix.openNotes = "rebuilt (catch-up failed: " + err.Error() + ")"
			}
		case errors.Is(err, errNoSnapshot):
			ix.openNotes = "rebuilt (no snapshot)"
		default:
			ix.log.Warn("search: snapshot unusable; rebuilding from the store", "err", err)
			ix.openNotes = "rebuilt (" + err.Error() + ")"
		}
	} else {
		ix.openNotes = "rebuilt (snapshots disabled)"
	}
	if err := ix.Rebuild(ctx); err != nil {
		return nil, err
	}
	return ix, nil
}

// openVectorSnapshot installs the vector snapshot matching the lexical
// snapshot just loaded, when there is one; otherwise the vectors are
// rebuilt from the store later (finishOpen, Refresh).
func (ix *Index) openVectorSnapshot(ctx context.Context) error {
	vs := ix.vectorStore()
	if vs == nil {
		return nil
	}
	space, dim, err := vs.ActiveSpace(ctx)
	if err != nil {
		return fmt.Errorf("search: open: %w", err)
	}
	if space.IsZero() || dim == 0 {
		return nil
	}
	v, err := ix.loadVectorSnapshot(space, ix.vectorFingerprint(space, dim), dim)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			ix.log.Warn("search: vector snapshot unusable; rebuilding the vectors from the store", "err", err)
			ix.vnote = "vectors rebuilt (" + err.Error() + ")"
		}
		return nil
	}
	v.space = space
	ix.setVectors(v)
	ix.vdirty = false
	ix.vnote = "vector snapshot loaded"
	return nil
}

// finishOpen builds the vectors when no snapshot supplied them.
func (ix *Index) finishOpen(ctx context.Context) error {
	ix.update.Lock()
	defer ix.update.Unlock()
	return ix.syncVectors(ctx)
}

// vectorNote describes how the vectors were obtained, for OpenNotes.
func (ix *Index) vectorNote() string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	switch {
	case ix.vec == nil:
		return ""
	case ix.vnote != "":
		return "; " + ix.vnote
	}
	return "; vectors built from the store"
}

// OpenNotes says how Open obtained the index (snapshot, catch-up, rebuild
// and why), for logs and status output.
func (ix *Index) OpenNotes() string { return ix.openNotes }

// Analyzer returns the analyzer the index was built with.
func (ix *Index) Analyzer() *Analyzer { return ix.analyzer }

// Generation returns the store generation the index reflects.
func (ix *Index) Generation() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.gen
}

// Stats describes the index.
type Stats struct {
	Documents  int   // indexed documents
	Chunks     int   // indexed (live) chunks
	Terms      int   // distinct terms
	IndexBytes int64 // estimated memory of the inverted index
	Generation int64
}

// Stats returns counts and sizes of the index.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return Stats{Documents: len(ix.docs), Chunks: ix.lex.Len(), Terms: ix.lex.Terms(),
		IndexBytes: ix.lex.SizeBytes(), Generation: ix.gen}
}

// analyzed is one document ready to add: its entry and per-chunk fields.
type analyzed struct {
	entry  *docEntry
	ids    []string
	fields [][2][]string
	vecs   map[string][]float32 // chunk vectors by chunk id, when indexed
}

func (ix *Index) analyze(doc *sextant.Document, chunks []sextant.Chunk) analyzed {
	d := *doc
	d.Text = ""
	if d.Collection == "" {
		d.Collection = sextant.DefaultCollection
	}
	a := analyzed{entry: &docEntry{doc: d}, ids: make([]string, len(chunks)), fields: make([][2][]string, len(chunks))}
	title := ix.analyzer.Terms(d.Title)
	for i := range chunks {
		c := &chunks[i]
		a.ids[i] = c.ID
		t := title
		if len(c.Section) > 0 {
			t = ix.analyzer.AppendTerms(append([]string(nil), title...), strings.Join(c.Section, " \n "))
		}
		a.fields[i] = [2][]string{t, ix.analyzer.Terms(c.Text)}
	}
	return a
}

// inDefaultCollection reports whether d is in sextant.DefaultCollection
// (a stored "" reads as the default).
func inDefaultCollection(d *sextant.Document) bool {
	return d.Collection == "" || d.Collection == sextant.DefaultCollection
}

// add indexes an analyzed document; the caller holds the write lock.
func (ix *Index) add(a analyzed) error {
	for i := range a.ids {
		n, err := ix.lex.Add(a.fields[i][0], a.fields[i][1])
		if err != nil {
			return sextant.Errorf(sextant.EINTERNAL, "search: index chunk %q: %w", a.ids[i], err)
		}
		a.entry.chunks = append(a.entry.chunks, n)
		ix.chunkDoc = append(ix.chunkDoc, a.entry)
		ix.chunkID = append(ix.chunkID, a.ids[i])
	}
	ix.docs[a.entry.doc.ID] = a.entry
	if a.entry.doc.Tenant != "" {
		ix.otherTen++
	}
	if !inDefaultCollection(&a.entry.doc) {
		ix.otherColl++
	}
	ix.dirty = true
	return ix.addVectors(a.entry, a.ids, a.vecs)
}

// remove unindexes a document; the caller holds the write lock.
func (ix *Index) remove(id string) {
	e, ok := ix.docs[id]
	if !ok {
		return
	}
	ix.removeVectors(e)
	for _, n := range e.chunks {
		ix.lex.Delete(n)
		ix.chunkDoc[n] = nil
		ix.chunkID[n] = ""
	}
	delete(ix.docs, id)
	if e.doc.Tenant != "" {
		ix.otherTen--
	}
	if !inDefaultCollection(&e.doc) {
		ix.otherColl--
	}
	ix.dirty = true
}

// Rebuild replaces the index with one built from a full scan of the store.
// Searches keep using the old index until the new one is complete.
func (ix *Index) Rebuild(ctx context.Context) error {
	ix.update.Lock()
	defer ix.update.Unlock()
	return ix.rebuild(ctx)
}

func (ix *Index) rebuild(ctx context.Context) error {
	gen, err := ix.store.Generation(ctx)
	if err != nil {
		return fmt.Errorf("search: rebuild: %w", err)
	}
	lex, err := bm25.New(ix.opts.bm25())
	if err != nil {
		return sextant.Errorf(sextant.EINVALID, "search: %v", err)
	}
	next := &Index{lex: lex, docs: make(map[string]*docEntry), analyzer: ix.analyzer}
	// Analysis dominates indexing time and is independent per document:
	// analyze batches in parallel, then add them in scan order so document
	// numbers (and so tie-breaking) are deterministic.
	const batch = 256
	workers := max(1, runtime.GOMAXPROCS(0))
	type item struct {
		doc    *sextant.Document
		chunks []sextant.Chunk
	}
	var pending []item
	out := make([]analyzed, batch)
	flush := func() error {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(pending); i += workers {
					out[i] = ix.analyze(pending[i].doc, pending[i].chunks)
				}
			})
		}
		wg.Wait()
		for i := range pending {
			if err := next.add(out[i]); err != nil {
				return err
			}
			out[i] = analyzed{}
		}
		pending = pending[:0]
		return ctx.Err()
	}
	err = ix.store.Scan(ctx, func(doc *sextant.Document, chunks []sextant.Chunk) error {
		pending = append(pending, item{doc, chunks})
		if len(pending) == batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("search: rebuild: %w", err)
	}
	next.lex.Shrink()
	// The vectors are numbered by the new chunk numbers: build them before
	// swapping both in together.
	var vec *vectors
	if vs := ix.vectorStore(); vs != nil {
		space, dim, err := vs.ActiveSpace(ctx)
		if err != nil {
			return fmt.Errorf("search: rebuild: %w", err)
		}
		if !space.IsZero() && dim > 0 {
			if vec, err = ix.buildVectors(ctx, vs, space, dim, next.chunkID); err != nil {
				return err
			}
		}
	}
	ix.mu.Lock()
	ix.lex, ix.docs, ix.chunkDoc, ix.chunkID, ix.otherTen = next.lex, next.docs, next.chunkDoc, next.chunkID, next.otherTen
	ix.otherColl = next.otherColl
	ix.gen = gen
	ix.dirty = true
	old := ix.vec
	ix.vec, ix.vdirty, ix.vnote = vec, true, ""
	ix.hasVec.Store(vec != nil && vec.hn.Live() > 0)
	ix.mu.Unlock()
	if old != nil && old != vec {
		old.floats.close()
	}
	return nil
}

// Refresh catches the index up with the store's change log. When the
// changes touch more documents than a quarter of the index (and at least
// 5,000), one sequential scan of the store is cheaper than reading each
// changed document, so it rebuilds instead.
func (ix *Index) Refresh(ctx context.Context) error {
	ix.update.Lock()
	defer ix.update.Unlock()
	ix.mu.RLock()
	since, ndocs := ix.gen, len(ix.docs)
	ix.mu.RUnlock()
	changes, err := ix.store.Changes(ctx, since)
	if err != nil {
		return fmt.Errorf("search: refresh: %w", err)
	}
	if len(changes) > max(5000, ndocs/4) {
		return ix.rebuild(ctx)
	}
	if err := ix.apply(ctx, changes); err != nil {
		return err
	}
	return ix.syncVectors(ctx)
}

// Apply brings the documents named by changes up to date with the store:
// a deleted document is removed, any other is re-read and re-indexed (so
// applying a change twice, or applying an old change after a newer one, is
// harmless). The index generation advances to the highest change applied.
func (ix *Index) Apply(ctx context.Context, changes []sextant.Change) error {
	ix.update.Lock()
	defer ix.update.Unlock()
	return ix.apply(ctx, changes)
}

func (ix *Index) apply(ctx context.Context, changes []sextant.Change) error {
	if len(changes) == 0 {
		return nil
	}
	// Last change of each document wins; read documents outside the lock.
	last := make(map[string]sextant.Change, len(changes))
	var order []string
	var maxGen int64
	for _, c := range changes {
		if _, seen := last[c.DocumentID]; !seen {
			order = append(order, c.DocumentID)
		}
		last[c.DocumentID] = c
		maxGen = max(maxGen, c.Generation)
	}
	type update struct {
		id string
		a  *analyzed
	}
	updates := make([]update, 0, len(order))
	for _, id := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		u := update{id: id}
		if !last[id].Deleted {
			doc, err := ix.store.Document(ctx, id)
			switch {
			case sextant.ErrorCode(err) == sextant.ENOTFOUND:
				// Deleted since: treat as a deletion.
			case err != nil:
				return fmt.Errorf("search: apply change of %q: %w", id, err)
			default:
				chunks, err := ix.store.DocumentChunks(ctx, id)
				if err != nil {
					return fmt.Errorf("search: apply change of %q: %w", id, err)
				}
				a := ix.analyze(doc, chunks)
				if a.vecs, err = ix.docVectors(ctx, id); err != nil {
					return fmt.Errorf("search: apply change of %q: %w", id, err)
				}
				u.a = &a
			}
		}
		updates = append(updates, u)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, u := range updates {
		ix.remove(u.id)
		if u.a != nil {
			if err := ix.add(*u.a); err != nil {
				return err
			}
		}
	}
	ix.gen = max(ix.gen, maxGen)
	return ix.compactVectors(ctx)
}
