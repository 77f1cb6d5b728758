package llmtest_test

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/llmtest"
)

var update = flag.Bool("update", false, "rewrite the golden wire transcripts in testdata")

// TestWireGolden pins the exact bytes the fakes send for a scripted reply,
// so a change to the wire format is a visible diff against transcripts
// checked against the providers' documentation and SDK fixtures.
func TestWireGolden(t *testing.T) {
	fixed := func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }
	reply := llmtest.Reply{
		Text:      []string{"Let me", " check."},
		ToolCalls: []sextant.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}},
		Usage:     &sextant.Usage{InputTokens: 40, CachedInputTokens: 32, OutputTokens: 9},
	}
	for _, tc := range []struct {
		name, path, body string
		header           http.Header
		server           func(testing.TB) *llmtest.Server
	}{
		{"openai_stream.txt", "/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"weather?"}],"stream":true,"stream_options":{"include_usage":true}}`, nil, llmtest.NewOpenAIServer},
		{"openai_error_429.txt", "/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"weather?"}]}`, nil, llmtest.NewOpenAIServer},
		{"anthropic_stream.txt", "/v1/messages", `{"model":"claude-sonnet","max_tokens":100,"messages":[{"role":"user","content":"weather?"}],"stream":true}`, http.Header{"Anthropic-Version": {"2026-10-21"}}, llmtest.NewAnthropicServer},
		{"anthropic_error_529.txt", "/v1/messages", `{"model":"claude-sonnet","max_tokens":100,"messages":[{"role":"user","content":"weather?"}]}`, http.Header{"Anthropic-Version": {"2026-10-21"}}, llmtest.NewAnthropicServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.server(t)
			s.Now = fixed
			switch tc.name {
			case "openai_error_429.txt":
				s.Enqueue(llmtest.Reply{Status: 429, Header: http.Header{"Retry-After": {"2"}}})
			case "anthropic_error_529.txt":
				s.Enqueue(llmtest.Reply{Status: 529})
			default:
				s.Enqueue(reply)
			}
			req, _ := http.NewRequest("POST", s.URL+tc.path, bytes.NewBufferString(tc.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				req.Header[k] = v
			}
			res, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			got.WriteString(res.Status + "\n")
			for _, k := range []string{"Content-Type", "Retry-After", "X-Ratelimit-Remaining-Requests", "Anthropic-Ratelimit-Requests-Remaining"} {
				if v := res.Header.Get(k); v != "" {
					got.WriteString(k + ": " + v + "\n")
				}
			}
			got.WriteString("\n")
			got.Write(body)
			path := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("wire bytes differ from %s (run with -update after checking the change):\ngot:\n%s", path, got.Bytes())
			}
		})
	}
}
