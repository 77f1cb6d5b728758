package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/churn"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/extractive"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

const serveUsage = `Usage: sextant serve [--addr HOST:PORT] [--data DIR] [--config FILE] [--no-auth]

Start the HTTP API: OpenAI-compatible chat completions (assistants answer
from your documents with citations; other models are proxied to their
configured providers), embeddings, models, the native endpoints for
answers, search, documents and churn scoring, the administration API
for keys, usage, budgets, the audit log and quarantine, and evaluation
runs, red-team runs and the effective settings (docs/api.md).

Every request needs an API key (Authorization: Bearer KEY). On first start
the server creates an admin key and prints it once (or imports
SEXTANT_ADMIN_KEY); make more with sextant keys create. --no-auth turns
keys off for local development: every request then acts as an
administrator, so it is refused unless the address is loopback.

With no configuration it runs on the embedded default: the extractive
generator and lexical search, no model API key needed. On first start
with an empty store it ingests Sextant's own manual as a sample corpus.

Flags:
`

// Serve defaults.
const (
	defaultAddr    = "127.0.0.1:8080"
	followInterval = time.Second      // how often the index checks the store for other processes' changes
	shutdownGrace  = 10 * time.Second // in-flight requests get this long after a stop signal
	sampleDirName  = "sample-docs"    // under DATA: the bundled manual, ingested on first start
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("serve", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
	}
	def := e.getenv("SEXTANT_ADDR")
	if def == "" {
		def = defaultAddr
	}
	addr := fs.String("addr", def, "address to listen on (env SEXTANT_ADDR); 127.0.0.1 keeps it local, :8080 serves every interface")
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	noSample := fs.Bool("no-sample", false, "do not ingest the bundled manual into an empty store")
	noAuth := fs.Bool("no-auth", false, "serve without API keys, every request acting as an administrator: local development only (loopback addresses)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("serve: unexpected argument %q", pos[0])
	}
	if *noAuth && !loopback(*addr) {
		return usageErrorf("serve: --no-auth serves every request as an administrator, so it needs a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), not %q", *addr)
	}
	// The operating side (operate.go): metrics at GET /metrics, tracing by
	// OTEL_*, a JSON log with one line per request, rate limits, budgets
	// and the usage ledger. The security side (secure.go) records every
	// answer in the audit log; sec is set before the first request.
	var sec *security
	s, ops, err := openOperated(ctx, e, *dataDir, *configPath, e.stderr, func(o *rag.Options) {
		o.Hooks.Done = append(o.Hooks.Done, func(ctx context.Context, r *rag.Result) {
			if sec != nil {
				sec.answerDone(ctx, r)
			}
		})
	})
	if err != nil {
		return err
	}
	defer s.Close()
	defer ops.Close(context.Background()) // flushes the usage ledger into the store
	log := ops.log
	s.guard.setLogger(log) // guardrails.go
	store, index := s.eng.store, s.eng.index
	// API keys and the audit log: one appender per process, shared with
	// the guardrails (policy decisions, approvals, policy reloads).
	sec, err = openSecurity(ctx, e, *dataDir, store, e.stdout, log, *noAuth)
	if err != nil {
		return err
	}
	defer func() { // first: the last audit records and key uses reach the store
		cctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := sec.Close(cctx); err != nil {
			log.Error("closing the audit log", "err", err)
		}
	}()
	s.guard.useAuditLog(sec.auditLog())
	ops.auditStats = sec.auditLog().Stats
	sec.skipModelCalls = !s.cfg.Audit.modelCalls()
	if s.cfg.Metrics.RequireKey && !*noAuth {
		ops.metricsGuard = sec.metricsGuard
	}
	if *noAuth {
		fmt.Fprintln(e.stderr, "sextant: WARNING: --no-auth: API keys are OFF. Every request acts as an administrator (local development only).")
		log.Warn("API keys are off (--no-auth): every request acts as an administrator", "addr", *addr)
	}
	fmt.Fprintln(e.stdout, s.eng.note)
	s.eng.log = log
	if !*noSample {
		if n, err := ingestSample(ctx, store, *dataDir); err != nil {
			return err
		} else if n > 0 {
			if err := s.eng.refresh(ctx); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "First start: ingested Sextant's manual (%d documents) as a sample corpus.\n", n)
		}
	}
	model, _ := s.opts.Model.(*llm.Model)
	wo := web.Options{
		Pipeline: s.pipeline, Model: model, Retriever: index, Store: store,
		List:          listFunc(store),
		Refresh:       s.eng.refresh, // embeds new chunks first when an embedder is configured
		UploadDir:     filepath.Join(*dataDir, "uploads"),
		Scorer:        churnScorers(*dataDir),
		GatewayModels: gatewayModels(model),
		Forwardable:   forwardable(s.cfg, model),
		Ready: func(ctx context.Context) error {
			_, err := store.Generation(ctx)
			return err
		},
		Logger:    log,
		Approvals: s.guard.queue(), // guardrails.go
		IngestPolicy: func(o *ingest.Options) error { // the collection's PII policy (guardrails.go)
			return s.cfg.ingestPII(o, e.getenv)
		},
	}
	evals := &evalService{s: s, store: store, dataDir: *dataDir, log: log}
	wo.Evals = evals.options() // evalserve.go
	wo.Settings = settingsFunc(s.cfg)
	wo.Prompts = s.prompts // prompts.go: runtime templates and assistants
	ops.webOptions(&wo)
	sec.webOptions(&wo)
	ops.record = wo.Usage // abandoned requests go through the whole chain, audit included
	// Evaluation and red-team runs book and admit as chat does (evalspend.go).
	evals.spend = &runSpending{book: wo.Usage, budgets: ops.budgets, prices: ops.prices}
	sec.adminOptions(&wo, ops.budgets)
	if s.guard != nil && s.guard.g != nil { // a release takes effect at once in this process
		release, g := wo.Admin.Release, s.guard.g
		wo.Admin.Release = func(ctx context.Context, id, by, note string, at time.Time) (*sextant.Quarantine, error) {
			q, err := release(ctx, id, by, note, at)
			if err == nil {
				g.ForgetQuarantine(id)
			}
			return q, err
		}
	}
	srv, err := web.New(wo)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := sec.recordStart(ctx, s.pipeline, ln.Addr().String()); err != nil {
		ln.Close()
		return fmt.Errorf("serve: audit log: %w", err)
	}
	hs := &http.Server{Handler: ops.handler(srv.Handler()), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		follow(ctx, store, index, followInterval, log)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		ops.run(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		sec.run(ctx)
	}()
	wg.Add(1)
	go func() { // changes made by `sextant templates|assistants` apply within a second
		defer wg.Done()
		s.prompts.watch(ctx, followInterval, log)
	}()
	printServing(e, ln.Addr().String(), *dataDir, sec)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		cancel()
		wg.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(e.stderr, "sextant: shutting down (in-flight requests get", shutdownGrace, "to finish)")
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close() // streams still running past the grace period are cut
	}
	// Background evaluation and red-team runs outlive their requests: stop
	// them before the store they write to closes.
	if err := srv.StopRuns(sctx); err != nil {
		log.Warn("an evaluation or red-team run did not stop within the grace period", "err", err)
	}
	cancel()
	wg.Wait()
	return nil
}

// indexer is what follow needs of the search index.
type indexer interface {
	Generation() int64
	Refresh(ctx context.Context) error
}

// follow keeps the index in step with the store when other processes
// (sextant ingest, another server) change it: it polls the store's
// generation and applies the change log when it moved.
func follow(ctx context.Context, store interface {
	Generation(context.Context) (int64, error)
}, ix indexer, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		gen, err := store.Generation(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("index follow: store generation", "err", err)
			}
			continue
		}
		if gen != ix.Generation() {
			if err := ix.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("index follow: refresh", "err", err)
			}
		}
	}
}

// ingestSample writes the bundled manual to DATA/sample-docs and ingests
// it when the store has never held a document (generation 0). It returns
// the number of documents added.
func ingestSample(ctx context.Context, store *sqlite.DB, dataDir string) (int, error) {
	gen, err := store.Generation(ctx)
	if err != nil || gen != 0 {
		return 0, err
	}
	dir := filepath.Join(dataDir, sampleDirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("sample corpus: %w", err)
	}
	files, err := fs.Glob(sextant.Docs, "docs/*.md")
	if err != nil {
		return 0, err
	}
	for _, f := range files {
		b, err := sextant.Docs.ReadFile(f)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			return 0, fmt.Errorf("sample corpus: %w", err)
		}
	}
	sum, err := ingest.Run(ctx, []string{dir}, ingest.Options{Metadata: map[string]string{"sample": "sextant-manual"}}, store)
	if err != nil {
		return 0, fmt.Errorf("sample corpus: %w", err)
	}
	return sum.Added, nil
}

// printServing prints where the API is and how to try it: with the key
// in SEXTANT_API_KEY (printed just above on first start), or without one
// under --no-auth.
func printServing(e *env, addr, dataDir string, sec *security) {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	url := "http://" + net.JoinHostPort(host, port)
	auth, keyNote, clientKey := ` -H "Authorization: Bearer $SEXTANT_API_KEY"`, "", "$SEXTANT_API_KEY"
	switch {
	case sec.noAuth:
		auth, keyNote, clientKey = "", " (API keys are off: --no-auth)", "any"
	case sec.adminSecret != "":
		keyNote = " (after the export line above)"
	case e.getenv("SEXTANT_ADMIN_KEY") != "":
		keyNote = ` (export SEXTANT_API_KEY="$SEXTANT_ADMIN_KEY" first)`
	default:
		keyNote = " (export SEXTANT_API_KEY=KEY first: the admin key printed on the first start, or one from `sextant keys create --role app`)"
	}
	fmt.Fprintf(e.stdout, `Sextant is serving at %s  (data: %s)

Ask it something%s:

  curl -s %s/v1/chat/completions%s -H 'Content-Type: application/json' \
    -d '{"model": "sextant", "messages": [{"role": "user", "content": "How do I ingest a folder of PDFs?"}]}'

  sextant ask --server %s "How do I ingest a folder of PDFs?"

OpenAI clients work unchanged: base URL %s/v1, model "sextant", API key %s.
Web console: %s/console/ (paste an API key). API: docs/api.md; keys and roles: docs/access-control.md.
Stop with Ctrl-C.
`, url, dataDir, keyNote, url, auth, url, url, clientKey, url)
}

// loopback reports whether addr (HOST:PORT) listens on a loopback
// interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listFunc adapts the store's document listing to the web package.
func listFunc(store *sqlite.DB) web.ListFunc {
	return func(ctx context.Context, q web.DocumentList) ([]web.ListedDocument, error) {
		docs, err := store.ListDocuments(ctx, sqlite.DocumentFilter{Tenant: q.Tenant, Collection: q.Collection,
			SourcePrefix: q.SourcePrefix, Stale: q.Stale, After: q.After, Limit: q.Limit})
		if err != nil {
			return nil, err
		}
		out := make([]web.ListedDocument, len(docs))
		for i, d := range docs {
			out[i] = web.ListedDocument{Document: d.Document, Chunks: d.Chunks}
		}
		return out, nil
	}
}

// gatewayModels lists the routed model names the gateway can serve: every
// exactly routed name except the built-in extractive generator, which has
// no wire protocol to forward.
func gatewayModels(m *llm.Model) func() []string {
	return func() []string {
		if m == nil {
			return nil
		}
		var out []string
		for _, n := range m.Models() {
			if ts, err := m.Targets(n); err == nil && len(ts) > 0 && ts[0].Provider == extractive.Model {
				continue
			}
			out = append(out, n)
		}
		return out
	}
}

// forwardable reports whether a model's primary provider speaks OpenAI's
// protocol, so the gateway can forward the request body as bytes; models
// routed to Anthropic are translated instead.
func forwardable(cfg *config, m *llm.Model) func(string) bool {
	types := map[string]string{}
	for _, p := range cfg.Providers {
		types[p.Name] = p.Type
	}
	return func(name string) bool {
		if m == nil {
			return true
		}
		ts, err := m.Targets(name)
		if err != nil || len(ts) == 0 {
			return true // the gateway reports the missing route
		}
		return types[ts[0].Provider] != "anthropic"
	}
}

// churnScorers resolves churn model references against DATA/churn for each
// request (so a promotion by `sextant churn promote` takes effect at
// once) and keeps one scorer per model id. Scored rows are recorded for
// drift, as `sextant churn score` does.
func churnScorers(dataDir string) web.ScorerFunc {
	var (
		mu      sync.Mutex
		scorers = map[string]*churn.Scorer{}
	)
	return func(ctx context.Context, ref string) (*churn.Scorer, string, error) {
		reg, err := openRegistry(dataDir)
		if err != nil {
			return nil, "", err
		}
		if ref == "" {
			ref = "production"
		}
		id, err := reg.Resolve(ref)
		if err != nil {
			return nil, "", err
		}
		mu.Lock()
		defer mu.Unlock()
		if sc, ok := scorers[id]; ok {
			return sc, id, nil
		}
		m, err := reg.Load(id)
		if err != nil {
			return nil, "", err
		}
		sc := churn.NewScorer(m, churn.ScorerOptions{Reasons: 3, Record: func(recs []churn.TrafficRecord) error {
			return reg.RecordTraffic(id, recs)
		}})
		scorers[id] = sc
		return sc, id, nil
	}
}
