package rag

import (
	"context"

	"github.com/sextant-ai/sextant"
)

// Action is a guard's decision.
type Action int

const (
	Allow  Action = iota // pass unchanged
	Block                // refuse: the question is not answered, or the answer not shown
	Redact               // pass Verdict.Text instead of the original
)

func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Block:
		return "block"
	case Redact:
		return "redact"
	}
	return "unknown"
}

// Verdict is a guard's decision with its reason.
type Verdict struct {
	Action Action
	Reason string   // for people and the audit log; required for Block
	Labels []string // what was found, e.g. "injection", "pii:email"
	Rule   string   // the policy rule that decided, when one did (for the audit record)
	Text   string   // Redact: the text to use instead

	// An input Redact verdict may also rewrite the rest of what the model
	// will see (personal data replaced by placeholders): History and
	// Trailing replace the earlier turns and the tool turns when not nil,
	// System the request's own system instructions when not empty.
	History, Trailing []sextant.Message
	System            string
	// NoCache keeps the answer out of the response cache, looked up and
	// stored: the guard sets it when the answer will carry the caller's
	// own personal data (restored from placeholders).
	NoCache bool
	// Approval is set when the request was held for a person's approval
	// (a Block whose reason says so); see Result.Approvals.
	Approval *sextant.Approval
}

// InputCheck is what the input guard sees.
type InputCheck struct {
	Principal sextant.Principal
	Assistant string
	Model     string            // the assistant's model
	SessionID string            // the conversation continued; "" for a new one or a stateless request
	Question  string            // normalised
	History   []sextant.Message // earlier turns, oldest first
	System    string            // the request's own system instructions (chat API); "" = none
	Trailing  []sextant.Message // tool calls and results after the question (chat API)
	Tools     []sextant.Tool    // tools the request offers the model
	Spent     sextant.Usage     // tokens of the conversation's earlier stored turns
}

// ChunkCheck is what the chunk guard sees: the retrieved chunks before
// they reach the prompt.
type ChunkCheck struct {
	Principal sextant.Principal
	Assistant string
	Question  string
	Hits      []sextant.Hit
}

// OutputCheck is what the output guard sees when an answer starts.
type OutputCheck struct {
	Principal sextant.Principal
	Assistant string
	Model     string
	Question  string
	Sources   []sextant.Source
	System    string // the assistant's own instructions (for prompt-leak checks)
}

// ToolCheck is what the tool guard sees when the model asks for tools.
type ToolCheck struct {
	Principal sextant.Principal
	Assistant string
	Model     string
	SessionID string
	AnswerID  string
	Question  string
	Calls     []sextant.ToolCall // the calls the model asked for
	Trailing  []sextant.Message  // the tool turns of this task so far (calls already made)
	Usage     sextant.Usage      // this generation's tokens
}

// ToolVerdict is the tool guard's decision on the calls of one answer.
type ToolVerdict struct {
	// Calls are the calls handed to the caller (Result.ToolCalls); calls
	// left out were blocked or are waiting for approval.
	Calls []sextant.ToolCall
	// Approvals are the calls parked for a person's decision.
	Approvals []sextant.Approval
	// Verdict explains what was held back: Block when any call was
	// blocked, with Reason for the caller (it becomes the answer's text
	// when no call is handed over and the model wrote none).
	Verdict Verdict
}

// OutputFilter screens one answer as it streams. Write takes the next
// piece of generated text and returns the text that may be shown now: the
// same, redacted, or less (held back until more text decides). Close
// returns what was held back and the verdict on the whole answer. A filter
// that may block an answer must hold back what it is not yet sure of;
// text already returned has been shown.
type OutputFilter interface {
	Write(piece string) (string, error)
	Close() (rest string, v Verdict, err error)
}

// Hooks are the extension points later capabilities (guardrails,
// re-ranking, metrics, audit, evaluation) plug into. Each may be nil.
type Hooks struct {
	// Begin runs first for every request and returns the context every
	// other hook of that request receives (Done hooks included): the place
	// for per-request state, such as a conversation's de-identification
	// vault. It must not block.
	Begin func(ctx context.Context, req *Request) context.Context
	// Input decides on the question before retrieval. Block refuses it
	// (Result.Refusal "input: <reason>", FinishReason content_filter);
	// Redact replaces the question.
	Input func(ctx context.Context, in InputCheck) (Verdict, error)
	// Chunks screens retrieved chunks (indirect prompt injection, secrets):
	// it returns the hits to keep, possibly with redacted Chunk.Text.
	Chunks func(ctx context.Context, in ChunkCheck) ([]sextant.Hit, error)
	// Rerank reorders (and may cut) the retrieved hits for query.
	Rerank func(ctx context.Context, query string, hits []sextant.Hit) ([]sextant.Hit, error)
	// Output returns a filter for one answer's text.
	Output func(ctx context.Context, in OutputCheck) OutputFilter
	// Tools screens the tool calls the model asked for before they are
	// handed to the caller: it may block calls or park them for approval.
	Tools func(ctx context.Context, in ToolCheck) (ToolVerdict, error)
	// Record rewrites the copy of a finished answer that is stored and
	// handed to the Done hooks (the live Result is not changed): the guard
	// puts placeholders back in place of the caller's personal data, so
	// nothing kept after the response holds raw values. a's slices are
	// shared with the live Result: replace them, never write into them.
	Record func(ctx context.Context, a *sextant.Answer)
	// Done receive every finished result (after it was recorded, as
	// Record rewrote it), for metrics, audit, cost and sampled evaluation.
	// They run on the request's goroutine and must not block: hand slow
	// work off.
	Done []func(ctx context.Context, r *Result)
}
