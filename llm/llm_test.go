package llm_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
)

// step is one scripted call of a fake driver: deltas, then err; or block
// until the context ends.
type step struct {
	deltas []sextant.Delta
	err    error
	block  bool
}

// script is an in-process driver.Provider that plays steps in order; when
// they run out it answers "ok".
type script struct {
	name  string
	mu    sync.Mutex
	steps []step
	reqs  []driver.Request
}

func (s *script) Stream(ctx context.Context, req *driver.Request) iter.Seq2[sextant.Delta, error] {
	return func(yield func(sextant.Delta, error) bool) {
		s.mu.Lock()
		s.reqs = append(s.reqs, *req)
		st := step{deltas: []sextant.Delta{{Text: "ok"}, {FinishReason: sextant.FinishStop, Usage: &sextant.Usage{InputTokens: 5, OutputTokens: 1}}}}
		if len(s.steps) > 0 {
			st = s.steps[0]
			s.steps = s.steps[1:]
		}
		s.mu.Unlock()
		if st.block {
			<-ctx.Done()
			yield(sextant.Delta{}, driver.Transport(ctx, s.name, ctx.Err()))
			return
		}
		for _, d := range st.deltas {
			if !yield(d, nil) {
				return
			}
		}
		if st.err != nil {
			yield(sextant.Delta{}, st.err)
		}
	}
}

func (s *script) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func status(provider string, code int, retryAfter time.Duration) error {
	return driver.Classify(&driver.UpstreamError{Provider: provider, Status: code, RetryAfter: retryAfter})
}

func fail(err error) step { return step{err: err} }

// clock is an injected clock advanced by the fake sleep.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newModel(t *testing.T, opts llm.Options) (*llm.Model, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = c.Sleep
	}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	m, err := llm.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

func ask(model, q string) *llm.Request {
	return &llm.Request{Model: model, Messages: []sextant.Message{{Role: sextant.RoleUser, Content: q}}}
}

func collect(ctx context.Context, m *llm.Model, req *llm.Request) (string, []sextant.Delta, error) {
	var b strings.Builder
	var ds []sextant.Delta
	for d, err := range m.Stream(ctx, req) {
		if err != nil {
			return b.String(), ds, err
		}
		b.WriteString(d.Text)
		ds = append(ds, d)
	}
	return b.String(), ds, nil
}

func TestValidate(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	user := []sextant.Message{{Role: sextant.RoleUser, Content: "hi"}}
	for _, tc := range []struct {
		name  string
		req   llm.Request
		field string
	}{
		{"no model", llm.Request{Messages: user}, "model"},
		{"no messages", llm.Request{Model: "m"}, "messages"},
		{"bad role", llm.Request{Model: "m", Messages: []sextant.Message{{Role: "bot", Content: "x"}}}, "messages[0].role"},
		{"bad utf8", llm.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "\xff"}}}, "messages[0].content"},
		{"orphan tool result", llm.Request{Model: "m", Messages: []sextant.Message{{Role: "user", Content: "x"}, {Role: "tool", ToolCallID: "c1", Content: "r"}}}, "messages[1].tool_call_id"},
		{"tool call without id", llm.Request{Model: "m", Messages: []sextant.Message{{Role: "assistant", ToolCalls: []sextant.ToolCall{{Name: "f"}}}}}, "messages[0].tool_calls[0].id"},
		{"temperature", llm.Request{Model: "m", Messages: user, Temperature: f(2.5)}, "temperature"},
		{"top_p", llm.Request{Model: "m", Messages: user, TopP: f(0)}, "top_p"},
		{"max_tokens", llm.Request{Model: "m", Messages: user, MaxTokens: -1}, "max_tokens"},
		{"stop count", llm.Request{Model: "m", Messages: user, Stop: []string{"a", "b", "c", "d", "e"}}, "stop"},
		{"tool name", llm.Request{Model: "m", Messages: user, Tools: []sextant.Tool{{Name: "bad name"}}}, "tools[0].name"},
		{"tool dup", llm.Request{Model: "m", Messages: user, Tools: []sextant.Tool{{Name: "f"}, {Name: "f"}}}, "tools[1].name"},
		{"tool params", llm.Request{Model: "m", Messages: user, Tools: []sextant.Tool{{Name: "f", Parameters: []byte(`[1]`)}}}, "tools[0].parameters"},
		{"tool choice", llm.Request{Model: "m", Messages: user, ToolChoice: "g"}, "tool_choice"},
		{"format", llm.Request{Model: "m", Messages: user, Format: &driver.ResponseFormat{Type: "xml"}}, "response_format.type"},
		{"schema", llm.Request{Model: "m", Messages: user, Format: &driver.ResponseFormat{Type: driver.FormatJSONSchema, Name: "x", Schema: []byte(`nope`)}}, "response_format.json_schema.schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate()
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
			if !strings.HasPrefix(sextant.ErrorMessage(err), tc.field+":") {
				t.Errorf("message %q does not start with the field %q", sextant.ErrorMessage(err), tc.field)
			}
		})
	}
	ok := llm.Request{Model: "m", Messages: []sextant.Message{
		{Role: "system", Content: "s"}, {Role: "user", Content: "u"},
		{Role: "assistant", ToolCalls: []sextant.ToolCall{{ID: "c1", Name: "f", Arguments: `{}`}}},
		{Role: "tool", ToolCallID: "c1", Content: "r"},
	}, Tools: []sextant.Tool{{Name: "f"}}, ToolChoice: "f", Temperature: f(0), TopP: f(1)}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid request refused: %v", err)
	}
}

func TestStreamValidatesBeforeCalling(t *testing.T) {
	p := &script{name: "p"}
	m, _ := newModel(t, llm.Options{Providers: map[string]driver.Provider{"p": p}})
	_, _, err := collect(t.Context(), m, &llm.Request{Model: "x"})
	if sextant.ErrorCode(err) != sextant.EINVALID || p.calls() != 0 {
		t.Fatalf("err = %v after %d calls; want EINVALID and no call", err, p.calls())
	}
}

func TestRouting(t *testing.T) {
	a, b, c := &script{name: "a"}, &script{name: "b"}, &script{name: "c"}
	m, _ := newModel(t, llm.Options{
		Providers: map[string]driver.Provider{"a": a, "b": b, "c": c},
		Routes: []llm.Route{
			{Match: "gpt-*", Targets: []llm.Target{{Provider: "a"}}},
			{Match: "gpt-special", Targets: []llm.Target{{Provider: "b", Model: "upstream-special"}}},
			{Match: "*", Targets: []llm.Target{{Provider: "c", Model: "local"}}},
		},
	})
	for _, tc := range []struct {
		model    string
		provider *script
		sent     string
	}{
		{"gpt-4o", a, "gpt-4o"},
		{"gpt-special", b, "upstream-special"}, // exact wins over the earlier pattern
		{"llama", c, "local"},
	} {
		if _, _, err := collect(t.Context(), m, ask(tc.model, "hi")); err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		got := tc.provider.reqs[len(tc.provider.reqs)-1].Model
		if got != tc.sent {
			t.Errorf("%s: upstream model = %q, want %q", tc.model, got, tc.sent)
		}
	}

	m2, _ := newModel(t, llm.Options{Providers: map[string]driver.Provider{"a": a}, Routes: []llm.Route{{Match: "only", Targets: []llm.Target{{Provider: "a"}}}}})
	if _, _, err := collect(t.Context(), m2, ask("other", "hi")); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("unrouted model: err = %v, want ENOTFOUND", err)
	}

	for _, tc := range []struct {
		name string
		opts llm.Options
		want string
	}{
		{"unknown provider", llm.Options{Providers: map[string]driver.Provider{"a": a}, Routes: []llm.Route{{Match: "x", Targets: []llm.Target{{Provider: "zz"}}}}}, "routes[0].targets[0]"},
		{"bad pattern", llm.Options{Providers: map[string]driver.Provider{"a": a}, Routes: []llm.Route{{Match: "[", Targets: []llm.Target{{Provider: "a"}}}}}, "routes[0].match"},
		{"no targets", llm.Options{Providers: map[string]driver.Provider{"a": a}, Routes: []llm.Route{{Match: "x"}}}, "routes[0]"},
		{"duplicate", llm.Options{Providers: map[string]driver.Provider{"a": a}, Routes: []llm.Route{{Match: "x", Targets: []llm.Target{{Provider: "a"}}}, {Match: "x", Targets: []llm.Target{{Provider: "a"}}}}}, "routes[1].match"},
	} {
		_, err := llm.New(tc.opts)
		if sextant.ErrorCode(err) != sextant.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want EINVALID naming %s", tc.name, err, tc.want)
		}
	}
}

func TestRetryBackoffWithFullJitter(t *testing.T) {
	p := &script{name: "p", steps: []step{fail(status("p", 503, 0)), fail(status("p", 502, 0))}}
	var retries []llm.RetryEvent
	m, c := newModel(t, llm.Options{
		Providers: map[string]driver.Provider{"p": p},
		Retry:     llm.RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second},
		Hooks:     llm.Hooks{Retry: func(e llm.RetryEvent) { retries = append(retries, e) }},
		Rand:      func() float64 { return 0.75 },
	})
	res, err := m.Complete(t.Context(), ask("m", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "ok" || res.Call.Attempts != 3 || p.calls() != 3 {
		t.Errorf("text %q attempts %d calls %d; want ok, 3, 3", res.Text, res.Call.Attempts, p.calls())
	}
	// Full jitter: rand × min(max, base·2^(n-1)).
	want := []time.Duration{75 * time.Millisecond, 150 * time.Millisecond}
	if diff := cmp.Diff(want, c.sleeps); diff != "" {
		t.Errorf("backoff waits (-want +got):\n%s", diff)
	}
	if len(retries) != 2 || retries[0].Attempt != 1 || retries[1].Delay != 150*time.Millisecond {
		t.Errorf("retry events = %+v", retries)
	}

	// The cap applies.
	p2 := &script{name: "p", steps: []step{fail(status("p", 503, 0)), fail(status("p", 503, 0)), fail(status("p", 503, 0))}}
	m2, c2 := newModel(t, llm.Options{Providers: map[string]driver.Provider{"p": p2},
		Retry: llm.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 1500 * time.Millisecond}, Rand: func() float64 { return 0.999 }})
	if _, err := m2.Complete(t.Context(), ask("m", "hi")); err != nil {
		t.Fatal(err)
	}
	for i, d := range c2.sleeps {
		if d >= 1500*time.Millisecond || (i > 0 && d < 1400*time.Millisecond) {
			t.Errorf("wait %d = %v, want below the 1.5s cap and near it", i, d)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	p := &script{name: "p", steps: []step{fail(status("p", 429, 3*time.Second))}}
	m, c := newModel(t, llm.Options{Providers: map[string]driver.Provider{"p": p}})
	if _, err := m.Complete(t.Context(), ask("m", "hi")); err != nil {
		t.Fatal(err)
	}
	if len(c.sleeps) != 1 || c.sleeps[0] != 3*time.Second {
		t.Errorf("waits = %v, want [3s] (Retry-After honoured)", c.sleeps)
	}

	// A Retry-After beyond MaxRetryAfter moves on to the fallback at once.
	a := &script{name: "a", steps: []step{fail(status("a", 429, time.Hour))}}
	b := &script{name: "b"}
	m2, c2 := newModel(t, llm.Options{
		Providers: map[string]driver.Provider{"a": a, "b": b},
		Routes:    []llm.Route{{Match: "*", Targets: []llm.Target{{Provider: "a"}, {Provider: "b"}}}},
	})
	res, err := m2.Complete(t.Context(), ask("m", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c2.sleeps) != 0 || res.Call.Target.Provider != "b" || a.calls() != 1 {
		t.Errorf("waits %v, served by %q after %d calls to a; want no wait, b, 1", c2.sleeps, res.Call.Target.Provider, a.calls())
	}
}

func TestNoRetryAfterFirstDelta(t *testing.T) {
	p := &script{name: "p", steps: []step{{deltas: []sextant.Delta{{Text: "partial "}}, err: status("p", 503, 0)}}}
	m, _ := newModel(t, llm.Options{Providers: map[string]driver.Provider{"p": p}})
	text, _, err := collect(t.Context(), m, ask("m", "hi"))
	if text != "partial " || sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Errorf("got %q, %v; want the partial text then EUNAVAILABLE", text, err)
	}
	if p.calls() != 1 {
		t.Errorf("provider called %d times; a stream that emitted output must not be retried", p.calls())
	}
}

func TestNoRetryOrFallbackOnInvalid(t *testing.T) {
	a := &script{name: "a", steps: []step{fail(status("a", 400, 0))}}
	b := &script{name: "b"}
	m, _ := newModel(t, llm.Options{
		Providers: map[string]driver.Provider{"a": a, "b": b},
		Routes:    []llm.Route{{Match: "*", Targets: []llm.Target{{Provider: "a"}, {Provider: "b"}}}},
	})
	_, _, err := collect(t.Context(), m, ask("m", "hi"))
	if sextant.ErrorCode(err) != sextant.EINVALID || a.calls() != 1 || b.calls() != 0 {
		t.Errorf("err %v, calls a=%d b=%d; want EINVALID, 1, 0", err, a.calls(), b.calls())
	}
}

func TestFallbackChain(t *testing.T) {
	for _, code := range []int{503, 404, 401} {
		a := &script{name: "a", steps: []step{fail(status("a", code, 0)), fail(status("a", code, 0)), fail(status("a", code, 0))}}
		b := &script{name: "b"}
		var fb []llm.FallbackEvent
		m, _ := newModel(t, llm.Options{
			Providers: map[string]driver.Provider{"a": a, "b": b},
			Routes:    []llm.Route{{Match: "chat", Targets: []llm.Target{{Provider: "a", Model: "big"}, {Provider: "b", Model: "small"}}}},
			Hooks:     llm.Hooks{Fallback: func(e llm.FallbackEvent) { fb = append(fb, e) }},
		})
		res, err := m.Complete(t.Context(), ask("chat", "hi"))
		if err != nil {
			t.Fatalf("%d: %v", code, err)
		}
		wantA := 1
		if code == 503 {
			wantA = 3
		}
		if a.calls() != wantA || b.reqs[0].Model != "small" || res.Call.Target != (llm.Target{Provider: "b", Model: "small"}) || res.Call.Fallbacks != 1 {
			t.Errorf("%d: a called %d times (want %d), call %+v", code, a.calls(), wantA, res.Call)
		}
		if len(fb) != 1 || fb[0].From.Provider != "a" || fb[0].To.Provider != "b" || driver.Status(fb[0].Err) != code {
			t.Errorf("%d: fallback events = %+v", code, fb)
		}
	}
}

func TestCircuitBreaker(t *testing.T) {
	p := &script{name: "p", steps: []step{fail(status("p", 503, 0)), fail(status("p", 503, 0))}}
	var events []string
	m, c := newModel(t, llm.Options{
		Providers: map[string]driver.Provider{"p": p},
		Retry:     llm.RetryPolicy{MaxAttempts: 1},
		Breaker:   llm.BreakerPolicy{Failures: 2, OpenFor: 10 * time.Second},
		Hooks:     llm.Hooks{Breaker: func(e llm.BreakerEvent) { events = append(events, e.From.String()+">"+e.To.String()) }},
	})
	for range 2 {
		if _, err := m.Complete(t.Context(), ask("m", "hi")); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
			t.Fatalf("err = %v, want EUNAVAILABLE", err)
		}
	}
	if m.State("p") != llm.Open {
		t.Fatalf("state after 2 failures = %v, want open", m.State("p"))
	}
	_, err := m.Complete(t.Context(), ask("m", "hi"))
	if sextant.ErrorCode(err) != sextant.EUNAVAILABLE || p.calls() != 2 {
		t.Fatalf("open circuit: err %v after %d calls; want EUNAVAILABLE without calling the provider", err, p.calls())
	}
	if d, ok := driver.RetryAfter(err); !ok || d != 10*time.Second {
		t.Errorf("open circuit RetryAfter = %v, %v; want 10s", d, ok)
	}
	c.advance(10 * time.Second)
	if _, err := m.Complete(t.Context(), ask("m", "hi")); err != nil {
		t.Fatalf("trial call: %v", err)
	}
	if m.State("p") != llm.Closed {
		t.Errorf("state after a successful trial = %v, want closed", m.State("p"))
	}
	// A failed trial reopens.
	p.steps = []step{fail(status("p", 503, 0)), fail(status("p", 503, 0)), fail(status("p", 503, 0))}
	m.Complete(t.Context(), ask("m", "hi"))
	m.Complete(t.Context(), ask("m", "hi"))
	c.advance(10 * time.Second)
	m.Complete(t.Context(), ask("m", "hi"))
	want := []string{"closed>open", "open>half-open", "half-open>closed", "closed>open", "open>half-open", "half-open>open"}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("breaker transitions (-want +got):\n%s", diff)
	}
	// Caller errors do not count as failures.
	q := &script{name: "q", steps: []step{fail(status("q", 400, 0)), fail(status("q", 400, 0)), fail(status("q", 400, 0))}}
	m2, _ := newModel(t, llm.Options{Providers: map[string]driver.Provider{"q": q}, Breaker: llm.BreakerPolicy{Failures: 2}})
	for range 3 {
		m2.Complete(t.Context(), ask("m", "hi"))
	}
	if m2.State("q") != llm.Closed {
		t.Errorf("400s opened the circuit")
	}
}

func TestFirstDeltaTimeout(t *testing.T) {
	p := &script{name: "p", steps: []step{{block: true}, {block: true}}}
	m, _ := newModel(t, llm.Options{
		Providers:         map[string]driver.Provider{"p": p},
		FirstDeltaTimeout: 30 * time.Millisecond,
		Retry:             llm.RetryPolicy{MaxAttempts: 2},
	})
	start := time.Now()
	_, _, err := collect(t.Context(), m, ask("m", "hi"))
	if sextant.ErrorCode(err) != sextant.EUNAVAILABLE || p.calls() != 2 {
		t.Errorf("err = %v after %d calls; want EUNAVAILABLE after 2 attempts", err, p.calls())
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("a first-delta timeout must not look like caller cancellation: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestCallerCancellation(t *testing.T) {
	p := &script{name: "p", steps: []step{{block: true}}}
	m, _ := newModel(t, llm.Options{Providers: map[string]driver.Provider{"p": p}})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, _, err := collect(ctx, m, ask("m", "hi"))
	if !errors.Is(err, context.Canceled) || p.calls() != 1 {
		t.Errorf("err = %v after %d calls; want context.Canceled and no retry", err, p.calls())
	}
}

func TestEstimatedUsage(t *testing.T) {
	p := &script{name: "p", steps: []step{{deltas: []sextant.Delta{{Text: "hello world"}, {FinishReason: sextant.FinishStop}}}}}
	m, _ := newModel(t, llm.Options{Providers: map[string]driver.Provider{"p": p}})
	res, err := m.Complete(t.Context(), ask("gpt-4o", "hello world"))
	if err != nil {
		t.Fatal(err)
	}
	// o200k: "hello world" is 2 tokens, "user" 1; framing 3 per message + 3 for the reply.
	want := sextant.Usage{InputTokens: 3 + 3 + 1 + 2, OutputTokens: 2, Estimated: true}
	if res.Usage != want {
		t.Errorf("usage = %+v, want %+v", res.Usage, want)
	}
	// Reported usage is kept as is.
	res, _ = m.Complete(t.Context(), ask("gpt-4o", "x"))
	if res.Usage != (sextant.Usage{InputTokens: 5, OutputTokens: 1}) {
		t.Errorf("reported usage replaced: %+v", res.Usage)
	}
}

func TestCounter(t *testing.T) {
	var c llm.Counter
	for _, tc := range []struct {
		model, text string
		want        int
	}{
		{"gpt-4o", "hello world", 2},
		{"gpt-4", "hello world", 2},
		{"claude-sonnet-4", "", 0},
		{"gpt-4o-mini", "Sextant answers with citations.", 7},
	} {
		if got := c.Text(tc.model, tc.text); got != tc.want {
			t.Errorf("Text(%q, %q) = %d, want %d", tc.model, tc.text, got, tc.want)
		}
	}
	if llm.Encoding("openai/gpt-4o") != "o200k_base" || llm.Encoding("llama3") != "cl100k_base" || llm.Encoding("o3-mini") != "o200k_base" {
		t.Error("encoding choice by model name")
	}
}

func TestCompleteAggregates(t *testing.T) {
	calls := []sextant.ToolCall{{ID: "c1", Name: "f", Arguments: `{"a":1}`}}
	p := &script{name: "p", steps: []step{{deltas: []sextant.Delta{{Text: "a"}, {Text: "b"}, {FinishReason: sextant.FinishToolCalls, ToolCalls: calls, Usage: &sextant.Usage{InputTokens: 9, OutputTokens: 4}}}}}}
	var done []llm.Call
	m, _ := newModel(t, llm.Options{Providers: map[string]driver.Provider{"p": p}, Hooks: llm.Hooks{Done: func(c llm.Call) { done = append(done, c) }}})
	res, err := m.Complete(t.Context(), ask("m", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "ab" || res.FinishReason != sextant.FinishToolCalls || !cmp.Equal(res.ToolCalls, calls) || res.Usage.InputTokens != 9 {
		t.Errorf("response = %+v", res)
	}
	if len(done) != 1 || done[0].Target.Provider != "p" || done[0].Usage.OutputTokens != 4 || done[0].Err != nil {
		t.Errorf("done events = %+v", done)
	}
}

// stall yields one delta, then blocks until its context ends.
type stall struct{}

func (stall) Stream(ctx context.Context, req *driver.Request) iter.Seq2[sextant.Delta, error] {
	return func(yield func(sextant.Delta, error) bool) {
		if !yield(sextant.Delta{Text: "a"}, nil) {
			return
		}
		<-ctx.Done()
		yield(sextant.Delta{}, driver.Transport(ctx, "stall", ctx.Err()))
	}
}

func TestIdleTimeout(t *testing.T) {
	m, _ := newModel(t, llm.Options{Providers: map[string]driver.Provider{"p": stall{}}, IdleTimeout: 30 * time.Millisecond})
	text, _, err := collect(t.Context(), m, ask("m", "hi"))
	if text != "a" || sextant.ErrorCode(err) != sextant.EUNAVAILABLE || !strings.Contains(err.Error(), "stalled") {
		t.Errorf("got %q, %v; want the first piece then a stalled-stream EUNAVAILABLE", text, err)
	}
}
