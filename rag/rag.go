// Package rag is Sextant's answer pipeline: a question comes in, an answer
// goes out in which every sentence is cited and every citation is checked.
//
// The stages run in order and each records its duration:
//
//	normalize  NFC, whitespace, the conversation so far (stored session or
//	           the request's messages), a standalone retrieval query for
//	           follow-ups (rewritten by a model or by a heuristic)
//	guard      Hooks.Input: allow, block (refuse) or redact the question
//	retrieve   Retriever.Search with the assistant's collections and filters
//	           and the caller's tenant and groups (ACL); Hooks.Chunks may
//	           drop or redact retrieved chunks (indirect prompt injection)
//	rerank     Hooks.Rerank, when set
//	cache      the response cache (exact, then semantic), when set
//	compose    the prompt template with numbered sources and the question,
//	           fitted to the model's context window minus the answer's
//	           max tokens: the lowest-ranked sources are trimmed first, by
//	           whole sentences, then dropped
//	generate   the Generator (llm.Model), streamed
//	cite       [n] markers mapped to sources (bad ones dropped or flagged),
//	           each sentence checked against its cited sources, the best
//	           supporting span quoted with its byte offsets
//	output     Hooks.Output filters the streamed text
//	record     the answer stored (Store), cached (Cache), and handed to
//	           Hooks.Done for metrics, audit and evaluation
//
// Pipeline.Stream yields typed events (stage timings, the numbered sources,
// text deltas, the final Result); Pipeline.Ask returns the Result alone;
// Pipeline.Replay answers a recorded question again from its record.
// The package declares the small interfaces it consumes (Retriever,
// Generator, Store, Cache): *search.Index, *llm.Model and *sqlite.DB
// satisfy them, and tests use fakes.
package rag

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/search"
)

// Retriever finds the chunks that may answer a query, with the query's
// filter applied inside the search. *search.Index satisfies it.
type Retriever interface {
	Search(ctx context.Context, q sextant.Query) ([]sextant.Hit, error)
}

// Generator streams a model's answer and reports which target served it.
// *llm.Model satisfies it; see llm.Model.StreamCall for the contract.
type Generator interface {
	StreamCall(ctx context.Context, req *llm.Request, call *llm.Call) iter.Seq2[sextant.Delta, error]
}

// Store keeps answered questions; the answers of one session are its
// conversation. *sqlite.DB satisfies it.
type Store interface {
	// PutAnswer stores a new answer. Its (SessionID, Turn) is unique: a
	// second answer for the same turn is refused with ECONFLICT.
	PutAnswer(ctx context.Context, a *sextant.Answer) error
	// Answer returns the answer with id, or an ENOTFOUND error.
	Answer(ctx context.Context, id string) (*sextant.Answer, error)
	// SessionAnswers returns the last n answers of a session, oldest
	// first (none for an unknown session).
	SessionAnswers(ctx context.Context, sessionID string, n int) ([]sextant.Answer, error)
}

// SupportFunc rates how well passage supports claim, in [0, 1], and
// returns the byte span of passage that supports it best. question, when
// not empty, is what was asked: words the claim merely repeats from it
// weigh less.
type SupportFunc func(claim, question, passage string) (score float64, start, end int)

// Defaults of Options and Assistant fields left zero.
const (
	DefaultAssistant     = "sextant" // the built-in assistant's name
	DefaultTopK          = 8         // chunks retrieved per question
	DefaultMaxTokens     = 512       // answer tokens reserved in the context window
	DefaultContextWindow = 8192      // tokens, for models whose window is not configured
	DefaultHistory       = 6         // previous turns given to the model
	DefaultSupport       = 0.5       // support score a sentence needs to count as supported
	MaxQuestionBytes     = 32 << 10  // longest question accepted
)

// Options configures a Pipeline. Retriever, Model and at least one
// Assistant are required; every other zero value has the documented
// default.
type Options struct {
	Retriever Retriever
	Model     Generator
	// Counter counts prompt tokens when the context window is tight; nil
	// means a new llm.Counter.
	Counter *llm.Counter
	// Analyzer splits text into terms for the support check and the
	// follow-up heuristic; nil means search.NewAnalyzer with defaults.
	Analyzer *search.Analyzer

	// Assistants are the configured assistants; names must be unique.
	Assistants []Assistant
	// DefaultAssistant answers requests that name none; "" means the
	// first of Assistants.
	DefaultAssistant string
	// Templates are the prompt templates; nil means the embedded defaults.
	Templates *Templates
	// Versions finds older template versions for Replay (an answer made
	// with a version neither current nor among Templates' own); nil
	// means only those. Pipeline.Configure changes the assistants and
	// templates while the pipeline runs.
	Versions VersionFunc

	// Store records answers and keeps conversations; nil records nothing
	// and sessions are unavailable (Request.Messages still work).
	Store Store
	// Cache is the response cache; nil disables caching.
	Cache Cache
	// Embed embeds questions for the semantic cache; nil means the exact
	// cache only.
	Embed sextant.EmbedFunc
	// SemanticThreshold is the cosine similarity at which a cached answer
	// to another question is reused; 0 means 0.95.
	SemanticThreshold float64

	// Support rates sentence support; nil means the built-in lexical
	// check. SupportThreshold is the score a sentence needs; 0 means
	// DefaultSupport.
	Support          SupportFunc
	SupportThreshold float64
	// FlagBadCitations keeps markers that name no source in the answer
	// text (reported with Valid false) instead of removing them.
	FlagBadCitations bool

	// History is how many previous turns of a conversation are given to
	// the model and the follow-up rewriter; 0 means DefaultHistory.
	History int

	Hooks Hooks

	Now    func() time.Time // nil = time.Now
	NewID  func() string    // answer and session ids; nil = time-ordered random ids
	Logger *slog.Logger     // nil = discard
}

// Assistant is a configured answerer: which documents it reads, how it
// prompts, and which model writes the answer.
type Assistant struct {
	Name        string // unique; what requests and the chat API's "model" name
	Description string

	Collections []string       // collections searched; empty = all
	Filter      sextant.Filter // fixed conditions every request must also meet (metadata, staleness)
	TopK        int            // chunks retrieved; 0 = DefaultTopK

	Template string // prompt template name; "" = "answer"
	System   string // extra instructions, given to the template as .System

	Model         string   // model name routed by the Generator, e.g. "extractive" or "gpt-4o-mini"
	Temperature   *float64 // nil = provider default
	Seed          *int64   // nil = none
	MaxTokens     int      // answer token limit; 0 = DefaultMaxTokens
	ContextWindow int      // the model's window in tokens; 0 = DefaultContextWindow; < 0 = unlimited

	// RewriteModel, when set, rewrites follow-up questions into standalone
	// retrieval queries with this model (template "rewrite"); "" uses the
	// heuristic (terms carried over from earlier turns, crude pronoun
	// resolution). A failed rewrite falls back to the heuristic.
	RewriteModel string
	// NoCache excludes the assistant from the response cache.
	NoCache bool
}

// Request is one question to answer.
type Request struct {
	// Principal is who asks: the tenant and groups scope retrieval (ACL),
	// and the answer records the principal's id.
	Principal sextant.Principal
	// Assistant names the assistant; "" = the default.
	Assistant string

	// Question is the new user message. Alternatively set Messages, an
	// OpenAI-style conversation whose last message is the user's
	// question: earlier user and assistant turns are the history, system
	// messages are extra instructions. Exactly one of the two is set.
	Question string
	Messages []sextant.Message
	// SessionID continues a stored conversation (it needs a Store): its
	// previous turns are the history and the answer is appended to it. An
	// unknown id starts a session with that id; "" starts a new session
	// whose id the Result reports. Ids are 1-128 characters of
	// [A-Za-z0-9_.:-]. Ignored when Messages carries history.
	SessionID string

	// Filter narrows retrieval further: its conditions are added to the
	// assistant's (both must hold).
	Filter sextant.Filter
	// K overrides the assistant's TopK when positive.
	K int

	// Overrides of the assistant's generation settings, when set.
	Temperature *float64
	MaxTokens   int
	Seed        *int64

	// Tools the model may call (chat API); a request with tools is never
	// cached and its tool calls are returned in Result.ToolCalls.
	Tools      []sextant.Tool
	ToolChoice string

	// NoCache skips the response cache for this request.
	NoCache bool
}

// Result is a finished answer: the recorded sextant.Answer plus what only
// the live response carries.
type Result struct {
	sextant.Answer
	// Citations are the markers of Text mapped to sources, in order. With
	// Options.FlagBadCitations, markers naming no source stay in Text
	// with Valid false; otherwise they were removed and only counted in
	// DroppedCitations.
	Citations        []Citation
	DroppedCitations int
	// ToolCalls are the tools the model asked to call (FinishReason
	// "tool_calls").
	ToolCalls []sextant.ToolCall
	// Input, Output and Tools are the guard verdicts (Allow when no hook
	// is set or, for Tools, when the model asked for no tools).
	Input, Output, Tools Verdict
	// Approvals are what this request left waiting for a person's
	// decision: the request itself (Input.Approval) or tool calls the
	// model asked for. The caller is told in Text; the chat API adds them
	// as an "approval" extension field.
	Approvals []sextant.Approval
	// ChunksRemoved counts retrieved chunks Hooks.Chunks dropped.
	ChunksRemoved int
	// Avoided is, for an answer served from the response cache (Cache
	// set), the usage of the generation that first produced it: what this
	// request did not pay for. Zero otherwise; Usage is zero on a hit.
	Avoided sextant.Usage
}

// Citation is one marker of an answer.
type Citation struct {
	Start, End int   // byte span of the marker in Result.Text
	Sources    []int // source numbers the marker names, ascending
	Valid      bool  // every number names a source of the answer
}

// Supported reports how many of the answer's checkable sentences are
// supported by their citations, and how many sentences there are.
func (r *Result) Supported() (supported, sentences int) {
	for _, s := range r.Sentences {
		if s.Supported {
			supported++
		}
	}
	return supported, len(r.Sentences)
}

// Overhead is the time the pipeline spent outside the models: the sum of
// all stage timings except "generate" and "rewrite".
func (r *Result) Overhead() time.Duration {
	var d time.Duration
	for _, t := range r.Timings {
		if t.Stage != StageGenerate && t.Stage != StageRewrite {
			d += t.Duration
		}
	}
	return d
}

// Stage names, as reported in Answer.Timings and stage events.
const (
	StageNormalize = "normalize"
	StageGuard     = "guard"
	StageRewrite   = "rewrite" // a model rewriting a follow-up (RewriteModel); model time
	StageRetrieve  = "retrieve"
	StageRerank    = "rerank"
	StageCache     = "cache"
	StageCompose   = "compose"
	StageGenerate  = "generate"
	StageCite      = "cite"
	StageTools     = "tools" // Hooks.Tools on the calls the model asked for
	StageOutput    = "output"
	StageRecord    = "record"
)

// EventType says what an Event carries.
type EventType string

const (
	// EventStage reports a finished stage: Event.Stage.
	EventStage EventType = "stage"
	// EventSources carries the numbered sources the answer will cite,
	// before generation starts: Event.Sources.
	EventSources EventType = "sources"
	// EventDelta carries the next piece of the answer text: Event.Text
	// (never empty). The pieces concatenate to Result.Text — unless the
	// output guard withheld the answer at its end (Result.Refusal starts
	// with "output:"), when a client must replace what it showed with
	// Result.Text.
	EventDelta EventType = "delta"
	// EventDone carries the final Result and is the last event.
	EventDone EventType = "done"
)

// Event is one item of an answer stream.
type Event struct {
	Type    EventType
	Stage   sextant.StageTiming // EventStage
	Sources []sextant.Source    // EventSources
	Text    string              // EventDelta
	Result  *Result             // EventDone
}
