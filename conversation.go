package sextant

// Conversation is what a chat request gave the model besides its question,
// kept with the answer so the answer can be replayed: the caller's whole
// message list (system instructions, earlier turns, the question, the tool
// calls and tool results after it), the tools offered and the tool choice,
// and the tool calls the answer asked for. Its text follows the rule of the
// answer's Question: stored as the model was given it (personal data the
// guard replaced stays replaced).
type Conversation struct {
	Messages   []Message  // as the caller sent them, in order; empty for a stored session's turn
	Tools      []Tool     // tools the model could call
	ToolChoice string     // "", "auto", "none", "required" or a tool's name
	ToolCalls  []ToolCall // the calls the answer asked for (finish reason tool_calls)
}
