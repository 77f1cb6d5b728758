package web

import (
	"net/http"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/telemetry"
)

// translate serves a chat completion for a routed model whose provider
// cannot take OpenAI's body as bytes (Anthropic): the request is decoded
// into a model call, answered through llm.Model (same routes, retries,
// fallback and breaker), and the answer written back in OpenAI's
// chat.completion or chunk format.
func (s *Server) translate(w http.ResponseWriter, r *http.Request, model string, body []byte) {
	call, err := decodeModelChat(body)
	if err != nil {
		writeError(w, err)
		return
	}
	req := &llm.Request{Model: model, Messages: call.messages, Temperature: call.temperature, TopP: call.topP,
		MaxTokens: call.maxTokens, Seed: call.seed, Stop: call.stop, Tools: call.tools, ToolChoice: call.toolChoice,
		Format: call.format, User: call.user}
	if p := principal(r); req.User == "" {
		req.User = p.User
	}
	id := "chatcmpl-" + s.opts.NewID()
	created := s.opts.Now().Unix()
	var c llm.Call
	if !call.stream {
		res, err := s.opts.Model.Complete(r.Context(), req)
		if err != nil {
			writeError(w, err)
			s.recordModel(r, model, nil, false)
			return
		}
		text := res.Text
		msg := chatOutMessage{Role: sextant.RoleAssistant, Content: &text, Annotations: []any{}}
		if len(res.ToolCalls) > 0 {
			msg.ToolCalls = toolCallsJSON(res.ToolCalls, false)
			if text == "" {
				msg.Content = nil
			}
		}
		writeJSON(w, http.StatusOK, chatCompletion{ID: id, Object: "chat.completion", Created: created, Model: model,
			Choices: []chatChoice{{Index: 0, Message: msg, Logprobs: jsonNull, FinishReason: res.FinishReason}}, Usage: usageOf(res.Usage)})
		s.recordModel(r, model, &res.Call, true)
		return
	}
	out := newSSE(w)
	chunk := chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model}
	send := func(d chunkDelta, finish *string) bool {
		chunk.Choices = []chunkChoice{{Index: 0, Delta: d, Logprobs: jsonNull, FinishReason: finish}}
		return out.data("", &chunk)
	}
	for d, err := range s.opts.Model.StreamCall(r.Context(), req, &c) {
		if err != nil {
			if !out.started {
				writeError(w, err)
			} else {
				_, e := errorDetail(err)
				out.data("", ErrorBody{Error: e})
			}
			s.recordModel(r, model, &c, false)
			return
		}
		if !out.started {
			empty := ""
			if !send(chunkDelta{Role: sextant.RoleAssistant, Content: &empty}, nil) {
				return
			}
		}
		if d.Text != "" {
			text := d.Text
			if !send(chunkDelta{Content: &text}, nil) {
				return // the client went away: ending the range cancels the upstream
			}
			telemetry.RequestFrom(r.Context()).MarkFirstToken()
		}
		if d.FinishReason == "" {
			continue
		}
		if len(d.ToolCalls) > 0 && !send(chunkDelta{ToolCalls: toolCallsJSON(d.ToolCalls, true)}, nil) {
			return
		}
		fin := d.FinishReason
		if !send(chunkDelta{}, &fin) {
			return
		}
		if call.includeUsage && d.Usage != nil {
			chunk.Choices = []chunkChoice{}
			chunk.Usage = usageOf(*d.Usage)
			if !out.data("", &chunk) {
				return
			}
		}
	}
	out.raw("", []byte("[DONE]"))
	s.recordModel(r, model, &c, true)
}

// recordModel hands a translated call's usage record to Options.Usage.
func (s *Server) recordModel(r *http.Request, model string, c *llm.Call, ok bool) {
	if s.opts.Usage == nil {
		return
	}
	p := principal(r)
	rec := sextant.UsageRecord{RequestID: RequestID(r.Context()), Time: s.opts.Now(), Tenant: p.Tenant, Project: p.Project,
		Key: p.ID, User: p.User, Model: model, Success: ok}
	if p.ID == LocalPrincipal.ID {
		rec.Key = ""
	}
	if c != nil {
		rec.Usage, rec.Provider = c.Usage, c.Target.Provider
	}
	s.opts.Usage(r.Context(), rec)
}
