package llm_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
)

// embedder is an in-process driver.Embedder that records batch sizes and
// the peak number of calls in flight.
type embedder struct {
	mu       sync.Mutex
	batches  [][]string
	fails    []error
	inflight atomic.Int32
	peak     atomic.Int32
	delay    time.Duration
}

func (e *embedder) Embed(ctx context.Context, req *driver.EmbedRequest) (*driver.EmbedResponse, error) {
	n := e.inflight.Add(1)
	defer e.inflight.Add(-1)
	for {
		p := e.peak.Load()
		if n <= p || e.peak.CompareAndSwap(p, n) {
			break
		}
	}
	e.mu.Lock()
	e.batches = append(e.batches, append([]string(nil), req.Inputs...))
	var err error
	if len(e.fails) > 0 {
		err, e.fails = e.fails[0], e.fails[1:]
	}
	e.mu.Unlock()
	if e.delay > 0 {
		select {
		case <-time.After(e.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	res := &driver.EmbedResponse{Vectors: make([][]float32, len(req.Inputs)), Usage: sextant.Usage{InputTokens: len(req.Inputs)}}
	for i, s := range req.Inputs {
		res.Vectors[i] = []float32{float32(len(s)), float32(req.Dimensions)}
	}
	return res, nil
}

// memCache is an in-memory llm.EmbedCache.
type memCache struct {
	mu sync.Mutex
	m  map[string][]float32
}

func (c *memCache) Embeddings(_ context.Context, key llm.CacheKey, hashes []string) ([][]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]float32, len(hashes))
	for i, h := range hashes {
		out[i] = c.m[fmt.Sprint(key, h)]
	}
	return out, nil
}

func (c *memCache) PutEmbeddings(_ context.Context, key llm.CacheKey, hashes []string, vecs [][]float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]float32{}
	}
	for i, h := range hashes {
		c.m[fmt.Sprint(key, h)] = vecs[i]
	}
	return nil
}

func newEmbedder(t *testing.T, e *embedder, opts llm.EmbedderOptions) *llm.Embedder {
	t.Helper()
	m, _ := newModel(t, llm.Options{Embedders: map[string]driver.Embedder{"tei": e}})
	if opts.Model == "" {
		opts.Model = "bge-small"
	}
	emb, err := llm.NewEmbedder(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return emb
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("text number %d", i)
	}
	return out
}

func TestEmbedderBatchesInOrder(t *testing.T) {
	e := &embedder{}
	emb := newEmbedder(t, e, llm.EmbedderOptions{MaxBatch: 4, Concurrency: 2, Dimensions: 3})
	in := texts(10)
	vecs, err := emb.Embed(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if v[0] != float32(len(in[i])) || v[1] != 3 {
			t.Errorf("vector %d = %v, not the one for its text", i, v)
		}
	}
	sizes := map[int]int{}
	for _, b := range e.batches {
		sizes[len(b)]++
	}
	if len(e.batches) != 3 || sizes[4] != 2 || sizes[2] != 1 {
		t.Errorf("batch sizes = %v, want 4, 4, 2", sizes)
	}
}

func TestEmbedderTokenBudget(t *testing.T) {
	e := &embedder{}
	long := strings.Repeat("word ", 60) // 301 bytes with its suffix: estimated 101 tokens
	emb := newEmbedder(t, e, llm.EmbedderOptions{MaxBatch: 100, MaxBatchTokens: 250})
	if _, err := emb.Embed(t.Context(), []string{long + "a", long + "b", long + "c", long + "d", long + "e"}); err != nil {
		t.Fatal(err)
	}
	for _, b := range e.batches {
		if len(b) > 2 {
			t.Errorf("batch of %d texts of ~101 estimated tokens exceeds the 250-token budget", len(b))
		}
	}
	if len(e.batches) != 3 {
		t.Errorf("%d batches, want 3", len(e.batches))
	}
}

func TestEmbedderConcurrencyBound(t *testing.T) {
	e := &embedder{delay: 20 * time.Millisecond}
	emb := newEmbedder(t, e, llm.EmbedderOptions{MaxBatch: 1, Concurrency: 3})
	if _, err := emb.Embed(t.Context(), texts(12)); err != nil {
		t.Fatal(err)
	}
	if p := e.peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak in-flight calls = %d, want 2..3 (bound 3)", p)
	}
}

func TestEmbedderCacheAndDedupe(t *testing.T) {
	e := &embedder{}
	cache := &memCache{}
	emb := newEmbedder(t, e, llm.EmbedderOptions{MaxBatch: 8, Cache: cache})
	in := []string{"alpha", "beta", "alpha", "gamma"}
	first, err := emb.Embed(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.batches) != 1 || len(e.batches[0]) != 3 {
		t.Fatalf("sent %v, want the 3 distinct texts once", e.batches)
	}
	second, err := emb.Embed(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.batches) != 1 {
		t.Errorf("second call went upstream: %v", e.batches)
	}
	for i := range in {
		if fmt.Sprint(first[i]) != fmt.Sprint(second[i]) {
			t.Errorf("cached vector %d differs", i)
		}
	}
	st := emb.Stats()
	want := llm.EmbedStats{Texts: 8, CacheHits: 5, CacheMisses: 3, Requests: 1, Tokens: 3}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestEmbedderRetriesAndFails(t *testing.T) {
	e := &embedder{fails: []error{status("tei", 429, time.Second)}}
	emb := newEmbedder(t, e, llm.EmbedderOptions{})
	if _, err := emb.Embed(t.Context(), texts(3)); err != nil {
		t.Fatalf("429 then success: %v", err)
	}
	e2 := &embedder{fails: []error{status("tei", 401, 0)}}
	emb2 := newEmbedder(t, e2, llm.EmbedderOptions{MaxBatch: 1, Concurrency: 1})
	_, err := emb2.Embed(t.Context(), texts(5))
	if sextant.ErrorCode(err) != sextant.EUNAUTHORIZED {
		t.Errorf("err = %v, want EUNAUTHORIZED", err)
	}
	if len(e2.batches) != 1 {
		t.Errorf("after a failed batch %d more were sent", len(e2.batches)-1)
	}
	if _, err := emb2.Embed(t.Context(), []string{"ok", ""}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("empty text: err = %v, want EINVALID", err)
	}
}
