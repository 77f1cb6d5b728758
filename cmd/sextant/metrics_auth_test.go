package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/telemetry/promtest"
	"github.com/sextant-ai/sextant/web"
)

// TestMetricsRequireKey: with metrics.require_key, GET /metrics answers
// 401 without a key (audited), 403 to a key without metrics.read, and the
// metrics to one holding it — and a real Prometheus whose scrape job sends
// that key scrapes the server. Without the option it is served to anyone
// (TestPrometheusScrapesServer).
func TestMetricsRequireKey(t *testing.T) {
	if promtest.Binary() == "" {
		promtest.Start(t, promtest.Options{}) // skips, or fails under SEXTANT_INTEGRATION=1
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sextant.yaml"), []byte("metrics:\n  require_key: true\n"), 0o644)
	url, out, stop := startServe(t, dir, "--no-sample")
	defer stop()
	admin := printedKey(t, out.String())
	appKey, _ := createKey(t, url, admin, `{"name":"app","roles":["app"]}`)
	scraper, _ := createKey(t, url, admin, `{"name":"prometheus","roles":["product"]}`)

	status, h := httpRequest(t, "", "GET", url+"/metrics", "", nil)
	if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("GET /metrics without a key: %d %v", status, h)
	}
	if status, body := request(t, appKey, "GET", url+"/metrics", ""); status != 403 || !strings.Contains(string(body), "metrics.read") {
		t.Errorf("GET /metrics with an app key: %d %s", status, body)
	}
	if status, body := request(t, scraper, "GET", url+"/metrics", ""); status != 200 || !strings.Contains(string(body), "sextant_request_duration_seconds") {
		t.Errorf("GET /metrics with a product key: %d %.200s", status, body)
	}
	waitAudit(t, url, admin, sextant.AuditAuth, `"path":"/metrics"`)
	var st web.Settings
	if code := jsonCall(t, admin, "GET", url+"/v1/settings", "", &st); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	if m, _ := st.Extra["metrics"].(map[string]any); m["require_key"] != true {
		t.Errorf("settings metrics section: %v", st.Extra["metrics"])
	}

	prom := promtest.Start(t, promtest.Options{Targets: []string{strings.TrimPrefix(url, "http://")}, BearerToken: scraper})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := prom.WaitScraped(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`up{job="sextant"}`, `count({job="sextant",__name__=~"sextant_.+"})`} {
		res, err := prom.Query(ctx, q)
		if err != nil || len(res) != 1 || res[0].Value < 1 {
			t.Errorf("%s = %v, %v; want ≥ 1", q, res, err)
		}
	}
}
