package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The quality endpoints through a real `sextant serve` over a temp data
// directory: a suite in DATA/evals run by name and an inline golden set,
// both stored where `sextant eval history` finds them; the red-team run;
// the settings without secrets; who may do what; bad input named by
// field; and the audit records of the runs.
func TestServeEvalsRedTeamSettings(t *testing.T) {
	dir := t.TempDir()
	const providerKey = "sk-provider-SECRET-7c1d9e"
	const headerSecret = "hdr-SECRET-55aa"
	config := fmt.Sprintf(`providers:
  - name: up
    type: openai
    base_url: https://user:pw-SECRET@llm.example.com/v1
    api_key_env: TEST_PROVIDER_KEY
    headers:
      X-Org-Token: %s
rate_limits:
  default: {requests_per_minute: 600}
cache:
  ttl: 5m
eval:
  suites: [extra/other.yaml]
`, headerSecret)
	must(t, os.WriteFile(filepath.Join(dir, "sextant.yaml"), []byte(config), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "evals"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "extra"), 0o755))
	golden := `{"id": "pdf", "question": "How do I ingest a folder of PDFs?"}
{"id": "keys", "question": "How do I create an API key?"}
{"id": "cost", "question": "How are budgets enforced?"}
`
	must(t, os.WriteFile(filepath.Join(dir, "evals", "smoke.golden.jsonl"), []byte(golden), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "evals", "smoke.yaml"), []byte(`name: smoke
dataset: smoke.golden.jsonl
metrics: [groundedness, hallucination_rate, citation_coverage]
gates:
  - hallucination_rate > 1
`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "evals", "corpus.yaml"), []byte("name: own-corpus\ndataset: smoke.golden.jsonl\ncorpus: [../sample-docs]\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "extra", "other.yaml"), []byte("name: other\ndataset: ../evals/smoke.golden.jsonl\nlimit: 1\n"), 0o644))

	getenv := func(k string) string {
		if k == "TEST_PROVIDER_KEY" {
			return providerKey
		}
		return ""
	}
	url, stdout, stop := startServeEnv(t, dir, getenv)
	defer stop()
	admin := printedKey(t, stdout.String())
	keys := map[string]string{}
	for _, role := range []string{"qa", "product", "ai_engineer", "viewer", "app", "llmops"} {
		status, body := request(t, admin, "POST", url+"/v1/keys", `{"name":"`+role+`","roles":["`+role+`"]}`)
		var k struct{ Key string }
		if status != 201 || json.Unmarshal(body, &k) != nil {
			t.Fatalf("create %s key: %d %s", role, status, body)
		}
		keys[role] = k.Key
	}

	type evalRun struct {
		Object      string
		ID          string
		Passed      bool
		FailedGates int `json:"failed_gates"`
		Report      struct {
			Suite     string
			Questions int
			Variants  []struct {
				Name      string
				Metrics   map[string]float64
				Questions []json.RawMessage
			}
			Gates []struct{ Failed bool }
		}
	}
	post := func(key, path, body string, out any) (int, []byte) {
		t.Helper()
		status, b := request(t, key, "POST", url+path, body)
		if out != nil && status < 300 {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("POST %s: %v: %s", path, err, b)
			}
		}
		return status, b
	}

	// A suite of DATA/evals run by name, by qa.
	var named evalRun
	if status, b := post(keys["qa"], "/v1/evals/runs", `{"suite": "smoke"}`, &named); status != 201 {
		t.Fatalf("qa runs suite smoke: %d %s", status, b)
	}
	if named.Object != "eval.run" || named.ID == "" || named.Report.Suite != "smoke" || named.Report.Questions != 3 ||
		!named.Passed || len(named.Report.Gates) != 1 || len(named.Report.Variants) != 1 {
		t.Fatalf("named run: %+v", named)
	}
	m := named.Report.Variants[0].Metrics
	for _, k := range []string{"groundedness", "hallucination_rate", "citation_coverage"} {
		if _, ok := m[k]; !ok {
			t.Errorf("run metrics lack %s: %v", k, m)
		}
	}
	if m["groundedness"] <= 0.5 {
		t.Errorf("groundedness %v of extractive answers from the manual; want it high", m["groundedness"])
	}
	if len(named.Report.Variants[0].Questions) != 0 {
		t.Error("questions in the response without questions: true")
	}
	// A suite the configuration lists (eval.suites), by ai_engineer.
	var other evalRun
	if status, b := post(keys["ai_engineer"], "/v1/evals/runs", `{"suite": "other", "baseline": "none"}`, &other); status != 201 || other.Report.Questions != 1 {
		t.Fatalf("ai_engineer runs suite other: %d %s", status, b)
	}
	// An inline golden set, with every question's result.
	var inline evalRun
	body := `{"name": "adhoc", "golden": [{"question": "What does the audit log record?", "reference_answer": "every answer"},
		{"question": "How do I create an API key?"}], "gates": ["groundedness < 2"], "questions": true}`
	if status, b := post(keys["qa"], "/v1/evals/runs", body, &inline); status != 201 {
		t.Fatalf("inline run: %d %s", status, b)
	}
	if inline.Report.Suite != "adhoc" || inline.Report.Questions != 2 || inline.Passed || inline.FailedGates != 1 ||
		len(inline.Report.Variants[0].Questions) != 2 {
		t.Fatalf("inline run (its gate always fails): %+v", inline)
	}

	// Bad input: the field at fault is named.
	many := `{"golden": [` + strings.Repeat(`{"question": "q?"},`, 200) + `{"question": "q?"}]}`
	for _, c := range []struct {
		body, param string
		status      int
		msg         string
	}{
		{`{"suite": "nope"}`, "suite", 400, "known: other, own-corpus, smoke"},
		{`{"suite": "own-corpus"}`, "", 400, "its own corpus"},
		{`{}`, "suite", 400, "inline golden set"},
		{`{"suite": "smoke", "golden": [{"question": "x"}]}`, "suite", 400, "not both"},
		{`{"suite": "smoke", "gates": ["f1 < 1"]}`, "gates", 400, "inline golden set"},
		{`{"suite": "smoke", "baseline": "../r.json"}`, "baseline", 400, "stored run id"},
		{`{"suite": "smoke", "baseline": "no-such-run"}`, "", 400, "baseline"},
		{`{"golden": []}`, "golden", 400, "empty"},
		{`{"golden": [{"question": "ok?"}, {"question": " "}]}`, "golden[1].question", 400, "empty"},
		{`{"golden": [{"id": "a", "question": "x"}, {"id": "a", "question": "y"}]}`, "golden[1].id", 400, "golden[0]"},
		{`{"golden": [{"question": "x", "answer": "y"}]}`, "", 400, "answer"},
		{`{"golden": [{"question": "x"}], "metrics": ["ndcg@zero"]}`, "metrics[0]", 400, ""},
		{`{"golden": [{"question": "x"}], "gates": ["f1 is low"]}`, "gates[0]", 400, ""},
		{`{"golden": [{"question": "x"}], "assistant": "nobody"}`, "assistant", 400, "nobody"},
		{`{"golden": [{"question": "x"}], "name": "a b"}`, "name", 400, ""},
		{many, "golden", 413, "at most 200"},
	} {
		status, b := post(keys["qa"], "/v1/evals/runs", c.body, nil)
		var e struct {
			Error struct {
				Message string
				Param   any
			}
		}
		json.Unmarshal(b, &e)
		param, _ := e.Error.Param.(string)
		if status != c.status || (c.param != "" && param != c.param) || !strings.Contains(e.Error.Message, c.msg) {
			t.Errorf("%.80s: %d %s; want %d naming %q", c.body, status, b, c.status, c.param)
		}
	}

	// The history: over HTTP (eval.read) and in sextant eval history.
	var list struct {
		Object string
		Data   []struct {
			ID      string
			Suite   string
			Passed  bool
			Metrics map[string]map[string]float64
		}
	}
	status, b := request(t, keys["product"], "GET", url+"/v1/evals/runs", "")
	if status != 200 || json.Unmarshal(b, &list) != nil || len(list.Data) != 3 || list.Data[0].ID != inline.ID || list.Data[2].ID != named.ID ||
		list.Data[0].Passed || list.Data[2].Metrics["default"]["groundedness"] != m["groundedness"] {
		t.Fatalf("product lists runs: %d %s", status, b)
	}
	if status, b := request(t, keys["product"], "GET", url+"/v1/evals/runs?suite=smoke&limit=5", ""); status != 200 || json.Unmarshal(b, &list) != nil || len(list.Data) != 1 {
		t.Errorf("runs of suite smoke: %d %s", status, b)
	}
	if status, b := request(t, keys["product"], "GET", url+"/v1/evals/runs?limit=-1", ""); status != 400 || !strings.Contains(string(b), `"param":"limit"`) {
		t.Errorf("limit=-1: %d %s", status, b)
	}
	var got evalRun
	status, b = request(t, keys["product"], "GET", url+"/v1/evals/runs/"+named.ID, "")
	if status != 200 || json.Unmarshal(b, &got) != nil || got.ID != named.ID || got.Report.Variants[0].Metrics["hallucination_rate"] != m["hallucination_rate"] ||
		!got.Passed || len(got.Report.Variants[0].Questions) != 0 {
		t.Fatalf("product reads run: %d %s", status, b)
	}
	status, b = request(t, keys["qa"], "GET", url+"/v1/evals/runs/"+named.ID+"?questions=true", "")
	if status != 200 || json.Unmarshal(b, &got) != nil || len(got.Report.Variants[0].Questions) != 3 {
		t.Fatalf("run with questions: %d %.300s", status, b)
	}
	if status, _ := request(t, keys["qa"], "GET", url+"/v1/evals/runs/nope", ""); status != 404 {
		t.Errorf("unknown run: %d", status)
	}
	var hist bytes.Buffer
	if err := run(context.Background(), []string{"eval", "history", "--data", dir, "--json"}, getenv, strings.NewReader(""), &hist, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{named.ID, other.ID, inline.ID} {
		if !strings.Contains(hist.String(), `"id": "`+id+`"`) {
			t.Errorf("sextant eval history lacks run %s:\n%s", id, hist.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "eval-reports", named.ID, "report.html")); err != nil {
		t.Errorf("report files: %v", err)
	}

	// The red team, by qa, against the default assistant.
	var rt struct {
		Object            string
		Assistant         string
		Target            string
		Categories        map[string]struct{ Prompts, Stopped int }
		Benign            struct{ Prompts, Refused int }
		FalsePositiveRate *float64 `json:"false_positive_rate"`
		BlockRate         *float64 `json:"block_rate"`
		Cases             []json.RawMessage
	}
	status, b = post(keys["qa"], "/v1/redteam/runs", `{"assistant": "sextant"}`, &rt)
	if status != 200 || rt.Object != "redteam.run" || rt.Assistant != "sextant" || len(rt.Categories) < 3 || rt.Benign.Prompts == 0 ||
		rt.FalsePositiveRate == nil || rt.BlockRate == nil || len(rt.Cases) != 0 {
		t.Fatalf("red team: %d %.500s", status, b)
	}
	for n, c := range rt.Categories {
		if c.Prompts == 0 || c.Stopped > c.Prompts {
			t.Errorf("category %s: %+v", n, c)
		}
	}
	if status, b := post(keys["qa"], "/v1/redteam/runs", `{"assistant": "nobody"}`, nil); status != 400 || !strings.Contains(string(b), `"param":"assistant"`) {
		t.Errorf("red team of an unknown assistant: %d %s", status, b)
	}
	if status, b := post(keys["qa"], "/v1/redteam/runs", `{"assistant": 3}`, nil); status != 400 || !strings.Contains(string(b), "assistant") {
		t.Errorf("red team with a number as assistant: %d %s", status, b)
	}

	// The settings, by ai_engineer: everything but secrets.
	status, b = request(t, keys["ai_engineer"], "GET", url+"/v1/settings", "")
	if status != 200 {
		t.Fatalf("settings: %d %s", status, b)
	}
	for _, secret := range []string{providerKey, headerSecret, "pw-SECRET"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("settings show the secret %q:\n%s", secret, b)
		}
	}
	var st struct {
		Object           string
		DefaultAssistant string `json:"default_assistant"`
		Assistants       []struct {
			Name         string
			TemplateHash string `json:"template_hash"`
		}
		Templates []struct{ Name, Hash string }
		Providers []struct {
			Name      string
			BaseURL   string `json:"base_url"`
			APIKeySet bool   `json:"api_key_set"`
			Headers   []string
		}
		Guard      map[string]any
		RateLimits struct {
			Default struct {
				RequestsPerMinute int `json:"requests_per_minute"`
			}
		} `json:"rate_limits"`
		Cache struct {
			Enabled bool
			TTL     string
		}
		Eval    map[string]any
		Budgets []any
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Object != "settings" || st.DefaultAssistant != "sextant" || len(st.Assistants) == 0 || st.Assistants[0].TemplateHash == "" ||
		len(st.Templates) == 0 || st.Templates[0].Hash == "" || len(st.Providers) != 1 || st.Providers[0].Headers[0] != "X-Org-Token" ||
		!st.Providers[0].APIKeySet || st.Providers[0].BaseURL != "https://llm.example.com/v1" || st.Guard["enabled"] != true ||
		st.RateLimits.Default.RequestsPerMinute != 600 || !st.Cache.Enabled || st.Cache.TTL != "5m0s" || st.Budgets == nil ||
		!strings.Contains(fmt.Sprint(st.Eval["suites"]), "extra/other.yaml") {
		t.Errorf("settings: %s", b)
	}
	if !strings.Contains(string(b), `"api_key_env":"TEST_PROVIDER_KEY"`) {
		t.Errorf("settings do not name the key's variable: %s", b)
	}

	// Who may do what (docs/access-control.md).
	for _, c := range []struct {
		role, method, path, body string
		allowed                  bool
	}{
		{"app", "POST", "/v1/evals/runs", `{"suite": "smoke"}`, false},
		{"viewer", "POST", "/v1/evals/runs", `{"suite": "smoke"}`, false},
		{"product", "POST", "/v1/evals/runs", `{"suite": "smoke"}`, false},
		{"app", "GET", "/v1/evals/runs", "", false},
		{"viewer", "GET", "/v1/evals/runs/" + named.ID, "", false},
		{"ai_engineer", "GET", "/v1/evals/runs/" + named.ID, "", true},
		{"app", "POST", "/v1/redteam/runs", `{}`, false},
		{"viewer", "POST", "/v1/redteam/runs", `{}`, false},
		{"product", "POST", "/v1/redteam/runs", `{}`, false},
		{"ai_engineer", "POST", "/v1/redteam/runs", `{}`, false},
		{"qa", "GET", "/v1/settings", "", false},
		{"product", "GET", "/v1/settings", "", false},
		{"viewer", "GET", "/v1/settings", "", false},
		{"app", "GET", "/v1/settings", "", false},
		{"llmops", "GET", "/v1/settings", "", true},
	} {
		status, b := request(t, keys[c.role], c.method, url+c.path, c.body)
		if c.allowed != (status < 300) || !c.allowed && status != 403 {
			t.Errorf("%s %s as %s: %d %.200s; want allowed=%v", c.method, c.path, c.role, status, b, c.allowed)
		}
	}

	// The runs are in the audit log, by who ran them.
	status, b = request(t, admin, "GET", url+"/v1/audit?kind=admin", "")
	if status != 200 {
		t.Fatalf("audit: %d %s", status, b)
	}
	for _, want := range []string{`"action":"eval.run"`, `"run_id":"` + named.ID + `"`, `"action":"redteam.run"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestScrubSecrets(t *testing.T) {
	m := map[string]any{"hash_key_env": "HK", "webhook": map[string]any{"url": "u", "secret": "s1"},
		"list": []any{map[string]any{"password": "p"}}, "max_tokens": 5, "Token": "t"}
	scrubSecrets(m)
	b, _ := json.Marshal(m)
	for _, secret := range []string{`"s1"`, `"p"`, `"t"`} {
		if strings.Contains(string(b), secret) {
			t.Errorf("%s survived: %s", secret, b)
		}
	}
	if !strings.Contains(string(b), `"hash_key_env":"HK"`) || !strings.Contains(string(b), `"max_tokens":5`) {
		t.Errorf("scrubbed too much: %s", b)
	}
}
