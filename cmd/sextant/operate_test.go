package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/web"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// operatedServer serves the API over askFixture's corpus with the
// operating side wired in as serve wires it, and keys k1..k3 of the
// default tenant's project support.
func operatedServer(t *testing.T, config string, environ map[string]string) (srv *httptest.Server, ops *operations, data string, logs *syncBuf) {
	t.Helper()
	data = askFixture(t)
	if err := os.WriteFile(filepath.Join(data, configFileName), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logs = &syncBuf{}
	e := &env{getenv: func(k string) string { return environ[k] }, stdout: io.Discard, stderr: io.Discard}
	s, ops, err := openOperated(t.Context(), e, data, "", logs)
	if err != nil {
		t.Fatal(err)
	}
	model, _ := s.opts.Model.(*llm.Model)
	wo := web.Options{Pipeline: s.pipeline, Model: model,
		Authenticate: func(r *http.Request) (*sextant.Principal, error) {
			key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if key == "" {
				return nil, nil
			}
			return &sextant.Principal{ID: key, Project: "support", Roles: []string{string(sextant.RoleAdmin)}}, nil
		}}
	ops.webOptions(&wo)
	api, err := web.New(wo)
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewServer(ops.handler(api.Handler()))
	t.Cleanup(func() {
		srv.Close()
		ops.Close(context.Background())
		s.Close()
	})
	return srv, ops, data, logs
}

func chat(t *testing.T, url, key string) *http.Response {
	t.Helper()
	body := `{"model": "sextant", "messages": [{"role": "user", "content": "how is PDF text extracted?"}]}`
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestOperatedServer runs answers through the wired server: rate limits
// and budgets refuse with 429 and the OpenAI headers, usage is priced
// into the ledger, metrics and the request log see every request.
func TestOperatedServer(t *testing.T) {
	// The extractive generator is free; price it so budgets bite: an
	// answer reserves its context window (16000 tokens) plus 4096 output
	// tokens, $0.020096 at $1 per million.
	const config = `
prices:
  models:
    extractive: {input: 1, output: 1}
budgets:
  keys:
    k1: {daily_usd: 0.01}
    k2: {monthly_usd: 5, thresholds: [0.000001]}
rate_limits:
  keys:
    k3: {requests_per_minute: 2}
    k4: {tokens_per_minute: 1000}
`
	srv, ops, data, logs := operatedServer(t, config, nil)

	resp := chat(t, srv.URL, "k2")
	if resp.StatusCode != 200 {
		t.Fatalf("k2: %s", resp.Status)
	}
	for i, want := range []int{200, 200, 429} {
		resp := chat(t, srv.URL, "k3")
		if resp.StatusCode != want {
			t.Fatalf("k3 request %d: %s, want %d", i, resp.Status, want)
		}
		if got := resp.Header.Get("x-ratelimit-limit-requests"); got != "2" {
			t.Errorf("k3 request %d: x-ratelimit-limit-requests %q", i, got)
		}
		if want == 429 && (resp.Header.Get("Retry-After") != "30" || resp.Header.Get("x-ratelimit-remaining-requests") != "0") {
			t.Errorf("429 headers %v", resp.Header)
		}
	}
	resp = chat(t, srv.URL, "k1")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("k1 over budget: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	// An answer reserves ~20k tokens: more than k4's whole minute.
	if resp := chat(t, srv.URL, "k4"); resp.StatusCode != 400 || resp.Header.Get("x-ratelimit-limit-tokens") != "1000" {
		t.Errorf("k4: %s, headers %v; want 400 (can never pass)", resp.Status, resp.Header)
	}
	if resp := chat(t, srv.URL, ""); resp.StatusCode != 401 {
		t.Errorf("no key: %s, want 401 before any limit", resp.Status)
	}

	ops.budgets.Close(t.Context()) // alerts are delivered off the request path: wait for them
	mresp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	metrics := string(mb)
	for _, want := range []string{
		`sextant_request_duration_seconds_count{assistant="sextant",code="200",model="extractive",route="POST /v1/chat/completions"} 3`,
		`sextant_request_duration_seconds_count{assistant="none",code="429",model="none",route="POST /v1/chat/completions"} 2`,
		`sextant_request_duration_seconds_count{assistant="none",code="400",model="none",route="POST /v1/chat/completions"} 1`,
		`sextant_limited_requests_total{reason="tokens"} 1`,
		`sextant_limited_requests_total{reason="requests"} 1`,
		`sextant_limited_requests_total{reason="budget"} 1`,
		`sextant_stage_duration_seconds_count{assistant="sextant",stage="retrieve"} 3`,
		// The first answer is generated; the same question again is a
		// response-cache hit: no model call, no cost, its cost saved.
		`sextant_llm_requests_total{code="ok",kind="chat",model="extractive",provider="extractive"} 1`,
		`sextant_cache_lookups_total{assistant="sextant",result="exact_hit"} 2`,
		`sextant_llm_circuit_state{provider="extractive",state="closed"} 1`,
		`sextant_budget_limit_usd{budget="key:k1:daily"} 0.01`,
		`sextant_budget_alerts_total{budget="key:k2:monthly",threshold="1e-06"} 1`,
		`sextant_index_documents{collection="default"} 2`,
		`sextant_tokens_total{assistant="sextant",model="extractive",type="output"}`,
		`sextant_cost_usd_total{assistant="sextant",model="extractive"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grepLines(metrics, "sextant_"))
	}

	// One JSON log line per request, with the server's request id.
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) < 6 {
		t.Errorf("%d request log lines, want one per request:\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		if id, _ := l["request_id"].(string); !strings.HasPrefix(id, "req_") {
			t.Errorf("log line without the server's request id: %v", l)
		}
	}

	// The ledger holds every answered request, priced.
	if err := ops.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	out, errs, err := runCLI(t, nil, "usage", "--data", data, "--by", "key", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var rep struct {
		Lines []struct {
			Group    string  `json:"group"`
			Requests int64   `json:"requests"`
			CostUSD  float64 `json:"cost_usd"`
			SavedUSD float64 `json:"saved_usd"`
			In       int64   `json:"input_tokens"`
			Out      int64   `json:"output_tokens"`
		} `json:"lines"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]int64{}
	var generated, hits float64 = -1, -1
	for _, l := range rep.Lines {
		got[l.Group] = l.Requests
		switch l.Group {
		case "k2":
			if want := float64(l.In+l.Out) / 1e6; l.In == 0 || !near(l.CostUSD, want) {
				t.Errorf("k2 cost %v for %d+%d tokens, want %v at $1 per million", l.CostUSD, l.In, l.Out, want)
			}
			generated = l.CostUSD
		case "k3":
			// Cache hits cost nothing and use no tokens; each saves what
			// the generation it replays cost.
			if l.CostUSD != 0 || l.In != 0 || l.Out != 0 {
				t.Errorf("k3 cost %v for %d+%d tokens: cache hits cost nothing", l.CostUSD, l.In, l.Out)
			}
			hits = l.SavedUSD
		}
	}
	if generated <= 0 || !near(hits, 2*generated) {
		t.Errorf("k3's two cache hits saved %v, want twice the %v k2's generation cost", hits, generated)
	}
	if got["k2"] != 1 || got["k3"] != 2 || got["k1"] != 0 {
		t.Errorf("ledger requests by key %v, want k2:1 k3:2 (refused requests are not charged)", got)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestOperationsConfigErrors(t *testing.T) {
	for _, tt := range []struct{ config, want string }{
		{"prices:\n  models:\n    m: {input: -1}\n", "prices"},
		{"budgets:\n  keys:\n    k: {}\n", "budgets.keys.k: set daily_usd"},
		{"budgets:\n  projects:\n    acme/p: {daily_usd: -5}\n", "budgets.projects.acme/p"},
		{"budgets:\n  keys:\n    k: {daily_usd: 1, thresholds: [0]}\n", "threshold"},
		{"budgets:\n  webhook: {url: ftp://x}\n", "budgets.webhook.url"},
		{"rate_limits:\n  default: {requests_per_minute: -1}\n", "rate_limits"},
		{"budget:\n  keys: {}\n", "budget"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, configFileName), []byte(tt.config), 0o644)
		_, err := loadConfig("", dir, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config %q: error %v, want one mentioning %q", tt.config, err, tt.want)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, configFileName), []byte(`
budgets:
  keys:
    k1: {daily_usd: 5, monthly_usd: 100}
  projects:
    support: {monthly_usd: 1000}
    beta/sales: {daily_usd: 2, thresholds: [0.9]}
`), 0o644)
	c, err := loadConfig("", dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := c.budgetList()
	var names []string
	for _, b := range bs {
		names = append(names, b.Name())
	}
	want := "key:k1:daily key:k1:monthly project:beta/sales:daily project:support:monthly"
	if strings.Join(names, " ") != want {
		t.Errorf("budgets %v, want %s", names, want)
	}
}

// TestTraceparentThroughGateway: a caller's traceparent reaches the model
// provider through the wired server (gateway pass-through), continued as
// the same trace — with tracing off, unchanged.
func TestTraceparentThroughGateway(t *testing.T) {
	var mu sync.Mutex
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("traceparent"))
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"fake-model",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	}))
	defer up.Close()
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer collector.Close()
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	config := `
providers:
  - name: up
    type: openai
    base_url: ` + up.URL + `/v1
routes:
  - match: fake-model
    targets: [{provider: up}]
`
	for _, tracing := range []bool{false, true} {
		environ := map[string]string{}
		if tracing {
			environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.URL
		}
		srv, ops, _, _ := operatedServer(t, config, environ)
		if ops.tracing.Enabled() != tracing {
			t.Fatalf("tracing enabled %v, want %v", ops.tracing.Enabled(), tracing)
		}
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model": "fake-model", "messages": [{"role": "user", "content": "hello"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer kt")
		req.Header.Set("traceparent", incoming)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s", resp.Status, body)
		}
		mu.Lock()
		last := got[len(got)-1]
		mu.Unlock()
		switch {
		case !tracing && last != incoming:
			t.Errorf("tracing off: upstream traceparent %q, want the caller's %q unchanged", last, incoming)
		case tracing && (!strings.HasPrefix(last, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || last == incoming):
			t.Errorf("tracing on: upstream traceparent %q, want the caller's trace with Sextant's client span as parent", last)
		}
	}
}

// Streamed answers record the time to their first token (a plain answer
// has no first token to time); the index reports when the corpus last
// changed.
func TestFirstTokenAndFreshnessMetrics(t *testing.T) {
	srv, _, _, _ := operatedServer(t, "", nil)
	for _, c := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model": "sextant", "stream": true, "messages": [{"role": "user", "content": "how is PDF text extracted?"}]}`},
		{"/v1/ask", `{"question": "how is PDF text extracted?", "stream": true}`},
		{"/v1/ask", `{"question": "how is PDF text extracted?", "no_cache": true}`},
	} {
		req, _ := http.NewRequest("POST", srv.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer kt")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "PDF") {
			t.Fatalf("%s: %s\n%s", c.path, resp.Status, body)
		}
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`sextant_time_to_first_token_seconds_count{assistant="sextant",model="extractive",route="POST /v1/chat/completions"} 1`,
		`sextant_time_to_first_token_seconds_count{assistant="sextant",model="extractive",route="POST /v1/ask"} 1`,
		"\nsextant_index_last_change_timestamp_seconds 1.",
		"\nsextant_quarantined_documents 0\n",
		`sextant_log_records_lost_total{log="usage"} 0`,
		`sextant_log_records_queued{log="usage"} `,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s\n%s", want, grepLines(string(b), "first_token"))
		}
	}
}
