package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sextant-ai/sextant"
)

// MetricsOptions configures NewMetrics. The zero value is ready to use.
type MetricsOptions struct {
	// Registry receives every collector; nil = a new registry. It is never
	// the process-global default registry.
	Registry *prometheus.Registry

	// Routes, Assistants, Models and Providers are the label values
	// recorded as given; any other value is recorded as "other". A nil
	// list admits the first MaxValues distinct values seen instead (then
	// "other"). Values can be added later with Allow*.
	Routes, Assistants, Models, Providers []string
	// MaxValues caps dynamically admitted values per label; 0 = 64.
	MaxValues int
	// ModelLabel maps a model name to its label value before the check
	// against Models, so dated variants share a series (cmd passes the
	// price table's canonical name); nil = as given.
	ModelLabel func(string) string

	// Index reports the corpus size and freshness, read at scrape time
	// (at most once per IndexEvery); nil = no index metrics.
	Index func(ctx context.Context) (IndexStats, error)
	// IndexEvery bounds how often Index is called; 0 = 15 s.
	IndexEvery time.Duration
	// Budgets reports budget state at scrape time; nil = no budget
	// gauges.
	Budgets func() []BudgetStat
	// RecordLogs reports the background record writers (audit log, usage
	// ledger) at scrape time; nil = no record-log metrics.
	RecordLogs func() []RecordLogStat

	// NoRuntime leaves out the Go runtime and process collectors.
	NoRuntime bool
	Now       func() time.Time // clock for the index cache; nil = time.Now
}

// Metrics is Sextant's Prometheus instrumentation: the metric families of
// requests, answer stages, tokens and cost, caches, retrieval, guards,
// model providers, budgets and limits, the index and evaluation. Record
// with its methods; serve it with Handler. Label values are bounded (see
// MetricsOptions). It is safe for concurrent use; a nil *Metrics records
// nothing.
type Metrics struct {
	reg        *prometheus.Registry
	modelLabel func(string) string

	routes, assistants, models, providers, suites, evalMetrics *labelSet

	requestDuration  *prometheus.HistogramVec
	timeToFirstToken *prometheus.HistogramVec
	stageDuration    *prometheus.HistogramVec
	tokens           *prometheus.CounterVec
	costUSD          *prometheus.CounterVec
	savedUSD         *prometheus.CounterVec
	cacheLookups     *prometheus.CounterVec
	retrievalHits    *prometheus.HistogramVec
	guardFindings    *prometheus.CounterVec
	guardBlocks      *prometheus.CounterVec
	guardRedactions  *prometheus.CounterVec
	llmRequests      *prometheus.CounterVec
	llmDuration      *prometheus.HistogramVec
	llmFirstToken    *prometheus.HistogramVec
	llmTokens        *prometheus.CounterVec
	llmRetries       *prometheus.CounterVec
	llmFallbacks     *prometheus.CounterVec
	circuitState     *prometheus.GaugeVec
	budgetAlerts     *prometheus.CounterVec
	limited          *prometheus.CounterVec
	evalScore        *prometheus.HistogramVec
	evalSuiteScore   *prometheus.GaugeVec
	evalDropped      prometheus.Counter
	evalJudgeSkipped prometheus.Counter
	evalAlerts       prometheus.Counter
	evalWindow       prometheus.Gauge
}

// Histogram buckets, in seconds unless named otherwise.
var (
	requestBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	ttftBuckets    = []float64{.025, .05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10, 20, 60}
	stageBuckets   = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	hitBuckets     = []float64{0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50}
	scoreBuckets   = []float64{.1, .2, .3, .4, .5, .6, .7, .8, .9, .95, 1}
)

// NewMetrics creates the metric families and registers them. It fails
// only if the registry already holds collectors of the same names.
func NewMetrics(opts MetricsOptions) (*Metrics, error) {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	max := opts.MaxValues
	if max <= 0 {
		max = 64
	}
	m := &Metrics{
		reg:         reg,
		modelLabel:  opts.ModelLabel,
		routes:      newLabelSet(opts.Routes, max),
		assistants:  newLabelSet(opts.Assistants, max),
		models:      newLabelSet(opts.Models, max),
		providers:   newLabelSet(opts.Providers, max),
		suites:      newLabelSet(nil, 32),
		evalMetrics: newLabelSet(nil, 32),
	}
	hist := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "sextant", Name: name, Help: help, Buckets: buckets}, labels)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sextant", Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sextant", Name: name, Help: help}, labels)
	}
	m.requestDuration = hist("request_duration_seconds", "Time to serve an HTTP request, by route, assistant, model and status code.", requestBuckets, "route", "assistant", "model", "code")
	m.timeToFirstToken = hist("time_to_first_token_seconds", "Time from request to the first answer token sent to the client.", ttftBuckets, "route", "assistant", "model")
	m.stageDuration = hist("stage_duration_seconds", "Duration of one answer pipeline stage.", stageBuckets, "assistant", "stage")
	m.tokens = counter("tokens_total", "Tokens of answered requests; type is input (cached included), cached_input or output.", "assistant", "model", "type")
	m.costUSD = counter("cost_usd_total", "Cost of answered requests in US dollars at list prices.", "assistant", "model")
	m.savedUSD = counter("cost_saved_usd_total", "Cost avoided in US dollars by response-cache hits and provider prompt caching.", "assistant", "model")
	m.cacheLookups = counter("cache_lookups_total", "Response-cache lookups by result (exact_hit, semantic_hit, miss); the hit ratio is hits over all lookups.", "assistant", "result")
	m.retrievalHits = hist("retrieval_hits", "Sources retrieved per answered question.", hitBuckets, "assistant")
	m.guardFindings = counter("guard_findings_total", "Guard findings by stage (input, chunks, output) and type.", "stage", "type")
	m.guardBlocks = counter("guard_blocks_total", "Requests or answers a guard blocked, by stage.", "stage")
	m.guardRedactions = counter("guard_redactions_total", "Texts a guard redacted, by stage.", "stage")
	m.llmRequests = counter("llm_requests_total", "Model calls by provider, model, kind and outcome code (ok or an error code).", "provider", "model", "kind", "code")
	m.llmDuration = hist("llm_request_duration_seconds", "Duration of model calls, retries and fallbacks included.", requestBuckets, "provider", "model", "kind")
	m.llmFirstToken = hist("llm_time_to_first_token_seconds", "Time from a streamed model call to its first delta.", ttftBuckets, "provider", "model")
	m.llmTokens = counter("llm_tokens_total", "Tokens of model calls; type is input (cached included), cached_input or output.", "provider", "model", "type")
	m.llmRetries = counter("llm_retries_total", "Model call attempts retried on the same provider, by the error that caused them.", "provider", "model", "code")
	m.llmFallbacks = counter("llm_fallbacks_total", "Model calls moved from one provider to the next of their fallback chain.", "from", "to")
	m.circuitState = gauge("llm_circuit_state", "Circuit breaker state per provider: 1 for the current state, 0 for the others.", "provider", "state")
	m.budgetAlerts = counter("budget_alerts_total", "Budget alerts sent, by budget and threshold (fraction of the limit).", "budget", "threshold")
	m.limited = counter("limited_requests_total", "Requests refused by a limit: reason is requests or tokens (rate limits) or budget.", "reason")
	m.evalScore = hist("eval_score", "Scores of sampled online evaluations of answers, in [0, 1].", scoreBuckets, "assistant", "metric")
	m.evalSuiteScore = gauge("eval_suite_score", "Latest score of an evaluation suite metric.", "suite", "metric")
	m.evalDropped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sextant", Name: "eval_dropped_total",
		Help: "Answers sampled for online evaluation but dropped because the evaluation queue was full."})
	m.evalJudgeSkipped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sextant", Name: "eval_judge_skipped_total",
		Help: "Answers evaluated online without the LLM judge because a budget refused its call (scored by the built-in scorer)."})
	m.evalAlerts = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sextant", Name: "eval_hallucination_alerts_total",
		Help: "Alerts raised because the hallucination rate of online-evaluated answers went above its threshold."})
	m.evalWindow = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sextant", Name: "eval_hallucination_rate",
		Help: "Share of the latest online-evaluated answers (the sliding window) with an unsupported claim."})

	cs := []prometheus.Collector{m.requestDuration, m.timeToFirstToken, m.stageDuration, m.tokens, m.costUSD, m.savedUSD,
		m.cacheLookups, m.retrievalHits, m.guardFindings, m.guardBlocks, m.guardRedactions, m.llmRequests, m.llmDuration,
		m.llmFirstToken, m.llmTokens, m.llmRetries, m.llmFallbacks, m.circuitState, m.budgetAlerts, m.limited,
		m.evalScore, m.evalSuiteScore, m.evalDropped, m.evalJudgeSkipped, m.evalAlerts, m.evalWindow}
	if opts.Index != nil {
		cs = append(cs, newIndexCollector(opts.Index, opts.IndexEvery, opts.Now))
	}
	if opts.RecordLogs != nil {
		cs = append(cs, recordLogCollector{opts.RecordLogs})
	}
	if opts.Budgets != nil {
		cs = append(cs, budgetCollector{opts.Budgets})
	}
	if !opts.NoRuntime {
		cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "telemetry: register metrics: %w", err)
		}
	}
	return m, nil
}

// Registry is the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats (text,
// and OpenMetrics when the scraper asks for it) for GET /metrics. A
// collector failing (the index stats) is skipped, not fatal to the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		Registry:          m.reg, // promhttp_metric_handler_errors_total
	})
}

// AllowAssistants, AllowModels, AllowProviders and AllowRoutes admit label
// values at run time (an assistant created through the API), beyond the
// configured lists and caps.
func (m *Metrics) AllowAssistants(names ...string) { m.assistants.allow(names...) }
func (m *Metrics) AllowModels(names ...string)     { m.models.allow(names...) }
func (m *Metrics) AllowProviders(names ...string)  { m.providers.allow(names...) }
func (m *Metrics) AllowRoutes(patterns ...string)  { m.routes.allow(patterns...) }

func (m *Metrics) model(name string) string {
	if name != "" && m.modelLabel != nil {
		if l := m.modelLabel(name); l != "" {
			name = l
		}
	}
	return m.models.value(name)
}

// ObserveRequest records one served HTTP request: its route pattern
// ("POST /v1/chat/completions"), the assistant and model it used ("" for
// none), its status code and duration.
func (m *Metrics) ObserveRequest(route, assistant, model string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requestDuration.WithLabelValues(m.routes.value(route), m.assistants.value(assistant), m.model(model),
		codeLabel(code)).Observe(d.Seconds())
}

// ObserveFirstToken records the time from a request's arrival to the
// first answer token sent to its client.
func (m *Metrics) ObserveFirstToken(route, assistant, model string, d time.Duration) {
	if m == nil {
		return
	}
	m.timeToFirstToken.WithLabelValues(m.routes.value(route), m.assistants.value(assistant), m.model(model)).Observe(d.Seconds())
}

// ObserveStage records one pipeline stage's duration.
func (m *Metrics) ObserveStage(assistant, stage string, d time.Duration) {
	if m == nil {
		return
	}
	m.stageDuration.WithLabelValues(m.assistants.value(assistant), stages.value(stage)).Observe(d.Seconds())
}

// ObserveUsage records the tokens and cost of one answered request.
func (m *Metrics) ObserveUsage(assistant, model string, u sextant.Usage, costUSD, savedUSD float64) {
	if m == nil {
		return
	}
	a, mo := m.assistants.value(assistant), m.model(model)
	if u.InputTokens > 0 {
		m.tokens.WithLabelValues(a, mo, "input").Add(float64(u.InputTokens))
	}
	if u.CachedInputTokens > 0 {
		m.tokens.WithLabelValues(a, mo, "cached_input").Add(float64(u.CachedInputTokens))
	}
	if u.OutputTokens > 0 {
		m.tokens.WithLabelValues(a, mo, "output").Add(float64(u.OutputTokens))
	}
	if costUSD > 0 {
		m.costUSD.WithLabelValues(a, mo).Add(costUSD)
	}
	if savedUSD > 0 {
		m.savedUSD.WithLabelValues(a, mo).Add(savedUSD)
	}
}

// ObserveCache records one response-cache lookup: hit is "exact",
// "semantic" or "" for a miss.
func (m *Metrics) ObserveCache(assistant, hit string) {
	if m == nil {
		return
	}
	result := "miss"
	switch hit {
	case "":
	case "exact", "semantic":
		result = hit + "_hit"
	default:
		result = "other_hit"
	}
	m.cacheLookups.WithLabelValues(m.assistants.value(assistant), result).Inc()
}

// ObserveRetrieval records how many sources one question retrieved.
func (m *Metrics) ObserveRetrieval(assistant string, hits int) {
	if m == nil {
		return
	}
	m.retrievalHits.WithLabelValues(m.assistants.value(assistant)).Observe(float64(hits))
}

// Guard actions for ObserveGuard.
const (
	GuardAllow  = "allow"
	GuardBlock  = "block"
	GuardRedact = "redact"
)

// ObserveGuard records one guard decision at stage ("input", "chunks",
// "output"): its action (GuardAllow, GuardBlock, GuardRedact) and the
// kinds of what it found ("pii:email", "EMAIL", "injection").
func (m *Metrics) ObserveGuard(stage, action string, findings []string) {
	if m == nil {
		return
	}
	st := guardStages.value(stage)
	for _, f := range findings {
		m.guardFindings.WithLabelValues(st, guardType(f)).Inc()
	}
	switch action {
	case GuardBlock:
		m.guardBlocks.WithLabelValues(st).Inc()
	case GuardRedact:
		m.guardRedactions.WithLabelValues(st).Inc()
	}
}

// ObserveAnswer records what a finished answer carries besides its cost:
// every stage's duration, the number of sources it was given (when it has
// a "retrieve" stage) and its response-cache outcome (when it has a
// "cache" stage). Tokens and cost are recorded with ObserveUsage where the
// request is priced, so gateway and answer requests are counted alike.
func (m *Metrics) ObserveAnswer(a *sextant.Answer) {
	if m == nil || a == nil {
		return
	}
	looked, retrieved := false, false
	for _, t := range a.Timings {
		m.ObserveStage(a.Assistant, t.Stage, t.Duration)
		looked = looked || t.Stage == "cache"
		retrieved = retrieved || t.Stage == "retrieve"
	}
	if looked {
		m.ObserveCache(a.Assistant, a.Cache)
	}
	if retrieved {
		m.ObserveRetrieval(a.Assistant, len(a.Sources))
	}
}

// LLMCall is one finished model call, as llm.Hooks.Done reports it.
type LLMCall struct {
	Kind       string // "chat", "embed", "rerank", "forward"
	Provider   string // the provider that served (or last failed) it
	Model      string // the model name asked for
	Code       string // "" or "ok" for success, else the error code
	Usage      sextant.Usage
	FirstToken time.Duration // streams: time to the first delta; 0 = none
	Duration   time.Duration
}

// ObserveLLMCall records one model call.
func (m *Metrics) ObserveLLMCall(c LLMCall) {
	if m == nil {
		return
	}
	code := c.Code
	if code == "" {
		code = "ok"
	}
	p, mo, k := m.providers.value(c.Provider), m.model(c.Model), callKinds.value(c.Kind)
	m.llmRequests.WithLabelValues(p, mo, k, errorCodes.value(code)).Inc()
	m.llmDuration.WithLabelValues(p, mo, k).Observe(c.Duration.Seconds())
	if c.FirstToken > 0 {
		m.llmFirstToken.WithLabelValues(p, mo).Observe(c.FirstToken.Seconds())
	}
	if c.Usage.InputTokens > 0 {
		m.llmTokens.WithLabelValues(p, mo, "input").Add(float64(c.Usage.InputTokens))
	}
	if c.Usage.CachedInputTokens > 0 {
		m.llmTokens.WithLabelValues(p, mo, "cached_input").Add(float64(c.Usage.CachedInputTokens))
	}
	if c.Usage.OutputTokens > 0 {
		m.llmTokens.WithLabelValues(p, mo, "output").Add(float64(c.Usage.OutputTokens))
	}
}

// ObserveLLMRetry records a retried attempt and the error code that
// caused it.
func (m *Metrics) ObserveLLMRetry(provider, model, code string) {
	if m == nil {
		return
	}
	m.llmRetries.WithLabelValues(m.providers.value(provider), m.model(model), errorCodes.value(code)).Inc()
}

// ObserveLLMFallback records a move along a fallback chain.
func (m *Metrics) ObserveLLMFallback(from, to string) {
	if m == nil {
		return
	}
	m.llmFallbacks.WithLabelValues(m.providers.value(from), m.providers.value(to)).Inc()
}

// SetCircuitState records a provider's circuit breaker state ("closed",
// "open", "half-open"). Call it for every provider at start (closed) so
// the series exist before the first transition.
func (m *Metrics) SetCircuitState(provider, state string) {
	if m == nil {
		return
	}
	p := m.providers.value(provider)
	for _, s := range circuitStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.circuitState.WithLabelValues(p, s).Set(v)
	}
}

// ObserveBudgetAlert records a budget alert (Budget.Name(), threshold as
// a fraction). Budget names come from configuration, so they are bounded.
func (m *Metrics) ObserveBudgetAlert(budget string, threshold float64) {
	if m == nil {
		return
	}
	m.budgetAlerts.WithLabelValues(budget, strconv.FormatFloat(threshold, 'g', -1, 64)).Inc()
}

// Limit reasons for ObserveLimited.
const (
	LimitRequests = "requests"
	LimitTokens   = "tokens"
	LimitBudget   = "budget"
)

var limitReasons = newEnum(LimitRequests, LimitTokens, LimitBudget)

// ObserveLimited records a request refused by a rate limit or budget.
func (m *Metrics) ObserveLimited(reason string) {
	if m == nil {
		return
	}
	m.limited.WithLabelValues(limitReasons.value(reason)).Inc()
}

// ObserveEval records one sampled online evaluation score in [0, 1]
// (metric: "groundedness", "citation_support", ...).
func (m *Metrics) ObserveEval(assistant, metric string, score float64) {
	if m == nil {
		return
	}
	m.evalScore.WithLabelValues(m.assistants.value(assistant), m.evalMetrics.value(metric)).Observe(score)
}

// SetSuiteScore records the latest result of an evaluation suite metric.
func (m *Metrics) SetSuiteScore(suite, metric string, score float64) {
	if m == nil {
		return
	}
	m.evalSuiteScore.WithLabelValues(m.suites.value(suite), m.evalMetrics.value(metric)).Set(score)
}

// ObserveEvalDropped counts an answer sampled for online evaluation but
// dropped on a full queue.
func (m *Metrics) ObserveEvalDropped() {
	if m == nil {
		return
	}
	m.evalDropped.Inc()
}

// ObserveEvalJudgeSkipped counts an answer evaluated online without the
// LLM judge because a budget refused the judge's call.
func (m *Metrics) ObserveEvalJudgeSkipped() {
	if m == nil {
		return
	}
	m.evalJudgeSkipped.Inc()
}

// ObserveHallucinationAlert counts a hallucination-rate alert of online
// evaluation.
func (m *Metrics) ObserveHallucinationAlert() {
	if m == nil {
		return
	}
	m.evalAlerts.Inc()
}

// SetHallucinationRate records the hallucination rate over the online
// evaluation's sliding window, in [0, 1].
func (m *Metrics) SetHallucinationRate(rate float64) {
	if m == nil {
		return
	}
	m.evalWindow.Set(rate)
}
