package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/hnsw"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/search"
	"github.com/sextant-ai/sextant/sqlite"
)

// storeBenchVectors puts the precomputed vectors of dir
// (corpus.vectors.jsonl, ids = BEIR document ids) into the store as the
// chunk vectors of a space named after the folder, and returns the query
// vectors of queries.vectors.jsonl by query id. A document split into
// several chunks gives its one vector to each of them (the vectors were
// computed from title + text of the whole document), so vector retrieval
// ranks documents, as BEIR judges them; every chunk of a document gets the
// same vector score. Documents without a vector are an error.
func storeBenchVectors(ctx context.Context, st *sqlite.DB, dir string) (map[string][]float32, int, error) {
	corpus, err := hnsw.ReadVectorsJSONLFile(filepath.Join(dir, "corpus.vectors.jsonl"))
	if err != nil {
		return nil, 0, fmt.Errorf("bench retrieval: %w", err)
	}
	qrecs, err := hnsw.ReadVectorsJSONLFile(filepath.Join(dir, "queries.vectors.jsonl"))
	if err != nil {
		return nil, 0, fmt.Errorf("bench retrieval: %w", err)
	}
	if len(corpus) == 0 || len(qrecs) == 0 {
		return nil, 0, fmt.Errorf("bench retrieval: %s: no vectors", dir)
	}
	dim := len(corpus[0].Vector)
	if len(qrecs[0].Vector) != dim {
		return nil, 0, fmt.Errorf("bench retrieval: %s: query vectors have %d dimensions, corpus vectors %d", dir, len(qrecs[0].Vector), dim)
	}
	byDoc := make(map[string][]float32, len(corpus))
	for _, r := range corpus {
		byDoc[r.ID] = r.Vector
	}
	space := sextant.EmbeddingSpace{Model: "precomputed/" + filepath.Base(filepath.Clean(dir))}
	if _, err := st.ClaimSpace(ctx, space); err != nil {
		return nil, 0, err
	}
	var batch []sextant.ChunkVector
	flush := func() error {
		_, err := st.PutChunkVectors(ctx, space, batch)
		batch = batch[:0]
		return err
	}
	missing := 0
	err = st.Scan(ctx, func(d *sextant.Document, chunks []sextant.Chunk) error {
		// Documents were ingested with ids "collection:record-id".
		_, id, ok := strings.Cut(d.ID, ":")
		if !ok {
			id = d.ID
		}
		v := byDoc[id]
		if v == nil {
			missing++
			return nil
		}
		for _, c := range chunks {
			// The cache key is the identity of what was embedded: the
			// whole document, by its BEIR id.
			batch = append(batch, sextant.ChunkVector{ChunkID: c.ID, Hash: contentKey("beir-document:" + id), Vector: v})
		}
		if len(batch) >= 2000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("bench retrieval: store vectors: %w", err)
	}
	if missing > 0 {
		return nil, 0, fmt.Errorf("bench retrieval: %d documents have no vector in %s", missing, filepath.Join(dir, "corpus.vectors.jsonl"))
	}
	q := make(map[string][]float32, len(qrecs))
	for _, r := range qrecs {
		q[r.ID] = r.Vector
	}
	return q, dim, nil
}

// contentKey is the cache key of a text (llm.ContentHash).
func contentKey(s string) string { return llm.ContentHash(s) }

// fitBenchReranker fits the feature reranker's weights on the queries
// given (the split of the run; fit on train, measure on test): for each
// query the fused candidates are ranked without a reranker, their features
// computed, collapsed to documents (a document's best chunk), and judged
// by the qrels; coordinate ascent maximises mean nDCG@10.
func fitBenchReranker(ctx context.Context, ix *search.Index, qids []string, query func(string, int) sextant.Query,
	qrels eval.Qrels, beirID func(string) string, retr search.Retrieval, depth int) (search.FeatureWeights, float64, error) {
	retr.Reranker = nil
	var fq []search.FitQuery
	for _, q := range qids {
		cands, err := ix.RankWith(ctx, query(q, max(depth, retr.RerankDepth)), retr)
		if err != nil {
			return search.FeatureWeights{}, 0, err
		}
		cands = cands[:min(len(cands), retr.RerankDepth)]
		feats, err := ix.Features(ctx, query(q, 1).Text, cands)
		if err != nil {
			return search.FeatureWeights{}, 0, err
		}
		item := search.FitQuery{}
		seen := map[string]bool{}
		for i, c := range cands {
			id := beirID(c.DocumentID)
			if seen[id] {
				continue
			}
			seen[id] = true
			item.Features = append(item.Features, feats[i])
			item.Gains = append(item.Gains, float64(max(qrels[q][id], 0)))
		}
		for _, g := range qrels[q] {
			if g > 0 {
				item.Ideal = append(item.Ideal, float64(g))
			}
		}
		fq = append(fq, item)
	}
	w, ndcg := search.FitFeatureWeights(fq, search.DefaultFeatureWeights)
	return w, ndcg, nil
}
