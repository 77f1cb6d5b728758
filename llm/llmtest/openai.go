package llmtest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
)

// NewOpenAIServer starts a fake of the OpenAI API (and of the many servers
// that copy it: vLLM, Ollama, llama.cpp, TEI...):
//
//   - POST /v1/chat/completions, streaming (SSE "data: {chunk}" lines: a
//     role delta first, content deltas, tool-call fragments carrying index,
//     id, name and argument pieces, a finish_reason chunk, with
//     stream_options.include_usage a final chunk with empty choices and the
//     usage, then "data: [DONE]") and not streaming (one chat.completion
//     object);
//   - POST /v1/embeddings (float or base64 encoding, dimensions, batches up
//     to 2048 inputs);
//   - GET /v1/models;
//   - POST /v1/rerank in the Cohere/Jina shape, and POST /rerank in
//     Hugging Face TEI's native shape ({query, texts} → [{index, score}]).
//
// Errors use OpenAI's {"error": {message, type, param, code}} body; 429s
// carry Retry-After and the x-ratelimit-* headers. Unknown request fields are
// refused with 400, as OpenAI does.
func NewOpenAIServer(t testing.TB) *Server {
	s := newServer(t, "openai", openaiHandler)
	s.URL = s.srv.URL + "/v1"
	return s
}

func openaiHandler(s *Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.openaiChat)
	mux.HandleFunc("POST /v1/embeddings", s.openaiEmbeddings)
	mux.HandleFunc("POST /v1/rerank", s.openaiRerank)
	mux.HandleFunc("POST /rerank", s.teiRerank)
	mux.HandleFunc("GET /v1/models", s.openaiModels)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		openaiError(w, http.StatusNotFound, "invalid_request_error", "", fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), nil)
	})
	return mux
}

// openaiChatFields are the request fields the Chat Completions API accepts.
var openaiChatFields = []string{
	"messages", "model", "audio", "frequency_penalty", "function_call", "functions",
	"logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
	"modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
	"prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier",
	"seed", "service_tier", "stop", "store", "stream", "stream_options",
	"temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
	"verbosity", "web_search_options", "prompt_cache_retention",
}

type openaiMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

type openaiChatRequest struct {
	Model         string          `json:"model"`
	Messages      []openaiMessage `json:"messages"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	User                string          `json:"user"`
	Tools               []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice     json.RawMessage `json:"tool_choice"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

// openaiContent decodes a message content: a string, null, or an array of
// parts whose text parts are concatenated.
func openaiContent(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("content must be a string or an array of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

func (s *Server) openaiAuth(w http.ResponseWriter, r *http.Request) bool {
	if s.APIKey == "" || bearer(r) == s.APIKey {
		return true
	}
	msg := "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
	if bearer(r) != "" {
		msg = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
	}
	openaiError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", msg, nil)
	return false
}

func (s *Server) openaiChat(w http.ResponseWriter, r *http.Request) {
	call, err := readCall(r)
	if err != nil {
		return
	}
	recorded := false
	defer func() {
		if !recorded {
			s.record(call)
		}
	}()
	if !s.openaiAuth(w, r) {
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(call.Body, &fields); err != nil {
		openaiError(w, 400, "invalid_request_error", "", "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)", nil)
		return
	}
	for k := range fields {
		if !slices.Contains(openaiChatFields, k) {
			openaiErrorParam(w, 400, "invalid_request_error", "unknown_parameter", k, fmt.Sprintf("Unrecognized request argument supplied: %s", k))
			return
		}
	}
	var req openaiChatRequest
	if err := json.Unmarshal(call.Body, &req); err != nil {
		openaiError(w, 400, "invalid_request_error", "", "Invalid request body: "+err.Error(), nil)
		return
	}
	call.Model, call.Stream, call.User = req.Model, req.Stream, req.User
	call.IncludeUsage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	call.Temperature, call.TopP, call.Seed = req.Temperature, req.TopP, req.Seed
	if req.MaxCompletionTokens != nil {
		call.MaxTokens = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		call.MaxTokens = *req.MaxTokens
	}
	if len(req.Stop) > 0 {
		var one string
		if json.Unmarshal(req.Stop, &one) == nil {
			call.Stop = []string{one}
		} else {
			_ = json.Unmarshal(req.Stop, &call.Stop)
		}
	}
	if req.ResponseFormat != nil {
		call.Format = req.ResponseFormat.Type
	}
	for _, t := range req.Tools {
		call.Tools = append(call.Tools, sextant.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	if len(req.ToolChoice) > 0 {
		var mode string
		if json.Unmarshal(req.ToolChoice, &mode) == nil {
			call.ToolChoice = mode
		} else {
			var named struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			_ = json.Unmarshal(req.ToolChoice, &named)
			call.ToolChoice = named.Function.Name
		}
	}
	for i, m := range req.Messages {
		content, err := openaiContent(m.Content)
		if err != nil {
			openaiErrorParam(w, 400, "invalid_request_error", "", fmt.Sprintf("messages.[%d].content", i), fmt.Sprintf("Invalid 'messages[%d].content': %v.", i, err))
			return
		}
		msg := sextant.Message{Role: m.Role, Content: content, Name: m.Name, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, sextant.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		switch m.Role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			openaiErrorParam(w, 400, "invalid_request_error", "invalid_value", fmt.Sprintf("messages.[%d].role", i), fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'.", m.Role))
			return
		}
		call.Messages = append(call.Messages, msg)
	}
	switch {
	case req.Model == "":
		openaiErrorParam(w, 400, "invalid_request_error", "", "model", "you must provide a model parameter")
		return
	case len(req.Messages) == 0:
		openaiErrorParam(w, 400, "invalid_request_error", "empty_array", "messages", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
		return
	case len(s.Models) > 0 && !slices.Contains(s.Models, req.Model):
		openaiError(w, 404, "invalid_request_error", "model_not_found", fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model), nil)
		return
	}

	s.record(call)
	recorded = true
	rep, ok := s.next()
	if !ok {
		rep = echo(call.Messages)
	}
	if !s.wait(r, rep.Delay) {
		return
	}
	if rep.Status >= 400 {
		openaiReplyError(w, &rep)
		return
	}
	setOpenAIHeaders(w.Header(), s)
	for k, v := range rep.Header {
		w.Header()[k] = v
	}
	if !req.Stream {
		s.openaiCompletion(w, &call, &rep)
		return
	}
	s.openaiStream(w, r, &call, &rep)
}

func setOpenAIHeaders(h http.Header, s *Server) {
	h.Set("x-request-id", s.id("req_"))
	h.Set("openai-processing-ms", "12")
	h.Set("openai-version", "2020-10-01")
	h.Set("x-ratelimit-limit-requests", "10000")
	h.Set("x-ratelimit-remaining-requests", "9999")
	h.Set("x-ratelimit-reset-requests", "6ms")
	h.Set("x-ratelimit-limit-tokens", "30000000")
	h.Set("x-ratelimit-remaining-tokens", "29999990")
	h.Set("x-ratelimit-reset-tokens", "0s")
}

type openaiToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type openaiUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

func toOpenAIUsage(u sextant.Usage) *openaiUsage {
	ou := &openaiUsage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
	ou.PromptTokensDetails.CachedTokens = u.CachedInputTokens
	return ou
}

func (s *Server) openaiCompletion(w http.ResponseWriter, call *Call, rep *Reply) {
	type message struct {
		Role        string           `json:"role"`
		Content     *string          `json:"content"`
		Refusal     *string          `json:"refusal"`
		ToolCalls   []openaiToolCall `json:"tool_calls,omitempty"`
		Annotations []any            `json:"annotations"`
	}
	msg := message{Role: "assistant", Annotations: []any{}}
	if text := strings.Join(rep.Text, ""); text != "" || len(rep.ToolCalls) == 0 {
		msg.Content = &text
	}
	for _, tc := range rep.ToolCalls {
		var c openaiToolCall
		c.ID, c.Type, c.Function.Name, c.Function.Arguments = tc.ID, "function", tc.Name, tc.Arguments
		msg.ToolCalls = append(msg.ToolCalls, c)
	}
	body := obj{
		{"id", s.id("chatcmpl-")},
		{"object", "chat.completion"},
		{"created", s.now().Unix()},
		{"model", call.Model},
		{"choices", []any{obj{
			{"index", 0},
			{"message", msg},
			{"logprobs", nil},
			{"finish_reason", finishFor(rep)}}}},
		{"service_tier", "default"},
		{"system_fingerprint", "fp_fake0001"}}
	if !rep.NoUsage {
		body = append(body, kv{"usage", toOpenAIUsage(usageFor(rep, call.Messages))})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) openaiStream(w http.ResponseWriter, r *http.Request, call *Call, rep *Reply) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, r: r, rc: http.NewResponseController(w), gap: rep.Gap, s: s}
	id, created := s.id("chatcmpl-"), s.now().Unix()

	type choice struct {
		Index        int     `json:"index"`
		Delta        obj     `json:"delta"`
		Logprobs     any     `json:"logprobs"`
		FinishReason *string `json:"finish_reason"`
	}
	chunk := func(choices []choice, usage *openaiUsage) []byte {
		c := obj{
			{"id", id},
			{"object", "chat.completion.chunk"},
			{"created", created},
			{"model", call.Model},
			{"service_tier", "default"},
			{"system_fingerprint", "fp_fake0001"},
			{"choices", choices}}
		if call.IncludeUsage {
			c = append(c, kv{"usage", usage}) // null on every chunk but the last, as OpenAI sends it
		}
		b, _ := json.Marshal(c)
		return append(append([]byte("data: "), b...), '\n', '\n')
	}
	delta := func(d obj) []byte {
		return chunk([]choice{{Delta: d}}, nil)
	}

	first := obj{{"role", "assistant"}, {"content", ""}, {"refusal", nil}}
	if len(rep.Text) == 0 && len(rep.ToolCalls) > 0 {
		first[1].v = nil
	}
	if !st.write(delta(first)) {
		return
	}
	for _, t := range rep.Text {
		if !st.write(delta(obj{{"content", t}})) {
			return
		}
	}
	for i, tc := range rep.ToolCalls {
		idx := i
		var head openaiToolCall
		head.Index, head.ID, head.Type, head.Function.Name = &idx, tc.ID, "function", tc.Name
		if !st.write(delta(obj{{"tool_calls", []openaiToolCall{head}}})) {
			return
		}
		for _, frag := range splitArgs(tc.Arguments) {
			var part openaiToolCall
			part.Index, part.Function.Arguments = &idx, frag
			if !st.write(delta(obj{{"tool_calls", []openaiToolCall{part}}})) {
				return
			}
		}
	}
	switch {
	case rep.StreamError != "":
		msg := rep.ErrMessage
		if msg == "" {
			msg = "The server had an error while processing your request. Sorry about that!"
		}
		b, _ := json.Marshal(obj{{"error", obj{{"message", msg}, {"type", rep.StreamError}, {"param", nil}, {"code", nil}}}})
		st.write(append(append([]byte("data: "), b...), '\n', '\n'))
		return
	case rep.Disconnect:
		st.disconnect()
		return
	case rep.Truncate:
		return
	case rep.Hang:
		st.hang()
		return
	}
	fin := finishFor(rep)
	if !st.write(chunk([]choice{{Delta: obj{}, FinishReason: &fin}}, nil)) {
		return
	}
	if call.IncludeUsage && !rep.NoUsage {
		if !st.write(chunk([]choice{}, toOpenAIUsage(usageFor(rep, call.Messages)))) {
			return
		}
	}
	st.write([]byte("data: [DONE]\n\n"))
}

func (s *Server) openaiEmbeddings(w http.ResponseWriter, r *http.Request) {
	call, err := readCall(r)
	if err != nil {
		return
	}
	if !s.openaiAuth(w, r) {
		s.record(call)
		return
	}
	recorded := false
	defer func() {
		if !recorded {
			s.record(call)
		}
	}()
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		Dimensions     *int            `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
		User           string          `json:"user"`
	}
	dec := json.NewDecoder(strings.NewReader(string(call.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		openaiError(w, 400, "invalid_request_error", "", "Invalid request body: "+err.Error(), nil)
		return
	}
	call.Model, call.Encoding, call.User = req.Model, req.EncodingFormat, req.User
	if req.Dimensions != nil {
		call.Dimensions = *req.Dimensions
	}
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		call.Inputs = []string{one}
	} else if err := json.Unmarshal(req.Input, &call.Inputs); err != nil {
		openaiErrorParam(w, 400, "invalid_request_error", "", "input", "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
		return
	}
	switch {
	case req.Model == "":
		openaiErrorParam(w, 400, "invalid_request_error", "", "model", "you must provide a model parameter")
		return
	case len(call.Inputs) == 0:
		openaiErrorParam(w, 400, "invalid_request_error", "", "input", "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
		return
	case len(call.Inputs) > 2048:
		openaiErrorParam(w, 400, "invalid_request_error", "", "input", fmt.Sprintf("'$.input' is too long. Maximum length is 2048, but got %d items.", len(call.Inputs)))
		return
	case req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64":
		openaiErrorParam(w, 400, "invalid_request_error", "", "encoding_format", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'float' and 'base64'.", req.EncodingFormat))
		return
	case len(s.Models) > 0 && !slices.Contains(s.Models, req.Model):
		openaiError(w, 404, "invalid_request_error", "model_not_found", fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model), nil)
		return
	}
	for i, in := range call.Inputs {
		if in == "" {
			openaiErrorParam(w, 400, "invalid_request_error", "", "input", fmt.Sprintf("'$.input[%d]' is invalid: empty string.", i))
			return
		}
	}
	s.record(call)
	recorded = true
	rep, ok := s.next()
	if !s.wait(r, rep.Delay) {
		return
	}
	if ok && rep.Status >= 400 {
		openaiReplyError(w, &rep)
		return
	}
	dims := call.Dimensions
	if dims == 0 {
		dims = s.EmbedDims
	}
	if dims == 0 {
		dims = 8
	}
	data := make([]obj, len(call.Inputs))
	tokens := 0
	for i, in := range call.Inputs {
		v := vector(in, dims)
		if i < len(rep.Vectors) {
			v = rep.Vectors[i]
		}
		tokens += len(strings.Fields(in))
		var emb any = v
		if req.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		data[i] = obj{{"object", "embedding"}, {"index", i}, {"embedding", emb}}
	}
	setOpenAIHeaders(w.Header(), s)
	for k, v := range rep.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj{
		{"object", "list"},
		{"data", data},
		{"model", req.Model},
		{"usage", map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}}})
}

// openaiRerank answers POST /v1/rerank in the Cohere/Jina shape: documents
// are scored by the fraction of query words they contain.
func (s *Server) openaiRerank(w http.ResponseWriter, r *http.Request) {
	call, err := readCall(r)
	if err != nil {
		return
	}
	defer func() { s.record(call) }()
	if !s.openaiAuth(w, r) {
		return
	}
	var req struct {
		Model           string   `json:"model"`
		Query           string   `json:"query"`
		Documents       []string `json:"documents"`
		TopN            *int     `json:"top_n"`
		ReturnDocuments *bool    `json:"return_documents"`
	}
	dec := json.NewDecoder(strings.NewReader(string(call.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		openaiError(w, 400, "invalid_request_error", "", "Invalid request body: "+err.Error(), nil)
		return
	}
	call.Model, call.Inputs = req.Model, req.Documents
	if req.Query == "" || len(req.Documents) == 0 {
		openaiError(w, 400, "invalid_request_error", "", "query and documents are required", nil)
		return
	}
	rep, ok := s.next()
	if ok && rep.Status >= 400 {
		openaiReplyError(w, &rep)
		return
	}
	res := overlapScores(req.Query, req.Documents)
	if req.TopN != nil && *req.TopN < len(res) {
		res = res[:*req.TopN]
	}
	w.Header().Set("Content-Type", "application/json")
	results := make([]obj, len(res))
	for i, r := range res {
		results[i] = obj{{"index", r.index}, {"relevance_score", r.score}}
	}
	_ = json.NewEncoder(w).Encode(obj{{"id", s.id("rr-")}, {"model", req.Model}, {"results", results}, {"usage", map[string]int{"total_tokens": len(strings.Fields(req.Query))}}})
}

type scored struct {
	index int
	score float64
}

// overlapScores scores each document by the fraction of query words it
// contains, best first.
func overlapScores(query string, docs []string) []scored {
	q := strings.Fields(strings.ToLower(query))
	res := make([]scored, len(docs))
	for i, d := range docs {
		words := strings.Fields(strings.ToLower(d))
		hit := 0
		for _, t := range q {
			if slices.Contains(words, t) {
				hit++
			}
		}
		res[i] = scored{i, float64(hit) / float64(max(len(q), 1))}
	}
	slices.SortStableFunc(res, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	return res
}

// teiRerank answers POST /rerank as Hugging Face TEI does.
func (s *Server) teiRerank(w http.ResponseWriter, r *http.Request) {
	call, err := readCall(r)
	if err != nil {
		return
	}
	var req struct {
		Query     string   `json:"query"`
		Texts     []string `json:"texts"`
		Truncate  bool     `json:"truncate"`
		RawScores bool     `json:"raw_scores"`
	}
	dec := json.NewDecoder(strings.NewReader(string(call.Body)))
	dec.DisallowUnknownFields()
	err = dec.Decode(&req)
	call.Inputs = req.Texts
	s.record(call)
	if err != nil || req.Query == "" || len(req.Texts) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(422)
		_ = json.NewEncoder(w).Encode(obj{{"error", "Input validation error: `query` and `texts` are required"}, {"error_type", "Validation"}})
		return
	}
	res := overlapScores(req.Query, req.Texts)
	out := make([]obj, len(res))
	for i, r := range res {
		out[i] = obj{{"index", r.index}, {"score", r.score}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) openaiModels(w http.ResponseWriter, r *http.Request) {
	call, err := readCall(r)
	if err != nil {
		return
	}
	s.record(call)
	if !s.openaiAuth(w, r) {
		return
	}
	models := s.Models
	if len(models) == 0 {
		models = []string{"gpt-4o-mini", "text-embedding-3-small"}
	}
	data := make([]obj, len(models))
	for i, m := range models {
		data[i] = obj{{"id", m}, {"object", "model"}, {"created", 1700000000}, {"owned_by", "system"}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj{{"object", "list"}, {"data", data}})
}

// openaiReplyError writes a scripted error reply.
func openaiReplyError(w http.ResponseWriter, rep *Reply) {
	typ, code, msg := rep.ErrType, "", rep.ErrMessage
	switch rep.Status {
	case 400:
		typ, code = or(typ, "invalid_request_error"), ""
		msg = or(msg, "Invalid request.")
	case 401:
		typ, code = or(typ, "invalid_request_error"), "invalid_api_key"
		msg = or(msg, "Incorrect API key provided.")
	case 403:
		typ, code = or(typ, "invalid_request_error"), "unsupported_country_region_territory"
		msg = or(msg, "Country, region, or territory not supported")
	case 404:
		typ, code = or(typ, "invalid_request_error"), "model_not_found"
		msg = or(msg, "The model does not exist or you do not have access to it.")
	case 429:
		if typ == "insufficient_quota" {
			code = "insufficient_quota"
			msg = or(msg, "You exceeded your current quota, please check your plan and billing details.")
		} else {
			typ, code = or(typ, "requests"), "rate_limit_exceeded"
			msg = or(msg, "Rate limit reached for requests. Please try again later.")
		}
	case 503:
		typ = or(typ, "server_error")
		msg = or(msg, "The engine is currently overloaded, please try again later.")
	default:
		typ = or(typ, "server_error")
		msg = or(msg, "The server had an error while processing your request. Sorry about that!")
	}
	h := rep.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if rep.Status == 429 {
		h.Set("x-ratelimit-limit-requests", "10000")
		h.Set("x-ratelimit-remaining-requests", "0")
		h.Set("x-ratelimit-reset-requests", "1s")
		h.Set("x-ratelimit-limit-tokens", "30000000")
		h.Set("x-ratelimit-remaining-tokens", "0")
		h.Set("x-ratelimit-reset-tokens", "1s")
	}
	openaiError(w, rep.Status, typ, code, msg, h)
}

func openaiError(w http.ResponseWriter, status int, typ, code, msg string, h http.Header) {
	openaiErrorFull(w, status, typ, code, "", msg, h)
}

func openaiErrorParam(w http.ResponseWriter, status int, typ, code, param, msg string) {
	openaiErrorFull(w, status, typ, code, param, msg, nil)
}

func openaiErrorFull(w http.ResponseWriter, status int, typ, code, param, msg string, h http.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
	var p, c any
	if param != "" {
		p = param
	}
	if code != "" {
		c = code
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-request-id", "req_"+strconv.Itoa(status))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(obj{{"error", obj{{"message", msg}, {"type", typ}, {"param", p}, {"code", c}}}})
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
