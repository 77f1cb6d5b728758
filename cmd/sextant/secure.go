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

// ragHooks records every answer in the audit log. Guard and policy
// decisions and approvals are recorded by the guardrails themselves
// (rag.GuardrailOptions.Audit), with the stage's details.
func (s *security) ragHooks(opts *rag.Options) {
	opts.Hooks.Done = append(opts.Hooks.Done, s.answerDone)
}

// answerDone runs after each answer is sent: the record is queued, not
// awaited, so answering never waits for an audit commit.
func (s *security) answerDone(ctx context.Context, r *rag.Result) {
	var p *sextant.Principal
	if pp, ok := sextant.PrincipalFrom(ctx); ok {
		p = pp
	}
	ev := audit.AnswerEvent(&r.Answer, p)
	if err := s.log.Enqueue(context.WithoutCancel(ctx), ev); err != nil {
		s.logger.Error("audit record not queued", "kind", ev.Kind, "request_id", ev.RequestID, "err", err)
	}
}

// auditLog is the log, for the other parts of the server that record
// events (the guardrails), so one process has one appender.
func (s *security) auditLog() *audit.Log { return s.log }

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
