package web

import (
	"encoding/json"
	"net/http"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
)

// countTokensRequest is the body of POST /v1/messages/count_tokens as
// Anthropic defines it: a Messages request without max_tokens, stream,
// sampling parameters and metadata (sending one of those is "Extra inputs
// are not permitted", as Anthropic answers).
type countTokensRequest struct {
	Model        *string           `json:"model"`
	Messages     []json.RawMessage `json:"messages"`
	System       json.RawMessage   `json:"system"`
	Tools        []json.RawMessage `json:"tools"`
	ToolChoice   json.RawMessage   `json:"tool_choice"`
	CacheControl json.RawMessage   `json:"cache_control"`
	// Thinking changes nothing in the prompt's tokens: accepted, checked
	// to be a thinking object, and ignored.
	Thinking json.RawMessage `json:"thinking"`
	// Refused as the Messages route refuses them.
	OutputConfig      json.RawMessage `json:"output_config"`
	Speed             json.RawMessage `json:"speed"`
	MCPServers        json.RawMessage `json:"mcp_servers"`
	ContextManagement json.RawMessage `json:"context_management"`
}

// decodeCountTokens decodes and validates a count_tokens request with the
// Messages route's rules (the same fields, paths and messages). Errors
// are EINVALID apiErrors naming the field.
func decodeCountTokens(body []byte) (*messagesCall, error) {
	var req countTokensRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, antInvalid(err)
	}
	if present(req.Thinking) {
		var th struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(req.Thinking, &th) != nil || th.Type == "" {
			return nil, invalidParam("thinking", "Input should be an object with a type")
		}
	}
	one := 1 // max_tokens is not part of a count; validate wants one
	m := messagesRequest{Model: req.Model, MaxTokens: &one, Messages: req.Messages, System: req.System, Tools: req.Tools,
		ToolChoice: req.ToolChoice, CacheControl: req.CacheControl, OutputConfig: req.OutputConfig, Speed: req.Speed,
		MCPServers: req.MCPServers, ContextManagement: req.ContextManagement}
	return m.validate("")
}

// countTokens serves POST /v1/messages/count_tokens: Anthropic's token
// counting, {"input_tokens": N}. For an assistant N is the prompt its
// model would receive without the retrieved sources (promptTokens); for
// a routed model, Sextant's count of the messages and tools in the
// tokenizer of the model's family (the count the model layer books when
// a provider reports no usage). Nothing is sent to a model.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	buf, err := s.jsonBody(w, r, false)
	if err != nil {
		writeAntError(w, r, err)
		return
	}
	defer putBuf(buf)
	call, err := decodeCountTokens(buf.Bytes())
	if err != nil {
		writeAntError(w, r, err)
		return
	}
	n, err := s.promptTokens(r, call, nil)
	if err != nil {
		writeAntError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		InputTokens int `json:"input_tokens"`
	}{n})
}

// promptTokens counts the input tokens of call as Sextant knows them
// before the model answers.
//
// For a routed model: the messages and tools, with the chat format's
// framing, in the tokenizer of the first target's model family
// (llm.Counter.Prompt, as the model layer counts usage a provider does not
// report). For a model other than OpenAI's this is an estimate.
//
// For an assistant: the prompt the pipeline composes (rag.Pipeline.PromptTokens)
// — the assistant's template rendered with its instructions, the
// request's system text, the question and sources, the earlier turns
// within its history limit, the tool turns after the question, and the
// tools, fitted to the context window — in the tokenizer of the
// assistant's model. sources are the numbered sources the prompt cites:
// nil before retrieval (count_tokens), the retrieved ones once the
// pipeline has them (a stream's message_start). Not reflected: a guard's
// redactions of the question and turns.
func (s *Server) promptTokens(r *http.Request, call *messagesCall, sources []sextant.Source) (int, error) {
	if s.isAssistant(call.model) {
		return s.assistantPromptTokens(r, call, sources)
	}
	if s.opts.Model == nil {
		return 0, &apiError{err: sextant.Errorf(sextant.ENOTFOUND, "model: %q is not an assistant and no model providers are configured", call.model), param: "model"}
	}
	targets, err := s.opts.Model.Targets(call.model)
	if err != nil || len(targets) == 0 {
		return 0, &apiError{err: sextant.Errorf(sextant.ENOTFOUND, "model: %q is neither an assistant nor a routed model", call.model), param: "model"}
	}
	family := call.model
	if targets[0].Model != "" {
		family = targets[0].Model // a route renaming the model: count in the upstream model's tokenizer
	}
	return s.tokens.Prompt(family, call.messages, call.tools), nil
}

func (s *Server) assistantPromptTokens(r *http.Request, call *messagesCall, sources []sextant.Source) (int, error) {
	req := &rag.Request{Principal: principal(r), Assistant: call.model, Messages: call.messages,
		MaxTokens: call.maxTokens, Tools: call.tools, ToolChoice: call.toolChoice}
	return s.opts.Pipeline.PromptTokens(r.Context(), req, sources)
}
