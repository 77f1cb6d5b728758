package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	ant "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/web"
)

// claudeClient is the official Anthropic Go SDK pointed at the stack. It
// sends key as x-api-key ("" = a dummy key: the SDK refuses to send a
// request without credentials).
func claudeClient(url, key string) ant.Client {
	if key == "" {
		key = "sk-ant-test"
	}
	return ant.NewClient(option.WithBaseURL(url+"/"), option.WithAPIKey(key), option.WithMaxRetries(0), option.WithoutOpenTelemetry())
}

func userTurn(text string) []ant.MessageParam {
	return []ant.MessageParam{ant.NewUserMessage(ant.NewTextBlock(text))}
}

// textOf concatenates a message's text blocks.
func textOf(m *ant.Message) string {
	var b strings.Builder
	for _, c := range m.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// accumulate reads a stream to its end with the SDK's accumulator and
// returns the message and the event types in order.
func accumulate(t *testing.T, st interface {
	Next() bool
	Current() ant.MessageStreamEventUnion
	Err() error
}) (ant.Message, []string, error) {
	t.Helper()
	var (
		acc    ant.Message
		events []string
	)
	for st.Next() {
		ev := st.Current()
		events = append(events, ev.Type)
		if err := acc.Accumulate(ev); err != nil {
			t.Fatalf("accumulating %s: %v", ev.Type, err)
		}
	}
	return acc, events, st.Err()
}

// TestAnthropicSDKAssistant asks the extractive assistant through the
// official Anthropic SDK, plain and streamed: the answer is cited, the
// sources extension names the documents, and the stream accumulates to
// the plain answer.
func TestAnthropicSDKAssistant(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := claudeClient(s.URL, "")
	ctx := context.Background()
	params := ant.MessageNewParams{Model: "sextant", MaxTokens: 1024, Messages: userTurn(rotationQuestion),
		System: []ant.TextBlockParam{{Text: "Answer from the documents."}}}

	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || msg.Role != "assistant" || msg.Model != "sextant" || msg.StopReason != ant.StopReasonEndTurn ||
		!strings.HasPrefix(msg.ID, "msg_") || msg.Usage.OutputTokens == 0 || msg.Usage.InputTokens == 0 {
		t.Errorf("message %s", msg.RawJSON())
	}
	var sources []web.Source
	if err := json.Unmarshal([]byte(msg.JSON.ExtraFields["sources"].Raw()), &sources); err != nil {
		t.Fatalf("sources extension: %v in %s", err, msg.RawJSON())
	}
	checkSources(t, textOf(msg), sources)

	acc, events, err := accumulate(t, c.Messages.NewStreaming(ctx, params))
	if err != nil {
		t.Fatal(err)
	}
	if textOf(&acc) != textOf(msg) || acc.StopReason != ant.StopReasonEndTurn || acc.Usage.OutputTokens == 0 || acc.Usage.InputTokens == 0 {
		t.Errorf("streamed %q (stop %q, usage %+v), plain %q", textOf(&acc), acc.StopReason, acc.Usage, textOf(msg))
	}
	want := []string{"message_start", "content_block_start", "content_block_delta"}
	if len(events) < 6 || strings.Join(events[:3], ",") != strings.Join(want, ",") ||
		strings.Join(events[len(events)-3:], ",") != "content_block_stop,message_delta,message_stop" {
		t.Errorf("events %v", events)
	}
	// The sources ride on message_delta's delta, which the accumulator
	// merges into the message.
	var ext struct {
		Sources []web.Source `json:"sources"`
	}
	if err := json.Unmarshal([]byte(acc.RawJSON()), &ext); err != nil {
		t.Fatal(err)
	}
	checkSources(t, textOf(&acc), ext.Sources)
}

// The raw stream is Anthropic's: named events in order with a ping after
// the first block opens, and the request id in request-id.
func TestMessagesStreamWire(t *testing.T) {
	s := newStack(t, stackOptions{})
	status, h, body := s.do(t, "POST", "/v1/messages", "application/json",
		[]byte(`{"model":"claude-haiku-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"a b c"}]}`))
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") || h.Get("Request-Id") == "" || h.Get("Request-Id") != h.Get("X-Request-Id") {
		t.Fatalf("status %d, headers %v", status, h)
	}
	var names []string
	for _, ev := range sseEvents(string(body)) {
		names = append(names, ev[0])
		var typ struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(ev[1]), &typ); err != nil || typ.Type != ev[0] {
			t.Errorf("event %s carries type %q (%v)", ev[0], typ.Type, err)
		}
	}
	got := strings.Join(names, ",")
	want := "message_start,content_block_start,ping,content_block_delta,content_block_delta,content_block_delta,content_block_delta,content_block_stop,message_delta,message_stop"
	if got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
}

// TestAnthropicSDKModels sends Messages requests for routed models: one
// served by an OpenAI-compatible upstream, one by Anthropic, both through
// the model layer, plain and streamed.
func TestAnthropicSDKModels(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := claudeClient(s.URL, "")
	ctx := context.Background()
	for _, tc := range []struct {
		model string
		up    *llmtest.Server
	}{{"gpt-4o-mini", s.up}, {"claude-haiku-4-5", s.claude}} {
		params := ant.MessageNewParams{Model: ant.Model(tc.model), MaxTokens: 77, Messages: userTurn("hello there"),
			System: []ant.TextBlockParam{{Text: "Be brief."}}, StopSequences: []string{"STOP"},
			Metadata: ant.MetadataParam{UserID: ant.String("user-9")}}
		msg, err := c.Messages.New(ctx, params)
		if err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		if textOf(msg) != "echo: hello there" || msg.Model != tc.model || msg.StopReason != ant.StopReasonEndTurn || msg.Usage.OutputTokens == 0 || msg.Usage.InputTokens == 0 {
			t.Errorf("%s: %s", tc.model, msg.RawJSON())
		}
		if _, ok := msg.JSON.ExtraFields["sources"]; ok {
			t.Errorf("%s: a model's answer carries sources", tc.model)
		}
		calls := tc.up.Calls()
		last := calls[len(calls)-1]
		if last.Model != tc.model || last.MaxTokens != 77 || len(last.Messages) != 2 || last.Messages[0].Role != "system" ||
			last.Messages[0].Content != "Be brief." || strings.Join(last.Stop, ",") != "STOP" || last.User != "user-9" {
			t.Errorf("%s: upstream saw %+v", tc.model, last)
		}
		acc, _, err := accumulate(t, c.Messages.NewStreaming(ctx, params))
		if err != nil || textOf(&acc) != "echo: hello there" || acc.Usage.OutputTokens == 0 || acc.StopReason != ant.StopReasonEndTurn {
			t.Errorf("%s stream: %q %+v %v", tc.model, textOf(&acc), acc.Usage, err)
		}
	}
}

// A tool round trip: tools in, a tool_use block out (plain and streamed),
// the tool_result back to the upstream as a tool message.
func TestAnthropicSDKToolUse(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := claudeClient(s.URL, "")
	ctx := context.Background()
	tools := []ant.ToolUnionParam{{OfTool: &ant.ToolParam{Name: "weather", Description: ant.String("The weather in a city"),
		InputSchema: ant.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}}}}}
	for _, tc := range []struct {
		model string
		up    *llmtest.Server
	}{{"gpt-4o-mini", s.up}, {"claude-haiku-4-5", s.claude}} {
		for _, stream := range []bool{false, true} {
			name := fmt.Sprintf("%s stream=%v", tc.model, stream)
			tc.up.Enqueue(llmtest.Reply{Text: []string{"Let me look."}, ToolCalls: []sextant.ToolCall{{ID: "call_1", Name: "weather", Arguments: `{"city":"Oslo"}`}}})
			params := ant.MessageNewParams{Model: ant.Model(tc.model), MaxTokens: 100, Messages: userTurn("Weather in Oslo?"), Tools: tools,
				ToolChoice: ant.ToolChoiceUnionParam{OfAny: &ant.ToolChoiceAnyParam{}}}
			var msg ant.Message
			if stream {
				var err error
				if msg, _, err = accumulate(t, c.Messages.NewStreaming(ctx, params)); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			} else {
				m, err := c.Messages.New(ctx, params)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				msg = *m
			}
			if msg.StopReason != ant.StopReasonToolUse || len(msg.Content) != 2 || msg.Content[0].Text != "Let me look." {
				t.Fatalf("%s: %s", name, msg.RawJSON())
			}
			use := msg.Content[1]
			if use.Type != "tool_use" || use.ID != "call_1" || use.Name != "weather" || string(use.Input) != `{"city":"Oslo"}` {
				t.Errorf("%s: tool_use block %s", name, use.RawJSON())
			}
			calls := tc.up.Calls()
			if last := calls[len(calls)-1]; len(last.Tools) != 1 || last.Tools[0].Name != "weather" || last.ToolChoice != "required" {
				t.Errorf("%s: upstream tools %+v choice %q", name, last.Tools, last.ToolChoice)
			}
			// The result goes back.
			params.Messages = append(params.Messages, msg.ToParam(), ant.NewUserMessage(ant.NewToolResultBlock(use.ID, "sunny, 21 °C", false)))
			params.ToolChoice = ant.ToolChoiceUnionParam{OfAuto: &ant.ToolChoiceAutoParam{}}
			tc.up.Enqueue(llmtest.Reply{Text: []string{"It is sunny."}})
			next, err := c.Messages.New(ctx, params)
			if err != nil || textOf(next) != "It is sunny." || next.StopReason != ant.StopReasonEndTurn {
				t.Fatalf("%s: after the tool result: %v", name, err)
			}
			calls = tc.up.Calls()
			last := calls[len(calls)-1]
			var tool *sextant.Message
			for i := range last.Messages {
				if last.Messages[i].Role == sextant.RoleTool {
					tool = &last.Messages[i]
				}
			}
			if tool == nil || tool.ToolCallID != "call_1" || tool.Content != "sunny, 21 °C" {
				t.Errorf("%s: upstream messages %+v", name, last.Messages)
			}
		}
	}
}

// Bad fields are refused as Anthropic refuses them: 400
// invalid_request_error with a message naming the field; the SDK raises
// *anthropic.Error.
func TestAnthropicSDKErrors(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := claudeClient(s.URL, "")
	ctx := context.Background()
	var ae *ant.Error

	_, err := c.Messages.New(ctx, ant.MessageNewParams{Model: "sextant", MaxTokens: 0, Messages: userTurn("hi")})
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Type() != "invalid_request_error" || !strings.HasPrefix(ae.Message, "max_tokens: ") || ae.RequestID == "" {
		t.Errorf("max_tokens 0: %v", err)
	}
	_, err = c.Messages.New(ctx, ant.MessageNewParams{Model: "no-such-model", MaxTokens: 10, Messages: userTurn("hi")})
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Type() != "not_found_error" || !strings.Contains(ae.Message, "no-such-model") {
		t.Errorf("unknown model: %v", err)
	}

	s.claude.Enqueue(llmtest.Reply{Status: 429, Header: http.Header{"Retry-After": {"7"}}})
	_, err = c.Messages.New(ctx, ant.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 10, Messages: userTurn("hi")})
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Type() != "rate_limit_error" || ae.Response.Header.Get("Retry-After") != "7" {
		t.Errorf("upstream 429: %v", err)
	}
	s.claude.Enqueue(llmtest.Reply{Status: 529})
	_, err = c.Messages.New(ctx, ant.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 10, Messages: userTurn("hi")})
	if !errors.As(err, &ae) || ae.StatusCode != 529 || ae.Type() != "overloaded_error" {
		t.Errorf("upstream 529: %v", err)
	}

	// Mid-stream failures: an in-stream error event from Anthropic and a
	// dropped connection from an OpenAI-compatible upstream both end the
	// stream with an Anthropic error event after the text already sent.
	s.claude.Enqueue(llmtest.Reply{Text: []string{"one ", "two "}, StreamError: "overloaded_error"})
	s.up.Enqueue(llmtest.Reply{Text: []string{"one ", "two "}, Disconnect: true})
	for _, model := range []string{"claude-haiku-4-5", "gpt-4o-mini"} {
		acc, events, err := accumulate(t, c.Messages.NewStreaming(ctx, ant.MessageNewParams{Model: ant.Model(model), MaxTokens: 10, Messages: userTurn("hi")}))
		if !errors.As(err, &ae) || ae.Type() != "overloaded_error" || textOf(&acc) != "one two " || events[len(events)-1] == "message_stop" {
			t.Errorf("%s mid-stream failure: text %q, events %v, err %v", model, textOf(&acc), events, err)
		}
	}
}

// Request validation, table-driven over raw bodies: the status, the
// error type and the field the message names.
func TestMessagesDecodeErrors(t *testing.T) {
	s := newStack(t, stackOptions{})
	user := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, version, body string
		status              int
		prefix              string // the message starts with the field
	}{
		{"no model", "", `{"max_tokens":5,` + user + `}`, 400, "model: Field required"},
		{"no max_tokens", "", `{"model":"sextant",` + user + `}`, 400, "max_tokens: Field required"},
		{"unknown field", "", `{"model":"sextant","max_tokens":5,"frobnicate":1,` + user + `}`, 400, "frobnicate: Extra inputs are not permitted"},
		{"no messages", "", `{"model":"sextant","max_tokens":5,"messages":[]}`, 400, "messages: "},
		{"bad role", "", `{"model":"sextant","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, 400, "messages.0.role: "},
		{"empty content", "", `{"model":"sextant","max_tokens":5,"messages":[{"role":"user","content":""}]}`, 400, "messages.0: "},
		{"image", "", `{"model":"sextant","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]}`, 400, "messages.0.content.0.type: image blocks are not supported"},
		{"empty text block", "", `{"model":"sextant","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`, 400, "messages.0.content.0.text: "},
		{"thinking", "", `{"model":"claude-x","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":1024},` + user + `}`, 400, "thinking: "},
		{"temperature range", "", `{"model":"claude-x","max_tokens":5,"temperature":1.5,` + user + `}`, 400, "temperature: "},
		{"temperature in v2026", "2026-10-21", `{"model":"claude-x","max_tokens":5,"temperature":0.5,` + user + `}`, 400, "temperature: not supported in API version 2026-10-21"},
		{"top_k", "", `{"model":"claude-x","max_tokens":5,"top_k":5,` + user + `}`, 400, "top_k: "},
		{"top_p for an assistant", "", `{"model":"sextant","max_tokens":5,"top_p":0.5,` + user + `}`, 400, "top_p: "},
		{"tool name", "", `{"model":"claude-x","max_tokens":5,"tools":[{"name":"a b","input_schema":{"type":"object"}}],` + user + `}`, 400, "tools.0.name: "},
		{"no input_schema", "", `{"model":"claude-x","max_tokens":5,"tools":[{"name":"f"}],` + user + `}`, 400, "tools.0.input_schema: Field required"},
		{"server tool", "", `{"model":"claude-x","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],` + user + `}`, 400, "tools.0.type: "},
		{"tool_choice unknown tool", "", `{"model":"claude-x","max_tokens":5,"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"g"},` + user + `}`, 400, "tool_choice.name: "},
		{"unanswered tool_use", "", `{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":"again"}]}`, 400, "messages.1: `tool_use` ids were found without `tool_result`"},
		{"stray tool_result", "", `{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t9","content":"x"}]}]}`, 400, "messages.0.content.0: unexpected `tool_use_id`"},
		{"prefill", "", `{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"The answer is"}]}`, 400, "messages.1: "},
		{"not JSON", "", `{"model":`, 400, ""},
	} {
		req, _ := http.NewRequest("POST", s.URL+"/v1/messages", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		if tc.version != "" {
			req.Header.Set("Anthropic-Version", tc.version)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
			RequestID string `json:"request_id"`
		}
		err = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if err != nil || res.StatusCode != tc.status || e.Type != "error" || e.Error.Type != "invalid_request_error" ||
			!strings.HasPrefix(e.Error.Message, tc.prefix) || e.RequestID == "" {
			t.Errorf("%s: %d %+v (%v)", tc.name, res.StatusCode, e, err)
		}
	}
	// Sampling parameters pass under the older API version.
	status, _, body := s.do(t, "POST", "/v1/messages", "", []byte(`{"model":"claude-x","max_tokens":5,"temperature":0.5,"top_p":0.9,`+user+`}`))
	if status != 200 {
		t.Errorf("temperature under 2023-06-01: %d %s", status, body)
	}
	calls := s.claude.Calls()
	if last := calls[len(calls)-1]; last.Model != "claude-x" {
		t.Errorf("upstream saw %+v", last)
	}
}

// The layers in front of the handler answer in Anthropic's shape too: no
// key is 401 authentication_error, a key without the chat permission 403
// permission_error, an admission refusal 429 rate_limit_error with
// retry-after. A key sent as x-api-key authenticates.
func TestAnthropicSDKAuthAndAdmission(t *testing.T) {
	refuse := func(rt web.Route, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Test-Limit") == "" {
				next.ServeHTTP(w, r)
				return
			}
			// What cmd/sextant's admission writes when a key is over its limit.
			w.Header().Set("Retry-After", "12")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(web.ErrorBody{Error: web.ErrorDetail{Message: "rate limit exceeded for key", Type: "rate_limit_error", Code: "rate_limit_exceeded"}})
		})
	}
	s := authStack(t, func(o *web.Options) { o.Admission = append(o.Admission, refuse) })
	ctx := context.Background()
	params := ant.MessageNewParams{Model: "gpt-4o-mini", MaxTokens: 10, Messages: userTurn("hi")}
	var ae *ant.Error

	status, body := send(t, s.URL, "", "POST", "/v1/messages", `{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	if !strings.Contains(string(body), `{"type":"error","error":{"type":"authentication_error","message":"missing API key`) || status != 401 {
		t.Errorf("no key: %d %s", status, body)
	}
	badKey := claudeClient(s.URL, "sk-ant-unknown")
	_, err := badKey.Messages.New(ctx, params)
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Type() != "authentication_error" || ae.RequestID == "" {
		t.Errorf("unknown key: %v", err)
	}
	viewer := claudeClient(s.URL, s.keys[sextant.RoleViewer])
	_, err = viewer.Messages.New(ctx, params)
	if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Type() != "permission_error" {
		t.Errorf("viewer key: %v", err)
	}
	app := claudeClient(s.URL, s.keys[sextant.RoleApp])
	if msg, err := app.Messages.New(ctx, params); err != nil || textOf(msg) != "echo: hi" {
		t.Errorf("app key as x-api-key: %v", err)
	}
	_, err = app.Messages.New(ctx, params, option.WithHeader("X-Test-Limit", "1"))
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Type() != "rate_limit_error" || ae.Message != "rate limit exceeded for key" ||
		ae.Response.Header.Get("Retry-After") != "12" {
		t.Errorf("admission refusal: %v", err)
	}
	// Other routes keep OpenAI's shape.
	status, body = send(t, s.URL, "", "POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if e := apiErr(t, body); status != 401 || e.Type != "authentication_error" {
		t.Errorf("chat completions without a key: %d %s", status, body)
	}
}

// Every answered Messages request leaves one usage record with its tokens.
func TestMessagesUsageRecords(t *testing.T) {
	var (
		mu   sync.Mutex
		recs []sextant.UsageRecord
	)
	s := newStack(t, stackOptions{tweak: func(o *web.Options) {
		o.Usage = func(_ context.Context, r sextant.UsageRecord) {
			mu.Lock()
			recs = append(recs, r)
			mu.Unlock()
		}
	}})
	c := claudeClient(s.URL, "")
	ctx := context.Background()
	if _, err := c.Messages.New(ctx, ant.MessageNewParams{Model: "sextant", MaxTokens: 500, Messages: userTurn(rotationQuestion)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Messages.New(ctx, ant.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 50, Messages: userTurn("one two three")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := accumulate(t, c.Messages.NewStreaming(ctx, ant.MessageNewParams{Model: "gpt-4o-mini", MaxTokens: 50, Messages: userTurn("one two three")})); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != 3 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	if r := recs[0]; r.Assistant != "sextant" || r.Provider != "extractive" || r.Usage.OutputTokens == 0 || !r.Success || r.RequestID == "" {
		t.Errorf("assistant record %+v", r)
	}
	for i, want := range []string{"claude", "up"} {
		if r := recs[i+1]; r.Provider != want || r.Usage.InputTokens == 0 || r.Usage.OutputTokens == 0 || !r.Success {
			t.Errorf("model record %+v", r)
		}
	}
}

// errorType returns the error type of an error body in OpenAI's shape or,
// for the Messages API, Anthropic's.
func errorType(t testing.TB, body []byte) string {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(body, &e) == nil && e.Type == "error" && e.Error.Message != "" {
		return e.Error.Type
	}
	return apiErr(t, body).Type
}

// A client that disconnects mid-stream cancels the upstream call.
func TestMessagesClientDisconnectCancelsUpstream(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.claude.Enqueue(llmtest.Reply{Text: []string{"never ", "ending"}, Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/messages",
		strings.NewReader(`{"model":"claude-haiku-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := res.Body.Read(buf); err != nil || !strings.HasPrefix(string(buf), "event: message_start") {
		t.Fatalf("first bytes %q: %v", buf, err)
	}
	cancel()
	res.Body.Close()
	waitFor(t, s.claude.Canceled(), "the upstream to see the client's disconnect")
}
