package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant/churn"
	"github.com/sextant-ai/sextant/telemetry"
)

// The Prometheus rules and Grafana dashboard shipped in deploy/.
var (
	deployRules     = filepath.Join("..", "..", "deploy", "prometheus", "sextant-rules.yml")
	deployRuleTests = filepath.Join("..", "..", "deploy", "prometheus", "sextant-rules.test.yml")
	deployDashboard = filepath.Join("..", "..", "deploy", "grafana", "sextant-dashboard.json")
)

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(deployRules)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", deployRules, err)
	}
	if len(f.Groups) == 0 {
		t.Fatalf("%s: no rule groups", deployRules)
	}
	return f
}

// dashboardExprs returns the PromQL of every panel target and template
// variable of the dashboard, keyed by where it is ("panel Title #A").
// label_values(EXPR, LABEL) variable queries yield EXPR.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(deployDashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		SchemaVersion int `json:"schemaVersion"`
		Panels        []struct {
			Type       string          `json:"type"`
			Title      string          `json:"title"`
			Datasource json.RawMessage `json:"datasource"`
			Targets    []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", deployDashboard, err)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("%s: schemaVersion %d, want ≥ 36", deployDashboard, d.SchemaVersion)
	}
	out := map[string]string{}
	vars := map[string]bool{}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_]\w*\)$`)
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: query %q, want label_values(EXPR, LABEL)", v.Name, q.Query)
		}
		out["variable "+v.Name] = m[1]
	}
	for _, want := range []string{"DS_PROMETHEUS", "assistant", "model"} {
		if !vars[want] {
			t.Errorf("dashboard lacks the template variable %s", want)
		}
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if !bytes.Contains(p.Datasource, []byte("${DS_PROMETHEUS}")) {
			t.Errorf("panel %q: datasource %s, want ${DS_PROMETHEUS}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out[fmt.Sprintf("panel %q #%s", p.Title, tg.RefID)] = tg.Expr
		}
	}
	return out
}

// promKeywords are the PromQL words that are not metric names.
var promKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"inf": true, "nan": true,
}

// promMetricNames returns the metric names an expression selects: the
// identifiers outside strings, label matchers, ranges and grouping
// clauses that are not functions, aggregations or keywords. Grafana
// variables ($assistant, ${DS}) are skipped. It is a lexer, not a parser:
// good enough for the expressions in deploy/, checked by its own test.
func promMetricNames(expr string) []string {
	var names []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	skipGroup := false // the next (...) lists labels
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '{' || c == '[':
			end := byte('}')
			if c == '[' {
				end = ']'
			}
			for i < len(expr) && expr[i] != end {
				if expr[i] == '"' { // a '}' inside a label value
					i++
					for i < len(expr) && expr[i] != '"' {
						if expr[i] == '\\' {
							i++
						}
						i++
					}
				}
				i++
			}
			i++
		case c == '(' && skipGroup:
			for i < len(expr) && expr[i] != ')' {
				i++
			}
			skipGroup = false
			i++
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				for i < len(expr) && expr[i] != '}' {
					i++
				}
				i++
				continue
			}
			for i < len(expr) && isPart(expr[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.' || (expr[i] == '+' || expr[i] == '-') && (expr[i-1] == 'e' || expr[i-1] == 'E')) {
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n' || expr[k] == '\t') {
				k++
			}
			switch {
			case word == "by" || word == "without" || word == "on" || word == "ignoring" || word == "group_left" || word == "group_right":
				skipGroup = k < len(expr) && expr[k] == '('
			case promKeywords[word]:
			case k < len(expr) && expr[k] == '(':
				// a function call
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func TestPromMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up{job="sextant"} == 0`, []string{"up"}},
		{`histogram_quantile(0.95, sum by (le, route) (rate(sextant_request_duration_seconds_bucket{route=~"POST /v1/.+"}[5m])))`,
			[]string{"sextant_request_duration_seconds_bucket"}},
		{`sum by (assistant) (rate(a_total{x="}"}[$__rate_interval])) / on (assistant) group_left (model) b:c:d * 3600`, []string{"a_total", "b:c:d"}},
		{`sextant_budget_utilization_ratio >= 0.8 < 1 and sum(increase(x[10m])) > 1e3`, []string{"sextant_budget_utilization_ratio", "x"}},
		{`sum without (collection) (docs{a=~"$assistant"}) unless max(y offset 5m)`, []string{"docs", "y"}},
		{`time() - max(last_seconds) + count_values("v", z) + topk(3, w)`, []string{"last_seconds", "z", "w"}},
		{`{__name__="x"}`, nil},
	} {
		if diff := cmp.Diff(c.want, promMetricNames(c.expr)); diff != "" {
			t.Errorf("promMetricNames(%q) (-want +got):\n%s", c.expr, diff)
		}
	}
}

// TestDeployMetricNames checks that every metric the Prometheus rules and
// the Grafana dashboard in deploy/ select is one a real Sextant server
// exposes on GET /metrics (or a recorded series the rules define, or
// Prometheus's own up), so renaming a metric breaks this test rather than
// a user's dashboard. The server answers real requests first; the few
// families that need events a test server cannot produce on demand (a
// provider retry or fallback, a full evaluation queue, a suite result, a
// guard block) are recorded on the server's own Metrics.
func TestDeployMetricNames(t *testing.T) {
	srv, ops, _, _ := operatedServer(t, `
prices:
  models:
    extractive: {input: 1, output: 1}
budgets:
  keys:
    k1: {monthly_usd: 10, thresholds: [0.000001]}
rate_limits:
  keys:
    k2: {requests_per_minute: 1}
eval:
  online:
    sample: 1
    hallucination_alert: 0.000001
`, nil)
	for _, key := range []string{"k1", "k1", "k2", "k2"} {
		chat(t, srv.URL, key)
	}
	// A streamed answer records the time to its first token.
	body := `{"model": "sextant", "stream": true, "messages": [{"role": "user", "content": "what formats can be ingested?"}]}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer k1")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ops.budgets.Close(t.Context())
	if err := ops.closeOnline(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := ops.metrics
	m.ObserveLLMRetry("extractive", "extractive", "unavailable")
	m.ObserveLLMFallback("extractive", "extractive")
	m.ObserveGuard("input", telemetry.GuardBlock, []string{"injection"})
	m.ObserveGuard("output", telemetry.GuardRedact, []string{"pii:email"})
	m.ObserveEvalDropped()
	m.SetSuiteScore("docs-qa", "groundedness", 0.9)

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposed := exposedNames(t, resp.Body)
	resp.Body.Close()
	exposed["up"] = true // Prometheus's own, per target
	// sextant churn drift --metrics is scraped from a textfile collector.
	var drift bytes.Buffer
	rep := &churn.DriftReport{Model: "v2", Score: churn.DriftItem{Name: "score", PSI: 0.3}}
	if err := rep.WriteMetrics(&drift); err != nil {
		t.Fatal(err)
	}
	for n := range exposedNames(t, &drift) {
		exposed[n] = true
	}

	rules := readRules(t)
	recorded := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	exprs := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs["rule "+r.Record+r.Alert] = r.Expr
		}
	}
	for where, e := range dashboardExprs(t) {
		exprs[where] = e
	}
	used := map[string]bool{}
	for where, e := range exprs {
		names := promMetricNames(e)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", where, e)
		}
		for _, n := range names {
			used[n] = true
			switch {
			case strings.Contains(n, ":"):
				if !recorded[n] {
					t.Errorf("%s: %s is not a recording rule of %s", where, n, deployRules)
				}
			case !exposed[n]:
				t.Errorf("%s: %s is not exposed by the server on /metrics (expression %q)", where, n, e)
			}
		}
	}
	if t.Failed() {
		t.Logf("exposed: %v", sortedKeys(exposed))
	}
	// Every recorded series is used by an alert, the dashboard or is
	// meant to be queried: at least the names are well-formed.
	for n := range recorded {
		if !regexp.MustCompile(`^[a-z_]+:sextant_?[a-z_]+:[a-z0-9_]+$`).MatchString(n) {
			t.Errorf("recorded series %s: want level:metric:operations", n)
		}
	}
	t.Logf("%d expressions use %d metric names", len(exprs), len(used))
}

// exposedNames returns the sample names in a text exposition (histograms
// give _bucket, _sum and _count).
func exposedNames(t *testing.T, r io.Reader) map[string]bool {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	if len(names) == 0 {
		t.Fatalf("no samples in the exposition:\n%s", b)
	}
	return names
}

// TestDeployAlerts checks what promtool does not: every alert has a
// severity, a summary and a description, a sensible for: duration, and
// every alert is exercised by the promtool unit tests, both firing and
// silent.
func TestDeployAlerts(t *testing.T) {
	rules := readRules(t)
	tb, err := os.ReadFile(deployRuleTests)
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(tb, &tests); err != nil {
		t.Fatalf("%s: %v", deployRuleTests, err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want summary and description annotations, have %v", r.Alert, r.Annotations)
			}
			if d, err := time.ParseDuration(r.For); err != nil || d < time.Minute {
				t.Errorf("%s: for %q, want at least 1m so one bad scrape does not page", r.Alert, r.For)
			}
			if !fires[r.Alert] || !silent[r.Alert] {
				t.Errorf("%s: unit tests make it fire %v, stay silent %v; want both in %s", r.Alert, fires[r.Alert], silent[r.Alert], deployRuleTests)
			}
		}
	}
	for _, want := range []string{"SextantDown", "SextantHighLatency", "SextantProviderErrors", "SextantProviderCircuitOpen",
		"SextantBudgetNearlyExhausted", "SextantBudgetExhausted", "SextantHallucinationRateHigh", "SextantGuardBlockSpike",
		"SextantStaleDocuments", "SextantChurnDrift"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("rules lack the alert %s", want)
		}
	}
	// Every alert has its runbook line in the manual.
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !bytes.Contains(doc, []byte("`"+a+"`")) {
			t.Errorf("docs/observability.md does not describe the alert %s", a)
		}
	}
}
