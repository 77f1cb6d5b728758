// Package web is Sextant's HTTP API: an OpenAI-compatible chat completions
// endpoint that answers through the RAG pipeline when the model names an
// assistant and proxies every other model to its routed provider (gateway
// mode); the embeddings and models endpoints; the native endpoints for
// answers with citations, search, documents, churn scoring and health; and
// the administration endpoints (keys, usage, budgets, audit log,
// quarantine, assistants, cache, stored answers and replay; admin.go);
// evaluation and red-team runs (evals.go) and the effective settings
// (settings.go); and the web console's static files (console.go).
//
// Contracts:
//   - Every route is declared once, in Server.Routes, with the permission
//     it needs; the middleware chain is assembled in one place
//     (Server.Handler): request id → Anthropic error shape (paths under
//     /v1/messages only) → panic recovery → Options.Middleware →
//     authentication (Options.Authenticate) → authorization (the route's
//     permission, sextant.Allowed) → Options.Admission → the handler.
//     Public routes (the health checks, the console's static files) skip
//     authentication and admission.
//   - Errors are OpenAI's error JSON ({"error": {"message", "type",
//     "param", "code"}}) with the status the one table in errors.go gives
//     each sextant error code. Bodies over the size limit get 413.
//     POST /v1/messages, Anthropic's Messages API (messages.go), and any
//     other path under /v1/messages answer every error (404 and 405 of
//     unknown paths and 500 of panics included) in Anthropic's shape
//     instead.
//   - Request bodies are decoded strictly: unknown fields are refused
//     where OpenAI refuses them, and messages name the bad field
//     ("messages[2].content: ...").
//   - A client that disconnects cancels the pipeline or the upstream call
//     (the request context reaches both).
//   - Streams are Server-Sent Events, flushed event by event: OpenAI's
//     chunk format for chat completions, typed events for /v1/ask.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/churn"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/rag"
)

// Defaults of Options fields left zero.
const (
	DefaultMaxBodyBytes   = 4 << 20                // JSON request bodies
	DefaultMaxUploadBytes = ingest.DefaultMaxBytes // one document upload
)

// Retriever searches the index; *search.Index satisfies it.
type Retriever interface {
	Search(ctx context.Context, q sextant.Query) ([]sextant.Hit, error)
}

// Store is the part of the document store the documents endpoints use;
// *sqlite.DB satisfies it. ingest.Store's methods let uploads be ingested.
type Store interface {
	ingest.Store
	// Document returns a document with its text (ENOTFOUND when absent).
	Document(ctx context.Context, id string) (*sextant.Document, error)
	// DocumentChunks returns a document's chunks in order.
	DocumentChunks(ctx context.Context, id string) ([]sextant.Chunk, error)
}

// DocumentList selects documents to list.
type DocumentList struct {
	Tenant       string              // the caller's tenant
	Collection   string              // "" = every collection
	SourcePrefix string              // only sources starting with this
	Stale        sextant.StaleFilter // by TTL state
	After        string              // ids greater than this (pagination)
	Limit        int                 // at most this many (1..1000)
}

// ListedDocument is one document of a list, without its text.
type ListedDocument struct {
	Document *sextant.Document
	Chunks   int
}

// ListFunc lists documents ordered by id. cmd adapts sqlite.ListDocuments.
type ListFunc func(ctx context.Context, q DocumentList) ([]ListedDocument, error)

// ScorerFunc returns the churn scorer for a model reference (an id, or
// "production" / "" for the production model) and the model id it
// resolved to. ENOTFOUND when there is no such model.
type ScorerFunc func(ctx context.Context, ref string) (*churn.Scorer, string, error)

// AuthFunc authenticates a request and returns its principal. An error
// with code EUNAUTHORIZED is answered 401.
type AuthFunc func(r *http.Request) (*sextant.Principal, error)

// Route is one endpoint of the API.
type Route struct {
	Method  string             // HTTP method
	Path    string             // http.ServeMux pattern path, e.g. "/v1/documents/{id}"
	Name    string             // stable name for metrics and logs, e.g. "chat.completions"
	Perm    sextant.Permission // what the caller must be allowed; "" = public (health checks)
	Handler http.HandlerFunc
}

// Middleware wraps one route's handler. It knows the route, so metrics can
// be labelled by route name and admission control can key on the
// principal (sextant.PrincipalFrom) once authentication ran.
type Middleware func(rt Route, next http.Handler) http.Handler

// UsageFunc receives one usage record per answered chat, ask or gateway
// request (tokens, model, provider, principal). It runs on the request's
// goroutine after the response was written and must not block; the cost
// ledger prices and stores the record.
type UsageFunc func(ctx context.Context, rec sextant.UsageRecord)

// Options configures a Server. Pipeline (for assistants) or Model (for the
// gateway) is needed for chat; every other nil dependency disables the
// endpoints that use it (they answer 503 with a message saying what is
// not configured).
type Options struct {
	Pipeline  *rag.Pipeline // answers for assistants; /v1/ask
	Model     *llm.Model    // gateway: models routed to providers
	Retriever Retriever     // /v1/search
	Store     Store         // /v1/documents
	List      ListFunc      // GET /v1/documents
	// Refresh brings the search index up to date with the store after an
	// upload or deletion, so the change is searchable when the response
	// arrives; nil = the index catches up on its own.
	Refresh func(ctx context.Context) error
	// UploadDir is where uploaded files are kept (one file per tenant,
	// collection and name, so uploading a name again replaces its
	// document). "" disables uploads.
	UploadDir string
	Scorer    ScorerFunc // /v1/churn/score
	// Ready reports whether the server can answer (index loaded, store
	// reachable); nil = always ready.
	Ready func(ctx context.Context) error
	// GatewayModels lists the routed model names /v1/models shows besides
	// the assistants; nil = Model.Models().
	GatewayModels func() []string
	// Forwardable reports whether a routed model's provider takes OpenAI's
	// request body as bytes (driver.Forwarder); a model for which it is
	// false is answered by translating the request into a model call
	// (Anthropic routes). nil = every model is forwarded.
	Forwardable func(model string) bool

	// Authenticate identifies the caller. nil = no authentication: every
	// request acts as LocalPrincipal (trusted local use; bind to loopback).
	Authenticate AuthFunc
	// Middleware wraps every route outside authentication (sees every
	// request, authenticated or not): tracing, metrics, access logs.
	// The first is outermost.
	Middleware []Middleware
	// Admission wraps every route after authentication and authorization:
	// rate limits and budgets keyed by the principal. The first is
	// outermost.
	Admission []Middleware
	// Usage receives a usage record per answered request (cost ledger).
	Usage UsageFunc
	// Approvals is the human-approval queue (/v1/approvals); nil answers
	// those routes 503. approvals.go.
	Approvals ApprovalQueue
	// Admin is what the administration and operations endpoints work on
	// (keys, usage, budgets, audit, quarantine, answers); each nil field
	// answers its routes 503. admin.go.
	Admin Admin
	// Evals runs evaluation suites and red-team runs and reads the
	// evaluation history (/v1/evals/runs, /v1/redteam/runs); each nil
	// field answers its routes 503. evals.go.
	Evals Evals
	// Settings returns the effective configuration for GET /v1/settings;
	// nil answers it 503. settings.go.
	Settings SettingsFunc
	// Prompts stores and applies runtime prompt templates and assistants
	// (/v1/templates, PUT and DELETE /v1/assistants/{name}); nil answers
	// the changes 503 and lists the pipeline's as they are. prompts.go.
	Prompts Prompts
	// IngestPolicy, when set, adjusts the ingestion of every upload
	// before it runs: cmd applies the collection's personal-data policy
	// (ingest.Options.PII). An error refuses the upload. nil ingests as
	// given.
	IngestPolicy func(o *ingest.Options) error

	MaxBodyBytes   int64 // JSON request body limit; 0 = DefaultMaxBodyBytes
	MaxUploadBytes int64 // document upload limit; 0 = DefaultMaxUploadBytes

	Now    func() time.Time // nil = time.Now
	NewID  func() string    // request and completion ids; nil = rag.NewID
	Logger *slog.Logger     // nil = discard
}

// LocalPrincipal is who requests act as when no authentication is
// configured: an administrator without tenant or group restrictions.
// Read-only: each request gets a copy.
var LocalPrincipal = sextant.Principal{ID: "local", Roles: []string{string(sextant.RoleAdmin)}}

// Server is the HTTP API. It is safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	runSlot chan struct{}           // holds a token while an evaluation or red-team run is in progress
	runs    *runTable               // runs in progress and recently ended (runs.go)
	assets  map[string]consoleAsset // the web console's files (console.go)
	tokens  *llm.Counter            // prompt token counts (messagestokens.go): the model layer's, else one of its own
}

// New checks opts and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Pipeline == nil && opts.Model == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "web: neither an answer pipeline nor a model is configured")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = rag.NewID
	}
	if opts.UploadDir != "" {
		abs, err := filepath.Abs(opts.UploadDir)
		if err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "web: upload directory %q: %v", opts.UploadDir, err)
		}
		opts.UploadDir = abs
	}
	assets, err := consoleAssets()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, runSlot: make(chan struct{}, 1), runs: newRunTable(), assets: assets, tokens: &llm.Counter{}}
	if opts.Model != nil {
		s.tokens = opts.Model.Counter() // shares its loaded vocabularies
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Routes is the route table: every endpoint with the permission it needs.
func (s *Server) Routes() []Route {
	return []Route{
		{"POST", "/v1/chat/completions", "chat.completions", sextant.PermChat, s.chat},
		{"POST", "/v1/messages", messagesRoute, sextant.PermChat, s.messages}, // messages.go: Anthropic's Messages API
		{"POST", "/v1/messages/count_tokens", "messages.count_tokens", sextant.PermChat, s.countTokens},
		{"POST", "/v1/embeddings", "embeddings", sextant.PermChat, s.embeddings},
		{"GET", "/v1/models", "models", sextant.PermChat, s.models},
		{"POST", "/v1/ask", "ask", sextant.PermChat, s.ask},
		{"POST", "/v1/search", "search", sextant.PermSearch, s.search},
		{"POST", "/v1/documents", "documents.upload", sextant.PermDocumentsWrite, s.uploadDocument},
		{"GET", "/v1/documents", "documents.list", sextant.PermDocumentsRead, s.listDocuments},
		{"GET", "/v1/documents/{id}", "documents.get", sextant.PermDocumentsRead, s.getDocument},
		{"DELETE", "/v1/documents/{id}", "documents.delete", sextant.PermDocumentsWrite, s.deleteDocument},
		{"POST", "/v1/churn/score", "churn.score", sextant.PermChat, s.churnScore},
		{"GET", "/healthz", "healthz", "", s.healthz},
		{"GET", "/readyz", "readyz", "", s.readyz},
		{"GET", "/console/", "console", "", s.console}, // console.go: static files, no data; the page calls the API with the user's key
		// approvals.go: the review queue, and the requester polling its own.
		{"GET", "/v1/approvals", "approvals.list", sextant.PermApprovalsDecide, s.listApprovals},
		{"GET", "/v1/approvals/{id}", "approvals.get", sextant.PermChat, s.getApproval},
		{"POST", "/v1/approvals/{id}/approve", "approvals.approve", sextant.PermApprovalsDecide, s.approve},
		{"POST", "/v1/approvals/{id}/reject", "approvals.reject", sextant.PermApprovalsDecide, s.reject},
		// admin.go: administration and operations.
		{"POST", "/v1/keys", "keys.create", sextant.PermKeysAdmin, s.createKey},
		{"GET", "/v1/keys", "keys.list", sextant.PermKeysAdmin, s.listKeys},
		{"DELETE", "/v1/keys/{id}", "keys.revoke", sextant.PermKeysAdmin, s.revokeKey},
		{"GET", "/v1/usage", "usage", sextant.PermUsageRead, s.usage},
		{"GET", "/v1/budgets", "budgets.list", sextant.PermUsageRead, s.listBudgets},
		{"PUT", "/v1/budgets", "budgets.set", sextant.PermBudgetsWrite, s.setBudgets},
		{"DELETE", "/v1/budgets", "budgets.delete", sextant.PermBudgetsWrite, s.deleteBudgets},
		{"GET", "/v1/audit", "audit.export", sextant.PermAuditRead, s.exportAudit},
		{"POST", "/v1/audit/verify", "audit.verify", sextant.PermAuditRead, s.verifyAudit},
		{"GET", "/v1/audit/answers/{id}", "audit.answers.get", sextant.PermAuditRead, s.auditAnswer},
		{"POST", "/v1/audit/answers/{id}/replay", "audit.answers.replay", sextant.PermAuditRead, s.auditReplay},
		{"GET", "/v1/quarantine", "quarantine.list", sextant.PermGuardWrite, s.listQuarantine},
		{"POST", "/v1/quarantine/{id}/release", "quarantine.release", sextant.PermGuardWrite, s.releaseQuarantine},
		{"GET", "/v1/assistants", "assistants.list", sextant.PermSettingsRead, s.assistants},
		// prompts.go: runtime templates and assistants.
		{"PUT", "/v1/assistants/{name}", "assistants.set", sextant.PermAssistantsWrite, s.setAssistant},
		{"DELETE", "/v1/assistants/{name}", "assistants.delete", sextant.PermAssistantsWrite, s.deleteAssistant},
		{"GET", "/v1/templates", "templates.list", sextant.PermSettingsRead, s.listTemplates},
		{"GET", "/v1/templates/{name}", "templates.get", sextant.PermSettingsRead, s.getTemplate},
		{"PUT", "/v1/templates/{name}", "templates.set", sextant.PermTemplatesWrite, s.setTemplate},
		{"POST", "/v1/templates/{name}/activate", "templates.activate", sextant.PermTemplatesWrite, s.activateTemplate},
		{"GET", "/v1/settings", "settings", sextant.PermSettingsRead, s.settings},
		{"POST", "/v1/cache/purge", "cache.purge", sextant.PermCacheWrite, s.purgeCache},
		{"GET", "/v1/answers/{id}", "answers.get", sextant.PermChat, s.getAnswer},
		{"POST", "/v1/answers/{id}/replay", "answers.replay", sextant.PermChat, s.replayAnswer},
		// evals.go: evaluation and red-team runs.
		{"POST", "/v1/evals/runs", "evals.run", sextant.PermEvalRun, s.runEval},
		{"GET", "/v1/evals/runs", "evals.list", sextant.PermEvalRead, s.listEvalRuns},
		{"GET", "/v1/evals/runs/{id}", "evals.get", sextant.PermEvalRead, s.getEvalRun},
		{"DELETE", "/v1/evals/runs/{id}", "evals.cancel", sextant.PermEvalRun, s.cancelEvalRun},
		{"POST", "/v1/redteam/runs", "redteam.run", sextant.PermRedteamRun, s.runRedTeam},
		{"GET", "/v1/redteam/runs/{id}", "redteam.get", sextant.PermRedteamRun, s.getRedTeamRun},
		{"DELETE", "/v1/redteam/runs/{id}", "redteam.cancel", sextant.PermRedteamRun, s.cancelRedTeamRun},
	}
}

// Handler returns the API as one http.Handler: the routes of Routes, each
// wrapped in the middleware chain, behind request ids, Anthropic's error
// shape for paths under /v1/messages, and panic recovery.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		var h http.Handler = rt.Handler
		if rt.Perm != "" { // public routes (health checks) skip authentication and admission
			for i := len(s.opts.Admission) - 1; i >= 0; i-- {
				h = s.opts.Admission[i](rt, h)
			}
			h = s.authorize(rt, h)
			h = s.authenticate(h)
		}
		for i := len(s.opts.Middleware) - 1; i >= 0; i-- {
			h = s.opts.Middleware[i](rt, h)
		}
		mux.Handle(rt.Method+" "+rt.Path, h)
	}
	mux.HandleFunc("/", notFound(mux))
	return s.requestID(anthropicErrors(s.recover(mux)))
}

// authenticate sets the request's principal.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *sextant.Principal
		if s.opts.Authenticate == nil {
			lp := LocalPrincipal // a copy: handlers must not reach the package's value
			p = &lp
		} else {
			var err error
			if p, err = s.opts.Authenticate(r); err != nil {
				writeError(w, err)
				return
			}
			if p == nil {
				writeError(w, sextant.Errorf(sextant.EUNAUTHORIZED, "no credentials: send Authorization: Bearer KEY"))
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(sextant.WithPrincipal(r.Context(), p)))
	})
}

// authorize refuses callers whose roles do not grant the route's
// permission. Public routes pass.
func (s *Server) authorize(rt Route, next http.Handler) http.Handler {
	if rt.Perm == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sextant.PrincipalFrom(r.Context())
		if !sextant.Allowed(p, rt.Perm) {
			writeError(w, sextant.Errorf(sextant.EFORBIDDEN, "%s %s needs the %q permission, which the key's roles do not grant", rt.Method, rt.Path, rt.Perm))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// principal returns the request's principal (set by authenticate).
func principal(r *http.Request) sextant.Principal {
	if p, ok := sextant.PrincipalFrom(r.Context()); ok {
		return *p
	}
	return sextant.Principal{}
}

// recover turns a handler panic into a 500 (when nothing was written yet)
// and a log line, so one bad request cannot take the server down.
func (s *Server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "request_id", RequestID(r.Context()), "panic", fmt.Sprint(v))
			writeError(w, sextant.Errorf(sextant.EINTERNAL, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

// notFound answers paths no route serves, and methods a path does not
// take (405 with Allow), in the API's error shape.
func notFound(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		probe := r.Clone(r.Context())
		var allow []string
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			probe.Method = m
			if _, p := mux.Handler(probe); p != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, &apiError{err: sextant.Errorf(sextant.EINVALID, "method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")),
				status: http.StatusMethodNotAllowed, code: "method_not_allowed"})
			return
		}
		writeError(w, &apiError{err: sextant.Errorf(sextant.ENOTFOUND, "no endpoint %s %s", r.Method, r.URL.Path), code: "unknown_url"})
	}
}
