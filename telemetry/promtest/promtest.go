// Package promtest runs a real Prometheus server for integration tests: it
// writes a configuration scraping the given targets, starts the
// prometheus binary (the Debian package's /usr/bin/prometheus in CI) on a
// free port with a temporary data directory, waits until it is ready, and
// queries its HTTP API.
//
// Tests using it are skipped when the binary is absent, unless
// SEXTANT_INTEGRATION=1 is set, in which case they fail: CI must have it.
package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures Start.
type Options struct {
	// Targets are host:port addresses to scrape (an httptest server's
	// Listener.Addr().String()).
	Targets []string
	// MetricsPath is the path scraped; "" = /metrics.
	MetricsPath string
	// Job is the job label; "" = sextant.
	Job string
	// ScrapeInterval; 0 = 1 s (the smallest useful in a test).
	ScrapeInterval time.Duration
	// Binary is the prometheus executable; "" = $PROMETHEUS, else
	// "prometheus" on PATH, else /usr/bin/prometheus.
	Binary string
	// RuleFiles are rule files (recording and alerting rules) Prometheus
	// loads and evaluates every ScrapeInterval; relative paths are made
	// absolute.
	RuleFiles []string
	// BearerToken, when set, is sent with every scrape
	// (Authorization: Bearer), as a scrape job's authorization section
	// does for a target that requires a key.
	BearerToken string
}

// Server is a running Prometheus.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Job  string
	cmd  *exec.Cmd
	logs *syncBuffer
}

// Binary returns the prometheus executable to use, or "" when none is
// installed.
func Binary() string {
	if b := os.Getenv("PROMETHEUS"); b != "" {
		return b
	}
	if b, err := exec.LookPath("prometheus"); err == nil {
		return b
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus"
	}
	return ""
}

// Start starts Prometheus scraping o.Targets and stops it when the test
// ends. It skips the test when no binary is found, unless
// SEXTANT_INTEGRATION=1.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := o.Binary
	if bin == "" {
		bin = Binary()
	}
	if bin == "" {
		if os.Getenv("SEXTANT_INTEGRATION") == "1" {
			t.Fatal("prometheus binary not found (install the Debian package prometheus) and SEXTANT_INTEGRATION=1")
		}
		t.Skip("prometheus binary not found; install the Debian package prometheus or set PROMETHEUS")
	}
	if o.MetricsPath == "" {
		o.MetricsPath = "/metrics"
	}
	if o.Job == "" {
		o.Job = "sextant"
	}
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = time.Second
	}
	rules := make([]string, len(o.RuleFiles))
	for i, f := range o.RuleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		rules[i] = abs
	}
	o.RuleFiles = rules
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(Config(o)), 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &Server{URL: "http://" + addr, Job: o.Job, logs: &syncBuffer{}}
	s.cmd = exec.Command(bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", s.logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, s.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 60 s\n%s", s.logs.String())
		}
	}
}

// Config is the prometheus.yml Start writes for o.
func Config(o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n", promDuration(o.ScrapeInterval), promDuration(o.ScrapeInterval))
	if len(o.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range o.RuleFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %q\n    metrics_path: %q\n    scrape_timeout: %s\n",
		o.Job, o.MetricsPath, promDuration(o.ScrapeInterval))
	if o.BearerToken != "" {
		fmt.Fprintf(&b, "    authorization:\n      type: Bearer\n      credentials: %q\n", o.BearerToken)
	}
	b.WriteString("    static_configs:\n      - targets:\n")
	for _, t := range o.Targets {
		fmt.Fprintf(&b, "          - %q\n", t)
	}
	return b.String()
}

func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Sample is one series of an instant query result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL query.
func (s *Server) Query(ctx context.Context, promql string) ([]Sample, error) {
	var res struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := s.api(ctx, "/api/v1/query", url.Values{"query": {promql}}, &res); err != nil {
		return nil, err
	}
	if res.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %q, want vector", promql, res.ResultType)
	}
	out := make([]Sample, 0, len(res.Result))
	for _, r := range res.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", promql, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Series returns the label sets of the series matching the selector.
func (s *Server) Series(ctx context.Context, match string) ([]map[string]string, error) {
	var res []map[string]string
	err := s.api(ctx, "/api/v1/series", url.Values{"match[]": {match}}, &res)
	return res, err
}

func (s *Server) api(ctx context.Context, path string, q url.Values, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("prometheus %s: %s: %w", path, resp.Status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("prometheus %s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, into)
}

// Rule is one loaded rule's state, as /api/v1/rules reports it.
type Rule struct {
	Group     string
	Name      string // the recorded series or the alert
	Type      string // "recording" or "alerting"
	Health    string // "ok", "err" or "unknown" (not evaluated yet)
	LastError string
	State     string // alerts: "inactive", "pending" or "firing"
}

// Rules returns the loaded rules and their last evaluation.
func (s *Server) Rules(ctx context.Context) ([]Rule, error) {
	var res struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string `json:"name"`
				Type      string `json:"type"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
				State     string `json:"state"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := s.api(ctx, "/api/v1/rules", url.Values{}, &res); err != nil {
		return nil, err
	}
	var out []Rule
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			out = append(out, Rule{Group: g.Name, Name: r.Name, Type: r.Type, Health: r.Health, LastError: r.LastError, State: r.State})
		}
	}
	return out, nil
}

// WaitScraped waits until every target has been scraped successfully
// (up == 1) at least after the call, i.e. the data recorded before the call
// is in Prometheus. It checks the scrape_samples_scraped timestamp moving
// past the call's start.
func (s *Server) WaitScraped(ctx context.Context, targets int) error {
	start := time.Now()
	for {
		res, err := s.Query(ctx, fmt.Sprintf(`timestamp(up{job=%q}) > %f and up{job=%q} == 1`, s.Job, float64(start.UnixMilli())/1e3, s.Job))
		if err == nil && len(res) >= targets {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("no scrape after the wait began")
			}
			return fmt.Errorf("waiting for a scrape of job %s: %w", s.Job, errors.Join(ctx.Err(), err))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// syncBuffer collects process output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() < 1<<20 {
		b.b.Write(p)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
