package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/anthropic"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/extractive"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/llm/openai"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/search"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

// stack is a whole API over real parts: the SQLite store holding the
// testdata/docs fixtures, the lexical index, the answer pipeline with the
// extractive generator as assistant "sextant", and the gateway routing
// other models to a fake OpenAI upstream (forwarded as bytes) or, for
// claude-*, a fake Anthropic upstream (translated).
type stack struct {
	URL      string // the API root, e.g. http://127.0.0.1:1234
	srv      *httptest.Server
	up       *llmtest.Server
	claude   *llmtest.Server // fake Anthropic: claude-* models, translated
	store    *sqlite.DB
	index    *search.Index
	pipeline *rag.Pipeline
	dir      string
}

type stackOptions struct {
	retry llm.RetryPolicy
	tweak func(*web.Options)
}

func newStack(t testing.TB, so stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "data"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	docs, err := filepath.Abs("testdata/docs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Run(ctx, []string{docs}, ingest.Options{}, store); err != nil {
		t.Fatal(err)
	}
	ix, err := search.Open(ctx, store, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	up := llmtest.NewOpenAIServer(t)
	op, err := openai.New(openai.Options{Name: "up", BaseURL: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	claude := llmtest.NewAnthropicServer(t)
	ap, err := anthropic.New(anthropic.Options{Name: "claude", BaseURL: claude.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if so.retry.MaxAttempts == 0 {
		so.retry = llm.RetryPolicy{MaxAttempts: 1}
	}
	model, err := llm.New(llm.Options{
		Providers: map[string]driver.Provider{extractive.Model: extractive.New(extractive.Options{}), "up": op, "claude": ap},
		Routes: []llm.Route{
			{Match: extractive.Model, Targets: []llm.Target{{Provider: extractive.Model}}},
			{Match: "gpt-4o-mini", Targets: []llm.Target{{Provider: "up"}}},
			{Match: "house-model", Targets: []llm.Target{{Provider: "up", Model: "gpt-4o-mini"}}},
			{Match: "text-embedding-*", Targets: []llm.Target{{Provider: "up"}}},
			{Match: "claude-*", Targets: []llm.Target{{Provider: "claude"}}},
		},
		Retry: so.retry,
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rag.New(rag.Options{Retriever: ix, Model: model, Counter: model.Counter(), Analyzer: ix.Analyzer(), Store: store,
		Assistants: []rag.Assistant{{Name: "sextant", Model: extractive.Model, ContextWindow: -1},
			{Name: "remote", Model: "gpt-4o-mini", Description: "the fake upstream answers from the prompt"}}})
	if err != nil {
		t.Fatal(err)
	}
	opts := web.Options{Pipeline: p, Model: model, Retriever: ix, Store: store, Refresh: ix.Refresh,
		UploadDir: filepath.Join(dir, "uploads"),
		List: func(ctx context.Context, q web.DocumentList) ([]web.ListedDocument, error) {
			docs, err := store.ListDocuments(ctx, sqlite.DocumentFilter{Tenant: q.Tenant, Collection: q.Collection,
				SourcePrefix: q.SourcePrefix, Stale: q.Stale, After: q.After, Limit: q.Limit})
			out := make([]web.ListedDocument, len(docs))
			for i, d := range docs {
				out[i] = web.ListedDocument{Document: d.Document, Chunks: d.Chunks}
			}
			return out, err
		},
		GatewayModels: func() []string { return []string{"gpt-4o-mini", "house-model"} },
		Now:           func() time.Time { return time.Now() },
		Forwardable:   func(m string) bool { return !strings.HasPrefix(m, "claude-") },
	}
	if so.tweak != nil {
		so.tweak(&opts)
	}
	s, err := web.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &stack{URL: srv.URL, srv: srv, up: up, claude: claude, store: store, index: ix, pipeline: p, dir: dir}
}

// do sends a request and returns the status, headers and body.
func (s *stack) do(t testing.TB, method, path, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

func (s *stack) postJSON(t testing.TB, path string, v any) (int, http.Header, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, "POST", path, "application/json", b)
}

// apiErr decodes an OpenAI-shaped error body.
func apiErr(t testing.TB, body []byte) web.ErrorDetail {
	t.Helper()
	var e web.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body (%v): %s", err, body)
	}
	return e.Error
}

// docText returns a fixture's bytes (for plain Markdown the document text
// is the file unchanged, so offsets index it).
func docText(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sseEvents splits an SSE body into (event, data) pairs.
func sseEvents(body string) [][2]string {
	var out [][2]string
	for _, block := range strings.Split(body, "\n\n") {
		var ev, data string
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				data = line[len("data: "):]
			}
		}
		if data != "" {
			out = append(out, [2]string{ev, data})
		}
	}
	return out
}

func waitFor(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
