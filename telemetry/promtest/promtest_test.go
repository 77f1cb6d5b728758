package promtest

import (
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	got := Config(Options{Targets: []string{"127.0.0.1:8080", "127.0.0.1:9090"}, MetricsPath: "/metrics", Job: "sextant", ScrapeInterval: 500 * time.Millisecond})
	want := `global:
  scrape_interval: 500ms
  evaluation_interval: 500ms
scrape_configs:
  - job_name: "sextant"
    metrics_path: "/metrics"
    scrape_timeout: 500ms
    static_configs:
      - targets:
          - "127.0.0.1:8080"
          - "127.0.0.1:9090"
`
	if got != want {
		t.Errorf("Config:\n%s\nwant:\n%s", got, want)
	}
	got = Config(Options{Targets: []string{"127.0.0.1:8080"}, MetricsPath: "/metrics", Job: "sextant", ScrapeInterval: time.Second,
		RuleFiles: []string{"/etc/prometheus/a.yml", "/etc/prometheus/b c.yml"}})
	want = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - "/etc/prometheus/a.yml"
  - "/etc/prometheus/b c.yml"
scrape_configs:
  - job_name: "sextant"
    metrics_path: "/metrics"
    scrape_timeout: 1s
    static_configs:
      - targets:
          - "127.0.0.1:8080"
`
	if got != want {
		t.Errorf("Config with rule files:\n%s\nwant:\n%s", got, want)
	}
	got = Config(Options{Targets: []string{"127.0.0.1:8080"}, MetricsPath: "/metrics", Job: "sextant", ScrapeInterval: time.Second,
		BearerToken: "sk-sextant-abc"})
	want = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: "sextant"
    metrics_path: "/metrics"
    scrape_timeout: 1s
    authorization:
      type: Bearer
      credentials: "sk-sextant-abc"
    static_configs:
      - targets:
          - "127.0.0.1:8080"
`
	if got != want {
		t.Errorf("Config with a bearer token:\n%s\nwant:\n%s", got, want)
	}
	if d := promDuration(2 * time.Second); d != "2s" {
		t.Errorf("promDuration(2s) = %q", d)
	}
}
