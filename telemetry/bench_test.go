package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/cost"
	"github.com/sextant-ai/sextant/guard"
	"github.com/sextant-ai/sextant/sqlite"
)

// Per-request costs of telemetry on the gateway path. Run:
//
//	go test -run '^$' -bench . -benchmem ./telemetry

func BenchmarkObserveRequest(b *testing.B) {
	m := newTestMetrics(b, MetricsOptions{NoRuntime: true})
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("POST /v1/chat/completions", "help", "gpt-4o-mini", 200, 3*time.Millisecond)
	}
}

// BenchmarkObserveAnswer records a ten-stage answer: stages, cache,
// retrieval, tokens and cost.
func BenchmarkObserveAnswer(b *testing.B) {
	m := newTestMetrics(b, MetricsOptions{NoRuntime: true})
	a := sampleAnswer()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveAnswer(a)
		m.ObserveUsage(a.Assistant, a.Model, a.Usage, 0.00027, 0.00001)
	}
}

// BenchmarkRecordAnswer builds the twelve spans of an answer with the
// batching processor (exporting to a no-op exporter).
func BenchmarkRecordAnswer(b *testing.B) {
	tr, err := NewTracing(context.Background(), TraceConfig{}, TracingOptions{Exporter: tracetest.NewNoopExporter()})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	a := sampleAnswer()
	ctx, root := tr.Tracer().Start(context.Background(), "root")
	defer root.End()
	b.ReportAllocs()
	for b.Loop() {
		RecordAnswer(ctx, tr.Tracer(), a)
	}
}

// otlpSink is a local OTLP/HTTP receiver that accepts and discards spans.
func otlpSink(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(srv.Close)
	return srv
}

// gatewayParts is everything the overhead target counts on one
// request, except the audit log (another engineer's): metrics, tracing
// exporting over OTLP to a local receiver, the request log line through
// the guard's redaction, the rate limit, the budget reservation and
// settlement, pricing, and the usage ledger (batched into SQLite).
type gatewayParts struct {
	m       *Metrics
	tr      *Tracing
	log     *slog.Logger
	lim     *cost.Limiter
	budgets *cost.Budgets
	prices  *cost.Prices
	ledger  *cost.Ledger
	close   func()
}

func newGatewayParts(b *testing.B, redact bool) *gatewayParts {
	ctx := context.Background()
	sink := otlpSink(b)
	cfg, err := TraceConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL}))
	if err != nil {
		b.Fatal(err)
	}
	tr, err := NewTracing(ctx, cfg, TracingOptions{})
	if err != nil {
		b.Fatal(err)
	}
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	lim, _ := cost.NewLimiter(cost.LimiterOptions{Default: cost.RateLimit{RequestsPerMinute: 1 << 40, TokensPerMinute: 1 << 50}})
	budgets, err := cost.NewBudgets(ctx, cost.BudgetOptions{Store: db, Budgets: []sextant.Budget{
		{Scope: sextant.BudgetKey, ID: "k1", Period: sextant.BudgetDaily, LimitUSD: 1e9},
		{Scope: sextant.BudgetProject, Tenant: "acme", ID: "support", Period: sextant.BudgetMonthly, LimitUSD: 1e9},
	}})
	if err != nil {
		b.Fatal(err)
	}
	prices, _ := cost.NewPrices(cost.PriceConfig{})
	ledger := cost.NewLedger(db.AppendUsage, cost.LedgerOptions{})
	lo := LogOptions{}
	if redact {
		lo.Redact = func(h slog.Handler) slog.Handler { return guard.NewLogHandler(h, guard.LogOptions{}) }
	}
	p := &gatewayParts{
		m:   newTestMetrics(b, MetricsOptions{NoRuntime: true}),
		tr:  tr,
		log: NewLogger(io.Discard, lo),
		lim: lim, budgets: budgets, prices: prices, ledger: ledger,
	}
	p.close = func() {
		ledger.Close(ctx)
		budgets.Close(ctx)
		tr.Shutdown(ctx)
		db.Close()
	}
	return p
}

// handler is the gateway request: the work a gateway does for itself is
// simulated by writing a small JSON body; with parts it also does every
// accounting step.
func (p *gatewayParts) handler(on bool) http.Handler {
	a := sampleAnswer()
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}]}`)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if on {
			scope := cost.Scope{Tenant: "acme", Project: "support", Key: "k1"}
			if _, err := p.lim.Allow(scope.Key, 1700); err != nil {
				http.Error(w, err.Error(), http.StatusTooManyRequests)
				return
			}
			est, _ := p.prices.Estimate(a.Model, 1200, 512)
			res, err := p.budgets.Reserve(scope, est)
			if err != nil {
				http.Error(w, err.Error(), http.StatusTooManyRequests)
				return
			}
			ch := p.prices.Charge(a.Model, a.Usage)
			res.Settle(ch.USD)
			p.lim.Adjust(scope.Key, a.Usage.InputTokens+a.Usage.OutputTokens-1700)
			p.ledger.Record(sextant.UsageRecord{RequestID: RequestFrom(r.Context()).ID, Time: time.Now(), Tenant: scope.Tenant,
				Project: scope.Project, Key: scope.Key, Assistant: a.Assistant, Model: a.Model, Provider: "openai", Usage: a.Usage,
				CostUSD: ch.USD, SavedUSD: ch.SavedUSD, Success: true, Priced: ch.Priced})
			p.m.ObserveAnswer(a)
			p.m.ObserveUsage(a.Assistant, a.Model, a.Usage, ch.USD, ch.SavedUSD)
			RecordAnswer(r.Context(), p.tr.Tracer(), a)
			info := RequestFrom(r.Context())
			info.SetAnswer(a, ch.USD)
			info.MarkFirstToken()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/chat/completions", inner)
	if !on {
		return mux
	}
	return Middleware(HTTPOptions{Metrics: p.m, Tracing: p.tr, Logger: p.log})(mux)
}

// BenchmarkGatewayOverhead runs the same in-process request with the
// accounting off and on, alternating, and reports the p50 and p99 of each
// and the p50 difference: the overhead the issue bounds (≤ 0.3 ms at p50,
// audit not included here).
func BenchmarkGatewayOverhead(b *testing.B) {
	for _, c := range []struct {
		name   string
		redact bool
	}{{"log-redacted", true}, {"log-plain", false}} {
		b.Run(c.name, func(b *testing.B) { gatewayOverhead(b, c.redact) })
	}
}

func gatewayOverhead(b *testing.B, redact bool) {
	p := newGatewayParts(b, redact)
	defer p.close()
	off, on := p.handler(false), p.handler(true)
	var offT, onT []time.Duration
	serve := func(h http.Handler) time.Duration {
		req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, req)
		return time.Since(start)
	}
	for range 200 { // warm up: series, pools, the ledger's prepared statements
		serve(off)
		serve(on)
	}
	b.ResetTimer()
	for b.Loop() {
		offT = append(offT, serve(off))
		onT = append(onT, serve(on))
	}
	b.StopTimer()
	q := func(ds []time.Duration, p float64) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[int(p*float64(len(s)-1))].Nanoseconds()) / 1e3
	}
	mean := func(ds []time.Duration) float64 {
		var t time.Duration
		for _, d := range ds {
			t += d
		}
		return float64(t.Nanoseconds()) / 1e3 / float64(len(ds))
	}
	b.ReportMetric(q(offT, .5), "off-p50-µs")
	b.ReportMetric(q(onT, .5), "on-p50-µs")
	b.ReportMetric(q(onT, .5)-q(offT, .5), "overhead-p50-µs")
	b.ReportMetric(q(onT, .99), "on-p99-µs")
	b.ReportMetric(mean(onT)-mean(offT), "overhead-mean-µs")
}

// BenchmarkMiddleware is the middleware alone around an empty handler:
// request id, server span (exported over OTLP), metrics and the log line
// without and with the guard's redaction.
func BenchmarkMiddleware(b *testing.B) {
	sink := otlpSink(b)
	cfg, _ := TraceConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL}))
	tr, err := NewTracing(context.Background(), cfg, TracingOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	m := newTestMetrics(b, MetricsOptions{NoRuntime: true})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) {})
	for _, c := range []struct {
		name string
		log  *slog.Logger
	}{
		{"log-plain", NewLogger(io.Discard, LogOptions{})},
		{"log-redacted", NewLogger(io.Discard, LogOptions{Redact: func(h slog.Handler) slog.Handler { return guard.NewLogHandler(h, guard.LogOptions{}) }})},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := Middleware(HTTPOptions{Metrics: m, Tracing: tr, Logger: c.log})(mux)
			req := httptest.NewRequest("GET", "/x", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
