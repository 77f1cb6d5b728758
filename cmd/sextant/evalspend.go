package main

import (
	"context"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/cost"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/telemetry"
	"github.com/sextant-ai/sextant/web"
)

// Spending of evaluation and red-team runs started over HTTP: every model
// call a run makes (each answer, each LLM-judge verdict) is admitted
// against the starting key's and its project's budgets and booked in the
// usage ledger through the server's usage chain — the same pricing,
// ledger, metrics and audit of model calls a chat completion goes
// through. The run's key is the record's key, its tenant and project the
// key's; the record's user is the run's tag ("eval:SUITE" or
// "redteam:ASSISTANT"), so `sextant usage --by user` and GET
// /v1/usage?by=user show what evaluation cost beside real traffic.
//
// A budget already spent refuses the run before its first call (429); a
// budget that runs out mid-run stops it at the next call with the
// budget's error, which the run's status records. Calls already made stay
// booked, as do those of a cancelled run.

// runMeter is one run's spending; nil meters nothing (the CLI's runs,
// which are not served and have no key).
type runMeter struct {
	p         sextant.Principal
	tag       string // the ledger's user column for this run
	requestID string // the request that started the run
	book      func(context.Context, sextant.UsageRecord)
	budgets   *cost.Budgets
	prices    *cost.Prices
	now       func() time.Time
	// stop ends the whole run when a budget refuses a call: the eval
	// package records an answer's error per question and carries on,
	// so the refusal must reach the run's context.
	stop context.CancelCauseFunc
}

// runSpending is what a server's runs book and admit through: its usage
// chain, budgets and prices. The zero value meters nothing.
type runSpending struct {
	book    func(context.Context, sextant.UsageRecord) // the whole usage chain (web.Options.Usage)
	budgets *cost.Budgets
	prices  *cost.Prices
}

// meter starts metering a run of p tagged tag within ctx: it refuses a
// run whose budget is already spent, and returns the run's context (a
// budget refusal mid-run cancels it with the refusal as cause).
func (s *runSpending) meter(ctx context.Context, p sextant.Principal, tag string) (context.Context, *runMeter, error) {
	if s == nil || s.book == nil || s.prices == nil {
		return ctx, nil, nil
	}
	ctx, stop := context.WithCancelCause(ctx)
	m := &runMeter{p: p, tag: tag, requestID: web.RequestID(ctx), book: s.book, budgets: s.budgets, prices: s.prices, now: time.Now, stop: stop}
	if p.ID == web.LocalPrincipal.ID {
		m.p.ID = "" // local use (no API key) is booked without a key and not limited, as chat is
	}
	res, err := m.reserve(0)
	if err != nil {
		stop(nil)
		return nil, nil, sextant.Errorf(sextant.ERATELIMIT, "%s run refused: %s", tag, sextant.ErrorMessage(err))
	}
	res.Settle(0)
	return ctx, m, nil
}

// done releases the run's context.
func (m *runMeter) done() {
	if m != nil {
		m.stop(nil)
	}
}

func (m *runMeter) reserve(usd float64) (cost.Reservation, error) {
	if m.budgets == nil || m.p.ID == "" {
		return cost.Reservation{}, nil
	}
	return m.budgets.Reserve(cost.Scope{Tenant: m.p.Tenant, Project: m.p.Project, Key: m.p.ID}, usd)
}

// admit reserves the most a call of model with in prompt tokens and at
// most out output tokens can cost. A refusal stops the run.
func (m *runMeter) admit(ctx context.Context, model string, in, out int) (cost.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return cost.Reservation{}, err // the run is over: no call, nothing to book
	}
	est, _ := m.prices.Estimate(model, in, out)
	res, err := m.reserve(est)
	if err != nil {
		err = sextant.Errorf(sextant.ERATELIMIT, "%s run stopped: %s", m.tag, sextant.ErrorMessage(err))
		m.stop(err)
		return cost.Reservation{}, err
	}
	return res, nil
}

// record books one model call and settles its reservation with its
// price.
func (m *runMeter) record(ctx context.Context, res *cost.Reservation, rec sextant.UsageRecord) {
	rec.RequestID, rec.Time = m.requestID, m.now()
	rec.Tenant, rec.Project, rec.Key, rec.User = m.p.Tenant, m.p.Project, m.p.ID, m.tag
	usd := 0.0
	if rec.Cache == "" {
		usd = m.prices.Charge(rec.Model, rec.Usage).USD
	}
	res.Settle(usd)
	// A record of its own for the request log: the starting request's
	// (one line for the whole run) must not take each call's figures,
	// and the run's workers book at once.
	ctx = telemetry.WithRequest(context.WithoutCancel(ctx), &telemetry.RequestInfo{})
	m.book(ctx, rec)
}

// ask answers req through p, admitted and booked as one call of the
// assistant's model.
func (m *runMeter) ask(ctx context.Context, p *rag.Pipeline, req *rag.Request) (*rag.Result, error) {
	if m == nil {
		return p.Ask(ctx, req)
	}
	a, ok := p.Assistant(req.Assistant)
	if !ok {
		return p.Ask(ctx, req) // the pipeline names the unknown assistant
	}
	return m.askAs(ctx, a, func(ctx context.Context) (*rag.Result, error) { return p.Ask(ctx, req) })
}

// askAs admits a call of assistant a's model (its context window and
// max_tokens bound the estimate, as for POST /v1/ask), runs f and books
// its usage, failed or not.
func (m *runMeter) askAs(ctx context.Context, a rag.Assistant, f func(context.Context) (*rag.Result, error)) (*rag.Result, error) {
	if m == nil {
		return f(ctx)
	}
	in, out := assistantBound(a)
	res, err := m.admit(ctx, a.Model, in, out)
	if err != nil {
		return nil, err
	}
	r, err := f(ctx)
	rec := sextant.UsageRecord{Assistant: a.Name, Model: a.Model, Success: err == nil}
	if r != nil {
		rec.Usage, rec.Cache, rec.Avoided = r.Usage, r.Cache, r.Avoided
		rec.Provider, _, _ = strings.Cut(r.Served, ":")
		if r.Model != "" {
			rec.Model = r.Model
		}
	}
	m.record(ctx, &res, rec)
	return r, err
}

// complete admits and books one LLM-judge call of model: prompt is what
// it is sent (its bytes bound its tokens), maxTokens its output bound.
func (m *runMeter) complete(ctx context.Context, model, prompt string, maxTokens int, f func(context.Context) (sextant.Usage, string, error)) error {
	if m == nil {
		_, _, err := f(ctx)
		return err
	}
	res, err := m.admit(ctx, model, (len(prompt)+bytesPerTokenBound-1)/bytesPerTokenBound, maxTokens)
	if err != nil {
		return err
	}
	u, provider, err := f(ctx)
	m.record(ctx, &res, sextant.UsageRecord{Model: model, Provider: provider, Usage: u, Success: err == nil})
	return err
}
