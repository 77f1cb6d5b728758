package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
)

// NewAnthropicServer starts a fake of the Anthropic Messages API:
// POST /v1/messages, streaming (SSE with named events: message_start,
// content_block_start, ping, content_block_delta carrying text_delta or
// input_json_delta, content_block_stop, message_delta with stop_reason and
// usage, message_stop; in-stream "error" events) and not streaming.
//
// Errors use Anthropic's {"type": "error", "error": {type, message},
// "request_id"} body with the real statuses (429 rate_limit_error, 529
// overloaded_error, ...) and anthropic-ratelimit-* headers. The
// anthropic-version header is required; with version 2026-10-21 (sent by
// anthropic-sdk-go v2) temperature, top_p and top_k are refused with 400, as
// the API does.
func NewAnthropicServer(t testing.TB) *Server {
	s := newServer(t, "anthropic", anthropicHandler)
	s.URL = s.srv.URL
	return s
}

func anthropicHandler(s *Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", s.anthropicMessages)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		anthropicError(w, 404, "not_found_error", "Not found", nil)
	})
	return mux
}

var anthropicFields = []string{
	"model", "max_tokens", "messages", "system", "stop_sequences", "stream", "tools",
	"tool_choice", "metadata", "output_config", "thinking", "service_tier", "container",
	"inference_geo", "cache_control", "speed", "diagnostics", "temperature", "top_p", "top_k",
}

type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// anthropicBlocks decodes a content field: a string or an array of blocks.
func anthropicBlocks(raw json.RawMessage) ([]anthropicBlock, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []anthropicBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []anthropicBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, fmt.Errorf("content: Input should be a valid string or list of content blocks")
	}
	return blocks, nil
}

func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	call, err := readCall(r)
	if err != nil {
		return
	}
	recorded := false
	defer func() {
		if !recorded {
			s.record(call)
		}
	}()
	if s.APIKey != "" && r.Header.Get("X-Api-Key") != s.APIKey && bearer(r) != s.APIKey {
		anthropicError(w, 401, "authentication_error", "invalid x-api-key", nil)
		return
	}
	version := r.Header.Get("Anthropic-Version")
	if version == "" {
		anthropicError(w, 400, "invalid_request_error", "anthropic-version: header is required", nil)
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(call.Body, &fields); err != nil {
		anthropicError(w, 400, "invalid_request_error", "There was an issue with your request body: invalid JSON", nil)
		return
	}
	for k := range fields {
		if !slices.Contains(anthropicFields, k) {
			anthropicError(w, 400, "invalid_request_error", k+": Extra inputs are not permitted", nil)
			return
		}
		if version >= "2026-10-21" && (k == "temperature" || k == "top_p" || k == "top_k") {
			anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("%s: not supported in API version %s", k, version), nil)
			return
		}
	}
	var req struct {
		Model     string `json:"model"`
		MaxTokens *int   `json:"max_tokens"`
		Messages  []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		System        json.RawMessage `json:"system"`
		StopSequences []string        `json:"stop_sequences"`
		Stream        bool            `json:"stream"`
		Temperature   *float64        `json:"temperature"`
		TopP          *float64        `json:"top_p"`
		Tools         []struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"tools"`
		ToolChoice *struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tool_choice"`
		Metadata *struct {
			UserID string `json:"user_id"`
		} `json:"metadata"`
		OutputConfig *struct {
			Format *struct {
				Type string `json:"type"`
			} `json:"format"`
		} `json:"output_config"`
	}
	if err := json.Unmarshal(call.Body, &req); err != nil {
		anthropicError(w, 400, "invalid_request_error", "There was an issue with your request body: "+err.Error(), nil)
		return
	}
	call.Model, call.Stream, call.Stop = req.Model, req.Stream, req.StopSequences
	call.Temperature, call.TopP = req.Temperature, req.TopP
	if req.MaxTokens != nil {
		call.MaxTokens = *req.MaxTokens
	}
	if req.Metadata != nil {
		call.User = req.Metadata.UserID
	}
	if req.OutputConfig != nil && req.OutputConfig.Format != nil {
		call.Format = req.OutputConfig.Format.Type
	}
	for _, t := range req.Tools {
		call.Tools = append(call.Tools, sextant.Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema})
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "any":
			call.ToolChoice = "required"
		case "tool":
			call.ToolChoice = tc.Name
		default:
			call.ToolChoice = tc.Type
		}
	}
	if len(req.System) > 0 {
		blocks, err := anthropicBlocks(req.System)
		if err != nil {
			anthropicError(w, 400, "invalid_request_error", "system: "+err.Error(), nil)
			return
		}
		for _, b := range blocks {
			call.Messages = append(call.Messages, sextant.Message{Role: sextant.RoleSystem, Content: b.Text})
		}
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i), nil)
			return
		}
		blocks, err := anthropicBlocks(m.Content)
		if err != nil {
			anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("messages.%d.%v", i, err), nil)
			return
		}
		msg := sextant.Message{Role: m.Role}
		for _, b := range blocks {
			switch b.Type {
			case "text":
				msg.Content += b.Text
			case "tool_use":
				var args bytes.Buffer
				if err := json.Compact(&args, b.Input); err != nil {
					anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("messages.%d.content: tool_use input must be an object", i), nil)
					return
				}
				msg.ToolCalls = append(msg.ToolCalls, sextant.ToolCall{ID: b.ID, Name: b.Name, Arguments: args.String()})
			case "tool_result":
				inner, err := anthropicBlocks(b.Content)
				if err != nil && len(b.Content) > 0 {
					anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("messages.%d.content.tool_result.%v", i, err), nil)
					return
				}
				var text strings.Builder
				for _, ib := range inner {
					text.WriteString(ib.Text)
				}
				call.Messages = append(call.Messages, sextant.Message{Role: sextant.RoleTool, ToolCallID: b.ToolUseID, Content: text.String()})
			default:
				anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("messages.%d.content: unsupported block type %q", i, b.Type), nil)
				return
			}
		}
		if msg.Content != "" || len(msg.ToolCalls) > 0 {
			call.Messages = append(call.Messages, msg)
		}
	}
	switch {
	case req.Model == "":
		anthropicError(w, 400, "invalid_request_error", "model: Field required", nil)
		return
	case req.MaxTokens == nil:
		anthropicError(w, 400, "invalid_request_error", "max_tokens: Field required", nil)
		return
	case len(req.Messages) == 0:
		anthropicError(w, 400, "invalid_request_error", "messages: Field required", nil)
		return
	case len(s.Models) > 0 && !slices.Contains(s.Models, req.Model):
		anthropicError(w, 404, "not_found_error", "model: "+req.Model, nil)
		return
	}
	s.record(call)
	recorded = true

	rep, ok := s.next()
	if !ok {
		rep = echo(call.Messages)
	}
	if !s.wait(r, rep.Delay) {
		return
	}
	if rep.Status >= 400 {
		anthropicReplyError(w, &rep)
		return
	}
	setAnthropicHeaders(w.Header(), s)
	for k, v := range rep.Header {
		w.Header()[k] = v
	}
	if !req.Stream {
		s.anthropicMessage(w, &call, &rep)
		return
	}
	s.anthropicStream(w, r, &call, &rep)
}

func setAnthropicHeaders(h http.Header, s *Server) {
	reset := s.now().Add(time.Minute).UTC().Format(time.RFC3339)
	h.Set("request-id", s.id("req_"))
	h.Set("anthropic-organization-id", "00000000-0000-0000-0000-000000000000")
	h.Set("anthropic-ratelimit-requests-limit", "4000")
	h.Set("anthropic-ratelimit-requests-remaining", "3999")
	h.Set("anthropic-ratelimit-requests-reset", reset)
	h.Set("anthropic-ratelimit-input-tokens-limit", "2000000")
	h.Set("anthropic-ratelimit-input-tokens-remaining", "1999990")
	h.Set("anthropic-ratelimit-input-tokens-reset", reset)
	h.Set("anthropic-ratelimit-output-tokens-limit", "400000")
	h.Set("anthropic-ratelimit-output-tokens-remaining", "400000")
	h.Set("anthropic-ratelimit-output-tokens-reset", reset)
}

func anthropicStopReason(finish string) string {
	switch finish {
	case sextant.FinishLength:
		return "max_tokens"
	case sextant.FinishToolCalls:
		return "tool_use"
	case sextant.FinishFilter:
		return "refusal"
	}
	return "end_turn"
}

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// toAnthropicUsage splits usage the way Anthropic reports it: input_tokens
// excludes the tokens read from the prompt cache.
func toAnthropicUsage(u sextant.Usage) anthropicUsage {
	return anthropicUsage{InputTokens: u.InputTokens - u.CachedInputTokens, CacheReadInputTokens: u.CachedInputTokens, OutputTokens: u.OutputTokens}
}

func (s *Server) anthropicMessage(w http.ResponseWriter, call *Call, rep *Reply) {
	content := []obj{}
	if text := strings.Join(rep.Text, ""); text != "" {
		content = append(content, obj{{"type", "text"}, {"text", text}})
	}
	for _, tc := range rep.ToolCalls {
		content = append(content, obj{{"type", "tool_use"}, {"id", tc.ID}, {"name", tc.Name}, {"input", json.RawMessage(tc.Arguments)}})
	}
	u := usageFor(rep, call.Messages)
	if rep.NoUsage {
		u = sextant.Usage{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj{
		{"id", s.id("msg_")}, {"type", "message"}, {"role", "assistant"}, {"model", call.Model},
		{"content", content}, {"stop_reason", anthropicStopReason(finishFor(rep))}, {"stop_sequence", nil},
		{"usage", toAnthropicUsage(u)}})
}

func (s *Server) anthropicStream(w http.ResponseWriter, r *http.Request, call *Call, rep *Reply) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, r: r, rc: http.NewResponseController(w), gap: rep.Gap, s: s}
	event := func(name string, data any) bool {
		b, _ := json.Marshal(data)
		return st.write([]byte("event: " + name + "\ndata: " + string(b) + "\n\n"))
	}
	u := usageFor(rep, call.Messages)
	if rep.NoUsage {
		u = sextant.Usage{}
	}
	au := toAnthropicUsage(u)
	start := au
	start.OutputTokens = 1
	if !event("message_start", obj{{"type", "message_start"}, {"message", obj{
		{"id", s.id("msg_")}, {"type", "message"}, {"role", "assistant"}, {"model", call.Model},
		{"content", []any{}}, {"stop_reason", nil}, {"stop_sequence", nil}, {"usage", start}}}}) {
		return
	}
	index := 0
	if len(rep.Text) > 0 {
		if !event("content_block_start", obj{{"type", "content_block_start"}, {"index", index}, {"content_block", obj{{"type", "text"}, {"text", ""}}}}) {
			return
		}
		if !event("ping", obj{{"type", "ping"}}) {
			return
		}
		for _, t := range rep.Text {
			if !event("content_block_delta", obj{{"type", "content_block_delta"}, {"index", index}, {"delta", obj{{"type", "text_delta"}, {"text", t}}}}) {
				return
			}
		}
	}
	end := func() bool {
		switch {
		case rep.StreamError != "":
			msg := or(rep.ErrMessage, "Overloaded")
			event("error", obj{{"type", "error"}, {"error", obj{{"type", rep.StreamError}, {"message", msg}}}})
			return true
		case rep.Disconnect:
			st.disconnect()
			return true
		case rep.Truncate:
			return true
		case rep.Hang:
			st.hang()
			return true
		}
		return false
	}
	if len(rep.ToolCalls) == 0 && end() {
		return
	}
	if len(rep.Text) > 0 {
		if !event("content_block_stop", obj{{"type", "content_block_stop"}, {"index", index}}) {
			return
		}
		index++
	}
	for _, tc := range rep.ToolCalls {
		if !event("content_block_start", obj{{"type", "content_block_start"}, {"index", index}, {"content_block", obj{{"type", "tool_use"}, {"id", tc.ID}, {"name", tc.Name}, {"input", obj{}}}}}) {
			return
		}
		frags := append([]string{""}, splitArgs(tc.Arguments)...)
		for _, f := range frags {
			if !event("content_block_delta", obj{{"type", "content_block_delta"}, {"index", index}, {"delta", obj{{"type", "input_json_delta"}, {"partial_json", f}}}}) {
				return
			}
		}
		if !event("content_block_stop", obj{{"type", "content_block_stop"}, {"index", index}}) {
			return
		}
		index++
	}
	if len(rep.ToolCalls) > 0 && end() {
		return
	}
	if !event("message_delta", obj{{"type", "message_delta"},
		{"delta", obj{{"stop_reason", anthropicStopReason(finishFor(rep))}, {"stop_sequence", nil}}},
		{"usage", au}}) {
		return
	}
	event("message_stop", obj{{"type", "message_stop"}})
}

func anthropicReplyError(w http.ResponseWriter, rep *Reply) {
	typ, msg := rep.ErrType, rep.ErrMessage
	switch rep.Status {
	case 400:
		typ, msg = or(typ, "invalid_request_error"), or(msg, "Invalid request")
	case 401:
		typ, msg = or(typ, "authentication_error"), or(msg, "invalid x-api-key")
	case 403:
		typ, msg = or(typ, "permission_error"), or(msg, "Your API key does not have permission to use the specified resource.")
	case 404:
		typ, msg = or(typ, "not_found_error"), or(msg, "The requested resource could not be found.")
	case 413:
		typ, msg = or(typ, "request_too_large"), or(msg, "Request exceeds the maximum allowed number of bytes.")
	case 429:
		typ, msg = or(typ, "rate_limit_error"), or(msg, "Number of request tokens has exceeded your per-minute rate limit")
	case 529:
		typ, msg = or(typ, "overloaded_error"), or(msg, "Overloaded")
	default:
		typ, msg = or(typ, "api_error"), or(msg, "Internal server error")
	}
	h := rep.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if rep.Status == 429 {
		h.Set("anthropic-ratelimit-requests-limit", "4000")
		h.Set("anthropic-ratelimit-requests-remaining", "0")
	}
	anthropicError(w, rep.Status, typ, msg, h)
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string, h http.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", fmt.Sprintf("req_err%d", status))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(obj{
		{"type", "error"},
		{"error", obj{{"type", typ}, {"message", msg}}},
		{"request_id", fmt.Sprintf("req_err%d", status)}})
}
