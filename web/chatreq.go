package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// chatRequest is the body of POST /v1/chat/completions as OpenAI defines
// it. Every parameter OpenAI accepts is known here, so none is refused as
// unknown; those an assistant cannot honour are refused by validate with
// the parameter named. Polymorphic fields stay raw until validate.
type chatRequest struct {
	Model               string             `json:"model"`
	Messages            []json.RawMessage  `json:"messages"`
	Stream              *bool              `json:"stream"`
	StreamOptions       *streamOptions     `json:"stream_options"`
	Temperature         *float64           `json:"temperature"`
	TopP                *float64           `json:"top_p"`
	MaxTokens           *int               `json:"max_tokens"`
	MaxCompletionTokens *int               `json:"max_completion_tokens"`
	Seed                *int64             `json:"seed"`
	Tools               []json.RawMessage  `json:"tools"`
	ToolChoice          json.RawMessage    `json:"tool_choice"`
	ParallelToolCalls   *bool              `json:"parallel_tool_calls"`
	User                string             `json:"user"`
	N                   *int               `json:"n"`
	Stop                json.RawMessage    `json:"stop"`
	ResponseFormat      json.RawMessage    `json:"response_format"`
	PresencePenalty     *float64           `json:"presence_penalty"`
	FrequencyPenalty    *float64           `json:"frequency_penalty"`
	LogitBias           map[string]float64 `json:"logit_bias"`
	Logprobs            *bool              `json:"logprobs"`
	TopLogprobs         *int               `json:"top_logprobs"`
	Metadata            map[string]string  `json:"metadata"`
	Store               *bool              `json:"store"`
	ServiceTier         string             `json:"service_tier"`
	ReasoningEffort     string             `json:"reasoning_effort"`
	Verbosity           string             `json:"verbosity"`
	Modalities          []string           `json:"modalities"`
	Audio               json.RawMessage    `json:"audio"`
	Prediction          json.RawMessage    `json:"prediction"`
	WebSearchOptions    json.RawMessage    `json:"web_search_options"`
	SafetyIdentifier    string             `json:"safety_identifier"`
	PromptCacheKey      string             `json:"prompt_cache_key"`
	PromptCacheRetain   string             `json:"prompt_cache_retention"`
	Functions           json.RawMessage    `json:"functions"`
	FunctionCall        json.RawMessage    `json:"function_call"`

	// Sextant extensions.
	Filters   *Filter `json:"filters"`    // narrows retrieval, like /v1/ask's
	SessionID string  `json:"session_id"` // continues a stored conversation (single user message)
}

type streamOptions struct {
	IncludeUsage       bool  `json:"include_usage"`
	IncludeObfuscation *bool `json:"include_obfuscation"`
}

type chatMessage struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content"`
	Name         string          `json:"name"`
	ToolCalls    []chatToolCall  `json:"tool_calls"`
	ToolCallID   string          `json:"tool_call_id"`
	Refusal      *string         `json:"refusal"`
	FunctionCall json.RawMessage `json:"function_call"`
	Audio        json.RawMessage `json:"audio"`
}

type chatToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type contentPart struct {
	Type       string          `json:"type"`
	Text       string          `json:"text"`
	Refusal    string          `json:"refusal"`
	ImageURL   json.RawMessage `json:"image_url"`
	InputAudio json.RawMessage `json:"input_audio"`
	File       json.RawMessage `json:"file"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	} `json:"function"`
	Custom json.RawMessage `json:"custom"`
}

// assistantCall is a validated chat request for an assistant.
type assistantCall struct {
	model        string
	stream       bool
	includeUsage bool
	messages     []sextant.Message
	temperature  *float64
	maxTokens    int
	seed         *int64
	tools        []sextant.Tool
	toolChoice   string
	user         string
	filter       sextant.Filter
	sessionID    string

	// Translated gateway calls only (a provider that cannot take the
	// body as bytes): the parameters a model honours and an assistant
	// does not.
	topP   *float64
	stop   []string
	format *driver.ResponseFormat
}

// decodeChat decodes and validates a chat request for an assistant.
func decodeChat(body []byte) (*assistantCall, error) {
	var req chatRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	return req.validate(false)
}

// decodeModelChat decodes and validates a chat request for a routed model
// whose provider speaks another protocol: it is translated into a model
// call, so the parameters a model honours (top_p, stop, response_format)
// are kept and the assistant extensions are refused.
func decodeModelChat(body []byte) (*assistantCall, error) {
	var req chatRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	if req.Filters != nil {
		return nil, invalidParam("filters", "only assistants search documents; %q is a model", req.Model)
	}
	if req.SessionID != "" {
		return nil, invalidParam("session_id", "only assistants keep sessions; %q is a model", req.Model)
	}
	return req.validate(true)
}

// decodeField strictly decodes one element of a raw array, naming errors
// with its path (messages[2].content, tools[0].function).
func decodeField(raw json.RawMessage, path string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e := jsonError(err).(*apiError)
		p := e.param
		switch {
		case p == "":
			p = path
		default:
			p = path + "." + p
		}
		msg := sextant.ErrorMessage(e)
		if e.param != "" {
			msg = strings.TrimPrefix(msg, e.param+": ")
		}
		return invalidParam(p, "%s", msg)
	}
	return nil
}

func (req *chatRequest) validate(model bool) (*assistantCall, error) {
	c := &assistantCall{model: req.Model, user: req.User, seed: req.Seed, sessionID: req.SessionID}
	if req.Stream != nil {
		c.stream = *req.Stream
	}
	if req.StreamOptions != nil {
		if !c.stream {
			return nil, invalidParam("stream_options", "only allowed when stream is true")
		}
		c.includeUsage = req.StreamOptions.IncludeUsage
	}
	if len(req.Messages) == 0 {
		return nil, invalidParam("messages", "at least one message is required")
	}
	for i, raw := range req.Messages {
		m, err := decodeMessage(raw, i)
		if err != nil {
			return nil, err
		}
		c.messages = append(c.messages, m)
	}
	if t := req.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		return nil, invalidParam("temperature", "%v is outside [0, 2]", *t)
	}
	c.temperature = req.Temperature
	if t := req.TopP; t != nil && (math.IsNaN(*t) || *t <= 0 || *t > 1) {
		return nil, invalidParam("top_p", "%v is outside (0, 1]", *t)
	}
	switch {
	case req.MaxCompletionTokens != nil:
		if *req.MaxCompletionTokens < 1 {
			return nil, invalidParam("max_completion_tokens", "must be at least 1, got %d", *req.MaxCompletionTokens)
		}
		c.maxTokens = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		if *req.MaxTokens < 1 {
			return nil, invalidParam("max_tokens", "must be at least 1, got %d", *req.MaxTokens)
		}
		c.maxTokens = *req.MaxTokens
	}
	c.topP = req.TopP
	if req.N != nil && *req.N != 1 {
		return nil, invalidParam("n", "Sextant answers with one choice; n must be 1, got %d", *req.N)
	}
	if req.Logprobs != nil && *req.Logprobs {
		return nil, invalidParam("logprobs", "assistants do not return log probabilities")
	}
	for _, m := range req.Modalities {
		if m != "text" {
			return nil, invalidParam("modalities", "assistants answer in text only, not %q", m)
		}
	}
	if len(req.Audio) > 0 && string(req.Audio) != "null" {
		return nil, invalidParam("audio", "assistants answer in text only")
	}
	format, err := decodeResponseFormat(req.ResponseFormat)
	if err != nil {
		return nil, err
	}
	if format != nil && format.Type != driver.FormatText {
		if !model {
			return nil, invalidParam("response_format.type", "assistants answer in text with citations; %s is available through the gateway (a routed model)", format.Type)
		}
		c.format = format
	}
	if len(req.Functions) > 0 && string(req.Functions) != "null" {
		return nil, invalidParam("functions", "deprecated; use tools")
	}
	if len(req.FunctionCall) > 0 && string(req.FunctionCall) != "null" {
		return nil, invalidParam("function_call", "deprecated; use tool_choice")
	}
	if c.stop, err = decodeStop(req.Stop); err != nil {
		return nil, err
	}
	for i, raw := range req.Tools {
		t, err := decodeTool(raw, i)
		if err != nil {
			return nil, err
		}
		for _, prev := range c.tools {
			if prev.Name == t.Name {
				return nil, invalidParam(fmt.Sprintf("tools[%d].function.name", i), "tool %q is defined twice", t.Name)
			}
		}
		c.tools = append(c.tools, t)
	}
	choice, err := decodeToolChoice(req.ToolChoice, c.tools)
	if err != nil {
		return nil, err
	}
	c.toolChoice = choice
	if req.Filters != nil {
		f, err := req.Filters.filter("filters")
		if err != nil {
			return nil, err
		}
		c.filter = f
	}
	if c.sessionID != "" {
		users := 0
		for _, m := range c.messages {
			if m.Role != sextant.RoleSystem {
				users++
			}
		}
		if users != 1 {
			return nil, invalidParam("session_id", "with a session id, send only the new user message (and system messages); the session holds the history")
		}
	}
	return c, nil
}

// decodeMessage decodes messages[i] into a sextant message.
func decodeMessage(raw json.RawMessage, i int) (sextant.Message, error) {
	path := fmt.Sprintf("messages[%d]", i)
	var cm chatMessage
	if err := decodeField(raw, path, &cm); err != nil {
		return sextant.Message{}, err
	}
	m := sextant.Message{Role: cm.Role, Name: cm.Name, ToolCallID: cm.ToolCallID}
	switch cm.Role {
	case "developer":
		m.Role = sextant.RoleSystem
	case sextant.RoleSystem, sextant.RoleUser, sextant.RoleAssistant, sextant.RoleTool:
	case "function":
		return m, invalidParam(path+".role", "the function role is deprecated; use tool")
	case "":
		return m, invalidParam(path+".role", "required (system, developer, user, assistant or tool)")
	default:
		return m, invalidParam(path+".role", "unknown role %q (want system, developer, user, assistant or tool)", cm.Role)
	}
	text, isNull, err := decodeContent(cm.Content, path+".content", m.Role)
	if err != nil {
		return m, err
	}
	m.Content = text
	switch m.Role {
	case sextant.RoleAssistant:
		if isNull && len(cm.ToolCalls) == 0 && cm.Refusal == nil {
			return m, invalidParam(path+".content", "required unless tool_calls is given")
		}
		for j, tc := range cm.ToolCalls {
			p := fmt.Sprintf("%s.tool_calls[%d]", path, j)
			if tc.Type != "function" {
				return m, invalidParam(p+".type", "want \"function\", got %q", tc.Type)
			}
			if tc.ID == "" {
				return m, invalidParam(p+".id", "required")
			}
			if tc.Function.Name == "" {
				return m, invalidParam(p+".function.name", "required")
			}
			m.ToolCalls = append(m.ToolCalls, sextant.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	case sextant.RoleTool:
		if cm.ToolCallID == "" {
			return m, invalidParam(path+".tool_call_id", "required for tool messages")
		}
		if isNull {
			return m, invalidParam(path+".content", "required")
		}
	default:
		if isNull {
			return m, invalidParam(path+".content", "required")
		}
		if len(cm.ToolCalls) > 0 {
			return m, invalidParam(path+".tool_calls", "only assistant messages carry tool calls")
		}
		if cm.ToolCallID != "" {
			return m, invalidParam(path+".tool_call_id", "only tool messages answer a tool call")
		}
	}
	return m, nil
}

// decodeContent returns the text of a message content: a string, or an
// array of content parts of which assistants read text (and refusal) parts.
func decodeContent(raw json.RawMessage, path, role string) (text string, isNull bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true, nil
	}
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", false, invalidParam(path, "not a valid string")
		}
		return text, false, nil
	case '[':
	default:
		return "", false, invalidParam(path, "want a string or an array of content parts")
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", false, invalidParam(path, "want a string or an array of content parts")
	}
	var b strings.Builder
	for j, pr := range parts {
		p := fmt.Sprintf("%s[%d]", path, j)
		var cp contentPart
		if err := decodeField(pr, p, &cp); err != nil {
			return "", false, err
		}
		switch cp.Type {
		case "text":
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(cp.Text)
		case "refusal":
			if role != sextant.RoleAssistant {
				return "", false, invalidParam(p+".type", "refusal parts belong to assistant messages")
			}
		case "image_url", "input_audio", "file":
			return "", false, invalidParam(p+".type", "%s parts are not supported: assistants read text only", cp.Type)
		case "":
			return "", false, invalidParam(p+".type", "required")
		default:
			return "", false, invalidParam(p+".type", "unknown content part type %q", cp.Type)
		}
	}
	return b.String(), false, nil
}

func decodeTool(raw json.RawMessage, i int) (sextant.Tool, error) {
	path := fmt.Sprintf("tools[%d]", i)
	var ct chatTool
	if err := decodeField(raw, path, &ct); err != nil {
		return sextant.Tool{}, err
	}
	if ct.Type != "function" {
		return sextant.Tool{}, invalidParam(path+".type", "want \"function\", got %q", ct.Type)
	}
	if ct.Function == nil || ct.Function.Name == "" {
		return sextant.Tool{}, invalidParam(path+".function.name", "required")
	}
	t := sextant.Tool{Name: ct.Function.Name, Description: ct.Function.Description}
	if p := bytes.TrimSpace(ct.Function.Parameters); len(p) > 0 && string(p) != "null" {
		if p[0] != '{' {
			return t, invalidParam(path+".function.parameters", "want a JSON Schema object")
		}
		t.Parameters = append(json.RawMessage(nil), p...)
	}
	return t, nil
}

// decodeToolChoice returns "", "auto", "none", "required" or a tool name.
func decodeToolChoice(raw json.RawMessage, tools []sextant.Tool) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalidParam("tool_choice", "not a valid string")
		}
		switch s {
		case "auto", "none":
			return s, nil
		case "required":
			if len(tools) == 0 {
				return "", invalidParam("tool_choice", "\"required\" needs tools")
			}
			return s, nil
		}
		return "", invalidParam("tool_choice", "want \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}, got %q", s)
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := decodeField(raw, "tool_choice", &obj); err != nil {
		return "", err
	}
	if obj.Type != "function" {
		return "", invalidParam("tool_choice.type", "want \"function\", got %q", obj.Type)
	}
	for _, t := range tools {
		if t.Name == obj.Function.Name {
			return t.Name, nil
		}
	}
	return "", invalidParam("tool_choice.function.name", "%q is not one of the request's tools", obj.Function.Name)
}

// decodeResponseFormat reads response_format: text, json_object, or
// json_schema with its name, schema and strictness.
func decodeResponseFormat(raw json.RawMessage) (*driver.ResponseFormat, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict"`
		} `json:"json_schema"`
	}
	if err := decodeField(raw, "response_format", &rf); err != nil {
		return nil, err
	}
	f := &driver.ResponseFormat{Type: rf.Type}
	switch rf.Type {
	case driver.FormatText, driver.FormatJSONObject:
	case driver.FormatJSONSchema:
		if rf.JSONSchema == nil || rf.JSONSchema.Name == "" {
			return nil, invalidParam("response_format.json_schema.name", "required")
		}
		f.Name, f.Schema = rf.JSONSchema.Name, rf.JSONSchema.Schema
		f.Strict = rf.JSONSchema.Strict != nil && *rf.JSONSchema.Strict
	default:
		return nil, invalidParam("response_format.type", "want text, json_object or json_schema, got %q", rf.Type)
	}
	return f, nil
}

// decodeStop reads stop: a string or up to 4 strings.
func decodeStop(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, invalidParam("stop", "want a string or an array of strings")
	}
	if len(many) > 4 {
		return nil, invalidParam("stop", "at most 4 stop sequences, got %d", len(many))
	}
	return many, nil
}
