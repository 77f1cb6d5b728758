package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/cost"
	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/guard"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/extractive"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/telemetry"
	"github.com/sextant-ai/sextant/web"
)

// Configuration of the operating side (docs/cost.md, docs/observability.md).

// pricesConfig overrides and extends the price table.
type pricesConfig struct {
	Models  map[string]priceConfig `yaml:"models"`
	Unknown *priceConfig           `yaml:"unknown"` // price of models the table does not know; unset = unpriced
}

// priceConfig is one model's price in USD per million tokens.
type priceConfig struct {
	Input       float64 `yaml:"input"`
	CachedInput float64 `yaml:"cached_input"`
	Output      float64 `yaml:"output"`
}

// budgetsConfig sets budgets per key and per project.
type budgetsConfig struct {
	Keys     map[string]budgetConfig `yaml:"keys"`     // by key id
	Projects map[string]budgetConfig `yaml:"projects"` // by "project" or "tenant/project"
	Webhook  webhookConfig           `yaml:"webhook"`
	// Reload is how often a server re-reads budgets set with `sextant
	// budgets set`; 0 = 30s.
	Reload duration `yaml:"reload"`
}

type budgetConfig struct {
	DailyUSD   *float64  `yaml:"daily_usd"`
	MonthlyUSD *float64  `yaml:"monthly_usd"`
	Thresholds []float64 `yaml:"thresholds"` // fractions; default 0.5, 0.8, 1
}

type webhookConfig struct {
	URL       string `yaml:"url"`
	SecretEnv string `yaml:"secret_env"` // environment variable holding the HMAC secret
}

// rateLimitsConfig sets per-key rate limits.
type rateLimitsConfig struct {
	Default rateLimitConfig            `yaml:"default"`
	Keys    map[string]rateLimitConfig `yaml:"keys"`
}

type rateLimitConfig struct {
	RequestsPerMinute int `yaml:"requests_per_minute"`
	TokensPerMinute   int `yaml:"tokens_per_minute"`
}

// priceTable builds the price table from the configuration.
func (c *config) priceTable() (*cost.Prices, error) {
	pc := cost.PriceConfig{Models: map[string]cost.Price{}}
	for name, p := range c.Prices.Models {
		pc.Models[name] = cost.Price(p)
	}
	if u := c.Prices.Unknown; u != nil {
		p := cost.Price(*u)
		pc.Unknown = &p
	}
	p, err := cost.NewPrices(pc)
	if err != nil {
		return nil, fmt.Errorf("config: prices: %w", err)
	}
	return p, nil
}

// budgetList returns the configured budgets.
func (c *config) budgetList() ([]sextant.Budget, error) {
	var out []sextant.Budget
	add := func(where string, b sextant.Budget, bc budgetConfig) error {
		if bc.DailyUSD == nil && bc.MonthlyUSD == nil {
			return fmt.Errorf("config: %s: set daily_usd, monthly_usd or both", where)
		}
		for _, p := range []struct {
			period string
			v      *float64
		}{{sextant.BudgetDaily, bc.DailyUSD}, {sextant.BudgetMonthly, bc.MonthlyUSD}} {
			if p.v == nil {
				continue
			}
			b := b
			b.Period, b.LimitUSD, b.Thresholds = p.period, *p.v, bc.Thresholds
			if err := b.Validate(); err != nil {
				return fmt.Errorf("config: %s: %s", where, sextant.ErrorMessage(err))
			}
			out = append(out, b)
		}
		return nil
	}
	for _, id := range sortedKeys(c.Budgets.Keys) {
		if err := add("budgets.keys."+id, sextant.Budget{Scope: sextant.BudgetKey, ID: id}, c.Budgets.Keys[id]); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(c.Budgets.Projects) {
		tenant, project := splitProject(name)
		if err := add("budgets.projects."+name, sextant.Budget{Scope: sextant.BudgetProject, Tenant: tenant, ID: project}, c.Budgets.Projects[name]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// splitProject splits "tenant/project" ("project" alone is the default
// tenant's).
func splitProject(s string) (tenant, project string) {
	if t, p, ok := strings.Cut(s, "/"); ok {
		return t, p
	}
	return "", s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// limiterOptions returns the configured rate limits.
func (c *config) limiterOptions() cost.LimiterOptions {
	o := cost.LimiterOptions{Default: cost.RateLimit(c.RateLimits.Default), Keys: map[string]cost.RateLimit{}}
	for k, v := range c.RateLimits.Keys {
		o.Keys[k] = cost.RateLimit(v)
	}
	return o
}

// checkOperations validates the prices, budgets and rate_limits sections.
func (c *config) checkOperations() error {
	if _, err := c.priceTable(); err != nil {
		return err
	}
	if _, err := c.budgetList(); err != nil {
		return err
	}
	if _, err := cost.NewLimiter(c.limiterOptions()); err != nil {
		return fmt.Errorf("config: rate_limits: %s", sextant.ErrorMessage(err))
	}
	if w := c.Budgets.Webhook.URL; w != "" && !strings.HasPrefix(w, "http://") && !strings.HasPrefix(w, "https://") {
		return fmt.Errorf("config: budgets.webhook.url %q: want an http:// or https:// URL", w)
	}
	return nil
}

// operations is the operating side of a server: metrics, tracing, the
// request log, prices, the usage ledger, budgets and rate limits, wired
// into the web server's hooks, the answer pipeline and the model layer.
type operations struct {
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing
	log     *slog.Logger
	prices  *cost.Prices
	budgets *cost.Budgets
	limiter *cost.Limiter
	ledger  *cost.Ledger
	webhook *cost.Webhook
	reload  time.Duration

	online *eval.Online // sampled online evaluation; nil = off (evalonline.go)
	// metricsGuard, when set, wraps GET /metrics (metrics.require_key);
	// set by serve before handler.
	metricsGuard func(http.Handler) http.Handler
	// auditStats reads the audit log's counters for /metrics; set by the
	// server once the log is open, before it serves.
	auditStats func() audit.LogStats
	// assistant looks an assistant up in the pipeline as it is now
	// ("" = the default): runtime changes (prompts.go) reach estimates.
	assistant func(name string) (rag.Assistant, bool)
	// record is the whole usage chain (this usage hook and what wraps it,
	// the audit record of model calls); the server sets it once wired;
	// nil = usage alone. Admission books abandoned requests through it.
	record func(context.Context, sextant.UsageRecord)
}

// operationsDeps are what newOperations wires to.
type operationsDeps struct {
	cfg        *config
	store      *sqlite.DB
	assistants []rag.Assistant    // the configured ones, for bounded metric labels
	indexed    func() int64       // the search index's generation; nil = unknown
	logOut     io.Writer          // JSON request log; nil = none
	version    string             // service.version of spans
	tracing    *telemetry.Tracing // nil = set up from OTEL_*
	// assistant looks up the pipeline's current assistants ("" = the
	// default) for cost estimates; nil = requests are estimated as
	// gateway calls.
	assistant func(name string) (rag.Assistant, bool)
}

// newOperations builds the operating side from the configuration and the
// OTEL_* environment.
func newOperations(ctx context.Context, e *env, d operationsDeps) (*operations, error) {
	cfg := d.cfg
	o := &operations{reload: cfg.Budgets.Reload.D(), assistant: d.assistant}
	if o.reload <= 0 {
		o.reload = 30 * time.Second
	}
	var err error
	if o.prices, err = cfg.priceTable(); err != nil {
		return nil, err
	}
	if o.limiter, err = cost.NewLimiter(cfg.limiterOptions()); err != nil {
		return nil, fmt.Errorf("config: rate_limits: %w", err)
	}
	o.log = slog.New(slog.DiscardHandler)
	if d.logOut != nil {
		o.log = telemetry.NewLogger(d.logOut, telemetry.LogOptions{
			Redact: func(h slog.Handler) slog.Handler { return guard.NewLogHandler(h, guard.LogOptions{}) }})
	}

	if o.tracing = d.tracing; o.tracing == nil {
		if o.tracing, err = newTracing(ctx, e, d.version); err != nil {
			return nil, err
		}
	}

	if w := cfg.Budgets.Webhook; w.URL != "" {
		o.webhook = &cost.Webhook{URL: w.URL, Client: &http.Client{Timeout: 10 * time.Second, Transport: o.tracing.Transport(nil)}}
		if w.SecretEnv != "" {
			s := e.getenv(w.SecretEnv)
			if s == "" {
				return nil, fmt.Errorf("config: budgets.webhook.secret_env: environment variable %s is not set", w.SecretEnv)
			}
			o.webhook.Secret = []byte(s)
		}
	}
	budgets, err := cfg.budgetList()
	if err != nil {
		return nil, err
	}
	o.budgets, err = cost.NewBudgets(ctx, cost.BudgetOptions{Budgets: budgets, Store: d.store, OnAlert: o.alert,
		OnError: func(err error) { o.log.Warn("budget", "err", err) }})
	if err != nil {
		return nil, err
	}

	models := o.prices.Names()
	for _, a := range d.assistants {
		models = append(models, a.Model)
	}
	for _, r := range cfg.Routes {
		if !strings.ContainsAny(r.Match, "*?[") {
			models = append(models, r.Match)
		}
	}
	providers := []string{extractive.Model}
	for _, p := range cfg.Providers {
		providers = append(providers, p.Name)
	}
	var assistants []string
	for _, a := range d.assistants {
		assistants = append(assistants, a.Name)
	}
	mo := telemetry.MetricsOptions{
		Assistants: assistants, Models: models, Providers: providers,
		ModelLabel: func(m string) string { name, _, _ := o.prices.Lookup(m); return name },
		Budgets:    o.budgetStats,
		RecordLogs: o.recordLogs,
	}
	if d.store != nil {
		mo.Index = func(ctx context.Context) (telemetry.IndexStats, error) {
			s, err := d.store.Stats(ctx, time.Now())
			if err != nil {
				return telemetry.IndexStats{}, err
			}
			st := telemetry.IndexStats{Documents: s.Documents, Chunks: s.Chunks, StaleDocuments: s.Stale, TextBytes: s.TextBytes,
				StoreBytes: s.FileBytes, Collections: s.Collections, Generation: s.Generation, Indexed: s.Generation,
				LastChange: s.LastUpdate, Quarantined: s.Quarantined}
			if d.indexed != nil {
				st.Indexed = d.indexed()
			}
			return st, nil
		}
	}
	if o.metrics, err = telemetry.NewMetrics(mo); err != nil {
		return nil, err
	}
	for _, p := range providers {
		o.metrics.SetCircuitState(p, llm.Closed.String())
	}
	if d.store != nil {
		o.ledger = cost.NewLedger(d.store.AppendUsage, cost.LedgerOptions{OnError: func(err error, lost []sextant.UsageRecord) {
			o.log.Error("usage ledger: records lost", "records", len(lost), "err", err)
		}})
	}
	return o, nil
}

func (o *operations) budgetStats() []telemetry.BudgetStat {
	st := o.budgets.Status()
	out := make([]telemetry.BudgetStat, len(st))
	for i, s := range st {
		out[i] = telemetry.BudgetStat{Name: s.Name, LimitUSD: s.Budget.LimitUSD, SpentUSD: s.SpentUSD, ReservedUSD: s.ReservedUSD}
	}
	return out
}

// alert delivers a budget alert: metrics, a log line and the webhook. It
// runs on the budgets' delivery goroutine.
func (o *operations) alert(a cost.Alert) {
	o.metrics.ObserveBudgetAlert(a.Name, a.Threshold)
	o.log.Warn("budget threshold reached", "budget", a.Name, "threshold", a.Threshold, "spent_usd", a.SpentUSD,
		"limit_usd", a.LimitUSD, "window_end", a.WindowEnd)
	if o.webhook != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := o.webhook.Send(ctx, a); err != nil {
			o.log.Error("budget webhook", "budget", a.Name, "err", err)
		}
	}
}

// modelHooks are the model layer's callbacks: provider calls, retries,
// fallbacks and circuit changes into metrics.
func (o *operations) modelHooks() llm.Hooks {
	return llm.Hooks{Retry: o.onRetry, Fallback: o.onFallback, Breaker: o.onBreaker, Done: o.onCall}
}

func (o *operations) onRetry(ev llm.RetryEvent) {
	o.metrics.ObserveLLMRetry(ev.Target.Provider, ev.Model, errorCode(ev.Err))
}

func (o *operations) onFallback(ev llm.FallbackEvent) {
	o.metrics.ObserveLLMFallback(ev.From.Provider, ev.To.Provider)
}

func (o *operations) onBreaker(ev llm.BreakerEvent) {
	o.metrics.SetCircuitState(ev.Provider, ev.To.String())
	o.log.Warn("provider circuit", "provider", ev.Provider, "from", ev.From.String(), "to", ev.To.String(), "failures", ev.Failures)
}

func (o *operations) onCall(c llm.Call) {
	o.metrics.ObserveLLMCall(telemetry.LLMCall{Kind: c.Kind, Provider: c.Target.Provider, Model: c.Model, Code: errorCode(c.Err),
		Usage: c.Usage, FirstToken: c.FirstDelta, Duration: c.Duration})
}

// errorCode is "ok", "canceled" or err's sextant code.
func errorCode(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return sextant.ErrorCode(err)
}

// answerDone is the answer pipeline's Done hook: stage metrics, guard
// metrics and the answer's spans.
func (o *operations) answerDone(ctx context.Context, r *rag.Result) {
	o.metrics.ObserveAnswer(&r.Answer)
	for _, g := range []struct {
		stage string
		v     rag.Verdict
	}{{"input", r.Input}, {"output", r.Output}} {
		if g.v.Action != rag.Allow || len(g.v.Labels) > 0 {
			o.metrics.ObserveGuard(g.stage, g.v.Action.String(), g.v.Labels)
		}
	}
	if r.ChunksRemoved > 0 {
		o.metrics.ObserveGuard("chunks", telemetry.GuardBlock, nil)
	}
	telemetry.RecordAnswer(ctx, o.tracing.Tracer(), &r.Answer)
	o.offerOnline(ctx, r)
}

// ragHooks adds the operating hooks to a pipeline's options.
func (o *operations) ragHooks(opts *rag.Options) {
	opts.Hooks.Done = append(opts.Hooks.Done, o.answerDone)
}

// webOptions sets the web server's middleware (telemetry), admission
// (rate limits and budgets) and usage (pricing, ledger) hooks and logger.
func (o *operations) webOptions(w *web.Options) {
	mw := telemetry.Middleware(telemetry.HTTPOptions{Metrics: o.metrics, Tracing: o.tracing, Logger: o.log,
		RequestID: func(r *http.Request) string { return web.RequestID(r.Context()) }})
	w.Middleware = append(w.Middleware, func(_ web.Route, next http.Handler) http.Handler { return mw(next) })
	w.Admission = append(w.Admission, o.admit)
	w.Usage = o.usage
}

// handler serves the API with GET /metrics beside it, behind
// metricsGuard when one is set (metrics.require_key).
func (o *operations) handler(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	var metrics http.Handler = o.metrics.Handler()
	if o.metricsGuard != nil {
		metrics = o.metricsGuard(metrics)
	}
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/", api)
	return mux
}

// run re-reads stored budgets until ctx ends, so `sextant budgets set`
// reaches a running server.
func (o *operations) run(ctx context.Context) {
	t := time.NewTicker(o.reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := o.budgets.Reload(ctx); err != nil && ctx.Err() == nil {
				o.log.Warn("budgets reload", "err", err)
			}
		}
	}
}

// Close flushes the ledger, waits for alert deliveries and flushes spans.
func (o *operations) Close(ctx context.Context) error {
	errs := []error{o.closeOnline(ctx)} // first: its scores reach the metrics and the store
	if o.ledger != nil {
		errs = append(errs, o.ledger.Close(ctx))
	}
	errs = append(errs, o.budgets.Close(ctx), o.tracing.Shutdown(ctx))
	return errors.Join(errs...)
}

// accounting follows one admitted request from admission to its usage
// record.
type accounting struct {
	key       string
	tokens    int // announced to the rate limiter
	res       cost.Reservation
	reserved  bool
	actualUSD float64
	settled   bool
	recorded  bool // the handler handed a usage record over
}

type accountingKey struct{}

// spending routes are the ones that call models.
var spendingRoutes = map[string]bool{"chat.completions": true, "messages": true, "ask": true, "embeddings": true}

// Estimation defaults: what a request may use when it does not say.
const (
	defaultMaxOutput    = 4096  // output tokens of a request without max_tokens
	defaultContextInput = 16000 // prompt tokens of an assistant without a context window
	bytesPerTokenBound  = 3     // request bytes per prompt token, a low (safe) ratio
)

// admit applies the caller's rate limits and budgets to spending routes:
// it estimates the request's tokens and cost from its body, takes the
// tokens from the key's buckets, reserves the cost against the key's and
// project's budgets, and after the handler settles the reservation with
// the cost the usage record carried. Local use (no API key) is not
// limited.
func (o *operations) admit(rt web.Route, next http.Handler) http.Handler {
	if !spendingRoutes[rt.Name] {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sextant.PrincipalFrom(r.Context())
		if p == nil || p.ID == "" || p.ID == web.LocalPrincipal.ID {
			next.ServeHTTP(w, r)
			return
		}
		model, in, out, err := o.estimate(rt, r)
		if err != nil {
			// Too large or unreadable: the handler reports it properly.
			next.ServeHTTP(w, r)
			return
		}
		acct := &accounting{key: p.ID, tokens: in + out}
		dec, err := o.limiter.Allow(p.ID, acct.tokens)
		dec.SetHeaders(w.Header())
		if err != nil {
			o.metrics.ObserveLimited(dec.Exceeded) // "requests" or "tokens", as telemetry names them
			refuse(w, err, "rate_limit_exceeded", 0)
			return
		}
		est, _ := o.prices.Estimate(model, in, out)
		acct.res, err = o.budgets.Reserve(cost.Scope{Tenant: p.Tenant, Project: p.Project, Key: p.ID}, est)
		if err != nil {
			o.limiter.Adjust(p.ID, -acct.tokens)
			o.metrics.ObserveLimited(telemetry.LimitBudget)
			var ex *cost.ExhaustedError
			wait := time.Duration(0)
			if errors.As(err, &ex) {
				wait = time.Until(ex.Reset)
			}
			refuse(w, err, "insufficient_quota", wait)
			return
		}
		acct.reserved = true
		defer func() {
			if !acct.settled {
				acct.res.Settle(acct.actualUSD)
			}
		}()
		ctx := context.WithValue(r.Context(), accountingKey{}, acct)
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r.WithContext(ctx))
		if !acct.recorded && cw.n > 0 && cw.status/100 == 2 {
			o.abandoned(ctx, p, model, in, cw.n)
		}
	})
}

// abandoned books a request whose response had started but which ended
// without a usage record — the client went away mid-stream and the
// handler stopped. The model was called and its tokens were spent, so a
// client must not escape its budget by disconnecting: the record carries
// the admission estimate of the prompt and, as output, the bytes already
// sent at 3 bytes per token (an upper bound: they include the stream's
// framing), marked estimated and unsuccessful.
func (o *operations) abandoned(ctx context.Context, p *sextant.Principal, model string, in int, sent int64) {
	rec := sextant.UsageRecord{RequestID: web.RequestID(ctx), Time: time.Now(), Tenant: p.Tenant, Project: p.Project,
		Key: p.ID, User: p.User, Model: model,
		Usage: sextant.Usage{InputTokens: in, OutputTokens: int((sent + bytesPerTokenBound - 1) / bytesPerTokenBound), Estimated: true}}
	record := o.record
	if record == nil {
		record = o.usage
	}
	record(ctx, rec)
	o.log.WarnContext(ctx, "request abandoned mid-response: usage booked from the estimate",
		"request_id", rec.RequestID, "model", model, "input_tokens", rec.Usage.InputTokens, "output_tokens", rec.Usage.OutputTokens)
}

// countingWriter counts the body bytes a handler writes and keeps its
// status. Unwrap keeps http.ResponseController (flushes of streams)
// working through it.
type countingWriter struct {
	http.ResponseWriter
	n      int64
	status int
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// refuse answers 429 in OpenAI's error shape.
func refuse(w http.ResponseWriter, err error, code string, retryAfter time.Duration) {
	h := w.Header()
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(retryAfter.Seconds())), 10))
	}
	h.Set("Content-Type", "application/json")
	typ := "rate_limit_error"
	if sextant.ErrorCode(err) == sextant.EINVALID {
		// More tokens than the key's whole minute: it can never pass.
		typ, code = "invalid_request_error", "tokens_over_rate_limit"
	}
	w.WriteHeader(web.StatusOf(err))
	b, _ := json.Marshal(web.ErrorBody{Error: web.ErrorDetail{Message: sextant.ErrorMessage(err), Type: typ, Code: code}})
	w.Write(append(b, '\n'))
}

// estimate bounds a request's tokens and names the model that will serve
// it, from its JSON body (restored for the handler): an assistant's model
// and context window, or the gateway model with the body's size as the
// prompt; max_tokens (or max_completion_tokens, times n) as the output.
func (o *operations) estimate(rt web.Route, r *http.Request) (model string, in, out int, err error) {
	const limit = web.DefaultMaxBodyBytes
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil || len(b) > limit {
		return "", 0, 0, errors.New("body unreadable or too large")
	}
	var req struct {
		Model               string `json:"model"`
		Assistant           string `json:"assistant"`
		MaxTokens           *int   `json:"max_tokens"`
		MaxCompletionTokens *int   `json:"max_completion_tokens"`
		N                   *int   `json:"n"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return "", 0, 0, err
	}
	out = defaultMaxOutput
	switch {
	case req.MaxCompletionTokens != nil && *req.MaxCompletionTokens > 0:
		out = *req.MaxCompletionTokens
	case req.MaxTokens != nil && *req.MaxTokens > 0:
		out = *req.MaxTokens
	}
	if req.N != nil && *req.N > 1 {
		out *= *req.N
	}
	name := req.Model
	if rt.Name == "ask" {
		name = req.Assistant
	}
	if a, ok := o.lookupAssistant(name, rt.Name == "ask"); ok {
		in, aout := assistantBound(a)
		if (req.MaxTokens == nil || *req.MaxTokens <= 0) && a.MaxTokens > 0 {
			out = aout
		}
		return a.Model, in, out, nil
	}
	in = len(b) / bytesPerTokenBound
	if rt.Name == "embeddings" {
		out = 0
	}
	return name, in, out, nil
}

// assistantBound is the most one answer of assistant a can use: its
// context window as prompt tokens and its max_tokens as output, the
// defaults where it sets none. Admission and the runs' meters reserve
// budgets against it.
func assistantBound(a rag.Assistant) (in, out int) {
	in, out = a.ContextWindow, a.MaxTokens
	if in <= 0 {
		in = defaultContextInput
	}
	if out <= 0 {
		out = defaultMaxOutput
	}
	return in, out
}

// lookupAssistant finds the assistant a request names in the pipeline as
// it is now (assistants change at runtime). orDefault: "" names the
// default assistant (POST /v1/ask).
func (o *operations) lookupAssistant(name string, orDefault bool) (rag.Assistant, bool) {
	if (name == "" && !orDefault) || o.assistant == nil {
		return rag.Assistant{}, false
	}
	return o.assistant(name)
}

// usage is the web server's usage hook: it prices the record, settles the
// request's budget reservation and rate-limit tokens with the real
// figures, queues the record for the ledger and records tokens and cost
// in metrics and on the request's log line.
func (o *operations) usage(ctx context.Context, rec sextant.UsageRecord) {
	ch := o.prices.Charge(rec.Model, rec.Usage)
	rec.CostUSD, rec.Priced = ch.USD, ch.Priced
	rec.SavedUSD += ch.SavedUSD
	if rec.Cache != "" {
		// Served from the response cache: no model was paid; what the
		// generation it replays cost is saved.
		rec.SavedUSD += rec.CostUSD + o.prices.Charge(rec.Model, rec.Avoided).USD
		rec.CostUSD = 0
	}
	if acct, _ := ctx.Value(accountingKey{}).(*accounting); acct != nil {
		acct.recorded = true
		acct.actualUSD += rec.CostUSD
		if acct.reserved && !acct.settled {
			acct.res.Settle(acct.actualUSD)
			acct.settled = true
		}
		o.limiter.Adjust(acct.key, rec.Usage.InputTokens+rec.Usage.OutputTokens-acct.tokens)
	}
	if o.ledger != nil {
		if err := o.ledger.Record(rec); err != nil {
			o.log.ErrorContext(ctx, "usage ledger", "request_id", rec.RequestID, "err", err)
		}
	}
	o.metrics.ObserveUsage(rec.Assistant, rec.Model, rec.Usage, rec.CostUSD, rec.SavedUSD)
	telemetry.RequestFrom(ctx).SetRecord(&rec)
}

// newTracing sets tracing up as the OTEL_* variables say (off by default).
func newTracing(ctx context.Context, e *env, version string) (*telemetry.Tracing, error) {
	tc, err := telemetry.TraceConfigFromEnv(e.getenv)
	if err != nil {
		return nil, err
	}
	tc.ServiceVersion = version
	return telemetry.NewTracing(ctx, tc, telemetry.TracingOptions{})
}

// providerClient is the HTTP client of model providers: the drivers'
// default transport settings, with each call traced and carrying the
// request's traceparent.
func providerClient(tr *telemetry.Tracing) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = 10 * time.Minute
	return &http.Client{Transport: tr.Transport(t)}
}

// openOperated builds the answer pipeline like openPipeline, with the
// operating side wired in: the model layer reports to metrics, finished
// answers to metrics and traces, and the returned operations hold the
// ledger, budgets and limits for the web server (webOptions, handler).
// logOut receives the JSON request log (nil = none); tweaks adjust the
// pipeline's options after the operating hooks are in (serve adds the
// audit record of each answer).
func openOperated(ctx context.Context, e *env, dataDir, configPath string, logOut io.Writer, tweaks ...func(*rag.Options)) (*askSetup, *operations, error) {
	cfg, err := loadConfig(configPath, dataDir, e.getenv)
	if err != nil {
		return nil, nil, err
	}
	tracing, err := newTracing(ctx, e, version)
	if err != nil {
		return nil, nil, err
	}
	cfg.client = providerClient(tracing)
	// The model and pipeline are built before the operations (which need
	// their store and assistants); their callbacks reach ops through here.
	var ops *operations
	cfg.hooks = llm.Hooks{
		Retry: func(ev llm.RetryEvent) {
			if ops != nil {
				ops.onRetry(ev)
			}
		},
		Fallback: func(ev llm.FallbackEvent) {
			if ops != nil {
				ops.onFallback(ev)
			}
		},
		Breaker: func(ev llm.BreakerEvent) {
			if ops != nil {
				ops.onBreaker(ev)
			}
		},
		Done: func(c llm.Call) {
			if ops != nil {
				ops.onCall(c)
			}
		},
	}
	s, err := buildPipeline(ctx, e, cfg, dataDir, func(o *rag.Options) {
		o.Hooks.Done = append(o.Hooks.Done, func(ctx context.Context, r *rag.Result) {
			if ops != nil {
				ops.answerDone(ctx, r)
			}
		})
		for _, t := range tweaks {
			t(o)
		}
	})
	if err != nil {
		tracing.Shutdown(ctx)
		return nil, nil, err
	}
	ops, err = newOperations(ctx, e, operationsDeps{cfg: cfg, store: s.eng.store, assistants: s.opts.Assistants,
		assistant: s.pipeline.Assistant, indexed: s.eng.index.Generation, logOut: logOut, version: version, tracing: tracing})
	if err != nil {
		tracing.Shutdown(ctx)
		s.Close()
		return nil, nil, err
	}
	ops.startOnline(cfg, s)
	return s, ops, nil
}

// recordLogs reports the usage ledger's and the audit log's writers for
// /metrics: records written, lost and waiting.
func (o *operations) recordLogs() []telemetry.RecordLogStat {
	var out []telemetry.RecordLogStat
	if o.ledger != nil {
		s := o.ledger.Stats()
		out = append(out, telemetry.RecordLogStat{Log: "usage", Written: s.Written, Lost: s.Failed, Queued: s.Queued})
	}
	if o.auditStats != nil {
		s := o.auditStats()
		out = append(out, telemetry.RecordLogStat{Log: "audit", Written: s.Written, Lost: s.Lost, Queued: s.Queued})
	}
	return out
}
