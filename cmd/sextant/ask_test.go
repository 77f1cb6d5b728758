package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runCLI runs sextant with args and the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// askFixture ingests a small Markdown corpus into a fresh data directory.
func askFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs")
	os.MkdirAll(docs, 0o755)
	os.WriteFile(filepath.Join(docs, "ingestion.md"), []byte("# Ingesting documents\n\n"+
		"Sextant reads plain text, Markdown, HTML and PDF files.\n\n## PDF files\n\n"+
		"PDF text is extracted page by page with a pure-Go reader, so no external tool is needed.\n"), 0o644)
	os.WriteFile(filepath.Join(docs, "search.md"), []byte("# Searching\n\nSearch ranks chunks with BM25F over the chunk text and its headings.\n"), 0o644)
	data := filepath.Join(dir, "data")
	if _, errs, err := runCLI(t, nil, "ingest", "--quiet", "--data", data, docs); err != nil {
		t.Fatalf("ingest: %v\n%s", err, errs)
	}
	return data
}

func TestAsk(t *testing.T) {
	data := askFixture(t)
	out, errs, err := runCLI(t, nil, "ask", "--data", data, "how is PDF text extracted?")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	for _, want := range []string{"no external tool is needed [1].", "Sources:", "[1] Ingesting documents › PDF files", "ingestion.md  bytes ", "1 of 1 sentences supported", "extractive:extractive"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, errs, err = runCLI(t, nil, "ask", "--data", data, "--json", "how is PDF text extracted?")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var res jsonAnswer
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(res.Sentences) == 0 || !res.Sentences[0].Supported || len(res.Sources) == 0 || res.Sources[0].Quote == "" || res.TimingsMS["retrieve"] <= 0 {
		t.Errorf("json answer: %+v", res)
	}
	// A follow-up in the same session.
	out, errs, err = runCLI(t, nil, "ask", "--data", data, "--json", "--session", res.SessionID, "Which reader does it use?")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var next jsonAnswer
	json.Unmarshal([]byte(out), &next)
	if next.Turn != 2 || next.SessionID != res.SessionID {
		t.Errorf("follow-up turn %d session %q", next.Turn, next.SessionID)
	}
}

func TestAskUsageErrors(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"ask", "--data", data},
		{"ask", "--data", data, "--k", "-1", "q"},
		{"ask", "--data", data, "--filter", "nokey", "q"},
	} {
		if _, _, err := runCLI(t, nil, args...); exitCode(err) != 2 {
			t.Errorf("%v: err %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
	if _, _, err := runCLI(t, nil, "ask", "--data", data, "--assistant", "nobody", "q"); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("unknown assistant: %v", err)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "sextant.yaml")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	env := map[string]string{"SEXTANT_RETRY_MAX_ATTEMPTS": "5", "SEXTANT_TIMEOUTS_FIRST_DELTA": "3m", "MY_KEY": "sk-test"}
	getenv := func(k string) string { return env[k] }
	c, err := loadConfig(write(`
providers:
  - name: local
    type: openai
    base_url: http://localhost:11434/v1
    api_key_env: MY_KEY
retry: {max_attempts: 2, base_delay: 100ms}
assistants:
  - name: hr
    collections: [hr]
    filters: {team: people, lang: "en|de"}
    model: llama3.2
    temperature: 0.1
    max_tokens: 300
    top_k: 5
    system: Answer for employees.
cache: {semantic_threshold: 0.9, ttl: 1h}
`), dir, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Retry.MaxAttempts != 5 || c.Retry.BaseDelay.D().Milliseconds() != 100 || c.Timeouts.FirstDelta.D().Minutes() != 3 {
		t.Errorf("retry %+v timeouts %+v", c.Retry, c.Timeouts)
	}
	as, def, err := c.assistants()
	if err != nil {
		t.Fatal(err)
	}
	if def != "sextant" || len(as) != 2 || as[0].Name != "sextant" || as[0].Model != "extractive" {
		t.Fatalf("assistants %+v default %q", as, def)
	}
	hr := as[1]
	if hr.Model != "llama3.2" || hr.RewriteModel != "llama3.2" || *hr.Temperature != 0.1 || hr.TopK != 5 ||
		!cmp.Equal(hr.Filter.In["lang"], []string{"en", "de"}) || hr.Filter.Equals["team"] != "people" {
		t.Errorf("hr assistant %+v", hr)
	}
	m, err := c.models(getenv)
	if err != nil {
		t.Fatal(err)
	}
	for model, want := range map[string]string{"extractive": "extractive", "llama3.2": "local", "gpt-4o": "local"} {
		ts, err := m.Targets(model)
		if err != nil || ts[0].Provider != want {
			t.Errorf("model %s routed to %v (%v), want %s", model, ts, err, want)
		}
	}
	if _, err := c.models(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "MY_KEY") {
		t.Errorf("missing key variable: %v", err)
	}

	for text, want := range map[string]string{
		"retry:\n  max_attempts: 2\n  bogus: 1\n":              `[3:3] unknown field "bogus"`,
		"providers:\n  - name: x\n    type: grpc\n":            `type "grpc"`,
		"providers:\n  - name: extractive\n    type: openai\n": "built-in",
		"assistants:\n  - model: m\n":                          "name is required",
		"assistants:\n  - name: a\n    stale: maybe\n":         `stale "maybe"`,
		"timeouts:\n  call: soon\n":                            `[2:9] "soon" is not a duration`,
		"cache: {semantic_threshold: 2}\n":                     "semantic_threshold",
	} {
		_, err := loadConfig(write(text), dir, getenv)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want one containing %q", text, err, want)
		}
	}
	if _, err := loadConfig(write("retry: {}\n"), dir, func(k string) string {
		if k == "SEXTANT_CACHE_TTL" {
			return "forever"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "SEXTANT_CACHE_TTL") {
		t.Errorf("bad env override: %v", err)
	}
	if _, err := loadConfig(filepath.Join(dir, "missing.yaml"), dir, getenv); err == nil {
		t.Error("a named config file that does not exist is not an error")
	}
	os.Remove(filepath.Join(dir, "sextant.yaml"))
	if c, err := loadConfig("", dir, getenv); err != nil || c.path != "" {
		t.Errorf("no config file: %v", err)
	}
}

func TestBenchAnswerTiny(t *testing.T) {
	out, errs, err := runCLI(t, nil, "bench", "answer", "--beir", "testdata/beir-tiny", "--json", "--passes", "2")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"queries", "answered", "citation_coverage", "supported_rate", "overhead_p50_ms", "overhead_p95_ms", "overhead_best_of_passes_p95_ms", "stages_p50_ms", "cached_p50_ms"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if rep["queries"] != 3.0 || rep["citation_coverage"] != 1.0 {
		t.Errorf("queries %v coverage %v", rep["queries"], rep["citation_coverage"])
	}
}

// FuzzLoadConfig feeds arbitrary files to the configuration loader: it
// must return a configuration or an error, never panic.
func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		"retry: {max_attempts: 2, base_delay: 100ms}\n",
		"providers:\n  - name: x\n    type: openai\nroutes:\n  - match: '*'\n    targets: [{provider: x}]\n",
		"assistants:\n  - name: a\n    filters: {k: \"a|b\"}\n    temperature: 0.3\n",
		"timeouts:\n  call: -1s\n", "cache: {enabled: maybe}\n", "[", "a: &x [*x]\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(dir, "sextant.yaml")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(p, dir, func(string) string { return "" })
		if err != nil {
			return
		}
		c.assistants()
	})
}
