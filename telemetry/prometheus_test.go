package telemetry

import (
	"context"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/telemetry/promtest"
)

// TestPrometheusScrape has a real Prometheus scrape a server exposing the
// registry after sample traffic, and checks through its query API that
// the key series exist with the values recorded. Skipped without the
// prometheus binary unless SEXTANT_INTEGRATION=1.
func TestPrometheusScrape(t *testing.T) {
	if promtest.Binary() == "" {
		promtest.Start(t, promtest.Options{}) // skips, or fails under SEXTANT_INTEGRATION=1
	}
	m := newTestMetrics(t, MetricsOptions{
		Index: func(context.Context) (IndexStats, error) {
			return IndexStats{Documents: 42, Chunks: 420, StaleDocuments: 2, Collections: map[string]int64{"docs": 42}}, nil
		},
		Budgets: func() []BudgetStat {
			return []BudgetStat{{Name: "project:acme/support:monthly", LimitUSD: 100, SpentUSD: 25}}
		},
	})
	for i := range 20 {
		recordSample(m)
		m.ObserveRequest("GET /metrics", "", "", 200, time.Duration(i)*time.Millisecond)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://")

	prom := promtest.Start(t, promtest.Options{Targets: []string{target}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := prom.WaitScraped(ctx, 1); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		query string
		want  float64
	}{
		{`up{job="sextant"}`, 1},
		{`sextant_request_duration_seconds_count{route="POST /v1/answers",assistant="help",model="gpt-4o-mini",code="200"}`, 20},
		{`sextant_request_duration_seconds_count{route="POST /v1/answers",code="429"}`, 20},
		{`sum(sextant_tokens_total{type="input"})`, 20 * 1200},
		{`sextant_cost_usd_total{assistant="help"}`, 20 * 0.00027},
		{`sum(sextant_stage_duration_seconds_count{stage="generate"})`, 20},
		{`sextant_cache_lookups_total{result="miss"}`, 20},
		{`sextant_guard_blocks_total{stage="input"}`, 20},
		{`sextant_llm_requests_total{provider="anthropic",code="unavailable"}`, 20},
		{`sextant_llm_circuit_state{provider="anthropic",state="open"}`, 1},
		{`sextant_budget_utilization_ratio{budget="project:acme/support:monthly"}`, 0.25},
		{`sextant_index_documents{collection="docs"}`, 42},
		{`sextant_index_stale_documents`, 2},
		{`sextant_eval_suite_score{suite="docs-qa"}`, 0.81},
	}
	for _, c := range checks {
		res, err := prom.Query(ctx, c.query)
		if err != nil {
			t.Errorf("%s: %v", c.query, err)
			continue
		}
		if len(res) != 1 || !approx(res[0].Value, c.want) {
			t.Errorf("%s = %v, want one series with %v", c.query, res, c.want)
		}
	}
	// A latency quantile is computable: between the bucket bounds recorded.
	res, err := prom.Query(ctx, `histogram_quantile(0.5, sum by (le) (sextant_request_duration_seconds_bucket{route="POST /v1/answers",code="200"}))`)
	if err != nil || len(res) != 1 || res[0].Value < 0.5 || res[0].Value > 1 {
		t.Errorf("p50 latency = %v, %v; want within the (0.5, 1] bucket of the 850 ms requests", res, err)
	}
	series, err := prom.Series(ctx, `{__name__=~"sextant_.+"}`)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range series {
		names[s["__name__"]] = true
	}
	if len(names) < 30 {
		t.Errorf("%d sextant metric names in Prometheus, want every family: %v", len(names), names)
	}
	t.Logf("prometheus %s scraped %d sextant series of %d names", prom.URL, len(series), len(names))
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
