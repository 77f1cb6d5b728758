package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	ant "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sextant-ai/sextant/web"
)

// antErrorOf decodes an Anthropic error body strictly: {"type": "error",
// "error": {"type", "message"}, "request_id"} and nothing else.
func antErrorOf(t *testing.T, body []byte) (typ, msg, requestID string) {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("not an Anthropic error body (%v): %s", err, body)
	}
	return e.Error.Type, e.Error.Message, e.RequestID
}

// panicky makes a route's handler panic when the request asks for it.
func panicky(_ web.Route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Test-Panic") != "" {
			panic("test panic")
		}
		next.ServeHTTP(w, r)
	})
}

// TestMessagesPathErrors: every error under /v1/messages is in
// Anthropic's shape — the 404 of Anthropic endpoints Sextant does not
// serve, the 405 of a wrong method, the 500 of a panic — while other paths
// keep OpenAI's.
func TestMessagesPathErrors(t *testing.T) {
	s := newStack(t, stackOptions{tweak: func(o *web.Options) { o.Middleware = append(o.Middleware, panicky) }})
	do := func(method, path, body string, h http.Header) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range h {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return res, b.Bytes()
	}
	msg := `{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	panicking := http.Header{"X-Test-Panic": {"1"}}
	for _, tc := range []struct {
		method, path string
		header       http.Header
		status       int
		typ          string
		says         string // the message holds it
	}{
		{"POST", "/v1/messages/count_tokens", nil, 400, "invalid_request_error", "max_tokens: Extra inputs are not permitted"},
		{"GET", "/v1/messages/count_tokens", nil, 405, "invalid_request_error", "POST"},
		{"POST", "/v1/messages/count_tokens", panicking, 500, "api_error", "internal error"},
		{"POST", "/v1/messages/batches", nil, 404, "not_found_error", "/v1/messages/batches"},
		{"GET", "/v1/messages/batches/msgbatch_01", nil, 404, "not_found_error", "/v1/messages/batches/msgbatch_01"},
		{"POST", "/v1/messages/", nil, 404, "not_found_error", "/v1/messages/"},
		{"GET", "/v1/messages", nil, 405, "invalid_request_error", "POST"},
		{"POST", "/v1/messages", panicking, 500, "api_error", "internal error"},
	} {
		res, body := do(tc.method, tc.path, msg, tc.header)
		if res.StatusCode != tc.status || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q %s, want %d", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), body, tc.status)
			continue
		}
		typ, m, id := antErrorOf(t, body)
		if typ != tc.typ || !strings.Contains(m, tc.says) || id == "" || res.Header.Get("Request-Id") != id {
			t.Errorf("%s %s: type %q message %q request id %q (header %q); want %s naming %q",
				tc.method, tc.path, typ, m, id, res.Header.Get("Request-Id"), tc.typ, tc.says)
		}
	}
	// Other paths keep OpenAI's shape, a path that only starts like the
	// route included.
	for _, tc := range []struct {
		method, path string
		header       http.Header
		status       int
	}{
		{"POST", "/v1/messagesx", nil, 404},
		{"POST", "/v1/nope/count_tokens", nil, 404},
		{"POST", "/v1/chat/completions", panicking, 500},
	} {
		res, body := do(tc.method, tc.path, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, tc.header)
		if e := apiErr(t, body); res.StatusCode != tc.status || e.Message == "" || res.Header.Get("Request-Id") != "" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, res.StatusCode, body)
		}
	}
	// The route still answers.
	if res, body := do("POST", "/v1/messages", msg, nil); res.StatusCode != 200 {
		t.Errorf("POST /v1/messages: %d %s", res.StatusCode, body)
	}
}

// TestAnthropicSDKUnservedEndpoints: the official SDK reads the 404 of
// Anthropic endpoints Sextant does not serve as a not-found error, and a
// panic as an API error.
func TestAnthropicSDKUnservedEndpoints(t *testing.T) {
	s := newStack(t, stackOptions{tweak: func(o *web.Options) { o.Middleware = append(o.Middleware, panicky) }})
	c := claudeClient(s.URL, "")
	ctx := context.Background()
	var ae *ant.Error

	_, err := c.Messages.Batches.List(ctx, ant.MessageBatchListParams{})
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Type() != "not_found_error" || !strings.Contains(ae.Message, "/v1/messages/batches") {
		t.Errorf("batches: %v", err)
	}
	_, err = c.Messages.New(ctx, ant.MessageNewParams{Model: "gpt-4o-mini", MaxTokens: 10, Messages: userTurn("hi")}, option.WithHeader("X-Test-Panic", "1"))
	if !errors.As(err, &ae) || ae.StatusCode != 500 || ae.Type() != "api_error" || ae.RequestID == "" {
		t.Errorf("panic: %v", err)
	}
	if m, err := c.Messages.New(ctx, ant.MessageNewParams{Model: "gpt-4o-mini", MaxTokens: 10, Messages: userTurn("hi")}); err != nil || textOf(m) != "echo: hi" {
		t.Errorf("after the errors: %v", err)
	}
}
