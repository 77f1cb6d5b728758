// Package driver defines the contract LLM providers implement. The portable
// llm.Model (validation, routing, retries, fallback, circuit breaking, token
// accounting) is written once over these interfaces, the way database/sql is
// written over database/sql/driver; the llm/llmtest conformance suite proves
// each implementation keeps the contract.
//
// A driver translates one request into its provider's wire protocol and the
// response back into sextant values. It does not retry, fall back, or count
// tokens locally: the portable layer does that, uniformly for every provider.
// It does classify its failures (see Classify), because only the driver can
// read its provider's status codes, error bodies and Retry-After headers.
package driver

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"

	"github.com/sextant-ai/sextant"
)

// Provider streams chat completions.
//
// Stream contract, checked by llmtest.Run:
//   - The sequence yields zero or more deltas carrying non-empty Text and
//     ends with exactly one final delta whose FinishReason is set (one of
//     the sextant.Finish* values). The final delta alone carries the
//     complete ToolCalls (fragments assembled by the driver) and the Usage
//     when the provider reports it (nil otherwise; llm.Model then counts).
//   - A failure is yielded once as (zero Delta, err) and ends the sequence.
//     err is a *sextant.Error (see Classify) wrapping an *UpstreamError
//     when the provider answered, or a network or context error. A stream
//     that ends before the provider signalled completion (a dropped
//     connection) is a failure, never a silent short answer.
//   - Work starts when the sequence is ranged over, not when Stream is
//     called. Stopping the range early or cancelling ctx releases the
//     upstream connection, so the provider sees the cancellation.
//   - Stream may be called concurrently.
type Provider interface {
	Stream(ctx context.Context, req *Request) iter.Seq2[sextant.Delta, error]
}

// Embedder turns texts into vectors. One call is one upstream request:
// batching, concurrency and caching belong to llm.Embedder.
type Embedder interface {
	Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error)
}

// Reranker scores documents against a query with a hosted cross-encoder, in
// the request/response shape shared by Cohere, Jina and Hugging Face TEI
// (POST /rerank).
type Reranker interface {
	Rerank(ctx context.Context, req *RerankRequest) ([]RerankResult, error)
}

// Forwarder is implemented by drivers that can pass a request body through to
// their upstream unchanged, for the HTTP API's gateway mode. It exists because
// decoding a chat completion into sextant values and encoding it again costs
// allocations a proxy does not need; a driver that speaks the same wire
// protocol as the client can forward bytes instead.
type Forwarder interface {
	// Forward sends req to the upstream with the driver's base URL and
	// credentials and returns the upstream response unread; the caller
	// closes its Body. A non-2xx status is returned as a response, not an
	// error, so the caller can relay it; err is for failures to get any
	// response at all (classified like Stream's).
	Forward(ctx context.Context, req *ForwardRequest) (*http.Response, error)
}

// Request is one chat call. Fields a provider cannot honour are documented
// on the driver (for example Anthropic has no seed); none is silently
// reinterpreted.
type Request struct {
	Model       string            // the model id sent upstream
	Messages    []sextant.Message // the conversation, oldest first
	Temperature *float64          // nil = provider default; 0..2
	TopP        *float64          // nil = provider default; (0, 1]
	MaxTokens   int               // completion token limit; 0 = provider default
	Seed        *int64            // best-effort determinism, where supported
	Stop        []string          // stop sequences, at most 4
	Tools       []sextant.Tool    // functions the model may call
	ToolChoice  string            // "" (provider default), "auto", "none", "required", or a tool name
	Format      *ResponseFormat   // nil = free text
	User        string            // end-user id forwarded for abuse monitoring

	// Sources are the numbered sources of a retrieval-augmented request.
	// Text providers ignore them (the prompt already quotes them); the
	// extractive provider answers from them alone.
	Sources []sextant.Source
}

// Response format types.
const (
	FormatText       = "text"
	FormatJSONObject = "json_object"
	FormatJSONSchema = "json_schema"
)

// ResponseFormat constrains the shape of the model's output.
type ResponseFormat struct {
	Type   string          // FormatText, FormatJSONObject or FormatJSONSchema
	Name   string          // schema name, for FormatJSONSchema
	Schema json.RawMessage // JSON Schema, for FormatJSONSchema
	Strict bool            // ask the provider to enforce the schema exactly
}

// EmbedRequest is one upstream embeddings call.
type EmbedRequest struct {
	Model      string   // embedding model id
	Inputs     []string // texts, at least one
	Dimensions int      // requested output size; 0 = the model's native size
	User       string   // end-user id, where supported
}

// EmbedResponse holds one vector per input, in input order.
type EmbedResponse struct {
	Vectors [][]float32
	Usage   sextant.Usage // InputTokens only; Estimated when the provider reported none
}

// RerankRequest asks for documents to be scored against a query.
type RerankRequest struct {
	Model     string
	Query     string
	Documents []string
	TopN      int // results wanted; 0 = all
}

// RerankResult is one scored document, by its index in the request.
type RerankResult struct {
	Index int
	Score float64 // relevance; higher is better, provider-specific scale
}

// ForwardRequest is a request to pass through to the upstream.
type ForwardRequest struct {
	Method string      // HTTP method, e.g. POST
	Path   string      // path relative to the API root, e.g. "chat/completions" or "models"
	Header http.Header // client headers to forward (Content-Type, Accept); credentials are the driver's own
	Body   []byte      // request body, nil for none
}
