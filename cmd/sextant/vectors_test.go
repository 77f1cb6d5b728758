package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/sqlite"
)

// embedSetup is a data directory configured with an embedder served by a
// fake OpenAI-compatible server, and a folder of small documents.
type embedSetup struct {
	srv         *llmtest.Server
	data        string
	src         string
	env         map[string]string
	concurrency int // embedder.concurrency; 0 = 2
}

func newEmbedSetup(t *testing.T, docs int, extra string) *embedSetup {
	t.Helper()
	srv := llmtest.NewOpenAIServer(t)
	srv.APIKey = "emb-secret"
	srv.EmbedDims = 16
	s := &embedSetup{srv: srv, data: t.TempDir(), src: t.TempDir()}
	s.env = map[string]string{"SEXTANT_DATA": s.data, "EMB_KEY": "emb-secret"}
	s.config(t, "emb-small", 0, extra)
	for i := range docs {
		s.doc(t, i, fmt.Sprintf("Document %d is about topic %d and word%d.", i, i%3, i))
	}
	return s
}

func (s *embedSetup) config(t *testing.T, model string, dims int, extra string) {
	t.Helper()
	cfg := fmt.Sprintf(`embedder:
  model: %s
  dimensions: %d
  base_url: %s
  api_key_env: EMB_KEY
  max_batch: 2
  concurrency: %d
retry: {max_attempts: 3, base_delay: 1ms, max_delay: 5ms, max_retry_after: 3s}
%s`, model, dims, s.srv.URL, cmp.Or(s.concurrency, 2), extra)
	if err := os.WriteFile(filepath.Join(s.data, "sextant.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *embedSetup) doc(t *testing.T, i int, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.src, fmt.Sprintf("doc%02d.txt", i)), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

type ingestJSON struct {
	Added, Updated, Unchanged, Chunks int
	Embedded                          *int64
	Embedding                         *embedStatsJSON
	EmbedError                        string `json:"embed_error"`
}

func (s *embedSetup) ingest(t *testing.T, args ...string) (ingestJSON, error) {
	t.Helper()
	out, _, err := sextantCLI(t, s.env, append([]string{"ingest", s.src, "--json"}, args...)...)
	var sum ingestJSON
	if jerr := json.Unmarshal([]byte(out), &sum); jerr != nil && err == nil {
		t.Fatalf("%v in %q", jerr, out)
	}
	return sum, err
}

type searchJSON struct {
	Mode      string
	Retrieval string
	Embedding *embedStatsJSON
	Hits      []struct {
		ChunkID string `json:"chunk_id"`
		Scores  map[string]float64
	}
}

func (s *embedSetup) search(t *testing.T, args ...string) searchJSON {
	t.Helper()
	out, stderr, err := sextantCLI(t, s.env, append([]string{"search", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("search: %v (%s)", err, stderr)
	}
	var res searchJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	return res
}

func TestEmbeddingsThroughIngestAndSearch(t *testing.T) {
	s := newEmbedSetup(t, 5, "")
	// The first upstream call is rate limited with Retry-After: 1; the
	// embedder waits and retries.
	s.srv.Enqueue(llmtest.Reply{Status: 429, Header: http.Header{"Retry-After": {"1"}}})
	start := time.Now()
	sum, err := s.ingest(t)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("ingest took %v: Retry-After: 1 was not honoured", time.Since(start))
	}
	if sum.Added != 5 || sum.Embedded == nil || *sum.Embedded != 5 {
		t.Fatalf("ingest summary %+v", sum)
	}
	calls := s.srv.Calls()
	// 5 texts in batches of at most 2: 3 requests, plus the rate-limited one.
	if len(calls) != 4 || sum.Embedding.Requests != 3 || sum.Embedding.CacheMisses != 5 {
		t.Fatalf("%d upstream calls, stats %+v; want 4 calls (one 429), 3 requests, 5 misses", len(calls), sum.Embedding)
	}
	for _, c := range calls {
		if len(c.Inputs) > 2 || c.Model != "emb-small" || c.Header.Get("Authorization") != "Bearer emb-secret" {
			t.Fatalf("call %+v: want ≤2 inputs, model emb-small, the configured key", c)
		}
	}

	// Search embeds the query (one cache miss) and goes hybrid.
	res := s.search(t, "Document 3 is about topic 0 and word3.")
	if res.Mode != "hybrid" || !strings.Contains(res.Retrieval, "hybrid") || res.Embedding.CacheMisses != 1 {
		t.Fatalf("search: mode %q, note %q, stats %+v", res.Mode, res.Retrieval, res.Embedding)
	}
	if len(res.Hits) == 0 || res.Hits[0].ChunkID == "" || res.Hits[0].Scores["vector"] == 0 {
		t.Fatalf("hits %+v", res.Hits)
	}
	// The same query again is answered by the cache: no upstream call.
	n := len(s.srv.Calls())
	res = s.search(t, "Document 3 is about topic 0 and word3.")
	if res.Embedding.CacheHits != 1 || res.Embedding.CacheMisses != 0 || len(s.srv.Calls()) != n {
		t.Fatalf("repeated query: stats %+v, %d new calls", res.Embedding, len(s.srv.Calls())-n)
	}
	// Vector mode: the nearest chunk to a document's own embedded text.
	res = s.search(t, "--mode", "vector", "--k", "1", "doc03.txt\nDocument 3 is about topic 0 and word3.")
	if len(res.Hits) != 1 || !strings.Contains(res.Hits[0].ChunkID, "doc03.txt") || res.Hits[0].Scores["vector"] < 0.9999 {
		t.Fatalf("vector search for doc03's embedded text: %+v", res.Hits)
	}

	// Re-ingesting everything (--force) pays nothing: every text is cached.
	n = len(s.srv.Calls())
	sum, err = s.ingest(t, "--force")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Embedding.CacheHits != 5 || sum.Embedding.CacheMisses != 0 || len(s.srv.Calls()) != n {
		t.Fatalf("forced re-ingest: stats %+v, %d new calls", sum.Embedding, len(s.srv.Calls())-n)
	}

	// An upstream error stops embedding but not ingestion: the new document
	// is stored (and found lexically), its chunk waits for the next run.
	s.doc(t, 10, "A brand new zebra document.")
	s.srv.Enqueue(llmtest.Reply{Status: 400, ErrMessage: "input rejected"})
	sum, err = s.ingest(t)
	if err == nil || sum.Added != 1 || !strings.Contains(sum.EmbedError, "input rejected") {
		t.Fatalf("ingest with a failing embedder: %v, %+v", err, sum)
	}
	if res := s.search(t, "--mode", "lexical", "zebra"); len(res.Hits) != 1 {
		t.Fatalf("the new document is not searchable lexically: %+v", res.Hits)
	}
	sum, err = s.ingest(t)
	if err != nil || sum.Unchanged != 6 || *sum.Embedded != 1 {
		t.Fatalf("next ingest embeds the pending chunk: %v %+v", err, sum)
	}

	// A slow upstream: the first call exceeds the first-delta timeout and
	// is retried.
	s.config(t, "emb-small", 0, "timeouts: {first_delta: 300ms}")
	s.doc(t, 11, "A slow walrus document.")
	s.srv.Enqueue(llmtest.Reply{Delay: 5 * time.Second})
	n = len(s.srv.Calls())
	start = time.Now()
	if sum, err = s.ingest(t); err != nil || *sum.Embedded != 1 {
		t.Fatalf("ingest with a slow upstream: %v %+v", err, sum)
	}
	if d := time.Since(start); d > 4*time.Second || len(s.srv.Calls())-n != 2 {
		t.Fatalf("slow upstream: %v, %d calls; want the timeout then one retry", d, len(s.srv.Calls())-n)
	}
}

func TestEmbeddingSpaceChangesAreExplicit(t *testing.T) {
	s := newEmbedSetup(t, 3, "")
	if _, err := s.ingest(t); err != nil {
		t.Fatal(err)
	}
	// The same model asked for other dimensions is another space: refused
	// before anything is ingested, pointing at reembed.
	s.config(t, "emb-small", 8, "")
	s.doc(t, 5, "Another document.")
	_, err := s.ingest(t)
	if sextant.ErrorCode(err) != sextant.ECONFLICT || !strings.Contains(err.Error(), "sextant reembed") {
		t.Fatalf("ingest with another embedding space: %v", err)
	}
	res := s.search(t, "document")
	if res.Mode != "lexical" || !strings.Contains(res.Retrieval, "reembed") {
		t.Fatalf("search with a mismatched embedder: mode %q, note %q", res.Mode, res.Retrieval)
	}
	// A server that returns vectors of another size than the space holds
	// is refused, not mixed in.
	s.config(t, "emb-small", 0, "")
	s.srv.Enqueue(llmtest.Reply{Vectors: [][]float32{{1, 2, 3}}})
	sum, err := s.ingest(t)
	if err == nil || !strings.Contains(sum.EmbedError, "16-dimensional") {
		t.Fatalf("wrong-size vectors: %v, %+v", err, sum)
	}
}

func TestReembedResumable(t *testing.T) {
	s := newEmbedSetup(t, 6, "")
	if _, err := s.ingest(t); err != nil {
		t.Fatal(err)
	}
	// One request at a time, so the batch before the failure is complete
	// (and cached) when the failure cancels the rest.
	s.concurrency = 1
	s.config(t, "emb-small", 0, "")
	// Switch to emb-large; the server fails for good after the first batch.
	s.srv.Enqueue(llmtest.Reply{}, llmtest.Reply{Status: 500}, llmtest.Reply{Status: 500}, llmtest.Reply{Status: 500},
		llmtest.Reply{Status: 500}, llmtest.Reply{Status: 500}, llmtest.Reply{Status: 500})
	out, _, err := sextantCLI(t, s.env, "reembed", "--model", "emb-large", "--json")
	if err == nil {
		t.Fatal("reembed with a failing server succeeded")
	}
	var first struct {
		Embedded  int64
		Switched  bool
		CacheHits int64 `json:"cache_hits"`
		Requests  int64
		Error     string
	}
	if jerr := json.Unmarshal([]byte(out), &first); jerr != nil || first.Switched || first.Error == "" {
		t.Fatalf("interrupted reembed: %v %s", jerr, out)
	}
	// Queries still use the old vectors meanwhile.
	if res := s.search(t, "Document 1"); res.Mode != "hybrid" {
		t.Fatalf("search during the re-embedding: %q %q", res.Mode, res.Retrieval)
	}
	// Running it again continues: the batch embedded before the failure
	// comes from the cache, the rest is embedded, and the store switches.
	out, _, err = sextantCLI(t, s.env, "reembed", "--json")
	if err != nil {
		t.Fatalf("resumed reembed: %v %s", err, out)
	}
	var second struct {
		Model       string
		Embedded    int64
		Switched    bool
		Complete    bool
		CacheHits   int64 `json:"cache_hits"`
		CacheMisses int64 `json:"cache_misses"`
	}
	if err := json.Unmarshal([]byte(out), &second); err != nil {
		t.Fatal(err)
	}
	if second.Model != "emb-large" || second.Embedded != 6 || !second.Switched || !second.Complete || second.CacheHits != 2 || second.CacheMisses != 4 {
		t.Fatalf("resumed reembed: %+v (want emb-large, 6 embedded, 2 from the cache, switched)", second)
	}
	// The configuration still names emb-small: search says so.
	if res := s.search(t, "Document 1"); res.Mode != "lexical" || !strings.Contains(res.Retrieval, "emb-large") {
		t.Fatalf("search after the switch with the old config: %q %q", res.Mode, res.Retrieval)
	}
	s.config(t, "emb-large", 0, "")
	if res := s.search(t, "Document 1"); res.Mode != "hybrid" {
		t.Fatalf("search with the new config: %q %q", res.Mode, res.Retrieval)
	}
	// Nothing left to do.
	out, _, err = sextantCLI(t, s.env, "reembed", "--json")
	if err != nil || !strings.Contains(out, `"pending":0`) {
		t.Fatalf("reembed with nothing to do: %v %s", err, out)
	}
}

func TestLexicalOnlyNotes(t *testing.T) {
	data, src := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("Rotate the keys."), 0o644)
	env := map[string]string{"SEXTANT_DATA": data}
	out, _, err := sextantCLI(t, env, "ingest", src)
	if err != nil || !strings.Contains(out, "lexical only: no embedder configured") {
		t.Fatalf("ingest without an embedder: %v %q", err, out)
	}
	out, _, err = sextantCLI(t, env, "search", "rotate keys")
	if err != nil || !strings.HasPrefix(out, "search: lexical only (no embedder configured") {
		t.Fatalf("search without an embedder: %v %q", err, out)
	}
	out, _, err = sextantCLI(t, env, "search", "--json", "rotate keys")
	if err != nil || !strings.Contains(out, `"mode": "lexical"`) {
		t.Fatalf("search --json without an embedder: %v %q", err, out)
	}
	if _, _, err := sextantCLI(t, env, "search", "--mode", "vector", "rotate keys"); err == nil || !strings.Contains(err.Error(), "no embedder") {
		t.Fatalf("vector search without an embedder: %v", err)
	}
	if _, _, err := sextantCLI(t, env, "reembed"); exitCode(err) != 2 {
		t.Fatalf("reembed without a model: %v", err)
	}
}

// TestEngineRefreshEmbeds is what the server does after an upload: chunks
// stored without vectors are embedded before the index catches up.
func TestEngineRefreshEmbeds(t *testing.T) {
	s := newEmbedSetup(t, 3, "")
	if sum, err := s.ingest(t, "--no-embed"); err != nil || sum.Embedded != nil {
		t.Fatalf("ingest --no-embed: %v %+v", err, sum)
	}
	e := &env{getenv: func(k string) string { return s.env[k] }}
	cfg, err := loadConfig("", s.data, e.getenv)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.models(e.getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	eng, err := openEngineWith(ctx, e, cfg, m, s.data)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, ok := eng.index.VectorStats(); ok || !strings.Contains(eng.note, "until chunks are embedded") {
		t.Fatalf("before: note %q", eng.note)
	}
	if err := eng.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if vs, ok := eng.index.VectorStats(); !ok || vs.Vectors != 3 || vs.Dim != 16 {
		t.Fatalf("after refresh: %+v %v", vs, ok)
	}
	if eng.index.Mode(sextant.Query{Text: "x"}) != sextant.ModeHybrid {
		t.Fatal("auto queries are not hybrid after the refresh")
	}
}

// TestHostedRerank re-ranks search results with a cross-encoder behind a
// provider's /rerank endpoint (the fake server scores documents by the
// share of query words they contain).
func TestHostedRerank(t *testing.T) {
	s := newEmbedSetup(t, 6, "")
	s.config(t, "emb-small", 0, fmt.Sprintf(`providers:
  - name: rr
    type: openai
    base_url: %s
    api_key_env: EMB_KEY
routes:
  - match: rr-model
    targets: [{provider: rr}]
`, s.srv.URL))
	if _, err := s.ingest(t); err != nil {
		t.Fatal(err)
	}
	n := len(s.srv.Calls())
	res := s.search(t, "--rerank", "rr-model", "--k", "3", "document topic 2 word5.")
	var reranks []llmtest.Call
	for _, c := range s.srv.Calls()[n:] {
		if strings.HasSuffix(c.Path, "/rerank") {
			reranks = append(reranks, c)
		}
	}
	if len(reranks) != 1 || len(reranks[0].Inputs) < 3 || reranks[0].Model != "rr-model" {
		t.Fatalf("rerank calls %+v", reranks)
	}
	if len(res.Hits) != 3 {
		t.Fatalf("hits %+v", res.Hits)
	}
	for i, h := range res.Hits {
		if _, ok := h.Scores["rerank"]; !ok {
			t.Fatalf("hit %d has no rerank score: %v", i, h.Scores)
		}
		if i > 0 && h.Scores["rerank"] > res.Hits[i-1].Scores["rerank"] {
			t.Fatalf("hits not in rerank order: %+v", res.Hits)
		}
	}
	// doc05 holds most of the query's words ("word5", "topic 2"): first.
	if !strings.Contains(res.Hits[0].ChunkID, "doc05") {
		t.Fatalf("top hit %s, want doc05", res.Hits[0].ChunkID)
	}
	// An unknown rerank model is a clear error.
	if _, _, err := sextantCLI(t, s.env, "search", "--rerank", "nope", "x"); err == nil || !strings.Contains(err.Error(), "rerank model \"nope\"") {
		t.Fatalf("unknown rerank model: %v", err)
	}
}

func TestDocsStatsVectors(t *testing.T) {
	s := newEmbedSetup(t, 2, "")
	out, _, err := sextantCLI(t, s.env, "docs", "stats")
	if err != nil || !strings.Contains(out, "vectors: none (lexical search only)") {
		t.Fatalf("stats before: %v %q", err, out)
	}
	if _, err := s.ingest(t); err != nil {
		t.Fatal(err)
	}
	out, _, err = sextantCLI(t, s.env, "docs", "stats")
	if err != nil || !strings.Contains(out, "vectors: 2 of 2 chunks from emb-small (16 dims); 2 cached embeddings") {
		t.Fatalf("stats after: %v %q", err, out)
	}
	out, _, err = sextantCLI(t, s.env, "docs", "stats", "--json")
	if err != nil || !strings.Contains(out, `"Vectors"`) || !strings.Contains(out, `"Documents": 2`) {
		t.Fatalf("stats --json: %v %q", err, out)
	}
}

// TestAskWithEmbedder: the answer pipeline retrieves hybrid and its
// semantic cache embeds questions through embedder.base_url too.
func TestAskWithEmbedder(t *testing.T) {
	s := newEmbedSetup(t, 4, "")
	if _, err := s.ingest(t); err != nil {
		t.Fatal(err)
	}
	n := len(s.srv.Calls())
	out, stderr, err := sextantCLI(t, s.env, "ask", "--json", "What is document 2 about?")
	if err != nil {
		t.Fatalf("ask: %v %s", err, stderr)
	}
	if !strings.Contains(out, "doc02.txt") {
		t.Fatalf("ask did not cite doc02: %s", out)
	}
	if len(s.srv.Calls()) == n {
		t.Fatal("the question was never embedded (retrieval should be hybrid)")
	}
}

// TestReembedKilled kills (SIGKILL) a child `sextant reembed` mid-way and
// runs it again: the second run completes, and what the first embedded
// before dying comes from the store's cache instead of the server.
func TestReembedKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	ctx := context.Background()
	const docs = 200
	s := newEmbedSetup(t, docs, "")
	if _, err := s.ingest(t); err != nil {
		t.Fatal(err)
	}
	// A slow server: the child's re-embedding takes seconds.
	for range docs {
		s.srv.Enqueue(llmtest.Reply{Delay: 25 * time.Millisecond})
	}
	args, _ := json.Marshal([]string{"reembed", "--model", "emb-large", "--data", s.data, "--quiet"})
	cmd := exec.Command(os.Args[0], "-test.run=^TestIngestCrashChild$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(args), "EMB_KEY=emb-secret")
	var childOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &childOut, &childOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watch, err := openStore(ctx, s.data)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	large := sextant.EmbeddingSpace{Model: "emb-large"}
	deadline := time.Now().Add(60 * time.Second)
	killed := false
	for time.Now().Before(deadline) {
		got, err := watch.Embeddings(ctx, large, hashesOf(t, watch))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range got {
			if v != nil {
				n++
			}
		}
		if n >= 20 {
			cmd.Process.Kill()
			killed = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child finished or stalled before it could be killed: %v\n%s", err, childOut.String())
	}
	st, _ := watch.VectorState(ctx)
	if st.Active.Space.Model != "emb-small" || st.Target == nil || st.Target.Space != large {
		t.Fatalf("after the kill: active %+v, target %+v", st.Active, st.Target)
	}
	out, _, err := sextantCLI(t, s.env, "reembed", "--json")
	if err != nil {
		t.Fatalf("reembed after the kill: %v %s", err, out)
	}
	var res struct {
		Model              string
		Embedded           int64
		Switched, Complete bool
		CacheHits          int64 `json:"cache_hits"`
		CacheMisses        int64 `json:"cache_misses"`
	}
	json.Unmarshal([]byte(out), &res)
	if res.Model != "emb-large" || !res.Switched || !res.Complete || res.Embedded != docs || res.CacheHits < 20 || res.CacheHits+res.CacheMisses != docs {
		t.Fatalf("resumed after the kill: %+v (want every chunk, at least 20 from the cache)", res)
	}
}

// hashesOf returns the content hashes of every chunk's embedded text.
func hashesOf(t *testing.T, st *sqlite.DB) []string {
	t.Helper()
	var hs []string
	err := st.Scan(context.Background(), func(d *sextant.Document, chunks []sextant.Chunk) error {
		for i := range chunks {
			hs = append(hs, llm.ContentHash(ingest.EmbedText(d, &chunks[i])))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}
