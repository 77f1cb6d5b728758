package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/openai"
	"github.com/sextant-ai/sextant/search"
	"github.com/sextant-ai/sextant/sqlite"
)

// searchConfig is the search: section: how vector and hybrid queries are
// answered (docs/vectors.md).
type searchConfig struct {
	Mode           string  `yaml:"mode"`            // auto (default), lexical, vector, hybrid
	Fusion         string  `yaml:"fusion"`          // rrf (default) or weighted
	RRFK           float64 `yaml:"rrf_k"`           // default 60
	VectorWeight   float64 `yaml:"vector_weight"`   // default 0.5
	Normalize      string  `yaml:"normalize"`       // minmax (default) or zscore
	Depth          int     `yaml:"depth"`           // candidates per list, default 100
	MMRLambda      float64 `yaml:"mmr_lambda"`      // 0 = off
	Rerank         string  `yaml:"rerank"`          // none (default), features, or a rerank model name
	RerankDepth    int     `yaml:"rerank_depth"`    // default 50
	Int8           bool    `yaml:"int8"`            // int8 vector codes with float rescoring
	M              int     `yaml:"m"`               // HNSW links per node, default 16
	EfConstruction int     `yaml:"ef_construction"` // default 200
	EfSearch       int     `yaml:"ef_search"`       // default 64
}

// embedding is what the embedder configuration gives ingestion, search
// and re-embedding: the embedder (with the store as its cache) and its
// space. A nil *embedding means no embedder: lexical search only.
type embedding struct {
	space sextant.EmbeddingSpace
	emb   *llm.Embedder
}

// embedderFor builds the configured embedder over the model layer m, with
// cache as its embedding cache, for space (zero = the configured one). It
// returns nil when no embedder is configured and space is zero. With
// embedder.base_url, embeddings go to that OpenAI-compatible server
// directly instead of through the routes.
func (c *config) embedderFor(m *llm.Model, getenv func(string) string, cache llm.EmbedCache, space sextant.EmbeddingSpace) (*embedding, error) {
	ec := c.Embedder
	if space.IsZero() {
		if ec.Model == "" {
			return nil, nil
		}
		space = sextant.EmbeddingSpace{Model: ec.Model, Dimensions: ec.Dimensions}
	}
	if err := space.Validate(); err != nil {
		return nil, fmt.Errorf("config: embedder: %w", err)
	}
	if ec.BaseURL != "" {
		key := ""
		if ec.APIKeyEnv != "" {
			if key = getenv(ec.APIKeyEnv); key == "" {
				return nil, fmt.Errorf("config: embedder: environment variable %s (api_key_env) is not set", ec.APIKeyEnv)
			}
		}
		d, err := openai.New(openai.Options{Name: "embedder", BaseURL: ec.BaseURL, APIKey: key})
		if err != nil {
			return nil, fmt.Errorf("config: embedder: %w", err)
		}
		m, err = llm.New(llm.Options{
			Embedders: map[string]driver.Embedder{"embedder": d},
			Routes:    []llm.Route{{Match: "*", Targets: []llm.Target{{Provider: "embedder"}}}},
			Timeout:   c.Timeouts.Call.D(), FirstDeltaTimeout: c.Timeouts.FirstDelta.D(), IdleTimeout: c.Timeouts.Idle.D(),
			Retry:   llm.RetryPolicy{MaxAttempts: c.Retry.MaxAttempts, BaseDelay: c.Retry.BaseDelay.D(), MaxDelay: c.Retry.MaxDelay.D(), MaxRetryAfter: c.Retry.MaxRetryAfter.D()},
			Breaker: llm.BreakerPolicy{Failures: c.Breaker.Failures, OpenFor: c.Breaker.OpenFor.D()},
		})
		if err != nil {
			return nil, fmt.Errorf("config: embedder: %w", err)
		}
	}
	emb, err := llm.NewEmbedder(m, llm.EmbedderOptions{Model: space.Model, Dimensions: space.Dimensions,
		MaxBatch: ec.MaxBatch, MaxBatchTokens: ec.MaxBatchTokens, Concurrency: ec.Concurrency, Cache: cache})
	if err != nil {
		return nil, fmt.Errorf("config: embedder: %w", err)
	}
	return &embedding{space: space, emb: emb}, nil
}

// retrieval turns the search: section into search settings; m serves a
// named rerank model.
func (c *config) retrieval(m *llm.Model, an *search.Analyzer) (search.Retrieval, error) {
	s := c.Search
	r := search.Retrieval{Fusion: search.Fusion(s.Fusion), RRFK: s.RRFK, VectorWeight: s.VectorWeight,
		Normalize: search.Normalization(s.Normalize), Depth: s.Depth, MMRLambda: s.MMRLambda, RerankDepth: s.RerankDepth}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("config: search: %w", err)
	}
	rr, err := reranker(s.Rerank, m, an)
	if err != nil {
		return r, fmt.Errorf("config: search.rerank: %w", err)
	}
	r.Reranker = rr
	switch s.Mode {
	case "", "auto", "lexical", "vector", "hybrid":
	default:
		return r, fmt.Errorf("config: search.mode %q: want auto, lexical, vector or hybrid", s.Mode)
	}
	return r, nil
}

// reranker resolves a --rerank / search.rerank value: "" or none (no
// re-ranking), features (the built-in feature reranker), or the name of a
// rerank model served through the model layer (a provider's /rerank).
func reranker(name string, m *llm.Model, an *search.Analyzer) (search.Reranker, error) {
	switch name {
	case "", "none":
		return nil, nil
	case "features":
		return &search.FeatureReranker{Analyzer: an}, nil
	}
	if m == nil {
		return nil, fmt.Errorf("rerank model %q: no model layer", name)
	}
	if _, err := m.Targets(name); err != nil {
		return nil, fmt.Errorf("rerank model %q: %w (want none, features, or a rerank model with a route)", name, err)
	}
	return search.RerankFunc(func(ctx context.Context, query string, docs []string) ([]float64, error) {
		res, err := m.Rerank(ctx, &driver.RerankRequest{Model: name, Query: query, Documents: docs})
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(docs))
		for i := range out {
			out[i] = -1e300 // a document the provider left out ranks last
		}
		for _, r := range res {
			if r.Index >= 0 && r.Index < len(out) {
				out[r.Index] = r.Score
			}
		}
		return out, nil
	}), nil
}

// openEngineWith opens the store in dataDir and its index with the
// configuration's embedder and search settings: hybrid retrieval when an
// embedder is configured, lexical only otherwise (engine.note says which).
func openEngineWith(ctx context.Context, e *env, cfg *config, m *llm.Model, dataDir string) (*engine, error) {
	st, err := openStore(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	eng, err := newEngine(ctx, e, cfg, m, st, dataDir)
	if err != nil {
		st.Close()
		return nil, err
	}
	return eng, nil
}

func newEngine(ctx context.Context, e *env, cfg *config, m *llm.Model, st *sqlite.DB, dataDir string) (*engine, error) {
	emb, err := cfg.embedderFor(m, e.getenv, st, sextant.EmbeddingSpace{})
	if err != nil {
		return nil, err
	}
	opts := search.Options{Dir: dataDir}
	if opts.Retrieval, err = cfg.retrieval(m, search.NewAnalyzer(opts.Analyzer)); err != nil {
		return nil, err
	}
	if emb != nil {
		s := cfg.Search
		opts.Vector = search.VectorOptions{Enabled: true, Embed: emb.emb.Embed, Space: emb.space,
			M: s.M, EfConstruction: s.EfConstruction, EfSearch: s.EfSearch, Int8: s.Int8}
	}
	ix, err := search.Open(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	eng := &engine{store: st, index: ix, emb: emb, mode: sextant.SearchMode(cfg.Search.Mode)}
	if eng.mode == "auto" {
		eng.mode = sextant.ModeAuto
	}
	eng.note = retrievalNote(ctx, eng)
	return eng, nil
}

// retrievalNote says which retrieval the engine does and why, for the
// start of serve, ingest and search.
func retrievalNote(ctx context.Context, eng *engine) string {
	if eng.emb == nil {
		return "search: lexical only (no embedder configured; configure embedder: in sextant.yaml for vector and hybrid search)"
	}
	vs, ok := eng.index.VectorStats()
	if !ok {
		active, _, err := eng.store.ActiveSpace(ctx)
		if err == nil && !active.IsZero() && active != eng.emb.space {
			return fmt.Sprintf("search: lexical only: the store's vectors are from %s, the configured embedder is %s; run `sextant reembed` to switch", active, eng.emb.space)
		}
		return fmt.Sprintf("search: lexical only until chunks are embedded (embedder %s; run `sextant ingest` or `sextant reembed`)", eng.emb.space)
	}
	if vs.Space != eng.emb.space {
		return fmt.Sprintf("search: lexical only: the store's vectors are from %s, the configured embedder is %s; run `sextant reembed` to switch", vs.Space, eng.emb.space)
	}
	return fmt.Sprintf("search: hybrid (BM25 + %d vectors of %d dims from %s)", vs.Vectors, vs.Dim, vs.Space)
}

// embedPending embeds the chunks that lack a vector in emb's space, with a
// progress bar on w (nil = quiet).
// The space must be the store's active one (it becomes so when the store
// has no vectors yet) or the target of a re-embedding in progress.
func embedPending(ctx context.Context, st *sqlite.DB, emb *embedding, w io.Writer) (ingest.EmbedSummary, error) {
	if _, err := st.ClaimSpace(ctx, emb.space); err != nil {
		return ingest.EmbedSummary{}, err
	}
	var progress func(ingest.EmbedProgress)
	if w != nil {
		progress = newEmbedProgress(w)
	}
	return ingest.EmbedChunks(ctx, st, ingest.EmbedOptions{Space: emb.space, Embed: emb.emb.Embed, Progress: progress})
}

// newEmbedProgress renders embedding progress: a redrawn bar on a
// terminal, a plain line every few seconds otherwise.
func newEmbedProgress(w io.Writer) func(ingest.EmbedProgress) {
	f, ok := w.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	start := time.Now()
	var last time.Time
	return func(p ingest.EmbedProgress) {
		el := time.Since(start).Seconds()
		rate := 0.0
		if el > 0 {
			rate = float64(p.Done) / el
		}
		frac := 1.0
		if p.Total > 0 {
			frac = min(1, float64(p.Done)/float64(p.Total))
		}
		if tty {
			if p.Finished {
				fmt.Fprint(w, "\r\033[K")
				return
			}
			const width = 24
			n := int(frac * width)
			fmt.Fprintf(w, "\r\033[Kembedding [%s%s] %3.0f%% %d/%d chunks %.0f/s", strings.Repeat("=", n), strings.Repeat(" ", width-n),
				frac*100, p.Done, p.Total, rate)
			return
		}
		if p.Finished || time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "embedding: %d/%d chunks (%.0f%%), %.0f chunks/s\n", p.Done, p.Total, frac*100, rate)
	}
}

// embedStatsJSON is the --json form of an embedder's counters.
type embedStatsJSON struct {
	Model       string `json:"model"`
	Dimensions  int    `json:"dimensions,omitempty"`
	Texts       int64  `json:"texts"`
	CacheHits   int64  `json:"cache_hits"`
	CacheMisses int64  `json:"cache_misses"`
	Requests    int64  `json:"requests"`
	Tokens      int64  `json:"tokens"`
}

func embedStats(emb *embedding) *embedStatsJSON {
	if emb == nil {
		return nil
	}
	s := emb.emb.Stats()
	return &embedStatsJSON{Model: emb.space.Model, Dimensions: emb.space.Dimensions, Texts: s.Texts,
		CacheHits: s.CacheHits, CacheMisses: s.CacheMisses, Requests: s.Requests, Tokens: s.Tokens}
}

// parseMode parses a --mode value.
func parseMode(s string) (sextant.SearchMode, error) {
	switch s {
	case "", "auto":
		return sextant.ModeAuto, nil
	case "lexical", "vector", "hybrid":
		return sextant.SearchMode(s), nil
	}
	return "", usageErrorf("--mode %q: want auto, lexical, vector or hybrid", s)
}

// floatFlag parses an optional float flag value ("" = unset).
func floatFlag(name, v string) (float64, error) {
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, usageErrorf("--%s %q: not a number", name, v)
	}
	return f, nil
}

var errNoEmbedder = errors.New("no embedding model: give --model or configure embedder.model in sextant.yaml")

// writeVectorState prints the store's embedding spaces for docs stats.
func writeVectorState(w io.Writer, vs sqlite.VectorState) {
	if vs.Active == nil {
		fmt.Fprintf(w, "  vectors: none (lexical search only); %d cached embeddings\n", vs.Cached)
		return
	}
	fmt.Fprintf(w, "  vectors: %d of %d chunks from %s (%d dims); %d cached embeddings\n",
		vs.Active.Vectors, vs.Chunks, vs.Active.Space, vs.Active.Dim, vs.Cached)
	if vs.Target != nil {
		fmt.Fprintf(w, "  re-embedding to %s in progress: %d of %d chunks (run sextant reembed to continue)\n",
			vs.Target.Space, vs.Target.Vectors, vs.Chunks)
	}
}
