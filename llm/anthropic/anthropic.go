// Package anthropic is the llm/driver implementation for the Anthropic
// Messages API, built on the official SDK
// github.com/anthropics/anthropic-sdk-go/v2 (API version 2026-10-21).
//
// Mapping decisions:
//   - System messages: every RoleSystem message, wherever it appears, becomes
//     a block of the top-level system prompt, in order (the Messages API
//     takes the system prompt outside the conversation).
//   - Tool results: consecutive RoleTool messages become tool_result blocks
//     of one user turn; consecutive turns of the same role are merged, as
//     the API expects alternating turns.
//   - Temperature, TopP and Seed are not sent: API version 2026-10-21 refuses
//     sampling parameters with 400, and the API has no seed. A request that
//     sets them is still served, so a fallback chain can move from an
//     OpenAI-compatible model to Claude.
//   - FormatJSONObject has no equivalent (only a JSON schema can be
//     enforced) and is refused with EINVALID; FormatJSONSchema maps to
//     output_config.format.
//   - Stop reasons map to OpenAI finish reasons: end_turn, stop_sequence and
//     pause_turn → stop; max_tokens and model_context_window_exceeded →
//     length; tool_use → tool_calls; refusal → content_filter.
//   - Usage: Anthropic's input_tokens excludes prompt-cache reads and
//     writes, so InputTokens = input + cache_read + cache_creation and
//     CachedInputTokens = cache_read, matching OpenAI's meaning. A stream's
//     input usage, known at message_start, is also reported then through
//     driver.ReportStartUsage (for the Messages API's own message_start).
//   - The SDK's retries are disabled (llm.Model retries), it reads no
//     ANTHROPIC_* environment variable (configuration comes from Options),
//     and its OpenTelemetry spans are off: telemetry is wired by Sextant's
//     own hooks, and the SDK's span content mode, switchable from the
//     environment, could copy prompts into traces.
package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	ant "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// DefaultBaseURL is Anthropic's API host.
const DefaultBaseURL = "https://api.anthropic.com"

// DefaultMaxTokens is sent when a request sets no MaxTokens: the Messages
// API requires the field.
const DefaultMaxTokens = 4096

// Options configures a Provider.
type Options struct {
	Name       string            // provider name in errors and events; "" = "anthropic"
	BaseURL    string            // API host, without /v1; "" = DefaultBaseURL
	APIKey     string            // API key
	Header     map[string]string // extra headers on every request (e.g. anthropic-beta)
	HTTPClient *http.Client      // nil = a client without overall timeout (streams are long)
	MaxTokens  int               // used when a request sets none; 0 = DefaultMaxTokens
	Now        func() time.Time  // reads Retry-After dates; nil = time.Now
}

// Provider is an Anthropic Messages driver. It is safe for concurrent use.
type Provider struct {
	opts     Options
	messages ant.MessageService
}

var _ driver.Provider = (*Provider)(nil)

// New returns a Provider for opts, or an EINVALID error naming the bad option.
func New(opts Options) (*Provider, error) {
	if opts.Name == "" {
		opts.Name = "anthropic"
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sextant.Errorf(sextant.EINVALID, "provider %q: base_url %q is not an http(s) URL", opts.Name, opts.BaseURL)
	}
	if opts.MaxTokens < 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "provider %q: max_tokens %d is negative", opts.Name, opts.MaxTokens)
	}
	if opts.MaxTokens == 0 {
		opts.MaxTokens = DefaultMaxTokens
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	client := opts.HTTPClient
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		t.ResponseHeaderTimeout = 10 * time.Minute
		client = &http.Client{Transport: t}
	}
	ro := []option.RequestOption{
		option.WithBaseURL(strings.TrimRight(opts.BaseURL, "/") + "/"),
		option.WithHTTPClient(client),
		option.WithMaxRetries(0),
		option.WithoutOpenTelemetry(),
	}
	if opts.APIKey != "" {
		ro = append(ro, option.WithAPIKey(opts.APIKey))
	}
	for k, v := range opts.Header {
		ro = append(ro, option.WithHeader(k, v))
	}
	return &Provider{opts: opts, messages: ant.NewMessageService(ro...)}, nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.opts.Name }

// Stream implements driver.Provider with a streamed POST /v1/messages.
func (p *Provider) Stream(ctx context.Context, req *driver.Request) iter.Seq2[sextant.Delta, error] {
	return func(yield func(sextant.Delta, error) bool) {
		params, err := p.params(req)
		if err != nil {
			yield(sextant.Delta{}, err)
			return
		}
		s := p.messages.NewStreaming(ctx, params)
		defer s.Close()

		var (
			final     sextant.Delta
			usage     sextant.Usage
			haveUsage bool
			stopped   bool
			calls     []sextant.ToolCall
			args      []strings.Builder
			byIndex   = map[int64]int{} // content block index → calls index
		)
		for s.Next() {
			ev := s.Current()
			switch ev.Type {
			case "message_start":
				u := ev.Message.Usage
				usage = sextant.Usage{
					InputTokens:       int(u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens),
					CachedInputTokens: int(u.CacheReadInputTokens),
					OutputTokens:      int(u.OutputTokens),
				}
				haveUsage = ev.Message.JSON.Usage.Valid()
				if usage.InputTokens > 0 {
					driver.ReportStartUsage(ctx, sextant.Usage{InputTokens: usage.InputTokens, CachedInputTokens: usage.CachedInputTokens})
				}
			case "content_block_start":
				b := ev.ContentBlock
				switch b.Type {
				case "text":
					if b.Text != "" && !yield(sextant.Delta{Text: b.Text}, nil) {
						return
					}
				case "tool_use":
					byIndex[ev.Index] = len(calls)
					calls = append(calls, sextant.ToolCall{ID: b.ID, Name: b.Name})
					args = append(args, strings.Builder{})
				}
			case "content_block_delta":
				switch ev.Delta.Type {
				case "text_delta":
					if ev.Delta.Text != "" && !yield(sextant.Delta{Text: ev.Delta.Text}, nil) {
						return
					}
				case "input_json_delta":
					if i, ok := byIndex[ev.Index]; ok {
						args[i].WriteString(ev.Delta.PartialJSON)
					}
				}
			case "message_delta":
				final.FinishReason = finishReason(string(ev.Delta.StopReason))
				u := ev.Usage
				// message_delta counts are cumulative; newer API versions
				// repeat the input counts there too.
				usage.OutputTokens = int(u.OutputTokens)
				if in := int(u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens); in > 0 {
					usage.InputTokens, usage.CachedInputTokens = in, int(u.CacheReadInputTokens)
				}
				haveUsage = haveUsage || ev.JSON.Usage.Valid()
			case "message_stop":
				stopped = true
			}
		}
		if err := s.Err(); err != nil {
			yield(sextant.Delta{}, p.classify(ctx, err))
			return
		}
		if !stopped || final.FinishReason == "" {
			yield(sextant.Delta{}, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name,
				Message: "stream ended before message_stop (connection closed early)"}))
			return
		}
		for i := range calls {
			calls[i].Arguments = args[i].String()
			if calls[i].Arguments == "" {
				calls[i].Arguments = "{}"
			}
		}
		final.ToolCalls = calls
		if haveUsage && (usage.InputTokens > 0 || usage.OutputTokens > 0) {
			final.Usage = &usage
		}
		yield(final, nil)
	}
}

// params translates a driver request into SDK parameters.
func (p *Provider) params(req *driver.Request) (ant.MessageNewParams, error) {
	params := ant.MessageNewParams{Model: req.Model, MaxTokens: int64(p.opts.MaxTokens)}
	if req.MaxTokens > 0 {
		params.MaxTokens = int64(req.MaxTokens)
	}
	var turns []ant.MessageParam
	appendTurn := func(role string, blocks ...ant.ContentBlockParamUnion) {
		if n := len(turns); n > 0 {
			last := &turns[n-1]
			if role == "user" && last.OfUser != nil {
				last.OfUser.Content = append(last.OfUser.Content, blocks...)
				return
			}
			if role == "assistant" && last.OfAssistant != nil {
				last.OfAssistant.Content = append(last.OfAssistant.Content, blocks...)
				return
			}
		}
		if role == "user" {
			turns = append(turns, ant.NewUserMessage(blocks...))
		} else {
			turns = append(turns, ant.NewAssistantMessage(blocks...))
		}
	}
	for i, m := range req.Messages {
		switch m.Role {
		case sextant.RoleSystem:
			params.System = append(params.System, ant.TextBlockParam{Text: m.Content})
		case sextant.RoleUser:
			appendTurn("user", ant.NewTextBlock(m.Content))
		case sextant.RoleAssistant:
			var blocks []ant.ContentBlockParamUnion
			if m.Content != "" {
				blocks = append(blocks, ant.NewTextBlock(m.Content))
			}
			for j, c := range m.ToolCalls {
				input := json.RawMessage(c.Arguments)
				if len(input) == 0 {
					input = json.RawMessage("{}")
				}
				if !json.Valid(input) {
					return params, sextant.Errorf(sextant.EINVALID, "messages[%d].tool_calls[%d].arguments: not valid JSON", i, j)
				}
				blocks = append(blocks, ant.NewToolUseBlock(c.ID, input, c.Name))
			}
			if len(blocks) == 0 {
				blocks = append(blocks, ant.NewTextBlock(""))
			}
			appendTurn("assistant", blocks...)
		case sextant.RoleTool:
			appendTurn("user", ant.NewToolResultBlock(m.ToolCallID, m.Content, false))
		default:
			return params, sextant.Errorf(sextant.EINVALID, "messages[%d].role: unknown role %q", i, m.Role)
		}
	}
	params.Messages = turns
	if len(req.Stop) > 0 {
		params.StopSequences = req.Stop
	}
	if req.User != "" {
		params.Metadata = ant.MetadataParam{UserID: param.NewOpt(req.User)}
	}
	for i, t := range req.Tools {
		schema := ant.ToolInputSchemaParam{}
		if len(t.Parameters) > 0 {
			var obj map[string]any
			if err := json.Unmarshal(t.Parameters, &obj); err != nil {
				return params, sextant.Errorf(sextant.EINVALID, "tools[%d].parameters: %v", i, err)
			}
			schema.Properties = obj["properties"]
			if req, ok := obj["required"].([]any); ok {
				for _, r := range req {
					if s, ok := r.(string); ok {
						schema.Required = append(schema.Required, s)
					}
				}
			}
			for k, v := range obj {
				if k != "properties" && k != "required" && k != "type" {
					if schema.ExtraFields == nil {
						schema.ExtraFields = map[string]any{}
					}
					schema.ExtraFields[k] = v
				}
			}
		}
		tool := ant.ToolUnionParamOfTool(schema, t.Name)
		if t.Description != "" {
			tool.OfTool.Description = param.NewOpt(t.Description)
		}
		params.Tools = append(params.Tools, tool)
	}
	switch req.ToolChoice {
	case "":
	case "auto":
		params.ToolChoice.OfAuto = &ant.ToolChoiceAutoParam{}
	case "none":
		params.ToolChoice.OfNone = &ant.ToolChoiceNoneParam{}
	case "required":
		params.ToolChoice.OfAny = &ant.ToolChoiceAnyParam{}
	default:
		params.ToolChoice.OfTool = &ant.ToolChoiceToolParam{Name: req.ToolChoice}
	}
	if f := req.Format; f != nil {
		switch f.Type {
		case driver.FormatText:
		case driver.FormatJSONSchema:
			var schema map[string]any
			if err := json.Unmarshal(f.Schema, &schema); err != nil {
				return params, sextant.Errorf(sextant.EINVALID, "response_format.json_schema.schema: %v", err)
			}
			params.OutputConfig.Format = ant.JSONOutputFormatParam{Schema: schema}
		default:
			return params, sextant.Errorf(sextant.EINVALID, "response_format %q: %s enforces only a JSON schema (use json_schema)", f.Type, p.opts.Name)
		}
	}
	return params, nil
}

func finishReason(r string) string {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return sextant.FinishLength
	case "tool_use":
		return sextant.FinishToolCalls
	case "refusal":
		return sextant.FinishFilter
	}
	return sextant.FinishStop
}

// statusOf gives the HTTP status an error type stands for, for errors that
// arrive as SSE events after a 200.
func statusOf(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "billing_error":
		return http.StatusPaymentRequired
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return 529
	}
	return http.StatusInternalServerError
}

// classify maps an SDK error to a *sextant.Error, keeping Retry-After.
func (p *Provider) classify(ctx context.Context, err error) error {
	var apiErr *ant.Error
	if !errors.As(err, &apiErr) {
		return driver.Transport(ctx, p.opts.Name, err)
	}
	ue := &driver.UpstreamError{Provider: p.opts.Name, Status: apiErr.StatusCode, Type: string(apiErr.Type()), Message: apiErr.Message}
	inStream := ue.Status < 400
	if inStream {
		ue.Status = statusOf(ue.Type)
	}
	if apiErr.Response != nil && !inStream {
		ue.RetryAfter, _ = driver.ParseRetryAfter(apiErr.Response.Header, p.opts.Now())
	}
	if ue.Message == "" {
		ue.Message = strings.ToLower(http.StatusText(ue.Status))
	}
	e := driver.Classify(ue)
	if inStream {
		e.Message = fmt.Sprintf("%s: error in stream: %s (%s)", p.opts.Name, ue.Message, ue.Type)
	}
	return e
}
