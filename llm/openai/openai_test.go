package openai_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"

	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/llm/openai"
)

func open(t *testing.T, opts openai.Options) (*openai.Provider, *llmtest.Server) {
	t.Helper()
	s := llmtest.NewOpenAIServer(t)
	s.APIKey = "sk-test"
	opts.BaseURL, opts.APIKey = s.URL, "sk-test"
	p, err := openai.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func TestConformance(t *testing.T) {
	llmtest.Run(t, func(t *testing.T) (driver.Provider, *llmtest.Server) {
		return open(t, openai.Options{})
	})
}

func TestRequestParameters(t *testing.T) {
	p, s := open(t, openai.Options{})
	temp, topP, seed := 0.3, 0.9, int64(42)
	req := &driver.Request{
		Model:       "gpt-4o-mini",
		Messages:    []sextant.Message{{Role: sextant.RoleSystem, Content: "sys"}, {Role: sextant.RoleUser, Content: "q", Name: "alice"}},
		Temperature: &temp, TopP: &topP, Seed: &seed, MaxTokens: 64, User: "user-7",
		Format: &driver.ResponseFormat{Type: driver.FormatJSONSchema, Name: "answer", Schema: json.RawMessage(`{"type":"object"}`), Strict: true},
	}
	if _, err := drain(p, req); err != nil {
		t.Fatal(err)
	}
	c := s.Calls()[0]
	if *c.Temperature != temp || *c.TopP != topP || *c.Seed != seed || c.User != "user-7" || c.Format != "json_schema" || !c.IncludeUsage {
		t.Errorf("sent temperature %v top_p %v seed %v user %q format %q include_usage %v", *c.Temperature, *c.TopP, *c.Seed, c.User, c.Format, c.IncludeUsage)
	}
	var raw map[string]json.RawMessage
	json.Unmarshal(c.Body, &raw)
	if string(raw["max_completion_tokens"]) != "64" || raw["max_tokens"] != nil {
		t.Errorf("max tokens sent as %s / %s; want max_completion_tokens", raw["max_completion_tokens"], raw["max_tokens"])
	}
	if c.Header.Get("Authorization") != "Bearer sk-test" {
		t.Errorf("authorization = %q", c.Header.Get("Authorization"))
	}

	p2, s2 := open(t, openai.Options{LegacyMaxTokens: true, NoStreamUsage: true})
	if _, err := drain(p2, &driver.Request{Model: "m", Messages: req.Messages, MaxTokens: 64}); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(s2.Calls()[0].Body, &raw)
	if string(raw["max_tokens"]) != "64" || s2.Calls()[0].IncludeUsage {
		t.Errorf("legacy: body %s", s2.Calls()[0].Body)
	}
}

func TestAzureStyleHeaderAndQuery(t *testing.T) {
	s := llmtest.NewOpenAIServer(t)
	p, err := openai.New(openai.Options{BaseURL: s.URL, Header: map[string]string{"api-key": "azure-key"}, Query: map[string]string{"api-version": "2024-10-21"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drain(p, &driver.Request{Model: "deploy", Messages: []sextant.Message{{Role: "user", Content: "x"}}}); err != nil {
		t.Fatal(err)
	}
	c := s.Calls()[0]
	if c.Header.Get("api-key") != "azure-key" || c.Query.Get("api-version") != "2024-10-21" || c.Header.Get("Authorization") != "" {
		t.Errorf("header api-key %q, query %v, authorization %q", c.Header.Get("api-key"), c.Query, c.Header.Get("Authorization"))
	}
}

func TestIgnoresEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	s := llmtest.NewOpenAIServer(t)
	p, err := openai.New(openai.Options{BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if a := s.Calls()[0].Header.Get("Authorization"); a != "" {
		t.Errorf("key taken from the environment: %q", a)
	}
}

func TestNoStream(t *testing.T) {
	p, s := open(t, openai.Options{NoStream: true})
	calls := []sextant.ToolCall{{ID: "call_1", Name: "f", Arguments: `{"x":1}`}}
	s.Enqueue(llmtest.Reply{Text: []string{"a", "b"}, ToolCalls: calls, Usage: &sextant.Usage{InputTokens: 4, CachedInputTokens: 2, OutputTokens: 3}})
	ds, err := drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	last := ds[len(ds)-1]
	if ds[0].Text != "ab" || last.FinishReason != sextant.FinishToolCalls || !cmp.Equal(last.ToolCalls, calls) || *last.Usage != (sextant.Usage{InputTokens: 4, CachedInputTokens: 2, OutputTokens: 3}) {
		t.Errorf("deltas = %+v", ds)
	}
	if s.Calls()[0].Stream {
		t.Error("NoStream sent stream: true")
	}
	s.Enqueue(llmtest.Reply{Status: 429, Header: http.Header{"Retry-After": {"2"}}})
	_, err = drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "x"}}})
	if d, ok := driver.RetryAfter(err); !ok || d != 2*time.Second {
		t.Errorf("err %v: retry after %v", err, d)
	}
}

func TestQuotaIsNotRetryable(t *testing.T) {
	p, s := open(t, openai.Options{})
	s.Enqueue(llmtest.Reply{Status: 429, ErrType: "insufficient_quota"})
	_, err := drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "x"}}})
	if sextant.ErrorCode(err) != sextant.ERATELIMIT || driver.Retryable(err) {
		t.Errorf("err = %v (retryable %v); want non-retryable ERATELIMIT", err, driver.Retryable(err))
	}
	if !strings.Contains(sextant.ErrorMessage(err), "quota") {
		t.Errorf("message %q does not carry the provider's words", sextant.ErrorMessage(err))
	}
}

func TestEmbeddings(t *testing.T) {
	for _, b64 := range []bool{false, true} {
		p, s := open(t, openai.Options{EmbedBase64: b64})
		res, err := p.Embed(t.Context(), &driver.EmbedRequest{Model: "text-embedding-3-small", Inputs: []string{"a b", "c"}, Dimensions: 12})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Vectors) != 2 || len(res.Vectors[0]) != 12 || res.Usage.InputTokens != 3 {
			t.Fatalf("base64=%v: %d vectors, usage %+v", b64, len(res.Vectors), res.Usage)
		}
		var norm float64
		for _, x := range res.Vectors[0] {
			norm += float64(x) * float64(x)
		}
		if norm < 0.99 || norm > 1.01 {
			t.Errorf("base64=%v: vector not decoded faithfully (norm² %v)", b64, norm)
		}
		want := "float"
		if b64 {
			want = "base64"
		}
		if c := s.Calls()[0]; c.Encoding != want || c.Dimensions != 12 || !cmp.Equal(c.Inputs, []string{"a b", "c"}) {
			t.Errorf("sent encoding %q dims %d inputs %q", c.Encoding, c.Dimensions, c.Inputs)
		}
	}
	p, s := open(t, openai.Options{})
	s.Enqueue(llmtest.Reply{Vectors: [][]float32{{1, 2}, {1, 2, 3}}})
	if _, err := p.Embed(t.Context(), &driver.EmbedRequest{Model: "m", Inputs: []string{"a", "b"}}); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Errorf("mixed sizes: err = %v, want EUNAVAILABLE", err)
	}
	if _, err := p.Embed(t.Context(), &driver.EmbedRequest{Model: "m", Inputs: make([]string, 2049)}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("2049 inputs: err = %v, want EINVALID", err)
	}
}

func TestRerank(t *testing.T) {
	p, s := open(t, openai.Options{})
	res, err := p.Rerank(t.Context(), &driver.RerankRequest{Model: "bge-reranker", Query: "red fox", Documents: []string{"a blue bird", "the red fox runs", "red wine"}, TopN: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []driver.RerankResult{{Index: 1, Score: 1}, {Index: 2, Score: 0.5}}
	if !cmp.Equal(res, want) {
		t.Errorf("rerank = %+v, want %+v", res, want)
	}
	s.Enqueue(llmtest.Reply{Status: 503, Header: http.Header{"Retry-After": {"1"}}})
	_, err = p.Rerank(t.Context(), &driver.RerankRequest{Model: "m", Query: "q", Documents: []string{"d"}})
	if d, ok := driver.RetryAfter(err); sextant.ErrorCode(err) != sextant.EUNAVAILABLE || !ok || d != time.Second {
		t.Errorf("err = %v, retry after %v", err, d)
	}
}

func TestRerankTEI(t *testing.T) {
	s := llmtest.NewOpenAIServer(t)
	p, err := openai.New(openai.Options{BaseURL: s.URL, RerankTEI: true, RerankURL: strings.TrimSuffix(s.URL, "/v1") + "/rerank"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Rerank(t.Context(), &driver.RerankRequest{Query: "red fox", Documents: []string{"a blue bird", "the red fox runs", "red wine"}, TopN: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []driver.RerankResult{{Index: 1, Score: 1}, {Index: 2, Score: 0.5}}; !cmp.Equal(res, want) {
		t.Errorf("rerank = %+v, want %+v", res, want)
	}
	if c := s.Calls()[0]; c.Path != "/rerank" || len(c.Inputs) != 3 {
		t.Errorf("sent to %s with %d texts", c.Path, len(c.Inputs))
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "localhost:8080", "http://"} {
		if _, err := openai.New(openai.Options{BaseURL: u}); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("%q: err = %v, want EINVALID", u, err)
		}
	}
}

func drain(p driver.Provider, req *driver.Request) ([]sextant.Delta, error) {
	var out []sextant.Delta
	for d, err := range p.Stream(context.Background(), req) {
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}
