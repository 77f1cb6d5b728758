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
	Text   string   // Redact: the text to use instead
}

// InputCheck is what the input guard sees.
type InputCheck struct {
	Principal sextant.Principal
	Assistant string
	Question  string            // normalised
	History   []sextant.Message // earlier turns, oldest first
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
	Question  string
	Sources   []sextant.Source
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
	// Done receive every finished result (after it was recorded), for
	// metrics, audit, cost and sampled evaluation. They run on the
	// request's goroutine and must not block: hand slow work off.
	Done []func(ctx context.Context, r *Result)
}
