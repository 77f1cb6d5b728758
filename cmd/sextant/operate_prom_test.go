package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/telemetry/promtest"
)

// TestPrometheusScrapesServer is the integration test: a real
// Prometheus server (Debian package) scrapes the wired API server after
// some traffic, and the key series exist with sane values. Skipped without
// the prometheus binary unless SEXTANT_INTEGRATION=1.
func TestPrometheusScrapesServer(t *testing.T) {
	if promtest.Binary() == "" {
		promtest.Start(t, promtest.Options{}) // skips, or fails under SEXTANT_INTEGRATION=1
	}
	srv, ops, _, _ := operatedServer(t, `
budgets:
  keys:
    k1: {monthly_usd: 10}
rate_limits:
  keys:
    k2: {requests_per_minute: 1}
`, nil)
	for _, key := range []string{"k1", "k1", "k2", "k2"} {
		chat(t, srv.URL, key)
	}
	ops.budgets.Close(t.Context())
	prom := promtest.Start(t, promtest.Options{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := prom.WaitScraped(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query    string
		min, max float64
	}{
		{`up{job="sextant"}`, 1, 1},
		{`sum(sextant_request_duration_seconds_count{route="POST /v1/chat/completions",code="200"})`, 3, 3},
		{`sum(sextant_request_duration_seconds_count{code="429"})`, 1, 1},
		{`histogram_quantile(0.5, sum by (le) (sextant_request_duration_seconds_bucket{code="200"}))`, 0, 5},
		{`sum(sextant_stage_duration_seconds_count{stage="retrieve"})`, 3, 3},
		{`sum(sextant_tokens_total{type="input"})`, 1, 1e7},
		{`sum(sextant_cache_lookups_total{result="exact_hit"}) / sum(sextant_cache_lookups_total)`, 0.5, 1},
		{`sextant_limited_requests_total{reason="requests"}`, 1, 1},
		{`sextant_llm_requests_total{provider="extractive",code="ok"}`, 1, 3},
		{`sextant_llm_circuit_state{provider="extractive",state="closed"}`, 1, 1},
		{`sextant_budget_limit_usd{budget="key:k1:monthly"}`, 10, 10},
		{`sextant_budget_utilization_ratio{budget="key:k1:monthly"}`, 0, 1},
		{`sextant_index_documents{collection="default"}`, 2, 2},
		{`sextant_index_stale_documents`, 0, 0},
	} {
		res, err := prom.Query(ctx, c.query)
		if err != nil {
			t.Errorf("%s: %v", c.query, err)
			continue
		}
		if len(res) != 1 || res[0].Value < c.min || res[0].Value > c.max {
			t.Errorf("%s = %v, want one series in [%v, %v]", c.query, res, c.min, c.max)
		}
	}
}
