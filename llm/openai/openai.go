// Package openai is the llm/driver implementation for the OpenAI API and
// every server that copies it (Azure OpenAI, vLLM, Ollama, llama.cpp server,
// Groq, Together, OpenRouter, Hugging Face TEI, LocalAI), built on the
// official SDK github.com/openai/openai-go/v3.
//
// It implements driver.Provider (chat completions, streamed), driver.Embedder
// (/embeddings), driver.Reranker (/rerank in the Cohere/Jina shape, which
// vLLM, Jina and LocalAI serve) and driver.Forwarder (raw pass-through for
// the gateway).
//
// Decisions:
//   - The SDK's own retries are disabled (MaxRetries 0). llm.Model retries
//     every provider the same way, with jitter, honouring Retry-After, never
//     after output has reached the caller, and with a circuit breaker that
//     must see every failure; SDK retries underneath would multiply attempts
//     and hide failures from the breaker.
//   - The client never reads OPENAI_* environment variables: the SDK's
//     per-service constructors are used instead of openai.NewClient, so
//     configuration comes only from Options (the cmd package owns the
//     environment).
//   - Forward does not go through the SDK: a proxy must not decode and
//     re-encode bodies, so it sends the bytes with the same base URL,
//     credentials and HTTP client, and returns the upstream response unread.
package openai

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// DefaultBaseURL is OpenAI's API root.
const DefaultBaseURL = "https://api.openai.com/v1"

// Options configures a Provider. The zero value talks to OpenAI without a key.
type Options struct {
	Name    string // provider name in errors and events; "" = "openai"
	BaseURL string // API root including the version path, e.g. http://localhost:11434/v1; "" = DefaultBaseURL
	APIKey  string // sent as "Authorization: Bearer KEY"; "" = none (local servers)

	// Header and Query are added to every request: Azure OpenAI needs
	// Query {"api-version": "..."} and Header {"api-key": KEY} (leave
	// APIKey empty); OpenRouter takes HTTP-Referer and X-Title.
	Header map[string]string
	Query  map[string]string

	// HTTPClient carries the requests; nil = a client with a 10 s dial and
	// TLS handshake timeout and no overall timeout (streams are long; the
	// portable layer bounds each call through its context).
	HTTPClient *http.Client

	// LegacyMaxTokens sends max_tokens instead of max_completion_tokens,
	// for older servers that know only the former. OpenAI's reasoning
	// models refuse max_tokens.
	LegacyMaxTokens bool

	// NoStream makes chat calls without streaming (one JSON response,
	// replayed as deltas), for servers whose streaming is broken for tool
	// calls. Time to first token then equals the whole generation.
	NoStream bool

	// NoStreamUsage omits stream_options.include_usage, for servers that
	// refuse the field; usage is then counted locally by llm.Model.
	NoStreamUsage bool

	// RerankURL is the full URL Rerank posts to; "" = BaseURL + "/rerank".
	// TEI serves rerank at the host root (http://tei:8080/rerank), outside
	// its /v1 OpenAI-compatible API.
	RerankURL string
	// RerankTEI selects TEI's native rerank shape instead of Cohere/Jina's.
	RerankTEI bool

	// EmbedBase64 asks /embeddings for base64-encoded float32 vectors: a
	// quarter fewer bytes than decimal JSON and no float parsing. Not every
	// compatible server supports it.
	EmbedBase64 bool

	Now func() time.Time // reads Retry-After dates; nil = time.Now
}

// Provider is an OpenAI-compatible driver. It is safe for concurrent use.
type Provider struct {
	opts   Options
	base   string // BaseURL with a trailing slash
	client *http.Client
	chat   oa.ChatCompletionService
	embed  oa.EmbeddingService
}

var (
	_ driver.Provider  = (*Provider)(nil)
	_ driver.Embedder  = (*Provider)(nil)
	_ driver.Reranker  = (*Provider)(nil)
	_ driver.Forwarder = (*Provider)(nil)
)

// New returns a Provider for opts, or an EINVALID error naming the bad option.
func New(opts Options) (*Provider, error) {
	if opts.Name == "" {
		opts.Name = "openai"
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sextant.Errorf(sextant.EINVALID, "provider %q: base_url %q is not an http(s) URL", opts.Name, opts.BaseURL)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	client := opts.HTTPClient
	if client == nil {
		client = defaultClient()
	}
	p := &Provider{opts: opts, base: strings.TrimRight(opts.BaseURL, "/") + "/", client: client}
	ro := []option.RequestOption{
		option.WithBaseURL(p.base),
		option.WithHTTPClient(client),
		option.WithMaxRetries(0),
	}
	if opts.APIKey != "" {
		ro = append(ro, option.WithAPIKey(opts.APIKey))
	}
	for k, v := range opts.Header {
		ro = append(ro, option.WithHeader(k, v))
	}
	for k, v := range opts.Query {
		ro = append(ro, option.WithQuery(k, v))
	}
	p.chat = oa.NewChatCompletionService(ro...)
	p.embed = oa.NewEmbeddingService(ro...)
	return p, nil
}

func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = 10 * time.Minute
	return &http.Client{Transport: t}
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.opts.Name }

// Stream implements driver.Provider with POST /chat/completions.
func (p *Provider) Stream(ctx context.Context, req *driver.Request) iter.Seq2[sextant.Delta, error] {
	return func(yield func(sextant.Delta, error) bool) {
		params, err := p.params(req)
		if err != nil {
			yield(sextant.Delta{}, err)
			return
		}
		if p.opts.NoStream {
			p.complete(ctx, params, yield)
			return
		}
		if !p.opts.NoStreamUsage {
			params.StreamOptions = oa.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
		}
		s := p.chat.NewStreaming(ctx, params)
		defer s.Close()

		var (
			final    sextant.Delta
			finished bool
			calls    toolCalls
		)
		for s.Next() {
			chunk := s.Current()
			if chunk.JSON.Usage.Valid() {
				final.Usage = usage(chunk.Usage)
			}
			for _, c := range chunk.Choices {
				if c.Index != 0 {
					continue
				}
				text := c.Delta.Content
				if c.Delta.Refusal != "" {
					text += c.Delta.Refusal
					final.FinishReason = sextant.FinishFilter
				}
				if text != "" {
					if !yield(sextant.Delta{Text: text}, nil) {
						return
					}
				}
				for _, tc := range c.Delta.ToolCalls {
					calls.add(int(tc.Index), tc.ID, tc.Function.Name, tc.Function.Arguments)
				}
				if c.FinishReason != "" {
					finished = true
					if final.FinishReason == "" {
						final.FinishReason = finishReason(c.FinishReason)
					}
				}
			}
		}
		if err := s.Err(); err != nil {
			yield(sextant.Delta{}, p.classify(ctx, err))
			return
		}
		if !finished {
			yield(sextant.Delta{}, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name,
				Message: "stream ended before the model finished (connection closed early)"}))
			return
		}
		final.ToolCalls = calls.done()
		yield(final, nil)
	}
}

// complete makes one non-streaming call and replays it as deltas.
func (p *Provider) complete(ctx context.Context, params oa.ChatCompletionNewParams, yield func(sextant.Delta, error) bool) {
	res, err := p.chat.New(ctx, params)
	if err != nil {
		yield(sextant.Delta{}, p.classify(ctx, err))
		return
	}
	if len(res.Choices) == 0 {
		yield(sextant.Delta{}, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name, Status: 502, Message: "response has no choices"}))
		return
	}
	c := res.Choices[0]
	final := sextant.Delta{FinishReason: finishReason(c.FinishReason)}
	text := c.Message.Content
	if c.Message.Refusal != "" {
		text += c.Message.Refusal
		final.FinishReason = sextant.FinishFilter
	}
	if text != "" && !yield(sextant.Delta{Text: text}, nil) {
		return
	}
	for _, tc := range c.Message.ToolCalls {
		final.ToolCalls = append(final.ToolCalls, sextant.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	if res.JSON.Usage.Valid() {
		final.Usage = usage(res.Usage)
	}
	if final.FinishReason == "" {
		final.FinishReason = sextant.FinishStop
	}
	yield(final, nil)
}

// params translates a driver request into SDK parameters.
func (p *Provider) params(req *driver.Request) (oa.ChatCompletionNewParams, error) {
	var params oa.ChatCompletionNewParams
	params.Model = shared.ChatModel(req.Model)
	params.Messages = make([]oa.ChatCompletionMessageParamUnion, 0, len(req.Messages))
	for _, m := range req.Messages {
		switch m.Role {
		case sextant.RoleSystem:
			sm := oa.ChatCompletionSystemMessageParam{}
			sm.Content.OfString = param.NewOpt(m.Content)
			if m.Name != "" {
				sm.Name = param.NewOpt(m.Name)
			}
			params.Messages = append(params.Messages, oa.ChatCompletionMessageParamUnion{OfSystem: &sm})
		case sextant.RoleUser:
			um := oa.ChatCompletionUserMessageParam{}
			um.Content.OfString = param.NewOpt(m.Content)
			if m.Name != "" {
				um.Name = param.NewOpt(m.Name)
			}
			params.Messages = append(params.Messages, oa.ChatCompletionMessageParamUnion{OfUser: &um})
		case sextant.RoleAssistant:
			am := oa.ChatCompletionAssistantMessageParam{}
			if m.Content != "" || len(m.ToolCalls) == 0 {
				am.Content.OfString = param.NewOpt(m.Content)
			}
			if m.Name != "" {
				am.Name = param.NewOpt(m.Name)
			}
			for _, c := range m.ToolCalls {
				args := c.Arguments
				if args == "" {
					args = "{}"
				}
				am.ToolCalls = append(am.ToolCalls, oa.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &oa.ChatCompletionMessageFunctionToolCallParam{
						ID:       c.ID,
						Function: oa.ChatCompletionMessageFunctionToolCallFunctionParam{Name: c.Name, Arguments: args},
					},
				})
			}
			params.Messages = append(params.Messages, oa.ChatCompletionMessageParamUnion{OfAssistant: &am})
		case sextant.RoleTool:
			params.Messages = append(params.Messages, oa.ToolMessage(m.Content, m.ToolCallID))
		default:
			return params, sextant.Errorf(sextant.EINVALID, "unknown message role %q", m.Role)
		}
	}
	if req.Temperature != nil {
		params.Temperature = param.NewOpt(*req.Temperature)
	}
	if req.TopP != nil {
		params.TopP = param.NewOpt(*req.TopP)
	}
	if req.MaxTokens > 0 {
		if p.opts.LegacyMaxTokens {
			params.MaxTokens = param.NewOpt(int64(req.MaxTokens))
		} else {
			params.MaxCompletionTokens = param.NewOpt(int64(req.MaxTokens))
		}
	}
	if req.Seed != nil {
		params.Seed = param.NewOpt(*req.Seed)
	}
	if len(req.Stop) > 0 {
		params.Stop.OfStringArray = req.Stop
	}
	if req.User != "" {
		params.User = param.NewOpt(req.User)
	}
	for i, t := range req.Tools {
		fd := shared.FunctionDefinitionParam{Name: t.Name}
		if t.Description != "" {
			fd.Description = param.NewOpt(t.Description)
		}
		if len(t.Parameters) > 0 {
			var schema map[string]any
			if err := json.Unmarshal(t.Parameters, &schema); err != nil {
				return params, sextant.Errorf(sextant.EINVALID, "tools[%d].parameters: %v", i, err)
			}
			fd.Parameters = schema
		}
		params.Tools = append(params.Tools, oa.ChatCompletionFunctionTool(fd))
	}
	switch req.ToolChoice {
	case "":
	case "auto", "none", "required":
		params.ToolChoice.OfAuto = param.NewOpt(req.ToolChoice)
	default:
		params.ToolChoice = oa.ToolChoiceOptionFunctionToolChoice(oa.ChatCompletionNamedToolChoiceFunctionParam{Name: req.ToolChoice})
	}
	if f := req.Format; f != nil {
		switch f.Type {
		case driver.FormatText:
			params.ResponseFormat.OfText = &shared.ResponseFormatTextParam{}
		case driver.FormatJSONObject:
			params.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
		case driver.FormatJSONSchema:
			js := shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: f.Name, Schema: f.Schema}
			if f.Strict {
				js.Strict = param.NewOpt(true)
			}
			params.ResponseFormat.OfJSONSchema = &shared.ResponseFormatJSONSchemaParam{JSONSchema: js}
		}
	}
	return params, nil
}

func usage(u oa.CompletionUsage) *sextant.Usage {
	return &sextant.Usage{
		InputTokens:       int(u.PromptTokens),
		CachedInputTokens: int(u.PromptTokensDetails.CachedTokens),
		OutputTokens:      int(u.CompletionTokens),
	}
}

func finishReason(r string) string {
	switch r {
	case "length":
		return sextant.FinishLength
	case "tool_calls", "function_call":
		return sextant.FinishToolCalls
	case "content_filter":
		return sextant.FinishFilter
	}
	return sextant.FinishStop
}

// toolCalls assembles streamed tool-call fragments by their index.
type toolCalls struct {
	calls []sextant.ToolCall
	args  []strings.Builder
}

func (t *toolCalls) add(index int, id, name, args string) {
	if index < 0 || index > 1024 {
		return
	}
	for len(t.calls) <= index {
		t.calls = append(t.calls, sextant.ToolCall{})
		t.args = append(t.args, strings.Builder{})
	}
	if id != "" {
		t.calls[index].ID = id
	}
	if name != "" {
		t.calls[index].Name += name
	}
	t.args[index].WriteString(args)
}

func (t *toolCalls) done() []sextant.ToolCall {
	var out []sextant.ToolCall
	for i, c := range t.calls {
		if c.Name == "" && c.ID == "" {
			continue
		}
		c.Arguments = t.args[i].String()
		out = append(out, c)
	}
	return out
}

// classify maps an SDK error to a *sextant.Error, keeping Retry-After.
func (p *Provider) classify(ctx context.Context, err error) error {
	var apiErr *oa.Error
	if errors.As(err, &apiErr) {
		ue := &driver.UpstreamError{Provider: p.opts.Name, Status: apiErr.StatusCode, Message: apiErr.Message, Type: apiErr.Code}
		if ue.Type == "" {
			ue.Type = apiErr.Type
		}
		if apiErr.Response != nil {
			ue.RetryAfter, _ = driver.ParseRetryAfter(apiErr.Response.Header, p.opts.Now())
			if ue.Message == "" {
				ue.Message = http.StatusText(apiErr.StatusCode)
			}
		}
		return driver.Classify(ue)
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		return p.streamError(se.Event.Data, se.Message)
	}
	return driver.Transport(ctx, p.opts.Name, err)
}

// streamError classifies an error object delivered inside an SSE stream
// (the HTTP status was already 200, so the type decides).
func (p *Provider) streamError(data []byte, fallback string) error {
	var body struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	ue := &driver.UpstreamError{Provider: p.opts.Name, Message: fallback}
	if json.Unmarshal(data, &body) == nil {
		ue.Message, ue.Type = body.Error.Message, body.Error.Type
		if code, ok := body.Error.Code.(string); ok && code != "" {
			ue.Type = code
		}
	}
	switch ue.Type {
	case "invalid_request_error", "invalid_prompt", "context_length_exceeded":
		ue.Status = http.StatusBadRequest
	case "rate_limit_exceeded", "requests", "tokens", "insufficient_quota":
		ue.Status = http.StatusTooManyRequests
	default:
		ue.Status = http.StatusInternalServerError
	}
	e := driver.Classify(ue)
	e.Message = fmt.Sprintf("%s: error in stream: %s", p.opts.Name, ue.Message)
	return e
}

// Embed implements driver.Embedder with POST /embeddings.
func (p *Provider) Embed(ctx context.Context, req *driver.EmbedRequest) (*driver.EmbedResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	params := oa.EmbeddingNewParams{
		Model: oa.EmbeddingModel(req.Model),
		Input: oa.EmbeddingNewParamsInputUnion{OfArrayOfStrings: req.Inputs},
	}
	if req.Dimensions > 0 {
		params.Dimensions = param.NewOpt(int64(req.Dimensions))
	}
	if req.User != "" {
		params.User = param.NewOpt(req.User)
	}
	params.EncodingFormat = oa.EmbeddingNewParamsEncodingFormatFloat
	if p.opts.EmbedBase64 {
		params.EncodingFormat = oa.EmbeddingNewParamsEncodingFormatBase64
	}
	res, err := p.embed.New(ctx, params)
	if err != nil {
		return nil, p.classify(ctx, err)
	}
	if len(res.Data) != len(req.Inputs) {
		return nil, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name, Status: 502,
			Message: fmt.Sprintf("embeddings response has %d vectors for %d inputs", len(res.Data), len(req.Inputs))})
	}
	out := &driver.EmbedResponse{Vectors: make([][]float32, len(req.Inputs))}
	dims := -1
	for _, d := range res.Data {
		i := int(d.Index)
		if i < 0 || i >= len(out.Vectors) || out.Vectors[i] != nil {
			return nil, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name, Status: 502,
				Message: fmt.Sprintf("embeddings response has a bad or repeated index %d", d.Index)})
		}
		if dims >= 0 && len(d.Embedding) != dims || len(d.Embedding) == 0 {
			return nil, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name, Status: 502,
				Message: fmt.Sprintf("embeddings response mixes vector sizes (%d and %d)", dims, len(d.Embedding))})
		}
		dims = len(d.Embedding)
		v := make([]float32, dims)
		for j, x := range d.Embedding {
			v[j] = float32(x)
		}
		out.Vectors[i] = v
	}
	if req.Dimensions > 0 && dims != req.Dimensions {
		return nil, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name, Status: 502,
			Message: fmt.Sprintf("asked for %d dimensions, got %d (does model %q support the dimensions parameter?)", req.Dimensions, dims, req.Model)})
	}
	if res.JSON.Usage.Valid() {
		out.Usage.InputTokens = int(res.Usage.PromptTokens)
	} else {
		out.Usage.Estimated = true
	}
	return out, nil
}

// Rerank implements driver.Reranker. By default it posts the Cohere/Jina
// shape ({model, query, documents, top_n} → {results: [{index,
// relevance_score}]}) to BaseURL + "/rerank", as Cohere, Jina, vLLM and
// LocalAI serve it; with RerankTEI it posts Hugging Face TEI's native shape
// ({query, texts} → [{index, score}]) and applies top_n locally. The SDK
// covers neither, so this is plain HTTP with the provider's credentials.
func (p *Provider) Rerank(ctx context.Context, req *driver.RerankRequest) ([]driver.RerankResult, error) {
	if req.Query == "" || len(req.Documents) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "rerank: query and documents are required")
	}
	var body map[string]any
	if p.opts.RerankTEI {
		body = map[string]any{"query": req.Query, "texts": req.Documents, "truncate": true}
	} else {
		body = map[string]any{"model": req.Model, "query": req.Query, "documents": req.Documents, "return_documents": false}
		if req.TopN > 0 {
			body["top_n"] = req.TopN
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINTERNAL, "rerank: %w", err)
	}
	u := p.opts.RerankURL
	if u == "" {
		u = p.base + "rerank"
	}
	res, err := p.send(ctx, http.MethodPost, u, b, http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if err := p.statusError(res); err != nil {
		return nil, err
	}
	type result struct {
		Index          int      `json:"index"`
		RelevanceScore *float64 `json:"relevance_score"`
		Score          *float64 `json:"score"`
	}
	var out struct {
		Results []result `json:"results"`
	}
	dec := json.NewDecoder(io.LimitReader(res.Body, 64<<20))
	if p.opts.RerankTEI {
		err = dec.Decode(&out.Results)
	} else {
		err = dec.Decode(&out)
	}
	if err != nil {
		return nil, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name, Status: 502, Message: "undecodable rerank response", Err: err})
	}
	results := make([]driver.RerankResult, 0, len(out.Results))
	for _, r := range out.Results {
		if r.Index < 0 || r.Index >= len(req.Documents) {
			return nil, driver.Classify(&driver.UpstreamError{Provider: p.opts.Name, Status: 502, Message: fmt.Sprintf("rerank result index %d out of range", r.Index)})
		}
		score := 0.0
		switch {
		case r.RelevanceScore != nil:
			score = *r.RelevanceScore
		case r.Score != nil:
			score = *r.Score
		}
		results = append(results, driver.RerankResult{Index: r.Index, Score: score})
	}
	slices.SortStableFunc(results, func(a, b driver.RerankResult) int { return cmp.Compare(b.Score, a.Score) })
	if req.TopN > 0 && len(results) > req.TopN {
		results = results[:req.TopN]
	}
	return results, nil
}

// statusError turns a non-2xx response into a classified error, reading the
// OpenAI error body when there is one.
func (p *Provider) statusError(res *http.Response) error {
	if res.StatusCode < 300 {
		return nil
	}
	var body struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	buf := new(bytes.Buffer)
	_, _ = buf.ReadFrom(io.LimitReader(res.Body, 1<<20))
	ue := &driver.UpstreamError{Provider: p.opts.Name, Status: res.StatusCode}
	if json.Unmarshal(buf.Bytes(), &body) == nil {
		ue.Message, ue.Type = body.Error.Message, body.Error.Type
		if c, ok := body.Error.Code.(string); ok && c != "" {
			ue.Type = c
		}
	}
	ue.RetryAfter, _ = driver.ParseRetryAfter(res.Header, p.opts.Now())
	return driver.Classify(ue)
}

// hopHeaders are not forwarded: they describe one connection, or carry the
// client's credentials, which are replaced by the provider's.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Authorization": true, "Api-Key": true,
	"Content-Length": true, "Host": true, "Cookie": true,
}

// Forward implements driver.Forwarder: req.Body goes to BaseURL + req.Path
// with the provider's credentials, unchanged.
func (p *Provider) Forward(ctx context.Context, req *driver.ForwardRequest) (*http.Response, error) {
	path := strings.TrimLeft(req.Path, "/")
	if path == "" || strings.Contains(path, "..") || strings.Contains(path, "://") {
		return nil, sextant.Errorf(sextant.EINVALID, "forward: bad path %q", req.Path)
	}
	u := p.base + path
	if len(p.opts.Query) > 0 {
		q := url.Values{}
		for k, v := range p.opts.Query {
			q.Set(k, v)
		}
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + q.Encode()
	}
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	return p.send(ctx, method, u, req.Body, req.Header)
}

// send makes one plain HTTP request with the provider's credentials and
// extra headers; client headers that describe the hop or carry the
// client's own credentials are dropped.
func (p *Provider) send(ctx context.Context, method, u string, b []byte, h http.Header) (*http.Response, error) {
	var body io.Reader
	if b != nil {
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: %v", p.opts.Name, err)
	}
	for k, vs := range h {
		if !hopHeaders[http.CanonicalHeaderKey(k)] {
			hr.Header[k] = vs
		}
	}
	if p.opts.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+p.opts.APIKey)
	}
	for k, v := range p.opts.Header {
		hr.Header.Set(k, v)
	}
	res, err := p.client.Do(hr)
	if err != nil {
		return nil, driver.Transport(ctx, p.opts.Name, err)
	}
	return res, nil
}
