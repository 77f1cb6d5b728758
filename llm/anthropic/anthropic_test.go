package anthropic_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"

	"github.com/sextant-ai/sextant/llm/anthropic"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/llmtest"
)

func open(t *testing.T, opts anthropic.Options) (*anthropic.Provider, *llmtest.Server) {
	t.Helper()
	s := llmtest.NewAnthropicServer(t)
	s.APIKey = "sk-ant-test"
	opts.BaseURL, opts.APIKey = s.URL, "sk-ant-test"
	p, err := anthropic.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func TestConformance(t *testing.T) {
	llmtest.Run(t, func(t *testing.T) (driver.Provider, *llmtest.Server) {
		return open(t, anthropic.Options{})
	})
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

func TestRequestMapping(t *testing.T) {
	p, s := open(t, anthropic.Options{MaxTokens: 777})
	temp, seed := 0.7, int64(3)
	req := &driver.Request{
		Model: "claude-sonnet",
		Messages: []sextant.Message{
			{Role: sextant.RoleSystem, Content: "You are terse."},
			{Role: sextant.RoleUser, Content: "weather in Paris and Rome?"},
			{Role: sextant.RoleAssistant, Content: "Checking.", ToolCalls: []sextant.ToolCall{
				{ID: "t1", Name: "get_weather", Arguments: `{"city":"Paris"}`},
				{ID: "t2", Name: "get_weather", Arguments: `{"city":"Rome"}`},
			}},
			{Role: sextant.RoleTool, ToolCallID: "t1", Content: "18 C"},
			{Role: sextant.RoleTool, ToolCallID: "t2", Content: "24 C"},
			{Role: sextant.RoleSystem, Content: "Answer in one line."},
		},
		Temperature: &temp, Seed: &seed, Stop: []string{"END"}, User: "u-1",
		Tools:      []sextant.Tool{{Name: "get_weather", Description: "d", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`)}},
		ToolChoice: "required",
	}
	if _, err := drain(p, req); err != nil {
		t.Fatal(err)
	}
	c := s.Calls()[0]
	if c.Header.Get("Anthropic-Version") != "2026-10-21" {
		t.Errorf("anthropic-version = %q", c.Header.Get("Anthropic-Version"))
	}
	if c.Temperature != nil || c.MaxTokens != 777 || c.User != "u-1" || c.ToolChoice != "required" || !cmp.Equal(c.Stop, []string{"END"}) {
		t.Errorf("sent temperature %v max_tokens %d user %q tool_choice %q stop %v", c.Temperature, c.MaxTokens, c.User, c.ToolChoice, c.Stop)
	}
	var body struct {
		System   []struct{ Text string } `json:"system"`
		Messages []struct {
			Role    string            `json:"role"`
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			InputSchema map[string]any `json:"input_schema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(c.Body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.System) != 2 || body.System[1].Text != "Answer in one line." {
		t.Errorf("system = %+v; want both system messages, in order", body.System)
	}
	if len(body.Messages) != 3 || body.Messages[2].Role != "user" || len(body.Messages[2].Content) != 2 {
		t.Errorf("turns = %s; want user, assistant, one user turn with both tool results", c.Body)
	}
	if s := body.Tools[0].InputSchema; s["type"] != "object" || s["additionalProperties"] != false {
		t.Errorf("input_schema = %v; want the whole JSON Schema kept", s)
	}
}

func TestStopReasons(t *testing.T) {
	for finish, want := range map[string]string{
		sextant.FinishStop: sextant.FinishStop, sextant.FinishLength: sextant.FinishLength,
		sextant.FinishFilter: sextant.FinishFilter,
	} {
		p, s := open(t, anthropic.Options{})
		s.Enqueue(llmtest.Reply{Text: []string{"x"}, Finish: finish})
		ds, err := drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "q"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := ds[len(ds)-1].FinishReason; got != want {
			t.Errorf("stop reason for %s: got %q, want %q", finish, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	p, s := open(t, anthropic.Options{})
	_, err := drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "q"}}, Format: &driver.ResponseFormat{Type: driver.FormatJSONObject}})
	if sextant.ErrorCode(err) != sextant.EINVALID || len(s.Calls()) != 0 {
		t.Errorf("json_object: err = %v after %d calls; want EINVALID before calling", err, len(s.Calls()))
	}
	_, err = drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "q"}},
		Format: &driver.ResponseFormat{Type: driver.FormatJSONSchema, Name: "a", Schema: json.RawMessage(`{"type":"object"}`)}})
	if err != nil || s.Calls()[0].Format != "json_schema" {
		t.Errorf("json_schema: err %v, sent format %q", err, s.Calls()[0].Format)
	}
}

func TestIgnoresEnvironment(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "from-env")
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
	s := llmtest.NewAnthropicServer(t)
	p, err := anthropic.New(anthropic.Options{BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "q"}}}); err != nil {
		t.Fatal(err)
	}
	c := s.Calls()[0]
	if c.Header.Get("X-Api-Key") != "" || strings.Contains(c.Header.Get("Authorization"), "from-env") {
		t.Errorf("credentials taken from the environment: %v", c.Header)
	}
}

func TestRateLimitWithRetryAfterAndOverload(t *testing.T) {
	p, s := open(t, anthropic.Options{})
	s.Enqueue(llmtest.Reply{Status: 429, Header: http.Header{"Retry-After": {"12"}}}, llmtest.Reply{Status: 529})
	_, err := drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "q"}}})
	if d, ok := driver.RetryAfter(err); sextant.ErrorCode(err) != sextant.ERATELIMIT || !ok || d != 12*time.Second {
		t.Errorf("429: err %v retry-after %v", err, d)
	}
	_, err = drain(p, &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "q"}}})
	if sextant.ErrorCode(err) != sextant.EUNAVAILABLE || !driver.Retryable(err) || driver.Upstream(err).Type != "overloaded_error" {
		t.Errorf("529: err %v", err)
	}
}

// message_start's input usage reaches a driver.WithStartUsage hook before
// the first delta; a message_start without input tokens reports nothing.
func TestStartUsage(t *testing.T) {
	p, s := open(t, anthropic.Options{})
	req := &driver.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "q"}}}
	for _, tc := range []struct {
		reply llmtest.Reply
		want  []sextant.Usage
	}{
		{llmtest.Reply{Text: []string{"a", "b"}, Usage: &sextant.Usage{InputTokens: 9, CachedInputTokens: 4, OutputTokens: 2}},
			[]sextant.Usage{{InputTokens: 9, CachedInputTokens: 4}}},
		{llmtest.Reply{Text: []string{"a"}, NoUsage: true}, nil},
	} {
		s.Enqueue(tc.reply)
		var got []sextant.Usage
		deltas := 0
		ctx := driver.WithStartUsage(context.Background(), func(u sextant.Usage) {
			if deltas > 0 {
				t.Errorf("start usage reported after %d deltas", deltas)
			}
			got = append(got, u)
		})
		for _, err := range p.Stream(ctx, req) {
			if err != nil {
				t.Fatal(err)
			}
			deltas++
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%+v: start usage (-want +got):\n%s", tc.reply, diff)
		}
	}
}
