package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// Embed makes one upstream embeddings call for req, routed by req.Model
// through the routing table with the same retries, fallback and circuit
// breaking as chat. It does no batching: see Embedder.
func (m *Model) Embed(ctx context.Context, req *driver.EmbedRequest) (*driver.EmbedResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	c := Call{Kind: "embed", Model: req.Model}
	start := m.opts.Now()
	var res *driver.EmbedResponse
	c.Err = m.run(ctx, &c, req.Model, func(ctx context.Context, t Target) (bool, error) {
		e := m.embedder(t.Provider)
		if e == nil {
			return false, sextant.Errorf(sextant.EINVALID, "provider %q does not serve embeddings", t.Provider)
		}
		r := *req
		if t.Model != "" {
			r.Model = t.Model
		}
		actx, cancel := context.WithTimeout(ctx, m.opts.FirstDeltaTimeout)
		defer cancel()
		out, err := e.Embed(actx, &r)
		if err != nil {
			if ctx.Err() == nil && actx.Err() != nil {
				err = driver.Classify(&driver.UpstreamError{Provider: t.Provider, Status: 504,
					Message: fmt.Sprintf("no embeddings from model %q within %v", r.Model, m.opts.FirstDeltaTimeout)})
			}
			return false, err
		}
		if len(out.Vectors) != len(req.Inputs) {
			return false, driver.Classify(&driver.UpstreamError{Provider: t.Provider, Status: 502,
				Message: fmt.Sprintf("%d vectors for %d inputs", len(out.Vectors), len(req.Inputs))})
		}
		res = out
		return false, nil
	})
	c.Duration = m.opts.Now().Sub(start)
	if res != nil {
		if res.Usage.InputTokens == 0 {
			n := 0
			for _, s := range req.Inputs {
				n += m.counter.Text(req.Model, s)
			}
			res.Usage = sextant.Usage{InputTokens: n, Estimated: true}
		}
		c.Usage = res.Usage
	}
	if m.opts.Hooks.Done != nil {
		m.opts.Hooks.Done(c)
	}
	if c.Err != nil {
		return nil, c.Err
	}
	return res, nil
}

func (m *Model) embedder(name string) driver.Embedder {
	if e, ok := m.opts.Embedders[name]; ok {
		return e
	}
	if e, ok := m.opts.Providers[name].(driver.Embedder); ok {
		return e
	}
	return nil
}

// Rerank scores documents against a query with the routed provider's
// driver.Reranker, with retries and fallback.
func (m *Model) Rerank(ctx context.Context, req *driver.RerankRequest) ([]driver.RerankResult, error) {
	if req.Query == "" || len(req.Documents) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "rerank: query and documents are required")
	}
	c := Call{Kind: "rerank", Model: req.Model}
	start := m.opts.Now()
	var res []driver.RerankResult
	c.Err = m.run(ctx, &c, req.Model, func(ctx context.Context, t Target) (bool, error) {
		var rr driver.Reranker
		if p, ok := m.opts.Providers[t.Provider].(driver.Reranker); ok {
			rr = p
		} else if p, ok := m.opts.Embedders[t.Provider].(driver.Reranker); ok {
			rr = p
		}
		if rr == nil {
			return false, sextant.Errorf(sextant.EINVALID, "provider %q does not rerank", t.Provider)
		}
		r := *req
		if t.Model != "" {
			r.Model = t.Model
		}
		actx, cancel := context.WithTimeout(ctx, m.opts.FirstDeltaTimeout)
		defer cancel()
		out, err := rr.Rerank(actx, &r)
		res = out
		return false, err
	})
	c.Duration = m.opts.Now().Sub(start)
	if m.opts.Hooks.Done != nil {
		m.opts.Hooks.Done(c)
	}
	if c.Err != nil {
		return nil, c.Err
	}
	return res, nil
}

// EmbedCache stores embeddings by (model, dimensions, content hash) so no
// text is embedded twice. The store implements it; llm only calls it.
type EmbedCache interface {
	// Embeddings returns, for each hash, the cached vector or nil.
	Embeddings(ctx context.Context, key CacheKey, hashes []string) ([][]float32, error)
	// PutEmbeddings stores vectors[i] under hashes[i].
	PutEmbeddings(ctx context.Context, key CacheKey, hashes []string, vectors [][]float32) error
}

// CacheKey names the embedding space a cached vector belongs to: the
// model and the requested dimensions (0 = the model's native size). It is
// the root vocabulary type, so stores implement EmbedCache without
// importing llm.
type CacheKey = sextant.EmbeddingSpace

// ContentHash is the cache key of a text: hex SHA-256 of its UTF-8 bytes.
func ContentHash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// EmbedderOptions configures an Embedder.
type EmbedderOptions struct {
	Model      string // embedding model name, routed through the Model's routes
	Dimensions int    // requested vector size; 0 = the model's native size
	User       string // end-user id forwarded with each call

	// MaxBatch is the most texts per upstream call; 0 = 128 (OpenAI allows
	// 2048; smaller batches spread work over Concurrency and lose less on
	// a failed call).
	MaxBatch int
	// MaxBatchTokens is the most tokens per upstream call; 0 = 100,000
	// (OpenAI allows 300,000 per request). Tokens are estimated as
	// bytes/3, not counted: exact BPE counting runs at ~7 MB/s and would
	// dominate ingest CPU, while bytes/3 over-estimates English (~4 bytes
	// per token) and matches CJK, and the default leaves 3x headroom under
	// OpenAI's limit. A single text over the limit travels alone and the
	// provider decides.
	MaxBatchTokens int
	// Concurrency is the most upstream calls in flight; 0 = 4.
	Concurrency int

	Cache EmbedCache // nil = no cache
}

// EmbedStats counts an Embedder's work since it was created.
type EmbedStats struct {
	Texts       int64 // texts asked for
	CacheHits   int64 // texts answered by the cache (or by a duplicate in the same call)
	CacheMisses int64 // texts sent upstream
	Requests    int64 // upstream calls
	Tokens      int64 // input tokens billed (or estimated)
}

// Embedder embeds many texts: it deduplicates them, answers what it can
// from the cache, splits the rest into batches bounded in texts and tokens,
// and sends the batches with bounded concurrency through Model.Embed (so
// with its retries, fallback and breaker). Its Embed method is a
// sextant.EmbedFunc.
type Embedder struct {
	m    *Model
	opts EmbedderOptions
	key  CacheKey

	texts, hits, misses, requests, tokens atomic.Int64
}

// NewEmbedder returns an Embedder over m.
func NewEmbedder(m *Model, opts EmbedderOptions) (*Embedder, error) {
	if opts.Model == "" {
		return nil, sextant.Errorf(sextant.EINVALID, "embedder: model is required")
	}
	if opts.Dimensions < 0 || opts.MaxBatch < 0 || opts.MaxBatchTokens < 0 || opts.Concurrency < 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "embedder: dimensions, max_batch, max_batch_tokens and concurrency must not be negative")
	}
	if _, err := m.Targets(opts.Model); err != nil {
		return nil, err
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 128
	}
	opts.MaxBatch = min(opts.MaxBatch, driver.MaxInputsPerReq)
	if opts.MaxBatchTokens == 0 {
		opts.MaxBatchTokens = 100_000
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 4
	}
	return &Embedder{m: m, opts: opts, key: CacheKey{Model: opts.Model, Dimensions: opts.Dimensions}}, nil
}

// Stats returns the counters.
func (e *Embedder) Stats() EmbedStats {
	return EmbedStats{Texts: e.texts.Load(), CacheHits: e.hits.Load(), CacheMisses: e.misses.Load(),
		Requests: e.requests.Load(), Tokens: e.tokens.Load()}
}

// Embed returns one vector per text, in order. The first failing batch
// cancels the others and its error is returned.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	for i, t := range texts {
		if t == "" {
			return nil, sextant.Errorf(sextant.EINVALID, "embed: text %d is empty", i)
		}
	}
	e.texts.Add(int64(len(texts)))
	out := make([][]float32, len(texts))

	// Deduplicate: each distinct text is looked up and embedded once.
	hashes := make([]string, len(texts))
	first := map[string]int{} // hash → index of its first occurrence
	var uniq []int
	for i, t := range texts {
		h := ContentHash(t)
		hashes[i] = h
		if _, seen := first[h]; !seen {
			first[h] = i
			uniq = append(uniq, i)
		}
	}
	todo := uniq
	if e.opts.Cache != nil {
		uh := make([]string, len(uniq))
		for j, i := range uniq {
			uh[j] = hashes[i]
		}
		cached, err := e.opts.Cache.Embeddings(ctx, e.key, uh)
		if err != nil {
			return nil, fmt.Errorf("embed: cache lookup: %w", err)
		}
		todo = todo[:0:0]
		for j, i := range uniq {
			if j < len(cached) && cached[j] != nil {
				out[i] = cached[j]
			} else {
				todo = append(todo, i)
			}
		}
	}
	e.misses.Add(int64(len(todo)))
	e.hits.Add(int64(len(texts) - len(todo)))

	if err := e.embedMissing(ctx, texts, hashes, todo, out); err != nil {
		return nil, err
	}
	for i := range texts {
		if out[i] == nil {
			out[i] = out[first[hashes[i]]]
		}
	}
	return out, nil
}

// embedMissing embeds texts[todo...] in batches and fills out.
func (e *Embedder) embedMissing(ctx context.Context, texts, hashes []string, todo []int, out [][]float32) error {
	batches := e.batches(texts, todo)
	if len(batches) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, e.opts.Concurrency)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel(err) })
	}
	for _, batch := range batches {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			in := make([]string, len(batch))
			for j, i := range batch {
				in[j] = texts[i]
			}
			e.requests.Add(1)
			res, err := e.m.Embed(ctx, &driver.EmbedRequest{Model: e.opts.Model, Inputs: in, Dimensions: e.opts.Dimensions, User: e.opts.User})
			if err != nil {
				fail(err)
				return
			}
			e.tokens.Add(int64(res.Usage.InputTokens))
			for j, i := range batch {
				out[i] = res.Vectors[j]
			}
			if e.opts.Cache != nil {
				bh := make([]string, len(batch))
				for j, i := range batch {
					bh[j] = hashes[i]
				}
				if err := e.opts.Cache.PutEmbeddings(ctx, e.key, bh, res.Vectors); err != nil {
					fail(fmt.Errorf("embed: cache store: %w", err))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return context.Cause(ctx)
}

// batches splits todo into runs bounded by MaxBatch texts and
// MaxBatchTokens estimated tokens.
func (e *Embedder) batches(texts []string, todo []int) [][]int {
	var out [][]int
	var cur []int
	tokens := 0
	for _, i := range todo {
		n := (len(texts[i]) + 2) / 3
		if len(cur) > 0 && (len(cur) == e.opts.MaxBatch || tokens+n > e.opts.MaxBatchTokens) {
			out = append(out, cur)
			cur, tokens = nil, 0
		}
		cur = append(cur, i)
		tokens += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// ensure Embedder.Embed is an EmbedFunc.
var _ sextant.EmbedFunc = (*Embedder)(nil).Embed
