package rag

import (
	"context"
	"fmt"

	"github.com/sextant-ai/sextant"
)

// Replay answers a recorded question again from its record alone: the same
// template (its hash must match the current template of that name), the
// same numbered sources with the text they had, the same conversation
// before it, model, temperature, seed and max tokens. Nothing is
// retrieved, cached or stored. Comparing the result with the record shows
// whether the model (or a changed generator) still answers the same way;
// the extractive generator always does.
//
// Errors: ENOTFOUND for an unknown answer, EFORBIDDEN for another
// principal's, ECONFLICT when the template changed since, EINVALID without
// a Store.
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
	tp, err := p.templates.Template(rec.Template)
	if err != nil {
		return nil, sextant.Errorf(sextant.ECONFLICT, "answer %s: %w", answerID, err)
	}
	if tp.Hash != rec.TemplateHash {
		return nil, sextant.Errorf(sextant.ECONFLICT, "answer %s used template %s with hash %.12s; the template now has hash %.12s", answerID, rec.Template, rec.TemplateHash, tp.Hash)
	}
	a, ok := p.assistants[rec.Assistant]
	if !ok {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "answer %s: assistant %q is no longer configured", answerID, rec.Assistant)
	}
	asst := *a
	asst.Model, asst.Template = rec.Model, rec.Template
	asst.ContextWindow = -1 // the recorded sources already fit
	r := &run{p: p, req: &Request{Principal: principal}, yield: func(Event, error) bool { return true }, asst: &asst}
	r.res = &Result{}
	r.res.Answer = sextant.Answer{ID: answerID, SessionID: rec.SessionID, Turn: rec.Turn, Tenant: rec.Tenant,
		Principal: rec.Principal, Assistant: rec.Assistant, Question: rec.Question, Query: rec.Query, Model: rec.Model,
		Temperature: rec.Temperature, Seed: rec.Seed, MaxTokens: rec.MaxTokens, CreatedAt: p.opts.Now()}
	r.question = rec.Question
	if rec.SessionID != "" && rec.Turn > 1 {
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
	if len(r.sources) == 0 {
		r.res.Text, r.res.FinishReason, r.res.Refusal = rec.Text, rec.FinishReason, rec.Refusal
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
	return r.res, nil
}
