package llmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// Open starts a fresh fake server and returns a provider configured to talk
// to it. A provider with no upstream (the extractive one) returns a nil
// Server; the suite then runs only the checks that need no scripting.
type Open func(t *testing.T) (driver.Provider, *Server)

// Run is the conformance suite every driver.Provider passes: streamed text
// and the delta contract, usage (with cached tokens), tool calls assembled
// from fragments and tool results sent back, errors mapped to codes, 429
// with Retry-After, in-stream error events, a dropped connection and a
// truncated body surfacing as errors, cancellation and early stop reaching
// the server, context timeouts, laziness and concurrent use.
func Run(t *testing.T, open Open) {
	t.Run("Contract", func(t *testing.T) {
		p, _ := open(t)
		deltas, err := collect(t.Context(), p, ask("say three words"))
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		checkContract(t, deltas)
	})
	t.Run("Concurrent", func(t *testing.T) {
		p, s := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				word := fmt.Sprintf("word%d", i)
				deltas, err := collect(t.Context(), p, ask(word))
				if err != nil {
					errs <- err
					return
				}
				if s != nil {
					if got, want := text(deltas), "echo: "+word; got != want {
						errs <- fmt.Errorf("concurrent call %d got %q, want %q", i, got, want)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("Lazy", func(t *testing.T) {
		p, s := open(t)
		_ = p.Stream(t.Context(), ask("hello"))
		if s != nil {
			time.Sleep(20 * time.Millisecond)
			if n := len(s.Calls()); n != 0 {
				t.Fatalf("Stream sent %d requests before the sequence was ranged over", n)
			}
		}
	})

	server := func(t *testing.T) (driver.Provider, *Server) {
		p, s := open(t)
		if s == nil {
			t.Skip("provider has no upstream server")
		}
		return p, s
	}

	t.Run("StreamText", func(t *testing.T) {
		p, s := server(t)
		s.Enqueue(Reply{Text: []string{"Hel", "lo,", " world"}, Usage: &sextant.Usage{InputTokens: 12, OutputTokens: 3}})
		req := &driver.Request{
			Model: "test-model",
			Messages: []sextant.Message{
				{Role: sextant.RoleSystem, Content: "Be brief."},
				{Role: sextant.RoleUser, Content: "Say hello."},
			},
			MaxTokens: 50,
			Stop:      []string{"\n\n"},
		}
		deltas, err := collect(t.Context(), p, req)
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		checkContract(t, deltas)
		if got := text(deltas); got != "Hello, world" {
			t.Errorf("text = %q, want %q", got, "Hello, world")
		}
		if n := textDeltas(deltas); n < 2 {
			t.Errorf("text arrived in %d deltas; a streaming driver must yield pieces as they come", n)
		}
		last := deltas[len(deltas)-1]
		if last.FinishReason != sextant.FinishStop {
			t.Errorf("finish reason = %q, want %q", last.FinishReason, sextant.FinishStop)
		}
		want := sextant.Usage{InputTokens: 12, OutputTokens: 3}
		if last.Usage == nil || *last.Usage != want {
			t.Errorf("usage = %+v, want %+v", last.Usage, want)
		}
		calls := s.Calls()
		if len(calls) != 1 {
			t.Fatalf("server got %d requests, want 1", len(calls))
		}
		c := calls[0]
		if c.Model != "test-model" || !c.Stream || c.MaxTokens != 50 || !reflect.DeepEqual(c.Stop, []string{"\n\n"}) {
			t.Errorf("request sent: model %q stream %v max_tokens %d stop %q; want test-model, true, 50, [\\n\\n]", c.Model, c.Stream, c.MaxTokens, c.Stop)
		}
		if !reflect.DeepEqual(c.Messages, req.Messages) {
			t.Errorf("messages sent = %+v, want %+v", c.Messages, req.Messages)
		}
	})

	t.Run("CachedUsage", func(t *testing.T) {
		p, s := server(t)
		want := sextant.Usage{InputTokens: 1200, CachedInputTokens: 1024, OutputTokens: 7}
		s.Enqueue(Reply{Text: []string{"ok"}, Usage: &want})
		deltas, err := collect(t.Context(), p, ask("hi"))
		if err != nil {
			t.Fatal(err)
		}
		if u := deltas[len(deltas)-1].Usage; u == nil || *u != want {
			t.Errorf("usage = %+v, want %+v", u, want)
		}
	})

	t.Run("ToolCalls", func(t *testing.T) {
		p, s := server(t)
		calls := []sextant.ToolCall{
			{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius","note":"a \"quoted\" word"}`},
			{ID: "call_2", Name: "get_time", Arguments: `{"tz":"Europe/Paris"}`},
		}
		s.Enqueue(Reply{Text: []string{"Let me check."}, ToolCalls: calls})
		req := ask("weather and time in Paris?")
		req.Tools = tools()
		req.ToolChoice = "auto"
		deltas, err := collect(t.Context(), p, req)
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		checkContract(t, deltas)
		last := deltas[len(deltas)-1]
		if last.FinishReason != sextant.FinishToolCalls {
			t.Errorf("finish reason = %q, want %q", last.FinishReason, sextant.FinishToolCalls)
		}
		if text(deltas) != "Let me check." {
			t.Errorf("text = %q, want %q", text(deltas), "Let me check.")
		}
		if len(last.ToolCalls) != len(calls) {
			t.Fatalf("got %d tool calls, want %d: %+v", len(last.ToolCalls), len(calls), last.ToolCalls)
		}
		for i, c := range last.ToolCalls {
			if c.ID != calls[i].ID || c.Name != calls[i].Name || !jsonEqual(c.Arguments, calls[i].Arguments) {
				t.Errorf("tool call %d = %+v, want %+v", i, c, calls[i])
			}
		}
		sent := s.Calls()[0]
		if len(sent.Tools) != 2 || sent.Tools[0].Name != "get_weather" || !jsonEqual(string(sent.Tools[0].Parameters), string(req.Tools[0].Parameters)) {
			t.Errorf("tools sent = %+v", sent.Tools)
		}
		if sent.ToolChoice != "auto" {
			t.Errorf("tool_choice sent = %q, want auto", sent.ToolChoice)
		}
	})

	t.Run("ToolResults", func(t *testing.T) {
		p, s := server(t)
		req := &driver.Request{
			Model: "test-model",
			Messages: []sextant.Message{
				{Role: sextant.RoleUser, Content: "weather in Paris?"},
				{Role: sextant.RoleAssistant, ToolCalls: []sextant.ToolCall{{ID: "call_9", Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
				{Role: sextant.RoleTool, ToolCallID: "call_9", Content: "18 C, sunny"},
			},
			Tools:      tools(),
			ToolChoice: "get_weather",
		}
		if _, err := collect(t.Context(), p, req); err != nil {
			t.Fatal(err)
		}
		sent := s.Calls()[0]
		if !reflect.DeepEqual(sent.Messages, req.Messages) {
			t.Errorf("messages sent = %+v\nwant %+v", sent.Messages, req.Messages)
		}
		if sent.ToolChoice != "get_weather" {
			t.Errorf("tool_choice sent = %q, want get_weather", sent.ToolChoice)
		}
	})

	t.Run("ErrorCodes", func(t *testing.T) {
		for _, tc := range []struct {
			status    int
			code      string
			retryable bool
		}{
			{400, sextant.EINVALID, false},
			{401, sextant.EUNAUTHORIZED, false},
			{403, sextant.EFORBIDDEN, false},
			{404, sextant.ENOTFOUND, false},
			{429, sextant.ERATELIMIT, true},
			{500, sextant.EUNAVAILABLE, true},
			{503, sextant.EUNAVAILABLE, true},
			{529, sextant.EUNAVAILABLE, true},
		} {
			t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
				p, s := server(t)
				s.Enqueue(Reply{Status: tc.status})
				deltas, err := collect(t.Context(), p, ask("hi"))
				if err == nil {
					t.Fatalf("got %d deltas and no error for status %d", len(deltas), tc.status)
				}
				if len(deltas) != 0 {
					t.Errorf("got %d deltas before the error", len(deltas))
				}
				if got := sextant.ErrorCode(err); got != tc.code {
					t.Errorf("code = %q, want %q (err: %v)", got, tc.code, err)
				}
				if got := driver.Retryable(err); got != tc.retryable {
					t.Errorf("retryable = %v, want %v (err: %v)", got, tc.retryable, err)
				}
				if got := driver.Status(err); got != tc.status {
					t.Errorf("status = %d, want %d", got, tc.status)
				}
			})
		}
	})

	t.Run("RateLimitRetryAfter", func(t *testing.T) {
		p, s := server(t)
		s.Enqueue(Reply{Status: 429, Header: http.Header{"Retry-After": {"7"}}})
		_, err := collect(t.Context(), p, ask("hi"))
		if sextant.ErrorCode(err) != sextant.ERATELIMIT || !driver.Retryable(err) {
			t.Fatalf("err = %v (code %q), want retryable %s", err, sextant.ErrorCode(err), sextant.ERATELIMIT)
		}
		if d, ok := driver.RetryAfter(err); !ok || d != 7*time.Second {
			t.Errorf("RetryAfter = %v, %v; want 7s", d, ok)
		}
	})

	t.Run("StreamErrorEvent", func(t *testing.T) {
		p, s := server(t)
		typ := "server_error"
		if s.provider == "anthropic" {
			typ = "overloaded_error"
		}
		s.Enqueue(Reply{Text: []string{"partial"}, StreamError: typ})
		deltas, err := collect(t.Context(), p, ask("hi"))
		if err == nil {
			t.Fatal("in-stream error event: no error")
		}
		if text(deltas) != "partial" || finished(deltas) {
			t.Errorf("deltas before the error = %+v; want the text piece and no finish", deltas)
		}
		if sextant.ErrorCode(err) != sextant.EUNAVAILABLE || !driver.Retryable(err) {
			t.Errorf("err = %v (code %q), want retryable %s", err, sextant.ErrorCode(err), sextant.EUNAVAILABLE)
		}
	})

	for _, tc := range []struct {
		name  string
		reply Reply
	}{
		{"Disconnect", Reply{Text: []string{"a", "b"}, Disconnect: true}},
		{"Truncated", Reply{Text: []string{"a", "b"}, Truncate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, s := server(t)
			s.Enqueue(tc.reply)
			deltas, err := collect(t.Context(), p, ask("hi"))
			if err == nil {
				t.Fatalf("stream cut short after %q: no error, deltas %+v", text(deltas), deltas)
			}
			if finished(deltas) {
				t.Errorf("got a finish delta from a cut stream")
			}
			if sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
				t.Errorf("err = %v (code %q), want %s", err, sextant.ErrorCode(err), sextant.EUNAVAILABLE)
			}
		})
	}

	t.Run("CancelMidStream", func(t *testing.T) {
		p, s := server(t)
		s.Enqueue(Reply{Text: []string{"first"}, Hang: true})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		n := 0
		var err error
		for d, e := range p.Stream(ctx, ask("hi")) {
			if e != nil {
				err = e
				break
			}
			n++
			if d.Text != "" {
				cancel()
			}
		}
		if n == 0 {
			t.Fatal("no delta before cancellation")
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel: err = %v, want context.Canceled or none", err)
		}
		waitCanceled(t, s)
	})

	t.Run("StopEarly", func(t *testing.T) {
		p, s := server(t)
		s.Enqueue(Reply{Text: []string{"first", "second"}, Hang: true})
		for range p.Stream(t.Context(), ask("hi")) {
			break
		}
		waitCanceled(t, s)
	})

	t.Run("Timeout", func(t *testing.T) {
		p, s := server(t)
		s.Enqueue(Reply{Delay: 5 * time.Second})
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := collect(ctx, p, ask("hi"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want one that is context.DeadlineExceeded", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("returned after %v; the deadline was 150ms", el)
		}
		waitCanceled(t, s)
	})
}

// ask is a one-question request.
func ask(q string) *driver.Request {
	return &driver.Request{Model: "test-model", Messages: []sextant.Message{{Role: sextant.RoleUser, Content: q}}}
}

func tools() []sextant.Tool {
	return []sextant.Tool{
		{Name: "get_weather", Description: "Current weather for a city.", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}`)},
		{Name: "get_time", Description: "Current time in a time zone.", Parameters: json.RawMessage(`{"type":"object","properties":{"tz":{"type":"string"}},"required":["tz"]}`)},
	}
}

// collect ranges over one stream; it stops at the first error.
func collect(ctx context.Context, p driver.Provider, req *driver.Request) ([]sextant.Delta, error) {
	var out []sextant.Delta
	for d, err := range p.Stream(ctx, req) {
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

// checkContract checks the delta contract of driver.Provider.
func checkContract(t *testing.T, deltas []sextant.Delta) {
	t.Helper()
	if len(deltas) == 0 {
		t.Fatal("stream yielded no delta")
	}
	for i, d := range deltas[:len(deltas)-1] {
		if d.FinishReason != "" || d.Usage != nil || len(d.ToolCalls) > 0 {
			t.Errorf("delta %d of %d carries a finish reason, usage or tool calls; only the last may: %+v", i, len(deltas), d)
		}
		if d.Text == "" {
			t.Errorf("delta %d of %d is empty", i, len(deltas))
		}
	}
	last := deltas[len(deltas)-1]
	switch last.FinishReason {
	case sextant.FinishStop, sextant.FinishLength, sextant.FinishToolCalls, sextant.FinishFilter:
	default:
		t.Errorf("last delta has finish reason %q, want one of the sextant.Finish* values", last.FinishReason)
	}
	for _, c := range last.ToolCalls {
		if c.ID == "" || c.Name == "" || (c.Arguments != "" && !json.Valid([]byte(c.Arguments))) {
			t.Errorf("incomplete tool call %+v", c)
		}
	}
}

func text(deltas []sextant.Delta) string {
	var b strings.Builder
	for _, d := range deltas {
		b.WriteString(d.Text)
	}
	return b.String()
}

func textDeltas(deltas []sextant.Delta) int {
	n := 0
	for _, d := range deltas {
		if d.Text != "" {
			n++
		}
	}
	return n
}

func finished(deltas []sextant.Delta) bool {
	for _, d := range deltas {
		if d.FinishReason != "" {
			return true
		}
	}
	return false
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// waitCanceled fails t unless the server saw its client go away.
func waitCanceled(t *testing.T, s *Server) {
	t.Helper()
	select {
	case <-s.Canceled():
	case <-time.After(5 * time.Second):
		t.Fatal("the server never saw the client go away: cancellation did not reach the upstream")
	}
}
