package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

// security is the server's access control and audit trail: API keys
// (authenticated, cached, last use recorded), the audit log (answers,
// policy decisions, approvals, authentication failures), and the admin key
// of the first start. serve plugs it in with:
//
//	sec, err := newSecurity(ctx, e, dataDir, store, e.stdout, log)
//	defer sec.Close(context.WithoutCancel(ctx))
//	sec.ragHooks(&pipelineOptions) // before the pipeline is built
//	sec.webOptions(&webOptions)
//	go sec.run(ctx)
type security struct {
	log    *audit.Log
	auth   *access.Authenticator
	logger *slog.Logger
}

// flushEvery is how often key last-use times are written.
const flushEvery = time.Minute

// newSecurity opens the audit log of the store in dataDir (creating its
// signing key on first use) and the key authenticator, and makes sure an
// admin key exists (printed to out once, or taken from SEXTANT_ADMIN_KEY).
func newSecurity(ctx context.Context, e *env, dataDir string, st *sqlite.DB, out io.Writer, logger *slog.Logger) (*security, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	key, err := audit.LoadOrCreateKey(auditKeyPath(dataDir))
	if err != nil {
		return nil, err
	}
	l := audit.Open(st, audit.Options{Key: key, Redact: auditRedactor(), Logger: logger})
	if err := ensureAdminKey(ctx, e, st, l, out); err != nil {
		l.Close(ctx)
		return nil, err
	}
	return &security{log: l, auth: access.NewAuthenticator(st, access.Options{}), logger: logger}, nil
}

// webOptions makes the server authenticate API keys (recording failures).
func (s *security) webOptions(w *web.Options) {
	w.Authenticate = web.APIKeyAuth(s.auth, s.log)
}

// ragHooks records every answer, and the guard and policy decisions and
// approvals it carried, in the audit log.
func (s *security) ragHooks(opts *rag.Options) {
	opts.Hooks.Done = append(opts.Hooks.Done, s.answerDone)
}

// verdictEvent is the payload of a guard or policy decision.
type verdictEvent struct {
	Stage  string   `json:"stage"` // input, output or tools
	Action string   `json:"action"`
	Rule   string   `json:"rule,omitempty"`
	Labels []string `json:"labels,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// approvalEvent is the payload of a request held for approval.
type approvalEvent struct {
	Action    string `json:"action"` // "held"
	ID        string `json:"approval_id"`
	Kind      string `json:"kind"`
	Assistant string `json:"assistant,omitempty"`
	Tool      string `json:"tool,omitempty"`
}

// answerDone runs after each answer is sent: the records are queued, not
// awaited, so answering never waits for an audit commit.
func (s *security) answerDone(ctx context.Context, r *rag.Result) {
	ctx = context.WithoutCancel(ctx)
	actor, tenant := r.Principal, r.Tenant
	if p, ok := sextant.PrincipalFrom(ctx); ok {
		actor, tenant = p.ID, p.Tenant
	}
	events := []sextant.AuditEvent{audit.AnswerEvent(&r.Answer, nil)}
	events[0].Actor, events[0].Tenant = actor, tenant
	for _, v := range []struct {
		stage string
		v     rag.Verdict
	}{{"input", r.Input}, {"output", r.Output}, {"tools", r.Tools}} {
		if v.v.Action != rag.Allow || v.v.Rule != "" {
			events = append(events, sextant.AuditEvent{Kind: sextant.AuditPolicy, Actor: actor, Tenant: tenant, RequestID: r.ID,
				Payload: verdictEvent{Stage: v.stage, Action: v.v.Action.String(), Rule: v.v.Rule, Labels: v.v.Labels, Reason: v.v.Reason}})
		}
	}
	for _, a := range r.Approvals {
		events = append(events, sextant.AuditEvent{Kind: sextant.AuditApproval, Actor: actor, Tenant: tenant, RequestID: r.ID,
			Payload: approvalEvent{Action: "held", ID: a.ID, Kind: a.Kind, Assistant: a.Assistant, Tool: a.Tool}})
	}
	for _, ev := range events {
		if err := s.log.Enqueue(ctx, ev); err != nil {
			s.logger.Error("audit record not queued", "kind", ev.Kind, "request_id", ev.RequestID, "err", err)
		}
	}
}

// run writes keys' last-use times every minute until ctx ends.
func (s *security) run(ctx context.Context) {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.auth.Flush(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("recording API key use", "err", err)
			}
		}
	}
}

// Close writes the last key uses and the queued audit records, and signs a
// final checkpoint.
func (s *security) Close(ctx context.Context) error {
	return errors.Join(s.auth.Flush(ctx), s.log.Close(ctx))
}
