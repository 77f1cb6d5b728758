package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/web"
)

func goClient(s *stack) oa.Client {
	return oa.NewClient(option.WithBaseURL(s.URL+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
}

// checkSources checks that an answer's [n] markers name sources that are
// present, and that at least one cites the key-rotation fixture at offsets
// that index its text.
func checkSources(t *testing.T, content string, sources []web.Source) {
	t.Helper()
	if !strings.Contains(content, "[") || !strings.Contains(content, "90 days") {
		t.Errorf("answer %q lacks the fact or citation markers", content)
	}
	text := docText(t, "key-rotation.md")
	found := false
	for _, s := range sources {
		if strings.Contains(s.URI, "key-rotation.md") {
			found = true
			if s.Start < 0 || s.End > len(text) || s.Start >= s.End {
				t.Errorf("source %d offsets [%d,%d) outside the document (%d bytes)", s.N, s.Start, s.End, len(text))
			}
			if s.Quote != "" && !strings.Contains(text, s.Quote) {
				t.Errorf("source %d quote %q is not in the document", s.N, s.Quote)
			}
		}
	}
	if !found {
		t.Errorf("no source from key-rotation.md among %d sources", len(sources))
	}
}

const rotationQuestion = "How often must production API keys of the Halyard service be rotated?"

// TestOpenAIGoClient drives the API with the official Go SDK, unchanged:
// an assistant's answer (plain and streamed, with the sources extension),
// the gateway (plain and streamed), and errors surfacing as *openai.Error
// with status, type, code and param.
func TestOpenAIGoClient(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := goClient(s)
	ctx := context.Background()
	params := oa.ChatCompletionNewParams{Model: "sextant", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage(rotationQuestion)}}

	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Object != "chat.completion" || len(resp.Choices) != 1 || resp.Choices[0].FinishReason != "stop" || resp.Usage.TotalTokens == 0 {
		t.Errorf("response %+v", resp)
	}
	var sources []web.Source
	if err := json.Unmarshal([]byte(resp.JSON.ExtraFields["sources"].Raw()), &sources); err != nil {
		t.Fatalf("sources extension: %v", err)
	}
	checkSources(t, resp.Choices[0].Message.Content, sources)

	params.StreamOptions = oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)}
	st := c.Chat.Completions.NewStreaming(ctx, params)
	var (
		acc      oa.ChatCompletionAccumulator
		streamed []web.Source
		chunks   int
	)
	for st.Next() {
		ch := st.Current()
		chunks++
		acc.AddChunk(ch)
		if f, ok := ch.JSON.ExtraFields["sources"]; ok && f.Raw() != "" && f.Raw() != "null" {
			if len(ch.Choices) == 0 || ch.Choices[0].FinishReason == "" {
				t.Error("sources arrived on a chunk without finish_reason")
			}
			if err := json.Unmarshal([]byte(f.Raw()), &streamed); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if chunks < 4 || acc.Choices[0].Message.Content != resp.Choices[0].Message.Content || acc.Usage.TotalTokens == 0 {
		t.Errorf("stream: %d chunks, content %q (plain %q), usage %+v", chunks, acc.Choices[0].Message.Content, resp.Choices[0].Message.Content, acc.Usage)
	}
	checkSources(t, acc.Choices[0].Message.Content, streamed)

	// Gateway: the fake upstream echoes.
	gw := oa.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hello gateway")}}
	g, err := c.Chat.Completions.New(ctx, gw)
	if err != nil {
		t.Fatal(err)
	}
	if g.Choices[0].Message.Content != "echo: hello gateway" || g.Model != "gpt-4o-mini" {
		t.Errorf("gateway answer %q from %q", g.Choices[0].Message.Content, g.Model)
	}
	gw.StreamOptions = oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)}
	gs := c.Chat.Completions.NewStreaming(ctx, gw)
	var gacc oa.ChatCompletionAccumulator
	for gs.Next() {
		gacc.AddChunk(gs.Current())
	}
	if err := gs.Err(); err != nil || gacc.Choices[0].Message.Content != "echo: hello gateway" || gacc.Usage.TotalTokens == 0 {
		t.Errorf("gateway stream: %q, usage %+v, err %v", gacc.Choices[0].Message.Content, gacc.Usage, err)
	}

	// A route that renames the model.
	gw.Model = "house-model"
	if g, err := c.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "house-model", Messages: gw.Messages}); err != nil || g.Choices[0].Message.Content != "echo: hello gateway" {
		t.Errorf("renamed route: %v", err)
	}
	if calls := s.up.Calls(); calls[len(calls)-1].Model != "gpt-4o-mini" {
		t.Errorf("upstream saw model %q, want the route's gpt-4o-mini", calls[len(calls)-1].Model)
	}

	// Errors.
	_, err = c.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "no-such-model", Messages: gw.Messages})
	var ae *oa.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "model_not_found" || ae.Param != "model" {
		t.Errorf("unknown model: %v", err)
	}
	_, err = c.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "sextant",
		Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hi"), oa.UserMessage("x")},
		N:        oa.Int(3)})
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "n" || ae.Type != "invalid_request_error" {
		t.Errorf("n=3: %v", err)
	}

	// Models lists the assistant and the routed models.
	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "sextant,remote,gpt-4o-mini,house-model" {
		t.Errorf("models %v", ids)
	}

	// Embeddings go through the gateway.
	emb, err := c.Embeddings.New(ctx, oa.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: oa.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
	if err != nil || len(emb.Data) != 2 || len(emb.Data[0].Embedding) == 0 {
		t.Errorf("embeddings: %v", err)
	}
}

// TestOpenAIGoGatewayErrors checks what a client sees when the upstream
// fails: its error relayed in OpenAI's shape, a 429 with Retry-After, a
// stream cut mid-way surfacing as an error.
func TestOpenAIGoGatewayErrors(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := goClient(s)
	ctx := context.Background()
	msgs := []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hi")}
	var ae *oa.Error

	s.up.Enqueue(llmtest.Reply{Status: 400, ErrMessage: "Invalid value for 'temperature'."})
	_, err := c.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: msgs})
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Message != "Invalid value for 'temperature'." || ae.Type != "invalid_request_error" {
		t.Errorf("relayed 400: %v", err)
	}

	s.up.Enqueue(llmtest.Reply{Status: 429, Header: map[string][]string{"Retry-After": {"7"}}})
	_, err = c.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: msgs})
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Response.Header.Get("Retry-After") != "7" || ae.Type != "rate_limit_error" {
		t.Errorf("429: %v (Retry-After %q)", err, ae.Response.Header.Get("Retry-After"))
	}

	s.up.Enqueue(llmtest.Reply{Text: []string{"one ", "two "}, Disconnect: true})
	st := c.Chat.Completions.NewStreaming(ctx, oa.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: msgs})
	var got string
	for st.Next() {
		if ch := st.Current(); len(ch.Choices) > 0 {
			got += ch.Choices[0].Delta.Content
		}
	}
	if st.Err() == nil || !strings.Contains(st.Err().Error(), "mid-stream") || got != "one two " {
		t.Errorf("mid-stream disconnect: content %q, err %v", got, st.Err())
	}
}

// A model routed to a provider that cannot take OpenAI's body as bytes
// (Anthropic) is translated: OpenAI's request becomes a model call and
// the answer comes back in OpenAI's shapes, plain and streamed, with tool
// calls and usage.
func TestOpenAIGoTranslatedGateway(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := goClient(s)
	ctx := context.Background()
	params := oa.ChatCompletionNewParams{Model: "claude-haiku-4-5", Messages: []oa.ChatCompletionMessageParamUnion{
		oa.SystemMessage("Be brief."), oa.UserMessage("hello claude")}, MaxTokens: oa.Int(100)}
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "echo: hello claude" || resp.Model != "claude-haiku-4-5" || resp.Usage.TotalTokens == 0 {
		t.Errorf("translated answer %+v", resp)
	}
	calls := s.claude.Calls()
	if last := calls[len(calls)-1]; last.Model != "claude-haiku-4-5" || last.MaxTokens != 100 || last.Messages[0].Role != "system" {
		t.Errorf("anthropic saw %+v", last)
	}

	s.claude.Enqueue(llmtest.Reply{ToolCalls: []sextant.ToolCall{{ID: "toolu_1", Name: "weather", Arguments: `{"city":"Oslo"}`}}})
	params.Tools = []oa.ChatCompletionToolUnionParam{oa.ChatCompletionFunctionTool(oa.FunctionDefinitionParam{Name: "weather",
		Parameters: oa.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}})}
	params.StreamOptions = oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)}
	st := c.Chat.Completions.NewStreaming(ctx, params)
	var acc oa.ChatCompletionAccumulator
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	tc := acc.Choices[0].Message.ToolCalls
	if acc.Choices[0].FinishReason != "tool_calls" || len(tc) != 1 || tc[0].Function.Name != "weather" || tc[0].Function.Arguments != `{"city":"Oslo"}` || acc.Usage.TotalTokens == 0 {
		t.Errorf("translated stream: finish %q, tool calls %+v, usage %+v", acc.Choices[0].FinishReason, tc, acc.Usage)
	}

	// Assistant-only extensions are refused for models.
	status, _, body := s.do(t, "POST", "/v1/chat/completions", "", []byte(`{"model": "claude-haiku-4-5", "session_id": "s1", "messages": [{"role": "user", "content": "hi"}]}`))
	if e := apiErr(t, body); status != 400 || e.Param != "session_id" {
		t.Errorf("session_id for a model: %d %+v", status, e)
	}
}
