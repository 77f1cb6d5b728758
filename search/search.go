package search

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/bm25"
)

// Ranked is one ranked chunk before hydration.
type Ranked struct {
	ChunkID    string
	DocumentID string
	Score      float64
}

// defaultK is the number of results of a query that asks for 0; maxK is
// the most sextant.Query.Validate accepts.
const (
	defaultK = 10
	maxK     = 10000
)

// lexicalMode resolves q.Mode for this index: only the lexical retriever
// exists yet; ModeAuto means lexical until a vector index is attached.
func lexicalMode(q *sextant.Query) error {
	switch q.Mode {
	case sextant.ModeAuto, sextant.ModeLexical:
		return nil
	default:
		return sextant.Errorf(sextant.EINVALID, "search mode %q needs a vector index, and none is configured", q.Mode)
	}
}

// allow compiles q's filter into the predicate the traversal calls per
// candidate chunk, or nil when the filter passes every indexed document
// (so an absent filter costs nothing). It defers to Filter.Match, the
// reference semantics. The caller holds the read lock for the predicate's
// lifetime.
func (ix *Index) allow(f *sextant.Filter, now time.Time) func(uint32) bool {
	if f.IsZero() && ix.otherTen == 0 {
		return nil
	}
	chunkDoc := ix.chunkDoc
	return func(n uint32) bool {
		e := chunkDoc[n]
		return e != nil && f.Match(&e.doc, now)
	}
}

// Rank returns the q.K best chunks for q without reading the store: ids
// and scores, best first (ties by index order). Query text with no
// indexable terms yields no results.
func (ix *Index) Rank(ctx context.Context, q sextant.Query) ([]Ranked, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := lexicalMode(&q); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := q.K
	if k == 0 {
		k = defaultK
	}
	terms := ix.analyzer.Terms(q.Text)
	if len(terms) == 0 {
		return nil, nil
	}
	now := ix.now()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	res := ix.lex.Search(bm25.Query{Terms: terms, Allow: ix.allow(&q.Filter, now)}, k)
	out := make([]Ranked, len(res))
	for i, r := range res {
		out[i] = Ranked{ChunkID: ix.chunkID[r.Doc], DocumentID: ix.chunkDoc[r.Doc].doc.ID, Score: r.Score}
	}
	return out, nil
}

// RankDocuments returns the q.K best documents for q, each scored by its
// best chunk (max aggregation), best first. It asks the chunk ranking for
// more chunks until q.K distinct documents are found or the ranking runs
// out, so the result is exactly the top q.K documents by best-chunk score.
func (ix *Index) RankDocuments(ctx context.Context, q sextant.Query) ([]Ranked, error) {
	k := q.K
	if k == 0 {
		k = defaultK
	}
	want := k
	q.K = min(maxK, k+k/2+4)
	for {
		chunks, err := ix.Rank(ctx, q)
		if err != nil {
			return nil, err
		}
		seen := make(map[string]bool, len(chunks))
		out := make([]Ranked, 0, want)
		for _, c := range chunks {
			if !seen[c.DocumentID] {
				seen[c.DocumentID] = true
				out = append(out, c)
				if len(out) == want {
					return out, nil
				}
			}
		}
		if len(chunks) < q.K || q.K == maxK {
			return out, nil
		}
		q.K = min(maxK, q.K*4)
	}
}

// Search returns the q.K best chunks for q as hits: chunk, document
// metadata, score, and a snippet with the matched terms marked «like
// this». Filters apply inside the ranking, so q.K hits are returned
// whenever q.K matching chunks exist.
func (ix *Index) Search(ctx context.Context, q sextant.Query) ([]sextant.Hit, error) {
	ranked, err := ix.Rank(ctx, q)
	if err != nil || len(ranked) == 0 {
		return nil, err
	}
	ids := make([]string, len(ranked))
	for i, r := range ranked {
		ids[i] = r.ChunkID
	}
	chunks, err := ix.store.ChunksByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("search: read hits: %w", err)
	}
	byID := make(map[string]*sextant.Chunk, len(chunks))
	for i := range chunks {
		byID[chunks[i].ID] = &chunks[i]
	}
	// Entries are immutable: look them up under the lock, use them after.
	entries := make([]*docEntry, len(ranked))
	ix.mu.RLock()
	for i, r := range ranked {
		entries[i] = ix.docs[r.DocumentID]
	}
	ix.mu.RUnlock()
	terms := ix.analyzer.Terms(q.Text)
	hits := make([]sextant.Hit, 0, len(ranked))
	for i, r := range ranked {
		c, ok := byID[r.ChunkID]
		e := entries[i]
		if !ok || e == nil {
			continue // deleted between ranking and reading
		}
		doc := e.doc
		doc.Metadata = maps.Clone(doc.Metadata)
		doc.Labels = slices.Clone(doc.Labels)
		hits = append(hits, sextant.Hit{
			Chunk:    *c,
			Document: doc,
			Score:    r.Score,
			Scores:   map[string]float64{"bm25": r.Score},
			Snippet:  Snippet(ix.analyzer, c.Text, terms, SnippetOptions{}),
		})
	}
	return hits, nil
}
