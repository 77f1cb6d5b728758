package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/telemetry"
)

// messagesRoute is the route name of POST /v1/messages, Anthropic's
// Messages API. Every error on it and on any path under it, including
// those written by the authentication, authorization and admission layers
// before the handler runs, the 404 of Anthropic endpoints Sextant does
// not serve (batches) and the 500 of a panic, is sent in Anthropic's
// shape (anthropicErrors); that includes POST /v1/messages/count_tokens
// (messagestokens.go).
const messagesRoute = "messages"

// messages serves POST /v1/messages: Anthropic's Messages API. A model
// naming an assistant is answered through the RAG pipeline (sources as
// the "sources" extension field); any other model through the model
// layer's routes, whatever provider serves it. Responses, stream events
// and errors are Anthropic's.
func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	buf, err := s.jsonBody(w, r, false)
	if err != nil {
		writeAntError(w, r, err)
		return
	}
	defer putBuf(buf)
	call, err := decodeMessages(buf.Bytes(), r.Header.Get("Anthropic-Version"))
	if err != nil {
		writeAntError(w, r, err)
		return
	}
	if s.isAssistant(call.model) {
		switch {
		case call.topP != nil:
			err = invalidParam("top_p", "assistants answer with citations from their own settings; top_p is available for routed models, %q is an assistant", call.model)
		case len(call.stop) > 0:
			err = invalidParam("stop_sequences", "a stop sequence could cut an answer's citations; stop_sequences is available for routed models, %q is an assistant", call.model)
		}
		if err != nil {
			writeAntError(w, r, err)
			return
		}
		s.messagesAssistant(w, r, call)
		return
	}
	if s.opts.Model == nil {
		writeAntError(w, r, &apiError{err: sextant.Errorf(sextant.ENOTFOUND, "model: %q is not an assistant and no model providers are configured", call.model), param: "model"})
		return
	}
	if _, err := s.opts.Model.Targets(call.model); err != nil {
		writeAntError(w, r, &apiError{err: sextant.Errorf(sextant.ENOTFOUND, "model: %q is neither an assistant nor a routed model", call.model), param: "model"})
		return
	}
	s.messagesModel(w, r, call)
}

// Anthropic's message shapes.
type (
	antMessage struct {
		ID           string     `json:"id"`
		Type         string     `json:"type"`
		Role         string     `json:"role"`
		Model        string     `json:"model"`
		Content      []antBlock `json:"content"`
		StopReason   *string    `json:"stop_reason"`
		StopSequence *string    `json:"stop_sequence"`
		Usage        antUsage   `json:"usage"`
		// Sextant extensions, for assistants.
		Sources  []Source        `json:"sources,omitempty"`
		Approval *ApprovalStatus `json:"approval,omitempty"`
	}
	antBlock struct {
		Type  string          `json:"type"`
		Text  *string         `json:"text,omitempty"`
		ID    string          `json:"id,omitempty"`
		Name  string          `json:"name,omitempty"`
		Input json.RawMessage `json:"input,omitempty"`
	}
	antUsage struct {
		InputTokens              int `json:"input_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
		OutputTokens             int `json:"output_tokens"`
	}
	antErrorBody struct {
		Type      string         `json:"type"` // "error"
		Error     antErrorDetail `json:"error"`
		RequestID string         `json:"request_id,omitempty"`
	}
	antErrorDetail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
)

// antUsageOf splits usage as Anthropic reports it: input_tokens excludes
// the tokens read from the prompt cache.
func antUsageOf(u sextant.Usage) antUsage {
	return antUsage{InputTokens: u.InputTokens - u.CachedInputTokens, CacheReadInputTokens: u.CachedInputTokens, OutputTokens: u.OutputTokens}
}

// stopReason maps a finish reason to Anthropic's stop_reason. A stop
// sequence that ended the answer is reported as end_turn: the model layer
// does not tell which sequence matched.
func stopReason(finish string) string {
	switch finish {
	case sextant.FinishLength:
		return "max_tokens"
	case sextant.FinishToolCalls:
		return "tool_use"
	case sextant.FinishFilter:
		return "refusal"
	}
	return "end_turn"
}

// toolInput is a tool call's arguments as the tool_use block's input: the
// JSON the model produced, "{}" for none, and — should a model produce
// arguments that are not JSON — the text as a JSON string, so nothing is
// lost.
func toolInput(args string) json.RawMessage {
	a := strings.TrimSpace(args)
	if a == "" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(a)) {
		return json.RawMessage(a)
	}
	b, _ := json.Marshal(args)
	return b
}

func (s *Server) toolID(id string) string {
	if id == "" {
		return "toolu_" + s.opts.NewID()
	}
	return id
}

// antContent builds a response's content blocks: the text, then the tool
// calls.
func (s *Server) antContent(text string, calls []sextant.ToolCall) []antBlock {
	content := []antBlock{}
	if text != "" {
		content = append(content, antBlock{Type: "text", Text: &text})
	}
	for _, c := range calls {
		content = append(content, antBlock{Type: "tool_use", ID: s.toolID(c.ID), Name: c.Name, Input: toolInput(c.Arguments)})
	}
	return content
}

func (s *Server) messagesAssistant(w http.ResponseWriter, r *http.Request, call *messagesCall) {
	p := principal(r)
	if call.user != "" {
		p.User = call.user
	}
	req := &rag.Request{Principal: p, Assistant: call.model, Messages: call.messages, Temperature: call.temperature,
		MaxTokens: call.maxTokens, Tools: call.tools, ToolChoice: call.toolChoice}
	id := "msg_" + s.opts.NewID()
	if call.stream {
		s.messagesAssistantStream(w, r, call, req, id)
		return
	}
	res, err := s.opts.Pipeline.Ask(r.Context(), req)
	if err != nil {
		writeAntError(w, r, err)
		s.recordUsage(r, call.model, call.model, nil, false)
		return
	}
	reason := stopReason(finishOf(res))
	writeJSON(w, http.StatusOK, antMessage{ID: id, Type: "message", Role: sextant.RoleAssistant, Model: call.model,
		Content: s.antContent(res.Text, res.ToolCalls), StopReason: &reason, Usage: antUsageOf(res.Usage),
		Sources: sourcesJSON(res.Sources), Approval: approvalStatus(res.Approvals)})
	s.recordUsage(r, call.model, res.Model, res, true)
}

func (s *Server) messagesAssistantStream(w http.ResponseWriter, r *http.Request, call *messagesCall, req *rag.Request, id string) {
	st := &antStream{s: s, out: newSSE(w), id: id, model: call.model}
	for ev, err := range s.opts.Pipeline.Stream(r.Context(), req) {
		if err != nil {
			st.fail(w, r, err)
			s.recordUsage(r, call.model, call.model, nil, false)
			return
		}
		switch ev.Type {
		case rag.EventSources:
			// The prompt is composed: message_start carries Sextant's
			// count of it (the final count, the model's, comes in
			// message_delta).
			if n, err := s.promptTokens(r, call, ev.Sources); err == nil {
				st.input = func() antUsage { return antUsage{InputTokens: n} }
			}
			if !st.start() {
				return // the client went away; ending the range cancels the pipeline
			}
		case rag.EventDelta:
			if !st.text(ev.Text) {
				return
			}
			telemetry.RequestFrom(r.Context()).MarkFirstToken()
		case rag.EventDone:
			res := ev.Result
			if !st.finish(res.ToolCalls, finishOf(res), res.Usage, antExtensions{Sources: sourcesJSON(res.Sources), Approval: approvalStatus(res.Approvals)}) {
				return
			}
			s.recordUsage(r, call.model, res.Model, res, true)
			return
		}
	}
	// The pipeline's stream ends with EventDone or an error; anything
	// else must not leave the client an empty or unterminated stream.
	if st.out.err == nil && r.Context().Err() == nil {
		st.fail(w, r, sextant.Errorf(sextant.EINTERNAL, "the answer stream of assistant %q ended without a result", call.model))
		s.recordUsage(r, call.model, call.model, nil, false)
	}
}

func (s *Server) messagesModel(w http.ResponseWriter, r *http.Request, call *messagesCall) {
	req := &llm.Request{Model: call.model, Messages: call.messages, Temperature: call.temperature, TopP: call.topP,
		MaxTokens: call.maxTokens, Stop: call.stop, Tools: call.tools, ToolChoice: call.toolChoice, User: call.user}
	if req.User == "" {
		req.User = principal(r).User
	}
	id := "msg_" + s.opts.NewID()
	if !call.stream {
		res, err := s.opts.Model.Complete(r.Context(), req)
		if err != nil {
			writeAntError(w, r, err)
			s.recordModel(r, call.model, nil, false)
			return
		}
		reason := stopReason(res.FinishReason)
		writeJSON(w, http.StatusOK, antMessage{ID: id, Type: "message", Role: sextant.RoleAssistant, Model: call.model,
			Content: s.antContent(res.Text, res.ToolCalls), StopReason: &reason, Usage: antUsageOf(res.Usage)})
		s.recordModel(r, call.model, &res.Call, true)
		return
	}
	st := &antStream{s: s, out: newSSE(w), id: id, model: call.model}
	// message_start carries the prompt's input tokens: the upstream's own
	// figure when it reports one as its response starts (Anthropic's
	// message_start), else Sextant's count, which runs while the upstream
	// thinks, so it adds nothing to the first token's time unless it
	// takes longer than the upstream.
	counted := make(chan int, 1)
	go func() {
		n, _ := s.promptTokens(r, call, nil) // the route was checked: no error
		counted <- n
	}()
	var upstream *sextant.Usage
	ctx := driver.WithStartUsage(r.Context(), func(u sextant.Usage) { upstream = &u })
	st.input = func() antUsage {
		if upstream != nil {
			return antUsageOf(*upstream)
		}
		return antUsage{InputTokens: <-counted}
	}
	var c llm.Call
	finished := false
	for d, err := range s.opts.Model.StreamCall(ctx, req, &c) {
		if err != nil {
			st.fail(w, r, err)
			s.recordModel(r, call.model, &c, false)
			return
		}
		if d.Text != "" {
			if !st.text(d.Text) {
				return // the client went away: ending the range cancels the upstream
			}
			telemetry.RequestFrom(r.Context()).MarkFirstToken()
		}
		if d.FinishReason != "" {
			var u sextant.Usage
			if d.Usage != nil {
				u = *d.Usage
			}
			if !st.finish(d.ToolCalls, d.FinishReason, u, antExtensions{}) {
				return
			}
			finished = true
		}
	}
	if !finished {
		// The model layer ends a stream with a finish reason or an error;
		// should a stream end with neither, the client gets an error (an
		// error response, or an error event once the stream started),
		// never an empty 200 or a message without message_stop.
		if st.out.err == nil && r.Context().Err() == nil {
			st.fail(w, r, sextant.Errorf(sextant.EUNAVAILABLE, "model %q: the stream ended without a finish reason", call.model))
		}
		s.recordModel(r, call.model, &c, false)
		return
	}
	s.recordModel(r, call.model, &c, true)
}

// antExtensions are Sextant's fields on the final message_delta's delta
// (the SDKs' accumulators merge the delta into the message, so a streamed
// message carries them like a plain one).
type antExtensions struct {
	Sources  []Source        `json:"sources,omitempty"`
	Approval *ApprovalStatus `json:"approval,omitempty"`
}

// antStream writes a message as Anthropic's named SSE events:
// message_start, then per content block content_block_start (a ping after
// the first), content_block_delta (text_delta or input_json_delta) and
// content_block_stop, then message_delta (stop_reason, cumulative usage)
// and message_stop. message_start waits for the first output, so a failure
// before it is an ordinary error response; after it, an error event.
// message_start reports the prompt's input tokens as known before the
// first output (input; none when nil) and message_delta the whole message's input and
// output tokens as the model reported them, which the SDKs' accumulators
// take as final.
type antStream struct {
	s        *Server
	out      *sse
	id       string
	model    string
	input    func() antUsage // the prompt's input usage, asked for once at message_start; nil = unknown (0)
	started  bool
	textOpen bool
	index    int // the next content block's index
}

func (a *antStream) event(name string, v any) bool { return a.out.data(name, v) }

func (a *antStream) start() bool {
	if a.started {
		return a.out.err == nil
	}
	a.started = true
	var u antUsage
	if a.input != nil {
		u = a.input()
	}
	return a.event("message_start", struct {
		Type    string     `json:"type"`
		Message antMessage `json:"message"`
	}{"message_start", antMessage{ID: a.id, Type: "message", Role: sextant.RoleAssistant, Model: a.model, Content: []antBlock{}, Usage: u}})
}

// openBlock sends content_block_start for block, then a ping after the
// first block as the API does.
func (a *antStream) openBlock(block antBlock) bool {
	if !a.event("content_block_start", struct {
		Type         string   `json:"type"`
		Index        int      `json:"index"`
		ContentBlock antBlock `json:"content_block"`
	}{"content_block_start", a.index, block}) {
		return false
	}
	if a.index == 0 {
		return a.event("ping", antType{"ping"})
	}
	return true
}

func (a *antStream) closeBlock() bool {
	ok := a.event("content_block_stop", struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}{"content_block_stop", a.index})
	a.index++
	return ok
}

// antDelta is a content block delta: text_delta (Text) or
// input_json_delta (PartialJSON).
type antDelta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
}

// antType is an event with nothing but its type.
type antType struct {
	Type string `json:"type"`
}

func (a *antStream) delta(d antDelta) bool {
	return a.event("content_block_delta", struct {
		Type  string   `json:"type"`
		Index int      `json:"index"`
		Delta antDelta `json:"delta"`
	}{"content_block_delta", a.index, d})
}

func (a *antStream) text(t string) bool {
	if !a.start() {
		return false
	}
	if !a.textOpen {
		a.textOpen = true
		empty := ""
		if !a.openBlock(antBlock{Type: "text", Text: &empty}) {
			return false
		}
	}
	return a.delta(antDelta{Type: "text_delta", Text: &t})
}

func (a *antStream) finish(calls []sextant.ToolCall, finish string, u sextant.Usage, ext antExtensions) bool {
	if !a.start() {
		return false
	}
	if a.textOpen {
		a.textOpen = false
		if !a.closeBlock() {
			return false
		}
	}
	for _, c := range calls {
		if !a.openBlock(antBlock{Type: "tool_use", ID: a.s.toolID(c.ID), Name: c.Name, Input: json.RawMessage("{}")}) ||
			!a.delta(antDelta{Type: "input_json_delta", PartialJSON: new(string(toolInput(c.Arguments)))}) ||
			!a.closeBlock() {
			return false
		}
	}
	delta := struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
		antExtensions
	}{StopReason: stopReason(finish), antExtensions: ext}
	if !a.event("message_delta", struct {
		Type  string   `json:"type"`
		Delta any      `json:"delta"`
		Usage antUsage `json:"usage"`
	}{"message_delta", delta, antUsageOf(u)}) {
		return false
	}
	return a.event("message_stop", antType{"message_stop"})
}

// fail reports err: as an error response before the stream started, as
// an "error" event inside it (the SDKs raise it as an API error).
func (a *antStream) fail(w http.ResponseWriter, r *http.Request, err error) {
	if !a.started {
		writeAntError(w, r, err)
		return
	}
	status, d := errorDetail(err)
	_, typ := anthropicKind(status)
	a.event("error", antErrorBody{Type: "error", Error: antErrorDetail{Type: typ, Message: d.Message}})
}

// anthropicKind maps an HTTP status to the status and error type
// Anthropic's API answers with: an unavailable upstream is 529
// overloaded_error, as Anthropic reports its own overload.
func anthropicKind(status int) (int, string) {
	switch status {
	case http.StatusUnauthorized:
		return status, "authentication_error"
	case http.StatusPaymentRequired:
		return status, "billing_error"
	case http.StatusForbidden:
		return status, "permission_error"
	case http.StatusNotFound:
		return status, "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return status, "request_too_large"
	case http.StatusTooManyRequests:
		return status, "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return 529, "overloaded_error"
	case http.StatusGatewayTimeout:
		return status, "timeout_error"
	}
	if status >= 500 {
		return http.StatusInternalServerError, "api_error"
	}
	return status, "invalid_request_error"
}

// writeAntError sends err in Anthropic's error shape with the status
// anthropicKind gives its code's, and retry-after when the error carries
// a wait.
func writeAntError(w http.ResponseWriter, r *http.Request, err error) {
	status, d := errorDetail(err)
	status, typ := anthropicKind(status)
	h := w.Header()
	if ra, ok := driver.RetryAfter(err); ok && ra > 0 {
		h.Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	b, _ := json.Marshal(antErrorBody{Type: "error", Error: antErrorDetail{Type: typ, Message: d.Message}, RequestID: RequestID(r.Context())})
	w.Write(append(b, '\n'))
}

// anthropicErrors gives requests under /v1/messages (the Messages route,
// count_tokens, and subpaths such as Anthropic's batches that Sextant
// does not serve) Anthropic's error shape and request-id header
// everywhere: error responses written in OpenAI's shape by any layer
// behind it (authentication 401, authorization 403, admission's 429 with
// Retry-After, size limits, the 404 and 405 of unknown paths and methods,
// panic recovery's 500) are rewritten on their way out. Other paths pass
// through untouched. It sits behind request ids (whose header it copies)
// and in front of panic recovery.
func anthropicErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p != "/v1/messages" && !strings.HasPrefix(p, "/v1/messages/") {
			next.ServeHTTP(w, r)
			return
		}
		if id := w.Header().Get("X-Request-Id"); id != "" {
			w.Header().Set("Request-Id", id) // the header Anthropic's SDKs read
		}
		ew := &antErrorWriter{ResponseWriter: w}
		next.ServeHTTP(ew, r)
		ew.flushError(r)
	})
}

// antErrorWriter holds back an error response (status >= 400, not an
// event stream) so flushError can rewrite its body.
type antErrorWriter struct {
	http.ResponseWriter
	held   bool
	status int
	body   bytes.Buffer
}

func (e *antErrorWriter) WriteHeader(code int) {
	if e.held {
		return
	}
	if code >= 400 && !strings.HasPrefix(e.Header().Get("Content-Type"), "text/event-stream") {
		e.held, e.status = true, code
		return
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *antErrorWriter) Write(b []byte) (int, error) {
	if e.held {
		return e.body.Write(b)
	}
	return e.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes).
func (e *antErrorWriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

func (e *antErrorWriter) flushError(r *http.Request) {
	if !e.held {
		return
	}
	var probe struct {
		Type  string      `json:"type"`
		Error ErrorDetail `json:"error"`
	}
	out := e.body.Bytes()
	status := e.status
	if json.Unmarshal(out, &probe) != nil || probe.Type != "error" {
		var typ string
		status, typ = anthropicKind(e.status)
		msg := probe.Error.Message
		if msg == "" {
			msg = http.StatusText(e.status)
		}
		b, _ := json.Marshal(antErrorBody{Type: "error", Error: antErrorDetail{Type: typ, Message: msg}, RequestID: RequestID(r.Context())})
		out = append(b, '\n')
		e.Header().Set("Content-Type", "application/json")
	}
	e.Header().Del("Content-Length")
	e.ResponseWriter.WriteHeader(status)
	e.ResponseWriter.Write(out)
}
