package driver

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
)

// Limits enforced by Validate. They are the strictest common limits of the
// supported providers, so a request that validates is not refused upstream
// for its shape.
const (
	MaxStop         = 4  // stop sequences (OpenAI's limit)
	MaxToolNameLen  = 64 // tool name length (OpenAI and Anthropic)
	MaxMessages     = 100_000
	MaxInputsPerReq = 2048 // embedding inputs per upstream call (OpenAI's limit)
)

// Validate reports the first thing wrong with r as an EINVALID *sextant.Error
// whose message names the field, e.g. `messages[2].role: unknown role "bot"`.
func (r *Request) Validate() error {
	if r.Model == "" {
		return invalid("model: required")
	}
	if len(r.Messages) == 0 {
		return invalid("messages: at least one message is required")
	}
	if len(r.Messages) > MaxMessages {
		return invalid("messages: %d messages, at most %d allowed", len(r.Messages), MaxMessages)
	}
	calls := map[string]bool{}
	for i := range r.Messages {
		m := &r.Messages[i]
		if !utf8.ValidString(m.Content) {
			return invalid("messages[%d].content: not valid UTF-8", i)
		}
		switch m.Role {
		case sextant.RoleSystem, sextant.RoleUser:
			if len(m.ToolCalls) > 0 {
				return invalid("messages[%d].tool_calls: only assistant messages carry tool calls", i)
			}
		case sextant.RoleAssistant:
			for j, c := range m.ToolCalls {
				switch {
				case c.ID == "":
					return invalid("messages[%d].tool_calls[%d].id: required", i, j)
				case c.Name == "":
					return invalid("messages[%d].tool_calls[%d].name: required", i, j)
				case c.Arguments != "" && !json.Valid([]byte(c.Arguments)):
					return invalid("messages[%d].tool_calls[%d].arguments: not valid JSON", i, j)
				}
				calls[c.ID] = true
			}
		case sextant.RoleTool:
			if m.ToolCallID == "" {
				return invalid("messages[%d].tool_call_id: required on tool messages", i)
			}
			if !calls[m.ToolCallID] {
				return invalid("messages[%d].tool_call_id: %q answers no earlier assistant tool call", i, m.ToolCallID)
			}
		case "":
			return invalid("messages[%d].role: required", i)
		default:
			return invalid("messages[%d].role: unknown role %q (want system, user, assistant or tool)", i, m.Role)
		}
	}
	if t := r.Temperature; t != nil && (*t < 0 || *t > 2 || *t != *t) {
		return invalid("temperature: %v is outside [0, 2]", *t)
	}
	if p := r.TopP; p != nil && (*p <= 0 || *p > 1 || *p != *p) {
		return invalid("top_p: %v is outside (0, 1]", *p)
	}
	if r.MaxTokens < 0 {
		return invalid("max_tokens: %d is negative", r.MaxTokens)
	}
	if len(r.Stop) > MaxStop {
		return invalid("stop: %d sequences, at most %d allowed", len(r.Stop), MaxStop)
	}
	for i, s := range r.Stop {
		if s == "" {
			return invalid("stop[%d]: empty stop sequence", i)
		}
	}
	names := make(map[string]bool, len(r.Tools))
	for i, t := range r.Tools {
		if !validToolName(t.Name) {
			return invalid("tools[%d].name: %q must be 1 to %d letters, digits, '_' or '-'", i, t.Name, MaxToolNameLen)
		}
		if names[t.Name] {
			return invalid("tools[%d].name: duplicate tool %q", i, t.Name)
		}
		names[t.Name] = true
		if len(t.Parameters) > 0 {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(t.Parameters, &obj); err != nil {
				return invalid("tools[%d].parameters: not a JSON object (a JSON Schema): %v", i, err)
			}
		}
	}
	switch r.ToolChoice {
	case "", "auto", "none":
	case "required":
		if len(r.Tools) == 0 {
			return invalid("tool_choice: %q but no tools are given", r.ToolChoice)
		}
	default:
		if !names[r.ToolChoice] {
			return invalid("tool_choice: %q is not one of the request's tools", r.ToolChoice)
		}
	}
	if f := r.Format; f != nil {
		switch f.Type {
		case FormatText, FormatJSONObject:
		case FormatJSONSchema:
			if f.Name == "" {
				return invalid("response_format.json_schema.name: required")
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(f.Schema, &obj); err != nil {
				return invalid("response_format.json_schema.schema: not a JSON object: %v", err)
			}
		default:
			return invalid("response_format.type: unknown type %q (want text, json_object or json_schema)", f.Type)
		}
	}
	return nil
}

// Validate reports the first thing wrong with r as an EINVALID error.
func (r *EmbedRequest) Validate() error {
	switch {
	case r.Model == "":
		return invalid("model: required")
	case len(r.Inputs) == 0:
		return invalid("input: at least one text is required")
	case len(r.Inputs) > MaxInputsPerReq:
		return invalid("input: %d texts in one call, at most %d allowed", len(r.Inputs), MaxInputsPerReq)
	case r.Dimensions < 0:
		return invalid("dimensions: %d is negative", r.Dimensions)
	}
	for i, s := range r.Inputs {
		if s == "" {
			return invalid("input[%d]: empty text", i)
		}
		if !utf8.ValidString(s) {
			return invalid("input[%d]: not valid UTF-8", i)
		}
	}
	return nil
}

func validToolName(s string) bool {
	if len(s) == 0 || len(s) > MaxToolNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func invalid(format string, args ...any) error {
	return sextant.Errorf(sextant.EINVALID, format, args...)
}
