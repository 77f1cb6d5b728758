package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/telemetry/promtest"
)

// promtool returns the promtool executable, skipping the test when it is
// absent unless SEXTANT_INTEGRATION=1 (Debian's prometheus package ships
// it).
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if os.Getenv("SEXTANT_INTEGRATION") == "1" {
		t.Fatal("promtool not found (install the Debian package prometheus) and SEXTANT_INTEGRATION=1")
	}
	t.Skip("promtool not found; install the Debian package prometheus")
	return ""
}

func runPromtool(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// TestDeployPromtool checks the shipped rules with promtool and runs their
// unit tests; then checks that the unit tests catch a changed threshold
// and promtool a broken expression, so neither check passes vacuously.
func TestDeployPromtool(t *testing.T) {
	bin := promtool(t)
	if out, err := runPromtool(t, bin, "check", "rules", deployRules); err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", deployRules, err, out)
	}
	if out, err := runPromtool(t, bin, "test", "rules", deployRuleTests); err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", deployRuleTests, err, out)
	}

	rules, err := os.ReadFile(deployRules)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(deployRuleTests)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, old, new string
		args           []string
		want           string // in promtool's output
	}{
		{"budget threshold 80 % → 90 %", "sextant_budget_utilization_ratio >= 0.8 < 1", "sextant_budget_utilization_ratio >= 0.9 < 1",
			[]string{"test", "rules", "sextant-rules.test.yml"}, "SextantBudgetNearlyExhausted"},
		{"latency route filter dropped", `route:sextant_request_duration_seconds:p95_5m{route=~"POST /v1/(chat/completions|ask)"} > 10`,
			`route:sextant_request_duration_seconds:p95_5m > 10`, []string{"test", "rules", "sextant-rules.test.yml"}, "SextantHighLatency"},
		{"syntax error", "expr: up{job=\"sextant\"} == 0", "expr: up{job=\"sextant\" == 0",
			[]string{"check", "rules", "sextant-rules.yml"}, "SextantDown"},
	} {
		mutated := strings.Replace(string(rules), c.old, c.new, 1)
		if mutated == string(rules) {
			t.Fatalf("%s: %q not in %s", c.name, c.old, deployRules)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "sextant-rules.yml"), []byte(mutated), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "sextant-rules.test.yml"), tests, 0o644); err != nil {
			t.Fatal(err)
		}
		args := append([]string(nil), c.args...)
		args[len(args)-1] = filepath.Join(dir, args[len(args)-1])
		out, err := runPromtool(t, bin, args...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s: promtool %v succeeded or did not name %s (err %v):\n%s", c.name, c.args, c.want, err, out)
		}
	}
}

// TestDeployRulesInPrometheus loads the shipped rules into a real
// Prometheus scraping a real server, and checks that every rule evaluates
// without error, the recorded series appear with sane values, no alert is
// raised by a healthy server, and every dashboard query is valid PromQL
// (its key panels returning data). Skipped without the prometheus binary
// unless SEXTANT_INTEGRATION=1.
func TestDeployRulesInPrometheus(t *testing.T) {
	if promtest.Binary() == "" {
		promtest.Start(t, promtest.Options{}) // skips, or fails under SEXTANT_INTEGRATION=1
	}
	srv, ops, _, _ := operatedServer(t, `
prices:
  models:
    extractive: {input: 1, output: 1}
budgets:
  keys:
    k1: {monthly_usd: 10}
`, nil)
	traffic := func() {
		for range 3 {
			if resp := chat(t, srv.URL, "k1"); resp.StatusCode != 200 {
				t.Fatalf("chat: %s", resp.Status)
			}
		}
	}
	traffic()
	prom := promtest.Start(t, promtest.Options{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}, RuleFiles: []string{deployRules}})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := prom.WaitScraped(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Rates need traffic between two scrapes.
	traffic()
	ops.budgets.Close(t.Context())
	if err := prom.WaitScraped(ctx, 1); err != nil {
		t.Fatal(err)
	}

	checks := []struct {
		query    string
		min, max float64
	}{
		{`route_code:sextant_requests:rate5m{route="POST /v1/chat/completions",code="200"}`, 1e-6, 10},
		{`route:sextant_request_duration_seconds:p95_5m{route="POST /v1/chat/completions"}`, 1e-6, 120},
		{`route:sextant_request_duration_seconds:p50_5m{route="POST /v1/chat/completions"}`, 1e-6, 120},
		{`route:sextant_request_errors:ratio_rate5m{route="POST /v1/chat/completions"}`, 0, 0},
		{`assistant:sextant_cache_hit:ratio_rate5m{assistant="sextant"}`, 0.5, 1},
		{`budget:sextant_budget_utilization:max{budget="key:k1:monthly"}`, 1e-9, 0.01},
		{`provider:sextant_llm_errors:ratio_rate5m{provider="extractive"}`, 0, 0},
	}
	// Wait until every rule has been evaluated after the second scrape.
	var rules []promtest.Rule
	for {
		var err error
		rules, err = prom.Rules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ready := len(rules) > 0
		for _, r := range rules {
			ready = ready && r.Health != "unknown"
		}
		if res, err := prom.Query(ctx, checks[0].query); ready && err == nil && len(res) == 1 && res[0].Value > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("rules not evaluated over the traffic: %v", rules)
		case <-time.After(250 * time.Millisecond):
		}
	}
	want := 0
	for _, g := range readRules(t).Groups {
		want += len(g.Rules)
	}
	if len(rules) != want {
		t.Errorf("Prometheus loaded %d rules, want the file's %d", len(rules), want)
	}
	for _, r := range rules {
		if r.Health != "ok" {
			t.Errorf("rule %s (%s): health %s: %s", r.Name, r.Group, r.Health, r.LastError)
		}
		if r.Type == "alerting" && r.State != "inactive" {
			t.Errorf("alert %s is %s on a healthy server", r.Name, r.State)
		}
	}
	for _, c := range checks {
		res, err := prom.Query(ctx, c.query)
		if err != nil {
			t.Errorf("%s: %v", c.query, err)
			continue
		}
		if len(res) != 1 || res[0].Value < c.min || res[0].Value > c.max {
			t.Errorf("%s = %v, want one series in [%v, %v]", c.query, res, c.min, c.max)
		}
	}

	// Every dashboard query is valid PromQL; the key panels have data.
	vars := strings.NewReplacer("$__rate_interval", "1m", "$assistant", ".*", "$model", ".*", "$provider", ".*")
	wantData := []string{`panel "Request rate by route"`, `panel "Answer latency p50 / p95 / p99"`, `panel "Tokens per second by type"`,
		`panel "Spend ($/h) by assistant and model"`, `panel "Response-cache hit ratio"`, `panel "Budget utilisation"`,
		`panel "Model calls by provider and outcome"`, `panel "Circuit breaker state"`, `panel "Documents"`, `panel "Sextant targets up"`,
		`panel "Server errors (5xx) by route"`, `panel "Provider error ratio"`,
		"variable assistant", "variable model", "variable provider"}
	empty := 0
	for where, e := range dashboardExprs(t) {
		res, err := prom.Query(ctx, vars.Replace(e))
		if err != nil {
			t.Errorf("dashboard %s: %v", where, err)
			continue
		}
		if len(res) == 0 {
			empty++
			for _, w := range wantData {
				if strings.HasPrefix(where, w) {
					t.Errorf("dashboard %s: no data for %q", where, e)
				}
			}
		}
	}
	t.Logf("%d rules evaluated; %d dashboard queries without data from this traffic (guards, evaluation, retries, ...)", len(rules), empty)
}
