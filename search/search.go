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
	// Scores holds the stage scores of vector, hybrid and re-ranked
	// results ("bm25", "vector", "fused", "rerank", "mmr"); nil for plain
	// lexical results, whose Score is the BM25 score.
	Scores map[string]float64

	num uint32 // index number of the chunk
}

// defaultK is the number of results of a query that asks for 0; maxK is
// the most sextant.Query.Validate accepts.
const (
	defaultK = 10
	maxK     = 10000
)

// allow compiles q's filter into the predicate the traversal calls per
// candidate chunk, or nil when the filter passes every indexed document
// (so an absent filter costs nothing). It defers to Filter.Match, the
// reference semantics. The caller holds the read lock for the predicate's
// lifetime.
func (ix *Index) allow(f *sextant.Filter, now time.Time) func(uint32) bool {
	if f.IsZero() && ix.otherTen == 0 || ix.admitsAll(f) {
		return nil
	}
	chunkDoc := ix.chunkDoc
	return func(n uint32) bool {
		e := chunkDoc[n]
		return e != nil && f.Match(&e.doc, now)
	}
}

// admitsAll reports whether f lets every indexed document through: it
// names the default tenant and collection (the built-in assistant's
// filter) and nothing else, and every document is in both. The filter
// then needs no asking per candidate, which is a third of a search. The
// caller holds the read lock.
func (ix *Index) admitsAll(f *sextant.Filter) bool {
	return ix.otherTen == 0 && ix.otherColl == 0 && f.Tenant == "" && slices.Contains(f.Collections, sextant.DefaultCollection) &&
		len(f.DocumentIDs) == 0 && len(f.Equals) == 0 && len(f.In) == 0 && f.UpdatedAfter.IsZero() &&
		f.UpdatedBefore.IsZero() && f.Stale == sextant.StaleAny && f.Groups == nil
}

// Rank returns the q.K best chunks for q, best first (ties by index
// order), as ids and scores without reading the store (except to give a
// reranker the candidates' text). The mode decides the retriever: lexical
// (BM25F), vector (the ANN index), hybrid (both, run concurrently, fused
// by Options.Retrieval), or auto: hybrid when the index holds vectors and
// the query can be embedded in their space, else lexical. Query text with
// no indexable terms yields no lexical results.
func (ix *Index) Rank(ctx context.Context, q sextant.Query) ([]Ranked, error) {
	return ix.RankWith(ctx, q, ix.opts.Retrieval)
}

// RankWith is Rank with retrieval settings other than the index's
// defaults (Retrieval returns those).
func (ix *Index) RankWith(ctx context.Context, q sextant.Query, r Retrieval) ([]Ranked, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := q.K
	if k == 0 {
		k = defaultK
	}
	mode := ix.Mode(q)
	if mode == sextant.ModeLexical && r.Reranker == nil && r.MMRLambda == 0 {
		return ix.rankLexical(q.Text, k, &q.Filter), nil
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	r = r.withDefaults()
	depth := max(k, r.Depth)
	now := ix.now()
	var cands []Ranked
	switch mode {
	case sextant.ModeLexical:
		cands = ix.rankLexical(q.Text, depth, &q.Filter)
		for i := range cands {
			cands[i].Scores = map[string]float64{ScoreBM25: cands[i].Score}
		}
	case sextant.ModeVector:
		qv, err := ix.queryVector(ctx, &q)
		if err != nil {
			return nil, err
		}
		if cands, err = ix.rankVector(qv, depth, &q.Filter, now); err != nil {
			return nil, err
		}
		for i := range cands {
			cands[i].Scores = map[string]float64{ScoreVector: cands[i].Score}
		}
	case sextant.ModeHybrid:
		// The vector side (which may call an embedding server) runs
		// beside the lexical one.
		var vec []Ranked
		var qv []float32
		var verr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			var err error
			if qv, err = ix.queryVector(ctx, &q); err != nil {
				verr = err
				return
			}
			vec, verr = ix.rankVector(qv, depth, &q.Filter, now)
		}()
		lex := ix.rankLexical(q.Text, depth, &q.Filter)
		<-done
		if verr != nil {
			if q.Mode != sextant.ModeAuto || ctx.Err() != nil {
				return nil, verr
			}
			// Auto mode degrades to lexical rather than failing a question
			// because the embedding server is down.
			ix.log.Warn("search: vector side of an auto query failed; answering lexically", "err", verr)
		} else if r.Fusion == FusionWeighted {
			// A weighted sum needs both scores of every candidate: compute
			// the one a list did not return rather than guess it.
			lex, vec = ix.completeLexical(q.Text, lex, vec), ix.completeVector(qv, lex, vec)
		}
		cands = Fuse(lex, vec, r)
	}
	if r.Reranker != nil && len(cands) > 0 {
		var err error
		if cands, err = ix.rerank(ctx, q.Text, cands, r); err != nil {
			return nil, err
		}
	}
	if r.MMRLambda > 0 {
		cands = MMR(cands, k, r.MMRLambda, ix.unitVector)
	}
	return cands[:min(k, len(cands))], nil
}

// Mode returns the retrieval q gets: q.Mode, or for auto, hybrid when the
// index holds vectors and the query can be put in their space, else
// lexical.
func (ix *Index) Mode(q sextant.Query) sextant.SearchMode {
	if q.Mode != sextant.ModeAuto {
		return q.Mode
	}
	if ix.autoHybrid(&q) {
		return sextant.ModeHybrid
	}
	return sextant.ModeLexical
}

// rankLexical is the BM25F ranking: the whole lexical path.
func (ix *Index) rankLexical(text string, k int, f *sextant.Filter) []Ranked {
	terms := ix.analyzer.Terms(text)
	if len(terms) == 0 {
		return nil
	}
	now := ix.now()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	res := ix.lex.Search(bm25.Query{Terms: terms, Allow: ix.allow(f, now)}, k)
	out := make([]Ranked, len(res))
	for i, r := range res {
		out[i] = Ranked{ChunkID: ix.chunkID[r.Doc], DocumentID: ix.chunkDoc[r.Doc].doc.ID, Score: r.Score, num: r.Doc}
	}
	return out
}

// unitVector returns the stored unit vector of a ranked chunk, or nil.
func (ix *Index) unitVector(r Ranked) []float32 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.vec.chunkVector(r.num)
}

// rerank re-scores the first r.RerankDepth candidates with r.Reranker; the
// rest keep their order after them.
func (ix *Index) rerank(ctx context.Context, query string, cands []Ranked, r Retrieval) ([]Ranked, error) {
	head := cands[:min(len(cands), r.RerankDepth)]
	all, found, err := ix.candidates(ctx, head)
	if err != nil {
		return nil, err
	}
	in := make([]Candidate, 0, len(head))
	kept := make([]Ranked, 0, len(head))
	for i, c := range head {
		if !found[i] {
			continue // deleted since it was ranked
		}
		in = append(in, all[i])
		kept = append(kept, c)
	}
	if len(in) == 0 {
		return cands[len(head):], nil
	}
	scores, err := r.Reranker.Rerank(ctx, query, in)
	if err != nil {
		return nil, err
	}
	for i := range kept {
		kept[i].Scores = cloneScores(kept[i].Scores)
		kept[i].Scores[ScoreRerank] = scores[i]
		kept[i].Score = scores[i]
	}
	sortRanked(kept)
	return append(kept, below(cands[len(head):], kept[len(kept)-1].Score)...), nil
}

// candidates reads the chunks of ranked from the store and returns them
// as rerank candidates (title, section, text and stage scores), in order;
// found[i] reports whether chunk i is still stored (its candidate has no
// text otherwise).
func (ix *Index) candidates(ctx context.Context, ranked []Ranked) (cands []Candidate, found []bool, err error) {
	ids := make([]string, len(ranked))
	for i, c := range ranked {
		ids[i] = c.ChunkID
	}
	chunks, err := ix.store.ChunksByID(ctx, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("search: read candidates: %w", err)
	}
	byID := make(map[string]*sextant.Chunk, len(chunks))
	for i := range chunks {
		byID[chunks[i].ID] = &chunks[i]
	}
	cands, found = make([]Candidate, len(ranked)), make([]bool, len(ranked))
	ix.mu.RLock()
	for i, c := range ranked {
		cd := Candidate{ChunkID: c.ChunkID, DocumentID: c.DocumentID, Fused: c.Score}
		if e := ix.docs[c.DocumentID]; e != nil {
			cd.Title = e.doc.Title
		}
		if ch, ok := byID[c.ChunkID]; ok {
			cd.Section, cd.Text, found[i] = ch.Section, ch.Text, true
		}
		cd.Lexical, cd.HasLexical = c.Scores[ScoreBM25]
		cd.Vector, cd.HasVector = c.Scores[ScoreVector]
		cands[i] = cd
	}
	ix.mu.RUnlock()
	return cands, found, nil
}

// below shifts the scores of tail (best first) so that all lie under
// floor, keeping their order and differences: a result list's Score must
// stay descending after a stage re-scored only its head. The stage scores
// in Scores are unchanged.
func below(tail []Ranked, floor float64) []Ranked {
	if len(tail) == 0 {
		return tail
	}
	top := tail[0].Score
	for i := range tail {
		tail[i].Score = floor - 1 - (top - tail[i].Score)
	}
	return tail
}

// Retrieval returns the index's default retrieval settings (Options.Retrieval).
func (ix *Index) Retrieval() Retrieval { return ix.opts.Retrieval }

// Features returns, for the chunks of ranked (as RankWith returns them),
// the built-in reranker's feature rows, reading their text from the store;
// chunks no longer stored get nil. It is how reranker weights are fitted.
func (ix *Index) Features(ctx context.Context, query string, ranked []Ranked) ([][]float64, error) {
	in, _, err := ix.candidates(ctx, ranked)
	if err != nil {
		return nil, err
	}
	return Features(ix.analyzer, query, in), nil
}

// RankDocuments returns the q.K best documents for q, each scored by its
// best chunk (max aggregation), best first. It asks the chunk ranking for
// more chunks until q.K distinct documents are found or the ranking runs
// out, so the result is exactly the top q.K documents by best-chunk score.
func (ix *Index) RankDocuments(ctx context.Context, q sextant.Query) ([]Ranked, error) {
	return ix.RankDocumentsWith(ctx, q, ix.opts.Retrieval)
}

// RankDocumentsWith is RankDocuments with other retrieval settings.
func (ix *Index) RankDocumentsWith(ctx context.Context, q sextant.Query, r Retrieval) ([]Ranked, error) {
	k := q.K
	if k == 0 {
		k = defaultK
	}
	// Embed the query once, not on every deepening pass.
	if q.Vector == nil && (q.Mode == sextant.ModeVector || q.Mode == sextant.ModeHybrid || (q.Mode == sextant.ModeAuto && ix.autoHybrid(&q))) {
		if err := q.Validate(); err != nil {
			return nil, err
		}
		qv, err := ix.queryVector(ctx, &q)
		switch {
		case err == nil:
			q.Vector = qv
		case q.Mode != sextant.ModeAuto || ctx.Err() != nil:
			return nil, err
		default:
			ix.log.Warn("search: embedding an auto query failed; answering lexically", "err", err)
			q.Mode = sextant.ModeLexical
		}
	}
	want := k
	q.K = min(maxK, k+k/2+4)
	for {
		chunks, err := ix.RankWith(ctx, q, r)
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
	return ix.SearchWith(ctx, q, ix.opts.Retrieval)
}

// SearchWith is Search with other retrieval settings.
func (ix *Index) SearchWith(ctx context.Context, q sextant.Query, r Retrieval) ([]sextant.Hit, error) {
	return ix.search(ctx, q, r, true)
}

// Unmarked is a view of an Index whose Search returns hits without
// snippets (Hit.Snippet is empty), for callers that use the chunk's text
// themselves and never show a snippet, such as the answer pipeline:
// marking the matched terms is close to half the work of hydrating a hit.
// Everything else — ranking, filters, chunks, documents, scores — is
// Index.Search's.
type Unmarked struct{ ix *Index }

// Unmarked returns ix's snippet-free view.
func (ix *Index) Unmarked() Unmarked { return Unmarked{ix} }

// Search is Index.Search without snippets.
func (u Unmarked) Search(ctx context.Context, q sextant.Query) ([]sextant.Hit, error) {
	return u.ix.search(ctx, q, u.ix.opts.Retrieval, false)
}

func (ix *Index) search(ctx context.Context, q sextant.Query, r Retrieval, snippets bool) ([]sextant.Hit, error) {
	ranked, err := ix.RankWith(ctx, q, r)
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
	var terms []string
	if snippets {
		terms = ix.analyzer.Terms(q.Text)
	}
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
		scores := r.Scores
		if scores == nil {
			scores = map[string]float64{ScoreBM25: r.Score}
		}
		h := sextant.Hit{Chunk: *c, Document: doc, Score: r.Score, Scores: scores}
		if snippets {
			h.Snippet = Snippet(ix.analyzer, c.Text, terms, SnippetOptions{})
		}
		hits = append(hits, h)
	}
	return hits, nil
}
