package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/sextant-ai/sextant"
)

// sampleAnswer is a finished answer as the pipeline records it.
func sampleAnswer() *sextant.Answer {
	temp := 0.2
	return &sextant.Answer{
		ID: "ans_1", SessionID: "s1", Assistant: "help", Model: "gpt-4o-mini", Served: "openai:gpt-4o-mini-2024-07-18",
		Template: "answer", Temperature: &temp, MaxTokens: 512, FinishReason: sextant.FinishStop,
		Sources: make([]sextant.Source, 4),
		Usage:   sextant.Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 150},
		Timings: []sextant.StageTiming{
			{Stage: "normalize", Duration: 20 * time.Microsecond}, {Stage: "guard", Duration: 300 * time.Microsecond},
			{Stage: "retrieve", Duration: 2 * time.Millisecond}, {Stage: "rerank", Duration: 500 * time.Microsecond},
			{Stage: "compose", Duration: 100 * time.Microsecond}, {Stage: "cache", Duration: 50 * time.Microsecond},
			{Stage: "generate", Duration: 800 * time.Millisecond}, {Stage: "cite", Duration: 200 * time.Microsecond},
			{Stage: "output", Duration: 100 * time.Microsecond}, {Stage: "record", Duration: 400 * time.Microsecond},
		},
		CreatedAt: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC),
	}
}

// recordSample records one of everything.
func recordSample(m *Metrics) {
	m.ObserveRequest("POST /v1/answers", "help", "gpt-4o-mini", 200, 850*time.Millisecond)
	m.ObserveRequest("POST /v1/answers", "help", "gpt-4o-mini", 429, time.Millisecond)
	m.ObserveFirstToken("POST /v1/answers", "help", "gpt-4o-mini", 300*time.Millisecond)
	m.ObserveAnswer(sampleAnswer())
	m.ObserveUsage("help", "gpt-4o-mini", sampleAnswer().Usage, 0.00027, 0.000015)
	m.ObserveCache("help", "exact")
	m.ObserveGuard("input", GuardBlock, []string{"injection"})
	m.ObserveGuard("output", GuardRedact, []string{"pii:email", "PHONE"})
	m.ObserveLLMCall(LLMCall{Kind: "chat", Provider: "openai", Model: "gpt-4o-mini", Usage: sextant.Usage{InputTokens: 1200, OutputTokens: 150},
		FirstToken: 250 * time.Millisecond, Duration: 800 * time.Millisecond})
	m.ObserveLLMCall(LLMCall{Kind: "chat", Provider: "anthropic", Model: "claude-haiku-4-5", Code: sextant.EUNAVAILABLE, Duration: time.Second})
	m.ObserveLLMRetry("anthropic", "claude-haiku-4-5", sextant.EUNAVAILABLE)
	m.ObserveLLMFallback("anthropic", "openai")
	m.SetCircuitState("openai", "closed")
	m.SetCircuitState("anthropic", "open")
	m.ObserveBudgetAlert("key:k1:daily", 0.8)
	m.ObserveLimited(LimitTokens)
	m.ObserveEval("help", "groundedness", 0.92)
	m.SetSuiteScore("docs-qa", "recall@10", 0.81)
	m.ObserveEvalDropped()
	m.ObserveEvalJudgeSkipped()
	m.ObserveHallucinationAlert()
	m.SetHallucinationRate(0.12)
}

func newTestMetrics(t testing.TB, o MetricsOptions) *Metrics {
	t.Helper()
	m, err := NewMetrics(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMetricFamilies(t *testing.T) {
	m := newTestMetrics(t, MetricsOptions{
		Index: func(context.Context) (IndexStats, error) {
			return IndexStats{Documents: 120, Chunks: 900, StaleDocuments: 3, TextBytes: 1 << 20, Generation: 50, Indexed: 48,
				LastChange: time.Unix(1_700_000_000, 0), Collections: map[string]int64{"docs": 100, "": 20}, Quarantined: 2}, nil
		},
		RecordLogs: func() []RecordLogStat {
			return []RecordLogStat{{Log: "audit", Written: 40, Lost: 1, Queued: 3}}
		},
		Budgets: func() []BudgetStat {
			return []BudgetStat{{Name: "key:k1:daily", LimitUSD: 10, SpentUSD: 7, ReservedUSD: 1}}
		},
	})
	recordSample(m)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "sextant_") {
			continue
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		got[f.GetName()] = f.GetType().String() + "(" + strings.Join(labels, ",") + ")"
	}
	want := map[string]string{
		"sextant_request_duration_seconds":            "HISTOGRAM(assistant,code,model,route)",
		"sextant_time_to_first_token_seconds":         "HISTOGRAM(assistant,model,route)",
		"sextant_stage_duration_seconds":              "HISTOGRAM(assistant,stage)",
		"sextant_tokens_total":                        "COUNTER(assistant,model,type)",
		"sextant_cost_usd_total":                      "COUNTER(assistant,model)",
		"sextant_cost_saved_usd_total":                "COUNTER(assistant,model)",
		"sextant_cache_lookups_total":                 "COUNTER(assistant,result)",
		"sextant_retrieval_hits":                      "HISTOGRAM(assistant)",
		"sextant_guard_findings_total":                "COUNTER(stage,type)",
		"sextant_guard_blocks_total":                  "COUNTER(stage)",
		"sextant_guard_redactions_total":              "COUNTER(stage)",
		"sextant_llm_requests_total":                  "COUNTER(code,kind,model,provider)",
		"sextant_llm_request_duration_seconds":        "HISTOGRAM(kind,model,provider)",
		"sextant_llm_time_to_first_token_seconds":     "HISTOGRAM(model,provider)",
		"sextant_llm_tokens_total":                    "COUNTER(model,provider,type)",
		"sextant_llm_retries_total":                   "COUNTER(code,model,provider)",
		"sextant_llm_fallbacks_total":                 "COUNTER(from,to)",
		"sextant_llm_circuit_state":                   "GAUGE(provider,state)",
		"sextant_budget_alerts_total":                 "COUNTER(budget,threshold)",
		"sextant_limited_requests_total":              "COUNTER(reason)",
		"sextant_eval_score":                          "HISTOGRAM(assistant,metric)",
		"sextant_eval_suite_score":                    "GAUGE(metric,suite)",
		"sextant_eval_dropped_total":                  "COUNTER()",
		"sextant_eval_judge_skipped_total":            "COUNTER()",
		"sextant_eval_hallucination_alerts_total":     "COUNTER()",
		"sextant_eval_hallucination_rate":             "GAUGE()",
		"sextant_index_documents":                     "GAUGE(collection)",
		"sextant_index_chunks":                        "GAUGE()",
		"sextant_index_stale_documents":               "GAUGE()",
		"sextant_index_text_bytes":                    "GAUGE()",
		"sextant_index_lag_changes":                   "GAUGE()",
		"sextant_index_last_change_timestamp_seconds": "GAUGE()",
		"sextant_index_stats_errors_total":            "COUNTER()",
		"sextant_budget_limit_usd":                    "GAUGE(budget)",
		"sextant_budget_spent_usd":                    "GAUGE(budget)",
		"sextant_budget_reserved_usd":                 "GAUGE(budget)",
		"sextant_budget_utilization_ratio":            "GAUGE(budget)",
		"sextant_quarantined_documents":               "GAUGE()",
		"sextant_log_records_written_total":           "COUNTER(log)",
		"sextant_log_records_lost_total":              "COUNTER(log)",
		"sextant_log_records_queued":                  "GAUGE(log)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric families (-want +got):\n%s", diff)
	}
	// Naming conventions (units, _total, snake case), as promlint checks them.
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "sextant_") {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
	// Go runtime and process collectors are there unless NoRuntime.
	if n, _ := testutil.GatherAndCount(m.Registry(), "go_goroutines"); n != 1 {
		t.Error("no go_goroutines")
	}
}

func TestMetricValues(t *testing.T) {
	m := newTestMetrics(t, MetricsOptions{NoRuntime: true, Budgets: func() []BudgetStat {
		return []BudgetStat{{Name: "key:k1:daily", LimitUSD: 10, SpentUSD: 7, ReservedUSD: 1}, {Name: "key:frozen:daily"}}
	}})
	recordSample(m)
	expect := func(name string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	expect("input tokens", testutil.ToFloat64(m.tokens.WithLabelValues("help", "gpt-4o-mini", "input")), 1200)
	expect("cached tokens", testutil.ToFloat64(m.tokens.WithLabelValues("help", "gpt-4o-mini", "cached_input")), 200)
	expect("output tokens", testutil.ToFloat64(m.tokens.WithLabelValues("help", "gpt-4o-mini", "output")), 150)
	expect("cost", testutil.ToFloat64(m.costUSD.WithLabelValues("help", "gpt-4o-mini")), 0.00027)
	expect("cache miss", testutil.ToFloat64(m.cacheLookups.WithLabelValues("help", "miss")), 1)
	expect("cache exact hit", testutil.ToFloat64(m.cacheLookups.WithLabelValues("help", "exact_hit")), 1)
	expect("guard email", testutil.ToFloat64(m.guardFindings.WithLabelValues("output", "email")), 1)
	expect("guard phone", testutil.ToFloat64(m.guardFindings.WithLabelValues("output", "phone")), 1)
	expect("guard block", testutil.ToFloat64(m.guardBlocks.WithLabelValues("input")), 1)
	expect("llm error", testutil.ToFloat64(m.llmRequests.WithLabelValues("anthropic", "claude-haiku-4-5", "chat", "unavailable")), 1)
	expect("llm ok", testutil.ToFloat64(m.llmRequests.WithLabelValues("openai", "gpt-4o-mini", "chat", "ok")), 1)
	expect("circuit open", testutil.ToFloat64(m.circuitState.WithLabelValues("anthropic", "open")), 1)
	expect("circuit closed", testutil.ToFloat64(m.circuitState.WithLabelValues("anthropic", "closed")), 0)
	expect("fallback", testutil.ToFloat64(m.llmFallbacks.WithLabelValues("anthropic", "openai")), 1)
	expect("alert", testutil.ToFloat64(m.budgetAlerts.WithLabelValues("key:k1:daily", "0.8")), 1)
	expect("limited", testutil.ToFloat64(m.limited.WithLabelValues("tokens")), 1)

	// Histograms: the ten stages each observed once; four sources.
	if n := testutil.CollectAndCount(m.stageDuration); n != 10 {
		t.Errorf("%d stage series, want 10", n)
	}
	h := histogram(t, m, "sextant_retrieval_hits", nil)
	if h.GetSampleCount() != 1 || h.GetSampleSum() != 4 {
		t.Errorf("retrieval hits histogram: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	h = histogram(t, m, "sextant_request_duration_seconds", map[string]string{"code": "429"})
	if h.GetSampleCount() != 1 {
		t.Errorf("429 requests: %d", h.GetSampleCount())
	}

	want := `
# HELP sextant_budget_utilization_ratio (spent + reserved) / limit in the current window; 1 = exhausted.
# TYPE sextant_budget_utilization_ratio gauge
sextant_budget_utilization_ratio{budget="key:frozen:daily"} 0
sextant_budget_utilization_ratio{budget="key:k1:daily"} 0.8
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sextant_budget_utilization_ratio"); err != nil {
		t.Error(err)
	}
}

// histogram returns the first histogram of family name whose labels
// include match.
func histogram(t *testing.T, m *Metrics, name string, match map[string]string) *dto.Histogram {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, mm := range f.GetMetric() {
			for k, v := range match {
				found := false
				for _, l := range mm.GetLabel() {
					found = found || l.GetName() == k && l.GetValue() == v
				}
				if !found {
					continue next
				}
			}
			return mm.GetHistogram()
		}
	}
	t.Fatalf("no %s with %v", name, match)
	return nil
}

// labelValues returns the sorted distinct values of label in family name.
func labelValues(t *testing.T, m *Metrics, name, label string) []string {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == label {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func TestCardinalityBounded(t *testing.T) {
	t.Run("fixed lists", func(t *testing.T) {
		m := newTestMetrics(t, MetricsOptions{NoRuntime: true, Routes: []string{"POST /v1/answers"}, Assistants: []string{"help"},
			Models: []string{"gpt-4o"}, Providers: []string{"openai"}})
		for i := range 500 {
			m.ObserveRequest(fmt.Sprintf("GET /x/%d", i), fmt.Sprint("a", i), fmt.Sprint("m", i), 200+i, time.Millisecond)
			m.ObserveLLMCall(LLMCall{Kind: fmt.Sprint("k", i), Provider: fmt.Sprint("p", i), Model: "gpt-4o", Code: fmt.Sprint("c", i)})
		}
		m.ObserveRequest("POST /v1/answers", "help", "gpt-4o", 200, time.Millisecond)
		m.ObserveRequest("", "", "", 200, time.Millisecond)
		if got := labelValues(t, m, "sextant_request_duration_seconds", "route"); !cmp.Equal(got, []string{"POST /v1/answers", "none", "other"}) {
			t.Errorf("routes %v", got)
		}
		if got := labelValues(t, m, "sextant_request_duration_seconds", "model"); !cmp.Equal(got, []string{"gpt-4o", "none", "other"}) {
			t.Errorf("models %v", got)
		}
		codes := labelValues(t, m, "sextant_request_duration_seconds", "code")
		if len(codes) > len(statusCodes)+1 || !slices.Contains(codes, "other") {
			t.Errorf("%d code values: %v", len(codes), codes)
		}
		for _, l := range []string{"kind", "code", "provider"} {
			if got := labelValues(t, m, "sextant_llm_requests_total", l); len(got) != 1 || got[0] != "other" {
				t.Errorf("llm %s values %v, want only other", l, got)
			}
		}
		m.AllowAssistants("sales")
		m.ObserveRequest("POST /v1/answers", "sales", "gpt-4o", 200, time.Millisecond)
		if got := labelValues(t, m, "sextant_request_duration_seconds", "assistant"); !cmp.Equal(got, []string{"help", "none", "other", "sales"}) {
			t.Errorf("assistants after Allow %v", got)
		}
	})
	t.Run("dynamic cap", func(t *testing.T) {
		m := newTestMetrics(t, MetricsOptions{NoRuntime: true, MaxValues: 5})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 300 {
					m.ObserveUsage(fmt.Sprint("a", i%7), fmt.Sprint("model-", g, "-", i), sextant.Usage{InputTokens: 1}, 0, 0)
				}
			})
		}
		wg.Wait()
		models := labelValues(t, m, "sextant_tokens_total", "model")
		if len(models) != 6 || !slices.Contains(models, "other") {
			t.Errorf("models %v: want 5 admitted and other", models)
		}
		if n := testutil.CollectAndCount(m.tokens); n > 6*6 {
			t.Errorf("%d token series", n)
		}
		// Every observation is counted, admitted or not.
		total := 0.0
		fams, _ := m.Registry().Gather()
		for _, f := range fams {
			if f.GetName() == "sextant_tokens_total" {
				for _, mm := range f.GetMetric() {
					total += mm.GetCounter().GetValue()
				}
			}
		}
		if total != 1200 {
			t.Errorf("tokens total %v, want 1200", total)
		}
		long := strings.Repeat("x", 200)
		m2 := newTestMetrics(t, MetricsOptions{NoRuntime: true})
		m2.ObserveUsage("a", long, sextant.Usage{OutputTokens: 1}, 0, 0)
		if got := labelValues(t, m2, "sextant_tokens_total", "model"); !cmp.Equal(got, []string{"other"}) {
			t.Errorf("200-byte model name recorded as %v", got)
		}
	})
	t.Run("model label mapping", func(t *testing.T) {
		m := newTestMetrics(t, MetricsOptions{NoRuntime: true, Models: []string{"gpt-4o-mini"},
			ModelLabel: func(s string) string { return strings.TrimSuffix(s, "-2024-07-18") }})
		m.ObserveUsage("a", "gpt-4o-mini-2024-07-18", sextant.Usage{InputTokens: 1}, 0, 0)
		if got := labelValues(t, m, "sextant_tokens_total", "model"); !cmp.Equal(got, []string{"gpt-4o-mini"}) {
			t.Errorf("models %v", got)
		}
	})
}

func TestGuardType(t *testing.T) {
	for in, want := range map[string]string{"EMAIL": "email", "pii:email": "email", "injection": "injection",
		"policy:no-medical-advice": "policy", "secret:AWS_KEY": "aws_key", "made-up": "other", "x:y": "other", "": "none"} {
		if got := guardType(in); got != want {
			t.Errorf("guardType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIndexCollector(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	calls := 0
	fail := false
	cols := map[string]int64{}
	for i := range 60 {
		cols[fmt.Sprint("c", i)] = int64(i + 1)
	}
	m := newTestMetrics(t, MetricsOptions{NoRuntime: true, IndexEvery: time.Minute, Now: func() time.Time { return now },
		Index: func(context.Context) (IndexStats, error) {
			calls++
			if fail {
				return IndexStats{}, errors.New("database is locked")
			}
			return IndexStats{Documents: 1830, Chunks: 7000, StaleDocuments: 5, Collections: cols}, nil
		}})
	for range 3 {
		m.Registry().Gather()
	}
	if calls != 1 {
		t.Errorf("stats read %d times in one interval, want 1", calls)
	}
	colls := labelValues(t, m, "sextant_index_documents", "collection")
	if len(colls) != maxCollections+1 || !slices.Contains(colls, "other") || slices.Contains(colls, "c0") {
		t.Errorf("%d collections %v: want the %d largest and other", len(colls), colls, maxCollections)
	}
	// c0..c9 hold 1..10 documents: 55 under "other".
	fams, _ := m.Registry().Gather()
	for _, f := range fams {
		if f.GetName() == "sextant_index_documents" {
			for _, mm := range f.GetMetric() {
				if mm.GetLabel()[0].GetValue() == "other" && mm.GetGauge().GetValue() != 55 {
					t.Errorf("other = %v, want 55", mm.GetGauge().GetValue())
				}
			}
		}
	}
	// A failing read keeps the last good values and counts the error.
	now = now.Add(2 * time.Minute)
	fail = true
	m.Registry().Gather()
	n, _ := testutil.GatherAndCount(m.Registry(), "sextant_index_chunks")
	if n != 1 || calls != 2 {
		t.Errorf("after failure: %d chunk series, %d calls", n, calls)
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP sextant_index_stats_errors_total Failed reads of the index statistics.
# TYPE sextant_index_stats_errors_total counter
sextant_index_stats_errors_total 1
`), "sextant_index_stats_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestHandler(t *testing.T) {
	m := newTestMetrics(t, MetricsOptions{})
	recordSample(m)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	for _, tt := range []struct{ accept, ctype string }{
		{"", "text/plain; version=0.0.4"},
		{"application/openmetrics-text; version=1.0.0", "application/openmetrics-text; version=1.0.0"},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
			t.Errorf("Accept %q: content type %q", tt.accept, ct)
		}
		if !strings.Contains(string(body), `sextant_tokens_total{assistant="help",model="gpt-4o-mini",type="input"} 1200`) {
			t.Errorf("Accept %q: body lacks the token counter:\n%.2000s", tt.accept, body)
		}
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	recordSample(m) // must not panic
}
