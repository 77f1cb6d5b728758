package web

import (
	"encoding/json"

	"github.com/sextant-ai/sextant"
)

// Conversation is the JSON form of the chat request a stored answer
// replied to (sextant.Conversation), in the chat completions API's shapes:
// the caller's messages as sent (system instructions, earlier turns, the
// question, tool calls and tool results), the tools offered, the tool
// choice, and the tool calls the answer asked for.
type Conversation struct {
	Messages   []ConversationMessage `json:"messages"`
	Tools      []ConversationTool    `json:"tools"`
	ToolChoice string                `json:"tool_choice,omitempty"` // "auto", "none", "required" or a tool's name
	ToolCalls  []chatToolCall        `json:"tool_calls"`
}

// ConversationMessage is one message of a recorded conversation.
type ConversationMessage struct {
	Role       string         `json:"role"`
	Content    string         `json:"content"`
	Name       string         `json:"name,omitempty"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

// ConversationTool is a tool a recorded request offered the model.
type ConversationTool struct {
	Type     string `json:"type"` // "function"
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	} `json:"function"`
}

// conversationJSON is c's JSON form; nil for none.
func conversationJSON(c *sextant.Conversation) *Conversation {
	if c == nil {
		return nil
	}
	out := &Conversation{Messages: []ConversationMessage{}, Tools: []ConversationTool{}, ToolChoice: c.ToolChoice,
		ToolCalls: toolCallsJSON(c.ToolCalls, false)}
	if out.ToolCalls == nil {
		out.ToolCalls = []chatToolCall{}
	}
	for _, m := range c.Messages {
		out.Messages = append(out.Messages, ConversationMessage{Role: m.Role, Content: m.Content, Name: m.Name,
			ToolCalls: toolCallsJSON(m.ToolCalls, false), ToolCallID: m.ToolCallID})
	}
	for _, t := range c.Tools {
		ct := ConversationTool{Type: "function"}
		ct.Function.Name, ct.Function.Description = t.Name, t.Description
		switch {
		case len(t.Parameters) == 0:
		case json.Valid(t.Parameters):
			ct.Function.Parameters = t.Parameters
		default:
			// Not JSON (a library caller's tool): shown as the string
			// it is rather than failing the whole answer.
			ct.Function.Parameters, _ = json.Marshal(string(t.Parameters))
		}
		out.Tools = append(out.Tools, ct)
	}
	return out
}
