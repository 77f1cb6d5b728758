package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/telemetry"
)

// chat serves POST /v1/chat/completions: an assistant's answer through the
// pipeline when the model names an assistant (or is absent), the gateway
// otherwise.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	buf, err := s.jsonBody(w, r, true) // an empty body is reported as "not a JSON object"
	if err != nil {
		writeError(w, err)
		return
	}
	body := buf.Bytes()
	model, _, err := peekModel(body)
	if err != nil {
		putBuf(buf)
		writeError(w, invalidParam("", "the body is not a JSON object (%s)", jsonSyntaxHint(body)))
		return
	}
	if s.isAssistant(model) {
		defer putBuf(buf)
		s.chatAssistant(w, r, body)
		return
	}
	if s.opts.Model != nil && s.opts.Forwardable != nil && !s.opts.Forwardable(model) {
		defer putBuf(buf)
		s.translate(w, r, model, body)
		return
	}
	// A forwarded body is not returned to the pool: the HTTP transport
	// may still hold it (a retry, or an upstream that answered before
	// reading it all).
	s.forward(w, r, "chat/completions", model, body)
}

// isAssistant reports whether model names a configured assistant; ""
// means the default assistant when a pipeline is configured.
func (s *Server) isAssistant(model string) bool {
	if s.opts.Pipeline == nil {
		return false
	}
	_, ok := s.opts.Pipeline.Assistant(model)
	return ok
}

// jsonSyntaxHint describes why body is not a JSON object, using
// encoding/json's error for its position.
func jsonSyntaxHint(body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err.Error()
	}
	return "it is a JSON value of another kind"
}

// OpenAI's chat completion shapes.
type (
	chatCompletion struct {
		ID                string       `json:"id"`
		Object            string       `json:"object"`
		Created           int64        `json:"created"`
		Model             string       `json:"model"`
		Choices           []chatChoice `json:"choices"`
		Usage             *chatUsage   `json:"usage,omitempty"`
		SystemFingerprint *string      `json:"system_fingerprint"`
		ServiceTier       string       `json:"service_tier,omitempty"`
		Sources           []Source     `json:"sources"` // Sextant extension: the [n] sources
		// Sextant extension: what waits for a person's approval (approvals.go).
		Approval *ApprovalStatus `json:"approval,omitempty"`
	}
	chatChoice struct {
		Index        int             `json:"index"`
		Message      chatOutMessage  `json:"message"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	}
	chatOutMessage struct {
		Role        string         `json:"role"`
		Content     *string        `json:"content"`
		Refusal     *string        `json:"refusal"`
		ToolCalls   []chatToolCall `json:"tool_calls,omitempty"`
		Annotations []any          `json:"annotations"`
	}
	chatUsage struct {
		PromptTokens            int            `json:"prompt_tokens"`
		CompletionTokens        int            `json:"completion_tokens"`
		TotalTokens             int            `json:"total_tokens"`
		PromptTokensDetails     map[string]int `json:"prompt_tokens_details"`
		CompletionTokensDetails map[string]int `json:"completion_tokens_details"`
	}
	chatChunk struct {
		ID                string          `json:"id"`
		Object            string          `json:"object"`
		Created           int64           `json:"created"`
		Model             string          `json:"model"`
		SystemFingerprint *string         `json:"system_fingerprint"`
		Choices           []chunkChoice   `json:"choices"`
		Usage             *chatUsage      `json:"usage,omitempty"`
		Sources           []Source        `json:"sources,omitempty"`  // Sextant extension, on the chunk with finish_reason
		Approval          *ApprovalStatus `json:"approval,omitempty"` // Sextant extension, on the chunk with finish_reason
	}
	chunkChoice struct {
		Index        int             `json:"index"`
		Delta        chunkDelta      `json:"delta"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	}
	chunkDelta struct {
		Role      string         `json:"role,omitempty"`
		Content   *string        `json:"content,omitempty"`
		Refusal   *string        `json:"refusal,omitempty"`
		ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
	}
)

var jsonNull = json.RawMessage("null")

func usageOf(u sextant.Usage) *chatUsage {
	return &chatUsage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens,
		PromptTokensDetails:     map[string]int{"cached_tokens": u.CachedInputTokens, "audio_tokens": 0},
		CompletionTokensDetails: map[string]int{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
}

func toolCallsJSON(calls []sextant.ToolCall, indexed bool) []chatToolCall {
	var out []chatToolCall
	for i, c := range calls {
		tc := chatToolCall{ID: c.ID, Type: "function"}
		tc.Function.Name, tc.Function.Arguments = c.Name, c.Arguments
		if indexed {
			tc.Index = &i
		}
		out = append(out, tc)
	}
	return out
}

// ragRequest builds the pipeline request of an assistant call.
func (c *assistantCall) ragRequest(p sextant.Principal) *rag.Request {
	if c.user != "" {
		p.User = c.user
	}
	req := &rag.Request{Principal: p, Assistant: c.model, Filter: c.filter, Temperature: c.temperature,
		MaxTokens: c.maxTokens, Seed: c.seed, Tools: c.tools, ToolChoice: c.toolChoice}
	if c.sessionID != "" {
		// The session holds the history; the request carries only the
		// new question. System messages have no place in a stored
		// session's request and are ignored (docs/api.md says so).
		req.SessionID = c.sessionID
		for _, m := range c.messages {
			if m.Role == sextant.RoleUser {
				req.Question = m.Content
			}
		}
		return req
	}
	req.Messages = c.messages
	return req
}

func (s *Server) chatAssistant(w http.ResponseWriter, r *http.Request, body []byte) {
	start := s.opts.Now()
	call, err := decodeChat(body)
	if err != nil {
		writeError(w, err)
		return
	}
	if call.model == "" {
		call.model = rag.DefaultAssistant
		if a, ok := s.opts.Pipeline.Assistant(""); ok {
			call.model = a.Name
		}
	}
	req := call.ragRequest(principal(r))
	id := "chatcmpl-" + s.opts.NewID()
	created := start.Unix()
	if call.stream {
		s.chatStream(w, r, call, req, id, created)
		return
	}
	res, err := s.opts.Pipeline.Ask(r.Context(), req)
	if err != nil {
		writeError(w, err)
		s.recordUsage(r, call.model, call.model, nil, false)
		return
	}
	text := res.Text
	out := chatCompletion{ID: id, Object: "chat.completion", Created: created, Model: call.model,
		Usage: usageOf(res.Usage), Sources: sourcesJSON(res.Sources), Approval: approvalStatus(res.Approvals)}
	msg := chatOutMessage{Role: sextant.RoleAssistant, Content: &text, Annotations: []any{}}
	if len(res.ToolCalls) > 0 {
		msg.ToolCalls = toolCallsJSON(res.ToolCalls, false)
		if text == "" {
			msg.Content = nil
		}
	}
	out.Choices = []chatChoice{{Index: 0, Message: msg, Logprobs: jsonNull, FinishReason: finishOf(res)}}
	writeJSON(w, http.StatusOK, out)
	s.recordUsage(r, call.model, res.Model, res, true)
}

func finishOf(res *rag.Result) string {
	if res.FinishReason == "" {
		return sextant.FinishStop
	}
	return res.FinishReason
}

// chatStream streams an assistant's answer as OpenAI chat completion
// chunks: the role first, then content deltas, then tool calls, then a
// chunk with finish_reason carrying the sources extension, then (with
// stream_options.include_usage) a usage chunk with no choices, then
// [DONE]. A failure before the first chunk is an ordinary error response;
// after it, an error event as OpenAI sends one inside a stream.
func (s *Server) chatStream(w http.ResponseWriter, r *http.Request, call *assistantCall, req *rag.Request, id string, created int64) {
	out := newSSE(w)
	chunk := chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: call.model}
	send := func(d chunkDelta, finish *string) bool {
		chunk.Choices = []chunkChoice{{Index: 0, Delta: d, Logprobs: jsonNull, FinishReason: finish}}
		return out.data("", &chunk)
	}
	opened := false
	open := func() bool {
		if opened {
			return true
		}
		opened = true
		empty := ""
		return send(chunkDelta{Role: sextant.RoleAssistant, Content: &empty}, nil)
	}
	var res *rag.Result
	for ev, err := range s.opts.Pipeline.Stream(r.Context(), req) {
		if err != nil {
			if !opened {
				writeError(w, err)
			} else {
				_, d := errorDetail(err)
				out.data("", ErrorBody{Error: d})
			}
			s.recordUsage(r, call.model, call.model, nil, false)
			return
		}
		switch ev.Type {
		case rag.EventDelta:
			text := ev.Text
			if !open() || !send(chunkDelta{Content: &text}, nil) {
				return // the client went away; ending the range cancels the pipeline
			}
			telemetry.RequestFrom(r.Context()).MarkFirstToken()
		case rag.EventSources:
			if !open() {
				return
			}
		case rag.EventDone:
			res = ev.Result
		}
	}
	if res == nil {
		return
	}
	if !open() {
		return
	}
	if len(res.ToolCalls) > 0 && !send(chunkDelta{ToolCalls: toolCallsJSON(res.ToolCalls, true)}, nil) {
		return
	}
	fin := finishOf(res)
	chunk.Sources = sourcesJSON(res.Sources)
	chunk.Approval = approvalStatus(res.Approvals)
	if !send(chunkDelta{}, &fin) {
		return
	}
	chunk.Sources, chunk.Approval = nil, nil
	if call.includeUsage {
		chunk.Choices = []chunkChoice{}
		chunk.Usage = usageOf(res.Usage)
		if !out.data("", &chunk) {
			return
		}
	}
	out.raw("", []byte("[DONE]"))
	s.recordUsage(r, call.model, res.Model, res, true)
}

// recordUsage hands a usage record to Options.Usage.
func (s *Server) recordUsage(r *http.Request, assistant, model string, res *rag.Result, ok bool) {
	if s.opts.Usage == nil {
		return
	}
	p := principal(r)
	rec := sextant.UsageRecord{RequestID: RequestID(r.Context()), Time: s.opts.Now(), Tenant: p.Tenant, Project: p.Project,
		Key: p.ID, User: p.User, Assistant: assistant, Model: model, Success: ok}
	if res != nil {
		rec.Usage, rec.Cache, rec.Avoided = res.Usage, res.Cache, res.Avoided
		rec.Provider, _, _ = strings.Cut(res.Served, ":") // provider of "provider:model"
	}
	if p.ID == LocalPrincipal.ID {
		rec.Key = ""
	}
	s.opts.Usage(r.Context(), rec)
}
