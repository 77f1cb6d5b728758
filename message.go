package sextant

import "encoding/json"

// Chat message roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role       string     // RoleSystem, RoleUser, RoleAssistant or RoleTool
	Content    string     // text content
	Name       string     // optional participant name
	ToolCalls  []ToolCall // assistant turns: tools the model asked to call
	ToolCallID string     // tool turns: the call this result answers
}

// Tool is a function the model may call.
type Tool struct {
	Name        string          // unique within a request
	Description string          // what it does, for the model
	Parameters  json.RawMessage // JSON Schema of the arguments; nil = no arguments
}

// ToolCall is one call the model asked for.
type ToolCall struct {
	ID        string // provider-assigned call id
	Name      string // the tool's name
	Arguments string // JSON-encoded arguments, as the model produced them
}

// Usage counts the tokens of one model call.
type Usage struct {
	InputTokens       int  // prompt tokens, including cached ones
	CachedInputTokens int  // prompt tokens served from the provider's cache
	OutputTokens      int  // completion tokens
	Estimated         bool // counted locally because the provider reported none
}

// Add returns the sum of u and v; the sum is estimated if either part is.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		InputTokens:       u.InputTokens + v.InputTokens,
		CachedInputTokens: u.CachedInputTokens + v.CachedInputTokens,
		OutputTokens:      u.OutputTokens + v.OutputTokens,
		Estimated:         u.Estimated || v.Estimated,
	}
}

// Finish reasons, as OpenAI names them.
const (
	FinishStop      = "stop"
	FinishLength    = "length"
	FinishToolCalls = "tool_calls"
	FinishFilter    = "content_filter"
)

// Delta is one piece of a streamed model response. A stream yields text
// deltas, then possibly tool calls, and ends with a delta whose FinishReason
// is set; Usage, when the provider reports it, arrives on the last delta.
type Delta struct {
	Text         string
	ToolCalls    []ToolCall // complete calls (drivers assemble streamed fragments)
	FinishReason string
	Usage        *Usage
}

// Source is one numbered source an answer may cite as [N].
type Source struct {
	N          int     // the citation number, from 1
	ChunkID    string  // the cited chunk
	DocumentID string  // its document
	Title      string  // document title
	URI        string  // document source URI
	Section    string  // section path for display
	Start      int     // byte offset of the chunk in the document text
	End        int     // byte offset one past its end
	Text       string  // the chunk text given to the model
	Quote      string  // the span of Text that supports the citing sentence, when known
	Score      float64 // retrieval score
}
