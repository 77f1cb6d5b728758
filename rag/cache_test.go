package rag_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
)

// fakeEmbed embeds a text as counts of a few marker words, so questions
// that share them are similar.
func fakeEmbed(_ context.Context, texts []string) ([][]float32, error) {
	words := []string{"cache", "expire", "pdf", "search", "snapshot", "store"}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, len(words)+1)
		v[len(words)] = 0.05
		for j, w := range words {
			v[j] = float32(strings.Count(strings.ToLower(t), w))
		}
		out[i] = v
	}
	return out, nil
}

func TestCacheExactAndInvalidation(t *testing.T) {
	cache := rag.NewMemoryCache(rag.MemoryCacheOptions{})
	w := newWorld(t, func(o *rag.Options) { o.Cache = cache })
	q := &rag.Request{Question: "When do response cache entries expire?"}
	first := ask(t, w.p, q)
	second := ask(t, w.p, q)
	if first.Cache != "" || second.Cache != "exact" {
		t.Fatalf("cache: first %q second %q", first.Cache, second.Cache)
	}
	if second.Text != first.Text || second.ID == first.ID || second.Usage.OutputTokens != 0 {
		t.Errorf("cached answer: %+v", second.Answer)
	}
	if first.Usage.OutputTokens == 0 || second.Avoided != first.Usage || first.Avoided != (sextant.Usage{}) {
		t.Errorf("avoided usage: generated %+v (avoided %+v), hit avoided %+v", first.Usage, first.Avoided, second.Avoided)
	}
	if stored, err := w.db.Answer(t.Context(), second.ID); err != nil || stored.Cache != "exact" {
		t.Errorf("cached answer record: %v %+v", err, stored)
	}
	// A change elsewhere in the corpus does not invalidate the answer.
	w.edit(t, "search.md", "BM25F", "BM25F (a BM25 variant)")
	if res := ask(t, w.p, q); res.Cache != "exact" {
		t.Errorf("after an unrelated change: cache %q", res.Cache)
	}
	// A change to the cited document does.
	w.edit(t, "cache.md", "after a day", "after a week")
	res := ask(t, w.p, q)
	if res.Cache != "" || !strings.Contains(res.Text, "after a week") {
		t.Errorf("after the cited document changed: cache %q text %q", res.Cache, res.Text)
	}
	st := w.p.CacheStats()
	if st.ExactHits != 2 || st.Misses != 2 {
		t.Errorf("stats %+v", st)
	}
	// Both entries (before and after the edit) cite cache.md.
	if before, n := cache.Len(), w.p.Invalidate(res.Sources[0].DocumentID); before != 2 || n != 2 || cache.Len() != 0 {
		t.Errorf("Invalidate dropped %d of %d, %d entries left", n, before, cache.Len())
	}
}

func TestCacheMultiTurnAndTools(t *testing.T) {
	w := newWorld(t, func(o *rag.Options) {
		o.Cache = rag.NewMemoryCache(rag.MemoryCacheOptions{})
		o.Embed = fakeEmbed
	})
	q := "When do response cache entries expire?"
	ask(t, w.p, &rag.Request{Question: q})
	// The same question as a follow-up in a conversation is not served the
	// single-turn answer.
	res := ask(t, w.p, &rag.Request{Messages: []sextant.Message{
		{Role: "user", Content: "How are PDF files ingested?"}, {Role: "assistant", Content: "With a pure-Go reader."},
		{Role: "user", Content: q}}})
	if res.Cache != "" {
		t.Errorf("multi-turn request served from cache (%s)", res.Cache)
	}
	res = ask(t, w.p, &rag.Request{Question: q, Tools: []sextant.Tool{{Name: "f"}}})
	if res.Cache != "" {
		t.Errorf("request with tools served from cache (%s)", res.Cache)
	}
	if res = ask(t, w.p, &rag.Request{Question: q, NoCache: true}); res.Cache != "" {
		t.Errorf("NoCache served from cache")
	}
	if st := w.p.CacheStats(); st.Bypassed != 2 {
		t.Errorf("bypassed = %d, want 2", st.Bypassed)
	}
}

func TestSemanticCache(t *testing.T) {
	cache := rag.NewMemoryCache(rag.MemoryCacheOptions{})
	w := newWorld(t, func(o *rag.Options) {
		o.Cache = cache
		o.Embed = fakeEmbed
		o.SemanticThreshold = 0.9
	})
	first := ask(t, w.p, &rag.Request{Question: "When do response cache entries expire?"})
	res := ask(t, w.p, &rag.Request{Question: "How long until entries of the response cache expire?"})
	if res.Cache != "semantic" || res.Text != first.Text {
		t.Fatalf("similar question: cache %q text %q", res.Cache, res.Text)
	}
	if res := ask(t, w.p, &rag.Request{Question: "Where is the search snapshot stored?"}); res.Cache != "" {
		t.Errorf("dissimilar question served from cache")
	}
	// Another caller whose groups differ never shares the entry.
	if res := ask(t, w.p, &rag.Request{Principal: sextant.Principal{Groups: []string{"x"}}, Question: "How long until entries of the response cache expire?"}); res.Cache == "semantic" {
		t.Errorf("semantic hit across access scopes")
	}
	// The cited document changes: the semantic entry is dropped.
	w.edit(t, "cache.md", "after a day", "after an hour")
	res = ask(t, w.p, &rag.Request{Question: "How long until entries of the response cache expire soon?"})
	if res.Cache != "" || !strings.Contains(res.Text, "after an hour") {
		t.Errorf("after change: cache %q text %q", res.Cache, res.Text)
	}
	if st := w.p.CacheStats(); st.SemanticHits != 1 || st.Invalidated == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestMemoryCacheLRUAndTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := rag.NewMemoryCache(rag.MemoryCacheOptions{MaxEntries: 2, TTL: time.Hour, Now: func() time.Time { return now }})
	for _, k := range []string{"a", "b"} {
		c.Put(&rag.CacheEntry{Key: k, Created: now})
	}
	c.Get("a")
	c.Put(&rag.CacheEntry{Key: "c", Created: now})
	if _, ok := c.Get("b"); ok {
		t.Error("least recently used entry kept")
	}
	if _, ok := c.Get("a"); !ok {
		t.Error("recently used entry evicted")
	}
	now = now.Add(2 * time.Hour)
	if _, ok := c.Get("a"); ok || c.Len() != 1 {
		t.Errorf("expired entry served; len %d", c.Len())
	}
	c.Put(&rag.CacheEntry{Key: "d", Created: now, Scope: "s", Vector: []float32{1}})
	if n := c.Purge(); n != 2 || c.Len() != 0 {
		t.Errorf("Purge dropped %d, left %d; want 2, 0", n, c.Len())
	}
	if _, ok := c.Get("d"); ok {
		t.Error("purged entry served")
	}
	if _, _, ok := c.Similar("s", []float32{1}, 0); ok {
		t.Error("purged entry found by similarity")
	}
	c.Put(&rag.CacheEntry{Key: "e", Created: now})
	if _, ok := c.Get("e"); !ok || c.Len() != 1 {
		t.Error("the cache does not work after Purge")
	}
}
