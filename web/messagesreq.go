package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// Anthropic API versions. A request without the anthropic-version header
// is read as the long-standing 2023-06-01; from 2026-10-21 (what
// anthropic-sdk-go v2 sends) the API refuses sampling parameters.
const (
	anthropicDefaultVersion  = "2023-06-01"
	anthropicNoSamplingSince = "2026-10-21"
)

// messagesRequest is the body of POST /v1/messages as Anthropic defines
// it. Every top-level field the API knows is listed so that none is
// refused as unknown; the ones Sextant cannot honour are refused by
// validate with the field named. Polymorphic fields stay raw.
type messagesRequest struct {
	Model         *string           `json:"model"`
	MaxTokens     *int              `json:"max_tokens"`
	Messages      []json.RawMessage `json:"messages"`
	System        json.RawMessage   `json:"system"`
	Stream        *bool             `json:"stream"`
	Temperature   *float64          `json:"temperature"`
	TopP          *float64          `json:"top_p"`
	TopK          *int              `json:"top_k"`
	StopSequences []string          `json:"stop_sequences"`
	Tools         []json.RawMessage `json:"tools"`
	ToolChoice    json.RawMessage   `json:"tool_choice"`
	Metadata      json.RawMessage   `json:"metadata"`
	// Hints that change nothing about the answer: accepted, not acted on.
	CacheControl json.RawMessage `json:"cache_control"`
	ServiceTier  *string         `json:"service_tier"`
	// Features Sextant does not offer: refused when set.
	Thinking          json.RawMessage `json:"thinking"`
	OutputConfig      json.RawMessage `json:"output_config"`
	Container         json.RawMessage `json:"container"`
	MCPServers        json.RawMessage `json:"mcp_servers"`
	ContextManagement json.RawMessage `json:"context_management"`
	InferenceGeo      json.RawMessage `json:"inference_geo"`
	Speed             json.RawMessage `json:"speed"`
	Diagnostics       json.RawMessage `json:"diagnostics"`
}

// messagesCall is a validated Messages request.
type messagesCall struct {
	model       string
	maxTokens   int
	stream      bool
	messages    []sextant.Message // system prompt first, then the turns; tool results as RoleTool
	temperature *float64
	topP        *float64
	stop        []string
	tools       []sextant.Tool
	toolChoice  string // "", "auto", "none", "required" or a tool name
	user        string
}

// present reports whether a raw field was sent with a value other than
// null.
func present(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && string(raw) != "null"
}

// antInvalid is invalidParam with Anthropic's wording for unknown fields.
func antInvalid(err error) error {
	var ae *apiError
	if errors.As(err, &ae) && strings.HasSuffix(sextant.ErrorMessage(ae), ": unknown field") {
		return invalidParam(ae.param, "Extra inputs are not permitted")
	}
	return err
}

// decodeAt strictly decodes raw into v, naming errors with path
// ("messages.0.content.1").
func decodeAt(raw json.RawMessage, path string, v any) error {
	return antInvalid(decodeField(raw, path, v))
}

// decodeMessages decodes and validates a Messages request. version is the
// anthropic-version header ("" = 2023-06-01). Errors are EINVALID
// apiErrors naming the field with Anthropic's dotted paths.
func decodeMessages(body []byte, version string) (*messagesCall, error) {
	var req messagesRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, antInvalid(err)
	}
	return req.validate(version)
}

func (req *messagesRequest) validate(version string) (*messagesCall, error) {
	if version == "" {
		version = anthropicDefaultVersion
	}
	c := &messagesCall{}
	switch {
	case req.Model == nil:
		return nil, invalidParam("model", "Field required")
	case *req.Model == "":
		return nil, invalidParam("model", "String should have at least 1 character")
	}
	c.model = *req.Model
	switch {
	case req.MaxTokens == nil:
		return nil, invalidParam("max_tokens", "Field required")
	case *req.MaxTokens < 1:
		return nil, invalidParam("max_tokens", "Input should be greater than or equal to 1")
	}
	c.maxTokens = *req.MaxTokens
	if req.Stream != nil {
		c.stream = *req.Stream
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"temperature", req.Temperature != nil}, {"top_p", req.TopP != nil}, {"top_k", req.TopK != nil}} {
		if f.set && version >= anthropicNoSamplingSince {
			return nil, invalidParam(f.name, "not supported in API version %s", version)
		}
	}
	if t := req.Temperature; t != nil {
		if math.IsNaN(*t) || *t < 0 || *t > 1 {
			return nil, invalidParam("temperature", "Input should be between 0 and 1, got %v", *t)
		}
		c.temperature = t
	}
	if t := req.TopP; t != nil {
		if math.IsNaN(*t) || *t <= 0 || *t > 1 {
			return nil, invalidParam("top_p", "Input should be greater than 0 and at most 1, got %v", *t)
		}
		c.topP = t
	}
	if req.TopK != nil {
		return nil, invalidParam("top_k", "not supported: Sextant's model layer has no top-k sampling")
	}
	for i, s := range req.StopSequences {
		if s == "" {
			return nil, invalidParam(fmt.Sprintf("stop_sequences.%d", i), "String should have at least 1 character")
		}
	}
	if len(req.StopSequences) > driver.MaxStop {
		return nil, invalidParam("stop_sequences", "at most %d stop sequences are passed on, got %d", driver.MaxStop, len(req.StopSequences))
	}
	c.stop = req.StopSequences
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		why  string
	}{
		{"output_config", req.OutputConfig, "structured output and effort settings are not supported"},
		{"container", req.Container, "code execution containers are not supported"},
		{"mcp_servers", req.MCPServers, "MCP servers are not supported"},
		{"context_management", req.ContextManagement, "context management is not supported"},
		{"inference_geo", req.InferenceGeo, "inference geography is not supported"},
		{"speed", req.Speed, "speed settings are not supported"},
		{"diagnostics", req.Diagnostics, "diagnostics are not supported"},
	} {
		if present(f.raw) {
			return nil, invalidParam(f.name, "%s by Sextant's Messages API", f.why)
		}
	}
	if err := checkThinking(req.Thinking); err != nil {
		return nil, err
	}
	if s := req.ServiceTier; s != nil && *s != "auto" && *s != "standard_only" {
		return nil, invalidParam("service_tier", "Input should be 'auto' or 'standard_only'")
	}
	if present(req.CacheControl) {
		if err := checkCacheControl(req.CacheControl, "cache_control"); err != nil {
			return nil, err
		}
	}
	if present(req.Metadata) {
		var md struct {
			UserID *string `json:"user_id"`
		}
		if err := decodeAt(req.Metadata, "metadata", &md); err != nil {
			return nil, err
		}
		if md.UserID != nil {
			c.user = *md.UserID
		}
	}
	if present(req.System) {
		sys, err := decodeSystem(req.System)
		if err != nil {
			return nil, err
		}
		for _, s := range sys {
			c.messages = append(c.messages, sextant.Message{Role: sextant.RoleSystem, Content: s})
		}
	}
	if err := c.decodeTurns(req.Messages); err != nil {
		return nil, err
	}
	for i, raw := range req.Tools {
		t, err := decodeAntTool(raw, i)
		if err != nil {
			return nil, err
		}
		for _, prev := range c.tools {
			if prev.Name == t.Name {
				return nil, invalidParam("tools", "Tool names must be unique; %q is defined twice", t.Name)
			}
		}
		c.tools = append(c.tools, t)
	}
	choice, err := decodeAntToolChoice(req.ToolChoice, c.tools)
	if err != nil {
		return nil, err
	}
	c.toolChoice = choice
	return c, nil
}

// checkThinking accepts thinking only when it is disabled.
func checkThinking(raw json.RawMessage) error {
	if !present(raw) {
		return nil
	}
	var th struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &th); err != nil {
		return invalidParam("thinking", "Input should be an object with a type")
	}
	if th.Type == "disabled" {
		return nil
	}
	return invalidParam("thinking", "extended thinking is not supported by Sextant's Messages API (type %q); omit thinking or send {\"type\": \"disabled\"}", th.Type)
}

// checkCacheControl accepts the prompt-caching hint {"type": "ephemeral",
// "ttl": ...}. Sextant passes no cache breakpoints on; upstream caching
// still reports cached input tokens in usage.
func checkCacheControl(raw json.RawMessage, path string) error {
	var cc struct {
		Type string `json:"type"`
		TTL  string `json:"ttl"`
	}
	if err := decodeAt(raw, path, &cc); err != nil {
		return err
	}
	if cc.Type != "ephemeral" {
		return invalidParam(path+".type", "Input should be 'ephemeral'")
	}
	if cc.TTL != "" && cc.TTL != "5m" && cc.TTL != "1h" {
		return invalidParam(path+".ttl", "Input should be '5m' or '1h'")
	}
	return nil
}

// antText is a text block.
type antText struct {
	Type         string          `json:"type"`
	Text         *string         `json:"text"`
	CacheControl json.RawMessage `json:"cache_control"`
	Citations    json.RawMessage `json:"citations"`
}

// decodeTextBlock decodes a text block at path; it must hold text.
func decodeTextBlock(raw json.RawMessage, path string) (string, error) {
	var b antText
	if err := decodeAt(raw, path, &b); err != nil {
		return "", err
	}
	if b.Text == nil {
		return "", invalidParam(path+".text", "Field required")
	}
	if *b.Text == "" {
		return "", invalidParam(path+".text", "text content blocks must be non-empty")
	}
	if present(b.CacheControl) {
		if err := checkCacheControl(b.CacheControl, path+".cache_control"); err != nil {
			return "", err
		}
	}
	if present(b.Citations) && string(bytes.TrimSpace(b.Citations)) != "[]" {
		return "", invalidParam(path+".citations", "citations in requests are not supported")
	}
	return *b.Text, nil
}

// blockType reads the "type" of a content block at path.
func blockType(raw json.RawMessage, path string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return "", invalidParam(path, "Input should be a valid content block object")
	}
	var t struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", invalidParam(path, "Input should be a valid content block object")
	}
	if t.Type == nil || *t.Type == "" {
		return "", invalidParam(path+".type", "Field required")
	}
	return *t.Type, nil
}

// unsupportedBlock explains a content block type Sextant does not take.
func unsupportedBlock(typ, path string) error {
	switch typ {
	case "image", "document", "search_result", "container_upload":
		return invalidParam(path+".type", "%s blocks are not supported: Sextant's Messages API reads text, tool_use and tool_result blocks", typ)
	case "thinking", "redacted_thinking":
		return invalidParam(path+".type", "%s blocks are not supported: extended thinking is not offered", typ)
	case "server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
		"bash_code_execution_tool_result", "text_editor_code_execution_tool_result", "tool_search_tool_result", "mcp_tool_use", "mcp_tool_result":
		return invalidParam(path+".type", "%s blocks are not supported: Sextant runs no server tools", typ)
	}
	return invalidParam(path+".type", "unknown content block type %q", typ)
}

// decodeSystem reads the system prompt: a string or text blocks.
func decodeSystem(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalidParam("system", "Input should be a valid string")
		}
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var blocks []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &blocks) != nil {
		return nil, invalidParam("system", "Input should be a valid string or a list of text blocks")
	}
	var out []string
	for i, b := range blocks {
		path := fmt.Sprintf("system.%d", i)
		typ, err := blockType(b, path)
		if err != nil {
			return nil, err
		}
		if typ != "text" {
			return nil, invalidParam(path+".type", "Input should be 'text'")
		}
		text, err := decodeTextBlock(b, path)
		if err != nil {
			return nil, err
		}
		out = append(out, text)
	}
	return out, nil
}

// antTurn is one element of messages.
type antTurn struct {
	Role    *string         `json:"role"`
	Content json.RawMessage `json:"content"`
}

// turnContent is a decoded turn: its text blocks, tool calls (assistant)
// and tool results (user), in order of kind.
type turnContent struct {
	texts   []string
	calls   []sextant.ToolCall
	results []sextant.Message
}

// decodeTurns decodes messages into c.messages, checking what Anthropic
// checks: roles, non-empty content, tool_use blocks answered by
// tool_result blocks in the next turn and tool_result blocks answering a
// tool_use of the previous turn.
func (c *messagesCall) decodeTurns(turns []json.RawMessage) error {
	if len(turns) == 0 {
		return invalidParam("messages", "at least one message is required")
	}
	var prevRole string
	var prevCalls map[string]bool // tool_use ids of the previous turn still unanswered
	seen := map[string]bool{}     // every tool_use id so far
	for i, raw := range turns {
		path := fmt.Sprintf("messages.%d", i)
		var t antTurn
		if err := decodeAt(raw, path, &t); err != nil {
			return err
		}
		if t.Role == nil {
			return invalidParam(path+".role", "Field required")
		}
		role := *t.Role
		if role != sextant.RoleUser && role != sextant.RoleAssistant {
			return invalidParam(path+".role", "Input should be 'user' or 'assistant'")
		}
		if !present(t.Content) {
			return invalidParam(path+".content", "Field required")
		}
		tc, err := decodeTurnContent(t.Content, path+".content", role)
		if err != nil {
			return err
		}
		if len(tc.texts) == 0 && len(tc.calls) == 0 && len(tc.results) == 0 {
			return invalidParam(path, "all messages must have non-empty content except for the optional final assistant message")
		}
		// Tool pairing.
		if len(prevCalls) > 0 {
			for _, r := range tc.results {
				delete(prevCalls, r.ToolCallID)
			}
			if role != sextant.RoleUser || len(prevCalls) > 0 {
				return invalidParam(fmt.Sprintf("messages.%d", i-1), "`tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message", strings.Join(sortedKeys(prevCalls), ", "))
			}
		}
		for j, r := range tc.results {
			if prevRole != sextant.RoleAssistant || !previousCall(r.ToolCallID, c.messages) {
				return invalidParam(fmt.Sprintf("%s.content.%d", path, j), "unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message", r.ToolCallID)
			}
		}
		prevCalls = nil
		for _, call := range tc.calls {
			if seen[call.ID] {
				return invalidParam(path+".content", "`tool_use` ids must be unique; %q is used twice", call.ID)
			}
			seen[call.ID] = true
			if prevCalls == nil {
				prevCalls = map[string]bool{}
			}
			prevCalls[call.ID] = true
		}
		switch role {
		case sextant.RoleAssistant:
			c.messages = append(c.messages, sextant.Message{Role: role, Content: strings.Join(tc.texts, "\n\n"), ToolCalls: tc.calls})
		default:
			c.messages = append(c.messages, tc.results...)
			if len(tc.texts) > 0 {
				c.messages = append(c.messages, sextant.Message{Role: role, Content: strings.Join(tc.texts, "\n\n")})
			}
		}
		prevRole = role
	}
	if prevRole == sextant.RoleAssistant {
		return invalidParam(fmt.Sprintf("messages.%d", len(turns)-1), "a final assistant message (prefill) is not supported by Sextant; end the conversation with a user message")
	}
	return nil
}

// previousCall reports whether id is a tool call of the assistant message
// decoded last.
func previousCall(id string, msgs []sextant.Message) bool {
	for k := len(msgs) - 1; k >= 0; k-- {
		if msgs[k].Role == sextant.RoleAssistant {
			for _, tc := range msgs[k].ToolCalls {
				if tc.ID == id {
					return true
				}
			}
			return false
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// decodeTurnContent reads a turn's content: a string or content blocks.
func decodeTurnContent(raw json.RawMessage, path, role string) (turnContent, error) {
	var tc turnContent
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return tc, invalidParam(path, "Input should be a valid string")
		}
		if s != "" {
			tc.texts = append(tc.texts, s)
		}
		return tc, nil
	}
	var blocks []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &blocks) != nil {
		return tc, invalidParam(path, "Input should be a valid string or a list of content blocks")
	}
	for j, b := range blocks {
		p := fmt.Sprintf("%s.%d", path, j)
		typ, err := blockType(b, p)
		if err != nil {
			return tc, err
		}
		switch typ {
		case "text":
			text, err := decodeTextBlock(b, p)
			if err != nil {
				return tc, err
			}
			tc.texts = append(tc.texts, text)
		case "tool_use":
			if role != sextant.RoleAssistant {
				return tc, invalidParam(p+".type", "tool_use blocks belong to assistant messages")
			}
			call, err := decodeToolUse(b, p)
			if err != nil {
				return tc, err
			}
			tc.calls = append(tc.calls, call)
		case "tool_result":
			if role != sextant.RoleUser {
				return tc, invalidParam(p+".type", "tool_result blocks belong to user messages")
			}
			if len(tc.texts) > 0 {
				return tc, invalidParam(p, "tool_result blocks must come before any text in a user message")
			}
			m, err := decodeToolResult(b, p)
			if err != nil {
				return tc, err
			}
			tc.results = append(tc.results, m)
		default:
			return tc, unsupportedBlock(typ, p)
		}
	}
	return tc, nil
}

func decodeToolUse(raw json.RawMessage, path string) (sextant.ToolCall, error) {
	var b struct {
		Type         string          `json:"type"`
		ID           string          `json:"id"`
		Name         string          `json:"name"`
		Input        json.RawMessage `json:"input"`
		CacheControl json.RawMessage `json:"cache_control"`
		Caller       json.RawMessage `json:"caller"`
	}
	if err := decodeAt(raw, path, &b); err != nil {
		return sextant.ToolCall{}, err
	}
	switch {
	case b.ID == "":
		return sextant.ToolCall{}, invalidParam(path+".id", "Field required")
	case !validToolName(b.ID, 256):
		return sextant.ToolCall{}, invalidParam(path+".id", "String should match pattern '^[a-zA-Z0-9_-]+$'")
	case b.Name == "":
		return sextant.ToolCall{}, invalidParam(path+".name", "Field required")
	}
	in := bytes.TrimSpace(b.Input)
	if len(in) == 0 {
		return sextant.ToolCall{}, invalidParam(path+".input", "Field required")
	}
	if in[0] != '{' {
		return sextant.ToolCall{}, invalidParam(path+".input", "Input should be a valid dictionary")
	}
	var args bytes.Buffer
	if err := json.Compact(&args, in); err != nil {
		return sextant.ToolCall{}, invalidParam(path+".input", "Input should be a valid dictionary")
	}
	if present(b.CacheControl) {
		if err := checkCacheControl(b.CacheControl, path+".cache_control"); err != nil {
			return sextant.ToolCall{}, err
		}
	}
	return sextant.ToolCall{ID: b.ID, Name: b.Name, Arguments: args.String()}, nil
}

// decodeToolResult reads a tool_result block into a tool message. An
// is_error result reaches the model as text starting with "Error: ",
// since the model layer's tool messages carry no error flag.
func decodeToolResult(raw json.RawMessage, path string) (sextant.Message, error) {
	var b struct {
		Type         string          `json:"type"`
		ToolUseID    string          `json:"tool_use_id"`
		Content      json.RawMessage `json:"content"`
		IsError      *bool           `json:"is_error"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
	if err := decodeAt(raw, path, &b); err != nil {
		return sextant.Message{}, err
	}
	if b.ToolUseID == "" {
		return sextant.Message{}, invalidParam(path+".tool_use_id", "Field required")
	}
	if present(b.CacheControl) {
		if err := checkCacheControl(b.CacheControl, path+".cache_control"); err != nil {
			return sextant.Message{}, err
		}
	}
	var text string
	if c := bytes.TrimSpace(b.Content); present(c) {
		switch c[0] {
		case '"':
			if err := json.Unmarshal(c, &text); err != nil {
				return sextant.Message{}, invalidParam(path+".content", "Input should be a valid string")
			}
		case '[':
			var blocks []json.RawMessage
			if err := json.Unmarshal(c, &blocks); err != nil {
				return sextant.Message{}, invalidParam(path+".content", "Input should be a valid string or a list of content blocks")
			}
			var parts []string
			for k, ib := range blocks {
				p := fmt.Sprintf("%s.content.%d", path, k)
				typ, err := blockType(ib, p)
				if err != nil {
					return sextant.Message{}, err
				}
				if typ != "text" {
					return sextant.Message{}, unsupportedBlock(typ, p)
				}
				t, err := decodeTextBlock(ib, p)
				if err != nil {
					return sextant.Message{}, err
				}
				parts = append(parts, t)
			}
			text = strings.Join(parts, "\n\n")
		default:
			return sextant.Message{}, invalidParam(path+".content", "Input should be a valid string or a list of content blocks")
		}
	}
	if b.IsError != nil && *b.IsError {
		text = "Error: " + text
	}
	return sextant.Message{Role: sextant.RoleTool, ToolCallID: b.ToolUseID, Content: text}, nil
}

// validToolName reports whether s matches ^[a-zA-Z0-9_-]{1,max}$.
func validToolName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// decodeAntTool reads tools[i]: a custom tool (name, description,
// input_schema). Anthropic's server tools are refused.
func decodeAntTool(raw json.RawMessage, i int) (sextant.Tool, error) {
	path := fmt.Sprintf("tools.%d", i)
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return sextant.Tool{}, invalidParam(path, "Input should be a valid tool object")
	}
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return sextant.Tool{}, invalidParam(path, "Input should be a valid tool object")
	}
	if head.Type != nil && *head.Type != "custom" {
		return sextant.Tool{}, invalidParam(path+".type", "server tools (%q) are not supported; Sextant passes custom tools (name, description, input_schema) to the model", *head.Type)
	}
	var t struct {
		Type          *string         `json:"type"`
		Name          *string         `json:"name"`
		Description   string          `json:"description"`
		InputSchema   json.RawMessage `json:"input_schema"`
		CacheControl  json.RawMessage `json:"cache_control"`
		Strict        *bool           `json:"strict"`
		InputExamples json.RawMessage `json:"input_examples"`
		// Loading hints with no effect on the answer: accepted.
		EagerInputStreaming *bool `json:"eager_input_streaming"`
		DeferLoading        *bool `json:"defer_loading"`
	}
	if err := decodeAt(raw, path, &t); err != nil {
		return sextant.Tool{}, err
	}
	switch {
	case t.Name == nil:
		return sextant.Tool{}, invalidParam(path+".name", "Field required")
	case !validToolName(*t.Name, 128):
		return sextant.Tool{}, invalidParam(path+".name", "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")
	}
	schema := bytes.TrimSpace(t.InputSchema)
	if !present(schema) {
		return sextant.Tool{}, invalidParam(path+".input_schema", "Field required")
	}
	var obj map[string]json.RawMessage
	if schema[0] != '{' || json.Unmarshal(schema, &obj) != nil {
		return sextant.Tool{}, invalidParam(path+".input_schema", "Input should be a valid dictionary")
	}
	if typ, ok := obj["type"]; !ok || string(bytes.TrimSpace(typ)) != `"object"` {
		return sextant.Tool{}, invalidParam(path+".input_schema.type", "Input should be 'object'")
	}
	if present(t.CacheControl) {
		if err := checkCacheControl(t.CacheControl, path+".cache_control"); err != nil {
			return sextant.Tool{}, err
		}
	}
	if t.Strict != nil && *t.Strict {
		return sextant.Tool{}, invalidParam(path+".strict", "strict tool schemas are not supported: the model layer does not enforce input schemas")
	}
	if present(t.InputExamples) {
		return sextant.Tool{}, invalidParam(path+".input_examples", "not supported by Sextant's Messages API")
	}
	return sextant.Tool{Name: *t.Name, Description: t.Description, Parameters: append(json.RawMessage(nil), schema...)}, nil
}

// decodeAntToolChoice maps tool_choice to the model layer's: auto → auto,
// any → required, tool → the tool's name, none → none.
func decodeAntToolChoice(raw json.RawMessage, tools []sextant.Tool) (string, error) {
	if !present(raw) {
		return "", nil
	}
	var tc struct {
		Type                   *string `json:"type"`
		Name                   *string `json:"name"`
		DisableParallelToolUse *bool   `json:"disable_parallel_tool_use"`
	}
	if err := decodeAt(raw, "tool_choice", &tc); err != nil {
		return "", err
	}
	if tc.Type == nil {
		return "", invalidParam("tool_choice.type", "Field required")
	}
	if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse {
		return "", invalidParam("tool_choice.disable_parallel_tool_use", "not supported: the model layer cannot limit a turn to one tool call")
	}
	if *tc.Type != "tool" && tc.Name != nil {
		return "", invalidParam("tool_choice.name", "Extra inputs are not permitted")
	}
	switch *tc.Type {
	case "auto", "none":
		return *tc.Type, nil
	case "any":
		if len(tools) == 0 {
			return "", invalidParam("tool_choice", "tool_choice may only be specified while providing tools")
		}
		return "required", nil
	case "tool":
		if tc.Name == nil {
			return "", invalidParam("tool_choice.name", "Field required")
		}
		for _, t := range tools {
			if t.Name == *tc.Name {
				return t.Name, nil
			}
		}
		return "", invalidParam("tool_choice.name", "tool %q is not one of the request's tools", *tc.Name)
	}
	return "", invalidParam("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
}
