package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net/http"
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
// policy decisions, approvals, authentication failures, admin changes),
// the admin API's wiring, and the admin key of the first start. serve
// plugs it in with:
//
//	sec, err := openSecurity(ctx, e, dataDir, store, e.stdout, log, noAuth)
//	defer sec.Close(ctx)
//	s.guard.useAuditLog(sec.auditLog()) // one appender per process
//	sec.answerDone                      // a Done hook of the pipeline
//	sec.webOptions(&webOptions)
//	sec.adminOptions(&webOptions, budgets)
//	go sec.run(ctx)
type security struct {
	log    *audit.Log
	auth   *access.Authenticator
	st     *sqlite.DB
	pub    ed25519.PublicKey // the checkpoint signing key's public half
	logger *slog.Logger
	noAuth bool
	// adminSecret is the admin key created at this start ("" when none
	// was: keys existed, or it came from SEXTANT_ADMIN_KEY).
	adminSecret string
	// skipModelCalls leaves gateway model calls out of the audit log
	// (audit.model_calls: false); set before webOptions.
	skipModelCalls bool
}

// auditConfig is the audit section of the configuration.
type auditConfig struct {
	// ModelCalls records a model_call audit record for every model call
	// made through the gateway without the answer pipeline; unset = true.
	// Answers, key changes, policy decisions and every other audit record
	// are written whatever it says.
	ModelCalls *bool `yaml:"model_calls"`
}

// modelCalls reports whether gateway model calls are audited.
func (c auditConfig) modelCalls() bool { return c.ModelCalls == nil || *c.ModelCalls }

// metricsConfig is the metrics section of the configuration.
type metricsConfig struct {
	// RequireKey makes GET /metrics need an API key holding metrics.read
	// (Prometheus sends it from its scrape job's authorization section);
	// off = served without a key, as Prometheus scrapes by default.
	RequireKey bool `yaml:"require_key"`
}

// metricsGuard wraps the /metrics handler so that only a key holding
// metrics.read reads it: 401 without a valid key (the failure is audited,
// like the API's), 403 for a key without the permission. The body is
// plain text, which is what Prometheus shows as the scrape error.
func (s *security) metricsGuard(next http.Handler) http.Handler {
	authenticate := web.APIKeyAuth(s.auth, s.log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := authenticate(r)
		switch {
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="sextant"`)
			http.Error(w, "GET /metrics needs an API key holding metrics.read (metrics.require_key is on): "+sextant.ErrorMessage(err), http.StatusUnauthorized)
		case !sextant.Allowed(p, sextant.PermMetricsRead):
			http.Error(w, "this API key does not hold metrics.read, which GET /metrics needs (roles llmops, product, admin grant it)", http.StatusForbidden)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// flushEvery is how often key last-use times are written.
const flushEvery = time.Minute

// newSecurity opens the audit log of the store in dataDir (creating its
// signing key on first use) and the key authenticator, and makes sure an
// admin key exists (printed to out once, or taken from SEXTANT_ADMIN_KEY).
func newSecurity(ctx context.Context, e *env, dataDir string, st *sqlite.DB, out io.Writer, logger *slog.Logger) (*security, error) {
	return openSecurity(ctx, e, dataDir, st, out, logger, false)
}

// openSecurity is newSecurity with authentication optionally off (serve
// --no-auth): then no admin key is made, every request acts as
// web.LocalPrincipal, and the audit log still records everything.
func openSecurity(ctx context.Context, e *env, dataDir string, st *sqlite.DB, out io.Writer, logger *slog.Logger, noAuth bool) (*security, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	key, err := audit.LoadOrCreateKey(auditKeyPath(dataDir))
	if err != nil {
		return nil, err
	}
	l := audit.Open(st, audit.Options{Key: key, Redact: auditRedactor(), Logger: logger})
	s := &security{log: l, auth: access.NewAuthenticator(st, access.Options{}), st: st, pub: key.Public().(ed25519.PublicKey),
		logger: logger, noAuth: noAuth}
	if !noAuth {
		if s.adminSecret, err = ensureAdminKey(ctx, e, st, l, out); err != nil {
			l.Close(ctx)
			return nil, err
		}
	}
	return s, nil
}

// webOptions makes the server authenticate API keys (recording failures),
// unless authentication is off.
func (s *security) webOptions(w *web.Options) {
	// Model calls that bypass the answer pipeline (gateway pass-through,
	// embeddings) are audited from their usage records; answers are
	// audited by ragHooks with their sources.
	next := w.Usage
	w.Usage = func(ctx context.Context, rec sextant.UsageRecord) {
		if next != nil {
			next(ctx, rec)
		}
		if rec.Assistant == "" && !s.skipModelCalls {
			ev := audit.ModelCallEvent(&rec)
			if err := s.log.Enqueue(context.WithoutCancel(ctx), ev); err != nil {
				s.logger.Error("audit record not queued", "kind", ev.Kind, "request_id", ev.RequestID, "err", err)
			}
		}
	}
	if s.noAuth {
		w.Authenticate = nil
		return
	}
	w.Authenticate = web.APIKeyAuth(s.auth, s.log)
}

// adminOptions wires the administration endpoints: keys, usage, budgets,
// the audit log, quarantine and answers, over the store; every change is
// appended to the audit log before the response.
func (s *security) adminOptions(w *web.Options, budgets web.Budgets) {
	st := s.st
	w.Admin = web.Admin{
		Keys: st, KeyRevoked: s.auth.Invalidate, Usage: st.UsageTotals, Audit: st,
		AuditKeys: []ed25519.PublicKey{s.pub},
		Record: func(ctx context.Context, ev sextant.AuditEvent) error {
			_, err := s.log.Append(ctx, ev)
			return err
		},
		Quarantines: func(ctx context.Context, tenant string, all bool) ([]sextant.Quarantine, error) {
			return st.Quarantines(ctx, sqlite.QuarantineFilter{Tenant: tenant, All: all})
		},
		Release:         st.ReleaseQuarantine,
		Answers:         st,
		AnswerByRequest: s.answerByRequest,
	}
	if budgets != nil {
		w.Admin.Budgets = budgets
	}
}

// ragHooks records every answer in the audit log. Guard and policy
// decisions and approvals are recorded by the guardrails themselves
// (rag.GuardrailOptions.Audit), with the stage's details.
func (s *security) ragHooks(opts *rag.Options) {
	opts.Hooks.Done = append(opts.Hooks.Done, s.answerDone)
}

// answerDone runs after each answer is sent: the record is queued, not
// awaited, so answering never waits for an audit commit. Its request id is
// the HTTP request's (web.RequestID), so the answer is found by either id.
func (s *security) answerDone(ctx context.Context, r *rag.Result) {
	var p *sextant.Principal
	if pp, ok := sextant.PrincipalFrom(ctx); ok {
		p = pp
	}
	ev := audit.AnswerEvent(&r.Answer, p)
	if id := web.RequestID(ctx); id != "" {
		ev.RequestID = id
	}
	if err := s.log.Enqueue(context.WithoutCancel(ctx), ev); err != nil {
		s.logger.Error("audit record not queued", "kind", ev.Kind, "request_id", ev.RequestID, "err", err)
	}
}

// answerByRequest returns the id of the answer request id produced, from
// the audit log's request-id index. An answer's record is queued after
// the response, so a miss waits for the queue once and looks again.
func (s *security) answerByRequest(ctx context.Context, id string) (string, error) {
	return answerByRequest(ctx, s.st, id, s.log.Sync)
}

// answerByRequest looks request id up in st's audit log; sync, when not
// nil, is called before a second look.
func answerByRequest(ctx context.Context, st *sqlite.DB, id string, sync func(context.Context) error) (string, error) {
	for try := 0; ; try++ {
		recs, err := st.AuditByRequest(ctx, id)
		if err != nil {
			return "", err
		}
		if aid, ok := audit.AnswerOf(recs); ok {
			return aid, nil
		}
		if try > 0 || sync == nil {
			return "", sextant.Errorf(sextant.ENOTFOUND, "no answer was recorded for request %q", id)
		}
		if err := sync(ctx); err != nil {
			return "", err
		}
	}
}

// startInfo is the audit payload of a server start: what answers will be
// made with at start (assistants and the hashes of their templates;
// later changes are records of their own: prompts.go) and whether keys
// are required.
type startInfo struct {
	Action     string          `json:"action"`
	Version    string          `json:"version"`
	Addr       string          `json:"addr"`
	Auth       string          `json:"auth"` // "api_keys" or "off"
	Assistants []assistantInfo `json:"assistants"`
}

type assistantInfo struct {
	Name         string `json:"name"`
	Model        string `json:"model"`
	Template     string `json:"template"`
	TemplateHash string `json:"template_hash"`
}

// recordStart appends a server.start record, durably.
func (s *security) recordStart(ctx context.Context, p *rag.Pipeline, addr string) error {
	info := startInfo{Action: "server.start", Version: version, Addr: addr, Auth: "api_keys", Assistants: []assistantInfo{}}
	if s.noAuth {
		info.Auth = "off"
	}
	if p != nil {
		for _, a := range p.Assistants() {
			ai := assistantInfo{Name: a.Name, Model: a.Model, Template: a.Template}
			if ai.Template == "" {
				ai.Template = "answer"
			}
			if t, err := p.Templates().Template(ai.Template); err == nil {
				ai.TemplateHash = t.Hash
			}
			info.Assistants = append(info.Assistants, ai)
		}
	}
	_, err := s.log.Append(ctx, sextant.AuditEvent{Kind: sextant.AuditAdmin, Actor: "system", Payload: info})
	return err
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
