package llm_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/anthropic"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/llm/openai"
)

// wire builds a Model over real drivers talking to the fake servers:
// "gpt-*" → openai, falling back to anthropic; "claude-*" → anthropic.
func wire(t *testing.T, opts llm.Options) (*llm.Model, *llmtest.Server, *llmtest.Server) {
	t.Helper()
	os, as := llmtest.NewOpenAIServer(t), llmtest.NewAnthropicServer(t)
	op, err := openai.New(openai.Options{BaseURL: os.URL})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := anthropic.New(anthropic.Options{BaseURL: as.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	opts.Providers = map[string]driver.Provider{"openai": op, "anthropic": ap}
	opts.Routes = []llm.Route{
		{Match: "gpt-*", Targets: []llm.Target{{Provider: "openai"}, {Provider: "anthropic", Model: "claude-haiku"}}},
		{Match: "claude-*", Targets: []llm.Target{{Provider: "anthropic"}}},
		{Match: "text-embedding-*", Targets: []llm.Target{{Provider: "openai"}}},
	}
	if opts.Sleep == nil {
		opts.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	}
	m, err := llm.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, os, as
}

func TestModelCancellationReachesUpstream(t *testing.T) {
	m, os, as := wire(t, llm.Options{})
	for _, tc := range []struct {
		model string
		srv   *llmtest.Server
	}{{"gpt-4o", os}, {"claude-sonnet", as}} {
		tc.srv.Enqueue(llmtest.Reply{Text: []string{"first"}, Hang: true})
		ctx, cancel := context.WithCancel(t.Context())
		for d, err := range m.Stream(ctx, ask(tc.model, "hi")) {
			if err != nil {
				break
			}
			if d.Text != "" {
				cancel()
			}
		}
		cancel()
		select {
		case <-tc.srv.Canceled():
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the upstream never saw the caller go away", tc.model)
		}
	}
}

func TestModelFallbackAcrossProviders(t *testing.T) {
	m, os, as := wire(t, llm.Options{Retry: llm.RetryPolicy{MaxAttempts: 2}})
	os.Enqueue(llmtest.Reply{Status: 503}, llmtest.Reply{Status: 500})
	as.Enqueue(llmtest.Reply{Text: []string{"from ", "claude"}, Usage: &sextant.Usage{InputTokens: 30, CachedInputTokens: 20, OutputTokens: 2}})
	temp := 0.2
	req := ask("gpt-4o", "hi")
	req.Temperature = &temp
	res, err := m.Complete(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "from claude" || res.Call.Target.Provider != "anthropic" || res.Call.Attempts != 3 {
		t.Errorf("response %q served by %+v", res.Text, res.Call)
	}
	if res.Usage != (sextant.Usage{InputTokens: 30, CachedInputTokens: 20, OutputTokens: 2}) {
		t.Errorf("usage = %+v", res.Usage)
	}
	if c := as.Calls()[0]; c.Model != "claude-haiku" || c.Temperature != nil {
		t.Errorf("anthropic got model %q temperature %v; want the route's model and no temperature", c.Model, c.Temperature)
	}
}

func TestModelEstimatesWhenNoUsage(t *testing.T) {
	m, os, _ := wire(t, llm.Options{})
	os.Enqueue(llmtest.Reply{Text: []string{"hello", " world"}, NoUsage: true})
	res, err := m.Complete(t.Context(), ask("gpt-4o", "hello world"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Usage.Estimated || res.Usage.OutputTokens != 2 || res.Usage.InputTokens != 9 {
		t.Errorf("usage = %+v, want estimated 9 in / 2 out", res.Usage)
	}
}

func TestEmbedderOverOpenAI(t *testing.T) {
	m, os, _ := wire(t, llm.Options{})
	emb, err := llm.NewEmbedder(m, llm.EmbedderOptions{Model: "text-embedding-3-small", Dimensions: 16, MaxBatch: 3})
	if err != nil {
		t.Fatal(err)
	}
	os.Enqueue(llmtest.Reply{Status: 429, Header: http.Header{"Retry-After": {"0"}}})
	vecs, err := emb.Embed(t.Context(), texts(7))
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 7 || len(vecs[0]) != 16 {
		t.Fatalf("got %d vectors of %d dims", len(vecs), len(vecs[0]))
	}
	n := 0
	for _, c := range os.Calls() {
		if c.Path == "/v1/embeddings" {
			n++
			if len(c.Inputs) > 3 || c.Dimensions != 16 || c.Encoding != "float" {
				t.Errorf("embeddings call: %d inputs, dims %d, encoding %q", len(c.Inputs), c.Dimensions, c.Encoding)
			}
		}
	}
	if n != 4 { // 3 batches + 1 retried 429
		t.Errorf("%d embeddings calls, want 4", n)
	}
}

func TestForward(t *testing.T) {
	m, os, _ := wire(t, llm.Options{Routes: nil})
	os.Enqueue(llmtest.Reply{Status: 502})
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi there"}],"stream":false}`)
	res, err := m.Forward(t.Context(), "gpt-4o", &driver.ForwardRequest{Method: "POST", Path: "chat/completions", Body: body,
		Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer client-key"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Choices []struct {
			Message struct{ Content string }
		}
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != 200 || len(out.Choices) == 0 || out.Choices[0].Message.Content != "echo: hi there" {
		t.Fatalf("status %d body %s", res.StatusCode, raw)
	}
	calls := os.Calls()
	if len(calls) != 2 || calls[1].Header.Get("Authorization") != "" {
		t.Errorf("%d upstream calls; client credentials forwarded: %q", len(calls), calls[len(calls)-1].Header.Get("Authorization"))
	}
	// A client error is relayed as is, not retried.
	res, err = m.Forward(t.Context(), "gpt-4o", &driver.ForwardRequest{Method: "POST", Path: "chat/completions", Body: []byte(`{"model":"gpt-4o","messages":[],"bogus":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 || len(os.Calls()) != 3 {
		t.Errorf("status %d after %d calls; want 400 relayed after one call", res.StatusCode, len(os.Calls())-2)
	}
}

func TestForwardRenamesModel(t *testing.T) {
	s := llmtest.NewOpenAIServer(t)
	p, err := openai.New(openai.Options{BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	m, err := llm.New(llm.Options{Providers: map[string]driver.Provider{"up": p},
		Routes: []llm.Route{{Match: "house-model", Targets: []llm.Target{{Provider: "up", Model: "gpt-4o-mini"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"model":"house-model","messages":[{"role":"user","content":"hi"}],"temperature":0.25,"seed":12345678901234}`)
	res, err := m.Forward(t.Context(), "house-model", &driver.ForwardRequest{Method: "POST", Path: "chat/completions", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c := s.Calls()[0]
	if c.Model != "gpt-4o-mini" || *c.Temperature != 0.25 || *c.Seed != 12345678901234 || len(c.Messages) != 1 {
		t.Errorf("forwarded model %q temperature %v seed %v messages %d", c.Model, *c.Temperature, *c.Seed, len(c.Messages))
	}
}
