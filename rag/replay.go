package rag

import (
	"context"
	"fmt"
	"strings"

	"github.com/sextant-ai/sextant"
)

// Replay answers a recorded question again from its record alone: the same
// template version (found by the hash the answer recorded: the current
// version, one the pipeline's templates held, or a stored version through
// Options.Versions), the same numbered sources with the text they had, the
// same conversation before it (the session's earlier turns, or the chat
// request's recorded messages: system instructions, earlier turns, tool
// calls and results), the same tools and tool choice, model, temperature,
// seed and max tokens. The question is the recorded one (as the model was
// given it). The result's Conversation carries the replay's tool calls.
// Nothing is retrieved, cached or stored. Comparing the result with the
// record shows whether the model (or a changed generator) still answers
// the same way; the extractive generator always does.
//
// Errors: ENOTFOUND for an unknown answer, EFORBIDDEN for another
// principal's, ECONFLICT when the template version the answer was made
// with is nowhere to be found, EINVALID without a Store.
func (p *Pipeline) Replay(ctx context.Context, principal sextant.Principal, answerID string) (*Result, error) {
	if p.opts.Store == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "replay needs an answer store, and none is configured")
	}
	rec, err := p.opts.Store.Answer(ctx, answerID)
	if err != nil {
		return nil, err
	}
	if rec.Tenant != principal.Tenant || rec.Principal != principal.ID {
		return nil, sextant.Errorf(sextant.EFORBIDDEN, "answer %q belongs to another caller", answerID)
	}
	cat := p.cat.Load()
	tp, err := p.templateVersion(ctx, cat.templates, rec.Template, rec.TemplateHash)
	if err != nil {
		return nil, fmt.Errorf("answer %s: %w", answerID, err)
	}
	a, ok := cat.assistants[rec.Assistant]
	if !ok {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "answer %s: assistant %q is no longer configured", answerID, rec.Assistant)
	}
	asst := *a
	asst.Model, asst.Template = rec.Model, rec.Template
	asst.ContextWindow = -1 // the recorded sources already fit
	r := &run{p: p, cat: cat, req: &Request{Principal: principal}, yield: func(Event, error) bool { return true }, asst: &asst, tmpl: tp}
	r.res = &Result{}
	r.res.Answer = sextant.Answer{ID: answerID, SessionID: rec.SessionID, Turn: rec.Turn, Tenant: rec.Tenant,
		Principal: rec.Principal, Assistant: rec.Assistant, Question: rec.Question, Query: rec.Query, Model: rec.Model,
		Temperature: rec.Temperature, Seed: rec.Seed, MaxTokens: rec.MaxTokens, CreatedAt: p.opts.Now()}
	r.question = rec.Question
	conv := rec.Conversation
	if conv != nil {
		r.req.Tools, r.req.ToolChoice = conv.Tools, conv.ToolChoice
	}
	if conv != nil && len(conv.Messages) > 0 {
		// The chat request's own conversation, split as when it was
		// answered; its question is the recorded (guarded) one.
		r.req.Messages = conv.Messages
		if err := r.fromMessages(); err != nil {
			return nil, fmt.Errorf("answer %s: recorded conversation: %w", answerID, err)
		}
		r.question = rec.Question
	} else if rec.SessionID != "" && rec.Turn > 1 {
		prev, err := p.opts.Store.SessionAnswers(ctx, rec.SessionID, 0)
		if err != nil {
			return nil, fmt.Errorf("rag: replay %s: %w", answerID, err)
		}
		for _, h := range prev {
			if h.Turn >= rec.Turn || h.Turn < rec.Turn-p.history {
				continue
			}
			r.history = append(r.history,
				sextant.Message{Role: sextant.RoleUser, Content: h.Question},
				sextant.Message{Role: sextant.RoleAssistant, Content: stripMarkers(h.Text)})
		}
	}
	for _, s := range rec.Sources {
		s.Quote = ""
		r.sources = append(r.sources, s)
	}
	// An answer given without the model (refused on input, no sources and
	// no tools) replays as recorded; one with tools but no sources was
	// generated.
	if strings.HasPrefix(rec.Refusal, "input: ") || len(r.sources) == 0 && len(r.req.Tools) == 0 {
		r.res.Text, r.res.FinishReason, r.res.Refusal = rec.Text, rec.FinishReason, rec.Refusal
		r.res.Conversation = conv
		r.cite()
		return r.res, nil
	}
	if err := r.compose(); err != nil {
		return nil, err
	}
	if err := r.generate(ctx); err != nil {
		return nil, err
	}
	r.cite()
	if conv != nil {
		c := *conv
		c.ToolCalls = r.res.ToolCalls
		r.res.Conversation = &c
	}
	return r.res, nil
}

// VersionFunc returns the text of the version of template name whose hash
// is hash, from wherever old versions are kept (*sqlite.DB's
// TemplateVersionText); an ENOTFOUND error when it has none.
type VersionFunc func(ctx context.Context, name, hash string) (text string, err error)

// templateVersion finds the version of template name with hash: the
// current one, one templates held, or one Options.Versions keeps. Not
// found anywhere is ECONFLICT: the answer cannot be reproduced exactly.
func (p *Pipeline) templateVersion(ctx context.Context, templates *Templates, name, hash string) (*Template, error) {
	cur, curErr := templates.Template(name)
	if curErr == nil && cur.Hash == hash {
		return cur, nil
	}
	if tp, ok := templates.Version(name, hash); ok {
		return tp, nil
	}
	if p.opts.Versions != nil && hash != "" {
		text, err := p.opts.Versions(ctx, name, hash)
		switch {
		case err == nil:
			if TemplateHash(text) != hash {
				return nil, sextant.Errorf(sextant.EINTERNAL, "template %s: the stored version %.12s has another hash", name, hash)
			}
			return ParseTemplate(name, text)
		case sextant.ErrorCode(err) != sextant.ENOTFOUND:
			return nil, fmt.Errorf("template %s version %.12s: %w", name, hash, err)
		}
	}
	if curErr != nil {
		return nil, sextant.Errorf(sextant.ECONFLICT, "used template %s with hash %.12s, which is no longer known: %v", name, hash, sextant.ErrorMessage(curErr))
	}
	return nil, sextant.Errorf(sextant.ECONFLICT, "used template %s with hash %.12s, a version that is kept nowhere; the template now has hash %.12s", name, hash, cur.Hash)
}
