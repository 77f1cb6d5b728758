package web_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/llm/llmtest"
)

// The gateway relays the upstream's bytes unchanged, plain and streamed,
// with the headers a client needs.
func TestGatewayRelaysBytes(t *testing.T) {
	s := newStack(t, stackOptions{})
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi there"}],"stream":false,"temperature":0.5}`
	status, h, got := s.do(t, "POST", "/v1/chat/completions", "application/json", []byte(body))
	if status != 200 || h.Get("Content-Type") != "application/json" || !strings.Contains(string(got), `"content":"echo: hi there"`) {
		t.Fatalf("status %d %q: %s", status, h.Get("Content-Type"), got)
	}
	calls := s.up.Calls()
	if last := calls[len(calls)-1]; string(last.Body) != body {
		t.Errorf("upstream got %s, want the client's bytes %s", last.Body, body)
	}
	if h.Get("X-Upstream-Request-Id") == "" && h.Get("X-Request-Id") == "" {
		t.Error("no request ids")
	}

	status, h, got = s.do(t, "POST", "/v1/chat/completions", "application/json",
		[]byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b c"}]}`))
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: status %d %q", status, h.Get("Content-Type"))
	}
	evs := sseEvents(string(got))
	if len(evs) < 5 || evs[len(evs)-1][1] != "[DONE]" || !strings.Contains(evs[len(evs)-2][1], `"usage":{`) {
		t.Errorf("stream events: %q", got)
	}
}

// A stream is flushed piece by piece: the client reads the first chunk
// while the upstream still holds the rest back.
func TestGatewayStreamsIncrementally(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.up.Enqueue(llmtest.Reply{Text: []string{"first ", "second"}, Gap: 300 * time.Millisecond})
	res, err := http.Post(s.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	start := time.Now()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q: %v", line, err)
	}
	rest, _ := io.ReadAll(br)
	if total := time.Since(start); total < 300*time.Millisecond {
		t.Errorf("first chunk then the rest took only %v: not streamed incrementally?", total)
	}
	if !strings.Contains(string(rest), "second") || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("rest of stream: %q", rest)
	}
}

// A client that disconnects mid-stream cancels the upstream request, for
// the gateway and for an assistant alike.
func TestGatewayClientDisconnectCancelsUpstream(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.up.Enqueue(llmtest.Reply{Text: []string{"never ", "ending"}, Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	res.Body.Close()
	waitFor(t, s.up.Canceled(), "the upstream to see the client's disconnect")
}

// Upstream errors relayed through the gateway keep OpenAI's shape and
// status; a retryable one that exhausted its attempts becomes ours with
// Retry-After.
func TestGatewayErrors(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.up.Enqueue(llmtest.Reply{Status: 401})
	status, _, body := s.do(t, "POST", "/v1/chat/completions", "", []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	if e := apiErr(t, body); status != 401 || e.Code != "invalid_api_key" {
		t.Errorf("401 relayed as %d %+v", status, e)
	}
	s.up.Enqueue(llmtest.Reply{Status: 503, Header: http.Header{"Retry-After": {"3"}}})
	status, h, body := s.do(t, "POST", "/v1/chat/completions", "", []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	if e := apiErr(t, body); status != 503 || h.Get("Retry-After") != "3" || e.Type != "server_error" {
		t.Errorf("503: %d Retry-After %q %+v", status, h.Get("Retry-After"), e)
	}
	status, _, body = s.do(t, "POST", "/v1/chat/completions", "", []byte(`{"model":"gpt-4o-mini","messages":[`))
	if e := apiErr(t, body); status != 400 || !strings.Contains(e.Message, "not a JSON object") {
		t.Errorf("malformed body: %d %+v", status, e)
	}
	status, _, body = s.do(t, "POST", "/v1/embeddings", "", []byte(`{"model":"sextant","input":"x"}`))
	if e := apiErr(t, body); status != 400 || e.Param != "model" {
		t.Errorf("embeddings with an assistant: %d %+v", status, e)
	}
}
