package web_test

import (
	"context"
	"errors"
	"iter"
	"net/http/httptest"
	"strings"
	"testing"

	ant "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/web"
)

var weatherTool = []ant.ToolUnionParam{{OfTool: &ant.ToolParam{Name: "weather", Description: ant.String("The weather in a city"),
	InputSchema: ant.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}}}}}

// countParams is a count_tokens request with the same prompt as a
// Messages request.
func countParams(p ant.MessageNewParams) ant.MessageCountTokensParams {
	c := ant.MessageCountTokensParams{Model: p.Model, Messages: p.Messages}
	if len(p.System) > 0 {
		c.System = ant.MessageCountTokensParamsSystemUnion{OfTextBlockArray: p.System}
	}
	for _, t := range p.Tools {
		c.Tools = append(c.Tools, ant.MessageCountTokensToolUnionParam{OfTool: t.OfTool})
	}
	return c
}

// startAndFinal streams p and returns the input tokens the accumulated
// message holds after message_start and at the end, and the message.
func startAndFinal(t *testing.T, c ant.Client, p ant.MessageNewParams) (start, final int64, msg ant.Message) {
	t.Helper()
	st := c.Messages.NewStreaming(context.Background(), p)
	for st.Next() {
		ev := st.Current()
		if err := msg.Accumulate(ev); err != nil {
			t.Fatalf("accumulating %s: %v", ev.Type, err)
		}
		if ev.Type == "message_start" {
			start = msg.Usage.InputTokens
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("%s stream: %v", p.Model, err)
	}
	return start, msg.Usage.InputTokens, msg
}

// TestAnthropicSDKCountTokens counts through the official SDK. For a
// routed model the count is Sextant's counter over the messages and tools
// in the tokenizer of the model's family (the target's, for a route that
// renames the model) — the very count the model layer books when a
// provider reports no usage, which the test checks against a real call.
func TestAnthropicSDKCountTokens(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := claudeClient(s.URL, "")
	ctx := context.Background()
	var counter llm.Counter
	msgs := []sextant.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Weather in Oslo?"}}
	tools := []sextant.Tool{{Name: "weather", Description: "The weather in a city",
		Parameters: []byte(`{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"}`)}}
	for _, tc := range []struct {
		model, family string
		up            *llmtest.Server
	}{{"gpt-4o-mini", "gpt-4o-mini", s.up}, {"house-model", "gpt-4o-mini", s.up}, {"claude-haiku-4-5", "claude-haiku-4-5", s.claude}} {
		p := ant.MessageNewParams{Model: ant.Model(tc.model), MaxTokens: 50, Messages: userTurn("Weather in Oslo?"),
			System: []ant.TextBlockParam{{Text: "Be brief."}}, Tools: weatherTool}
		got, err := c.Messages.CountTokens(ctx, countParams(p))
		if err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		if want := counter.Prompt(tc.family, msgs, tools); got.InputTokens != int64(want) {
			t.Errorf("%s: %d input tokens, want %d (%s)", tc.model, got.InputTokens, want, got.RawJSON())
		}
		if keys := strings.Join(jsonKeys(t, got.RawJSON()), ","); keys != "input_tokens" {
			t.Errorf("%s: response fields %s, want input_tokens alone", tc.model, keys)
		}
		// A provider that reports no usage is booked at the count.
		tc.up.Enqueue(llmtest.Reply{Text: []string{"Sunny."}, NoUsage: true})
		msg, err := c.Messages.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Usage.InputTokens != got.InputTokens {
			t.Errorf("%s: counted %d, the call booked %d", tc.model, got.InputTokens, msg.Usage.InputTokens)
		}
		if call := tc.up.Calls(); len(call) == 0 || call[len(call)-1].MaxTokens != 50 {
			t.Errorf("%s: upstream calls %d", tc.model, len(call))
		}
	}
	upstream := len(s.up.Calls()) + len(s.claude.Calls())

	// The renaming route counts in the upstream model's tokenizer.
	if counter.Prompt("gpt-4o-mini", msgs, tools) == counter.Prompt("house-model", msgs, tools) {
		t.Log("o200k and cl100k agree on this prompt: the renaming case proves nothing")
	}

	// An assistant: the prompt without the sources, so less than the
	// prompt its answer is composed of.
	p := ant.MessageNewParams{Model: "remote", MaxTokens: 200, Messages: userTurn(rotationQuestion)}
	got, err := c.Messages.CountTokens(ctx, countParams(p))
	if err != nil {
		t.Fatal(err)
	}
	bare := counter.Prompt("gpt-4o-mini", []sextant.Message{{Role: "user", Content: rotationQuestion}}, nil)
	if got.InputTokens <= int64(bare) {
		t.Errorf("assistant: %d input tokens, not more than the bare question's %d (the template and instructions are missing)", got.InputTokens, bare)
	}
	s.up.Enqueue(llmtest.Reply{Text: []string{"Every 90 days [1]."}, NoUsage: true})
	msg, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Usage.InputTokens <= got.InputTokens {
		t.Errorf("assistant: counted %d without sources, the answer's prompt had %d", got.InputTokens, msg.Usage.InputTokens)
	}
	upstream++

	// thinking is accepted and changes nothing; cache_control is accepted.
	withThinking := countParams(ant.MessageNewParams{Model: "gpt-4o-mini", Messages: userTurn("hi")})
	plain, err := c.Messages.CountTokens(ctx, withThinking)
	if err != nil {
		t.Fatal(err)
	}
	withThinking.Thinking = ant.ThinkingConfigParamOfEnabled(2048)
	withThinking.CacheControl = ant.NewCacheControlEphemeralParam()
	if th, err := c.Messages.CountTokens(ctx, withThinking); err != nil || th.InputTokens != plain.InputTokens {
		t.Errorf("with thinking: %v %v, want %d", th, err, plain.InputTokens)
	}

	// Errors are Anthropic's, naming the field.
	var ae *ant.Error
	for _, tc := range []struct {
		name   string
		p      ant.MessageCountTokensParams
		status int
		typ    string
		says   string
	}{
		{"unknown model", ant.MessageCountTokensParams{Model: "nope-1", Messages: userTurn("hi")}, 404, "not_found_error", "model: \"nope-1\""},
		{"no messages", ant.MessageCountTokensParams{Model: "gpt-4o-mini"}, 400, "invalid_request_error", "messages: "},
		{"image block", ant.MessageCountTokensParams{Model: "gpt-4o-mini", Messages: []ant.MessageParam{ant.NewUserMessage(
			ant.NewImageBlockBase64("image/png", "iVBORw0KGgo="))}}, 400, "invalid_request_error", "messages.0.content.0.type: image blocks are not supported"},
		{"prefill", ant.MessageCountTokensParams{Model: "sextant", Messages: []ant.MessageParam{ant.NewUserMessage(ant.NewTextBlock("q")),
			ant.NewAssistantMessage(ant.NewTextBlock("a"))}}, 400, "invalid_request_error", "messages.1: "},
	} {
		_, err := c.Messages.CountTokens(ctx, tc.p)
		if !errors.As(err, &ae) || ae.StatusCode != tc.status || string(ae.Type()) != tc.typ || !strings.HasPrefix(ae.Message, tc.says) || ae.RequestID == "" {
			t.Errorf("%s: %v, want %d %s starting %q", tc.name, err, tc.status, tc.typ, tc.says)
		}
	}
	for _, tc := range []struct{ body, says string }{
		{`{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, "max_tokens: Extra inputs are not permitted"},
		{`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "stream: Extra inputs are not permitted"},
		{`{"model":"gpt-4o-mini","thinking":5,"messages":[{"role":"user","content":"hi"}]}`, "thinking: "},
		{`{"model":"gpt-4o-mini","output_config":{"effort":"low"},"messages":[{"role":"user","content":"hi"}]}`, "output_config: "},
		{`{"messages":[{"role":"user","content":"hi"}]}`, "model: Field required"},
		{``, "the request body is empty"},
	} {
		status, _, body := s.do(t, "POST", "/v1/messages/count_tokens", "application/json", []byte(tc.body))
		typ, m, _ := antErrorOf(t, body)
		if status != 400 || typ != "invalid_request_error" || !strings.HasPrefix(m, tc.says) {
			t.Errorf("%s: %d %s, want 400 starting %q", tc.body, status, body, tc.says)
		}
	}
	// The example of docs/api.md.
	status, _, body := s.do(t, "POST", "/v1/messages/count_tokens", "application/json",
		[]byte(`{"model": "gpt-4o-mini", "system": "Be brief.", "messages": [{"role": "user", "content": "Weather in Oslo?"}]}`))
	if status != 200 || string(body) != `{"input_tokens":18}`+"\n" {
		t.Errorf("docs example: %d %q", status, body)
	}
	// Counting calls no model.
	if n := len(s.up.Calls()) + len(s.claude.Calls()); n != upstream {
		t.Errorf("counting reached the upstreams: %d calls, want %d", n, upstream)
	}
}

// jsonKeys returns the top-level keys of a JSON object, in order.
func jsonKeys(t *testing.T, raw string) []string {
	t.Helper()
	var keys []string
	for _, part := range strings.Split(strings.Trim(strings.TrimSpace(raw), "{}"), ",") {
		k, _, ok := strings.Cut(part, ":")
		if !ok {
			t.Fatalf("not a flat object: %s", raw)
		}
		keys = append(keys, strings.Trim(strings.TrimSpace(k), `"`))
	}
	return keys
}

// count_tokens needs the chat permission, like /v1/messages.
func TestAnthropicSDKCountTokensPermission(t *testing.T) {
	s := authStack(t)
	ctx := context.Background()
	p := ant.MessageCountTokensParams{Model: "gpt-4o-mini", Messages: userTurn("hi")}
	var ae *ant.Error
	viewer, unknown, app := claudeClient(s.URL, s.keys[sextant.RoleViewer]), claudeClient(s.URL, "sk-ant-unknown"), claudeClient(s.URL, s.keys[sextant.RoleApp])
	if _, err := viewer.Messages.CountTokens(ctx, p); !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Type() != "permission_error" {
		t.Errorf("viewer key: %v", err)
	}
	if _, err := unknown.Messages.CountTokens(ctx, p); !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Type() != "authentication_error" {
		t.Errorf("unknown key: %v", err)
	}
	if n, err := app.Messages.CountTokens(ctx, p); err != nil || n.InputTokens == 0 {
		t.Errorf("app key: %v %v", n, err)
	}
}

// message_start carries the prompt's input tokens — an Anthropic
// upstream's own message_start figure, else Sextant's count (the one
// count_tokens gives for a routed model) — and message_delta the model's
// final usage; the SDK's accumulator ends with the model's.
func TestAnthropicSDKStreamInputTokens(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := claudeClient(s.URL, "")
	ctx := context.Background()
	for _, tc := range []struct {
		model string
		up    *llmtest.Server
	}{{"gpt-4o-mini", s.up}, {"claude-haiku-4-5", s.claude}} {
		p := ant.MessageNewParams{Model: ant.Model(tc.model), MaxTokens: 50, Messages: userTurn("one two three four five"),
			System: []ant.TextBlockParam{{Text: "Count along."}}, Tools: weatherTool}
		counted, err := c.Messages.CountTokens(ctx, countParams(p))
		if err != nil {
			t.Fatal(err)
		}
		// The upstream reports its own count: Anthropic from its
		// message_start on, OpenAI only at the end.
		tc.up.Enqueue(llmtest.Reply{Text: []string{"six"}, Usage: &sextant.Usage{InputTokens: 5, OutputTokens: 1}})
		start, final, msg := startAndFinal(t, c, p)
		wantStart := counted.InputTokens
		if tc.up == s.claude {
			wantStart = 5
		}
		if start != wantStart || final != 5 || msg.Usage.OutputTokens != 1 || textOf(&msg) != "six" {
			t.Errorf("%s: message_start %d (want %d; count_tokens %d), final %d, output %d, text %q", tc.model, start, wantStart, counted.InputTokens, final, msg.Usage.OutputTokens, textOf(&msg))
		}
		// An upstream reporting nothing is booked at Sextant's count:
		// start and end agree.
		tc.up.Enqueue(llmtest.Reply{Text: []string{"six"}, NoUsage: true})
		if start, final, _ := startAndFinal(t, c, p); start != counted.InputTokens || final != start {
			t.Errorf("%s without upstream usage: message_start %d, final %d, count_tokens %d", tc.model, start, final, counted.InputTokens)
		}
	}
	// Anthropic's prompt-cache split passes through message_start as
	// Anthropic sent it.
	s.claude.Enqueue(llmtest.Reply{Text: []string{"six"}, Usage: &sextant.Usage{InputTokens: 9, CachedInputTokens: 4, OutputTokens: 1}})
	var started ant.Usage
	st := c.Messages.NewStreaming(ctx, ant.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 50, Messages: userTurn("one two")})
	for st.Next() {
		if ev := st.Current(); ev.Type == "message_start" {
			started = ev.Message.Usage
		}
	}
	if st.Err() != nil || started.InputTokens != 5 || started.CacheReadInputTokens != 4 {
		t.Errorf("cached prompt: message_start usage %+v, %v", started, st.Err())
	}
	// An assistant: message_start counts the composed prompt, sources
	// included, exactly as the model layer counts it when the upstream
	// reports no usage.
	p := ant.MessageNewParams{Model: "remote", MaxTokens: 200, Messages: userTurn(rotationQuestion),
		System: []ant.TextBlockParam{{Text: "Answer from the documents."}}}
	counted, err := c.Messages.CountTokens(ctx, countParams(p))
	if err != nil {
		t.Fatal(err)
	}
	s.up.Enqueue(llmtest.Reply{Text: []string{"Every 90 days [1]."}, NoUsage: true})
	start, final, _ := startAndFinal(t, c, p)
	if start <= counted.InputTokens || start != final {
		t.Errorf("assistant: message_start %d, final %d, count_tokens (no sources) %d", start, final, counted.InputTokens)
	}
	// The extractive assistant reports its own count at the end.
	start, final, _ = startAndFinal(t, c, ant.MessageNewParams{Model: "sextant", MaxTokens: 500, Messages: userTurn(rotationQuestion)})
	if start == 0 || final == 0 {
		t.Errorf("extractive assistant: message_start %d, final %d", start, final)
	}
}

// A routed stream is never an empty 200: an upstream that finishes with
// no output gives the whole event sequence with empty content and a
// stop_reason; one that fails before its first delta gives an error
// response, after it an error event — each raised by the SDK as an API
// error.
func TestAnthropicSDKStreamEmptyAndFailed(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := claudeClient(s.URL, "")
	for _, tc := range []struct {
		model string
		up    *llmtest.Server
	}{{"gpt-4o-mini", s.up}, {"claude-haiku-4-5", s.claude}} {
		p := ant.MessageNewParams{Model: ant.Model(tc.model), MaxTokens: 50, Messages: userTurn("say nothing")}

		tc.up.Enqueue(llmtest.Reply{})
		msg, events, err := accumulate(t, c.Messages.NewStreaming(context.Background(), p))
		if err != nil || len(msg.Content) != 0 || msg.StopReason != ant.StopReasonEndTurn || msg.Usage.InputTokens == 0 ||
			strings.Join(events, ",") != "message_start,message_delta,message_stop" {
			t.Errorf("%s, no output: %v %s %v", tc.model, events, msg.RawJSON(), err)
		}
		tc.up.Enqueue(llmtest.Reply{Finish: sextant.FinishLength})
		if msg, _, err := accumulate(t, c.Messages.NewStreaming(context.Background(), p)); err != nil || msg.StopReason != ant.StopReasonMaxTokens {
			t.Errorf("%s, no output cut by max_tokens: %s %v", tc.model, msg.RawJSON(), err)
		}

		var ae *ant.Error
		for _, fail := range []llmtest.Reply{{StreamError: "overloaded_error"}, {Truncate: true}, {Disconnect: true}, {Status: 500}} {
			tc.up.Enqueue(fail)
			_, events, err := accumulate(t, c.Messages.NewStreaming(context.Background(), p))
			if !errors.As(err, &ae) || ae.StatusCode != 529 || ae.Type() != "overloaded_error" || ae.RequestID == "" || len(events) != 0 {
				t.Errorf("%s, failing before output (%+v): events %v, %v", tc.model, fail, events, err)
			}
		}
		tc.up.Enqueue(llmtest.Reply{Text: []string{"half "}, StreamError: "overloaded_error"})
		msg, events, err = accumulate(t, c.Messages.NewStreaming(context.Background(), p))
		if !errors.As(err, &ae) || ae.Type() != "overloaded_error" || textOf(&msg) != "half " || events[0] != "message_start" {
			t.Errorf("%s, failing after output: events %v, %v", tc.model, events, err)
		}
	}
}

// silent is a provider whose streams end without a delta or an error.
type silent struct{}

func (silent) Stream(context.Context, *driver.Request) iter.Seq2[sextant.Delta, error] {
	return func(func(sextant.Delta, error) bool) {}
}

// An upstream stream that ends with nothing at all — no delta, no finish
// reason, no error — reaches the client as an overloaded_error, not as an
// empty 200.
func TestAnthropicSDKStreamEndsWithNothing(t *testing.T) {
	model, err := llm.New(llm.Options{Providers: map[string]driver.Provider{"silent": silent{}},
		Routes: []llm.Route{{Match: "*", Targets: []llm.Target{{Provider: "silent"}}}}, Retry: llm.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Options{Model: model})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c := claudeClient(ts.URL, "")
	var ae *ant.Error
	_, events, err := accumulate(t, c.Messages.NewStreaming(context.Background(), ant.MessageNewParams{Model: "m", MaxTokens: 5, Messages: userTurn("hi")}))
	if !errors.As(err, &ae) || ae.StatusCode != 529 || ae.Type() != "overloaded_error" || len(events) != 0 {
		t.Errorf("events %v, %v", events, err)
	}
	if _, err := c.Messages.New(context.Background(), ant.MessageNewParams{Model: "m", MaxTokens: 5, Messages: userTurn("hi")}); !errors.As(err, &ae) || ae.StatusCode != 529 {
		t.Errorf("plain: %v", err)
	}
}
