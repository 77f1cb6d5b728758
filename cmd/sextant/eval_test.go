package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/llm/llmtest"
)

// evalFixture writes a golden set and a suite over askFixture's corpus and
// returns the data directory and the suite file.
func evalFixture(t *testing.T, suiteExtra string) (data, suite string) {
	t.Helper()
	data = askFixture(t)
	dir := t.TempDir()
	golden := `{"id": "pdf", "question": "How is PDF text extracted?", "reference_answer": "PDF text is extracted page by page with a pure-Go reader, so no external tool is needed.", "relevant_ids": ["ingestion.md"], "tags": ["ingest"]}
{"id": "rank", "question": "How does search rank chunks?", "reference_answer": "Search ranks chunks with BM25F over the chunk text and its headings.", "relevant_ids": ["search.md"]}
{"id": "formats", "question": "Which formats does Sextant read?", "reference_answer": "Sextant reads plain text, Markdown, HTML and PDF files.", "relevant_ids": ["no-such-document"]}
`
	if err := os.WriteFile(filepath.Join(dir, "golden.jsonl"), []byte(golden), 0o644); err != nil {
		t.Fatal(err)
	}
	suite = filepath.Join(dir, "suite.yaml")
	text := "name: handbook\ndataset: golden.jsonl\nworkers: 2\n" +
		"metrics: [ndcg@10, recall@10, groundedness, hallucination_rate, f1, rouge_l, bleu, task_success, latency_p95_ms, cost_usd]\n" +
		"success: [f1 >= 0.5]\n" + suiteExtra
	if err := os.WriteFile(suite, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return data, suite
}

// relevant ids name documents by file name here: map them to the store's
// document ids.
func fixDocIDs(t *testing.T, data, suite string) {
	t.Helper()
	out, errs, err := runCLI(t, nil, "docs", "list", "--data", data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var docs []struct {
		ID     string `json:"id"`
		Source string `json:"source"`
	}
	if err := json.Unmarshal([]byte(out), &docs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	golden := filepath.Join(filepath.Dir(suite), "golden.jsonl")
	b, _ := os.ReadFile(golden)
	s := string(b)
	for _, d := range docs {
		s = strings.ReplaceAll(s, `"`+filepath.Base(d.Source)+`"`, `"`+d.ID+`"`)
	}
	if err := os.WriteFile(golden, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEvalRunStoresAndCompares(t *testing.T) {
	data, suite := evalFixture(t, "gates:\n  - ndcg@10 drop > 0.01\n  - hallucination_rate > 0.5\n")
	fixDocIDs(t, data, suite)
	out1 := filepath.Join(t.TempDir(), "r1")
	compact := filepath.Join(t.TempDir(), "baseline.json")
	stdout, errs, err := runCLI(t, nil, "eval", "run", suite, "--data", data, "--out", out1, "--save-baseline", compact)
	if err != nil {
		t.Fatalf("first run: %v\n%s\n%s", err, stdout, errs)
	}
	for _, want := range []string{"ndcg@10", "SKIP  gate \"ndcg@10 drop > 0.01\"", "PASS  gate \"hallucination_rate > 0.5\"", "stored as run"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("first run output lacks %q:\n%s", want, stdout)
		}
	}
	var rep eval.Report
	b, err := os.ReadFile(filepath.Join(out1, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	v := rep.Variant("default")
	if rep.Questions != 3 || v == nil || v.Metrics["recall@10"] < 0.66 || v.Metrics["recall@10"] > 0.67 || v.Metrics["f1"] <= 0 {
		t.Fatalf("report: %d questions, variant %+v", rep.Questions, v)
	}
	if _, err := os.Stat(filepath.Join(out1, "report.html")); err != nil {
		t.Fatal(err)
	}

	// A second run compares with the first (the default --baseline last).
	stdout, errs, err = runCLI(t, nil, "eval", "run", suite, "--data", data, "--out", t.TempDir(), "--json")
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, errs)
	}
	var rep2 eval.Report
	if err := json.Unmarshal([]byte(stdout), &rep2); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if rep2.Baseline == nil || rep2.Baseline.ID != rep.ID || len(rep2.Failed()) != 0 {
		t.Fatalf("second run: baseline %+v, gates %+v", rep2.Baseline, rep2.Gates)
	}

	// The compact baseline file serves as the baseline too (as in CI).
	if b, err := os.ReadFile(compact); err != nil || len(b) > 8000 || strings.Contains(string(b), `"questions": [`) {
		t.Fatalf("compact baseline: %v, %d bytes", err, len(b))
	}
	stdout, errs, err = runCLI(t, nil, "eval", "run", suite, "--data", data, "--out", t.TempDir(), "--json", "--no-save", "--baseline", compact)
	if err != nil {
		t.Fatalf("run against the baseline file: %v\n%s", err, errs)
	}
	var rep3 eval.Report
	if err := json.Unmarshal([]byte(stdout), &rep3); err != nil || rep3.Baseline == nil || rep3.Baseline.ID != rep.ID {
		t.Fatalf("baseline from file: %v %+v", err, rep3.Baseline)
	}
	for _, g := range rep3.Gates {
		if g.Skipped != "" || g.Failed {
			t.Errorf("gate against the baseline file: %+v", g)
		}
	}

	// The history lists both, newest first; every CLI call reopened the
	// store, so it survives restarts.
	stdout, errs, err = runCLI(t, nil, "eval", "history", "--data", data, "--json")
	if err != nil {
		t.Fatalf("history: %v\n%s", err, errs)
	}
	var hist []struct {
		ID          string                        `json:"id"`
		Suite       string                        `json:"suite"`
		FailedGates int                           `json:"failed_gates"`
		Metrics     map[string]map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(stdout), &hist); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(hist) != 2 || hist[0].ID != rep2.ID || hist[1].ID != rep.ID || hist[0].Suite != "handbook" ||
		hist[1].Metrics["default"]["ndcg@10"] != v.Metrics["ndcg@10"] {
		t.Fatalf("history = %+v", hist)
	}
	stdout, _, err = runCLI(t, nil, "eval", "history", "--data", data)
	if err != nil || !strings.Contains(stdout, rep.ID) || !strings.Contains(stdout, "ndcg@10=") {
		t.Errorf("history table: %v\n%s", err, stdout)
	}
}

// TestEvalRunGateFails: a run worse than its baseline exits with status 3
// and a message naming the metric, the baseline value and the new value.
func TestEvalRunGateFails(t *testing.T) {
	data, suite := evalFixture(t, "gates:\n  - ndcg@10 drop > 0.01\n  - recall@10 < 0.9\n")
	fixDocIDs(t, data, suite)
	// A baseline report in which every question found its document first.
	base := eval.Report{ID: "ci-baseline", Suite: "handbook", Variants: []eval.VariantReport{{Name: "default",
		Metrics: map[string]float64{"ndcg@10": 1, "recall@10": 0.95}}}}
	basePath := filepath.Join(t.TempDir(), "baseline.json")
	b, _ := json.Marshal(base)
	if err := os.WriteFile(basePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runCLI(t, nil, "eval", "run", suite, "--data", data, "--baseline", basePath, "--out", t.TempDir())
	if err == nil {
		t.Fatalf("gates passed:\n%s", stdout)
	}
	if exitCode(err) != exitGateFailed {
		t.Fatalf("exit %d (%v), want %d", exitCode(err), err, exitGateFailed)
	}
	msg := err.Error()
	for _, want := range []string{"2 gate(s) failed", `gate "ndcg@10 drop > 0.01" failed on default`, "ndcg@10 fell from 1.0000 (baseline run ci-baseline) to 0.6667",
		`gate "recall@10 < 0.9" failed on default: recall@10 is 0.6667 (baseline run ci-baseline: 0.9500)`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(stdout, "FAIL  gate") {
		t.Errorf("table lacks the failed gate:\n%s", stdout)
	}
	// The failed run is stored all the same, with its failed gates counted.
	out, _, err := runCLI(t, nil, "eval", "history", "--data", data, "--json")
	if err != nil || !strings.Contains(out, `"failed_gates": 2`) {
		t.Errorf("history: %v\n%s", err, out)
	}
}

func TestEvalRunErrors(t *testing.T) {
	data, suite := evalFixture(t, "gates:\n  - ndcg@10 dropp > 0.01\n")
	_, _, err := runCLI(t, nil, "eval", "run", suite, "--data", data)
	if err == nil || !strings.Contains(err.Error(), "suite.yaml:7:5: gates:") || exitCode(err) != 1 {
		t.Errorf("bad gate: %v (exit %d)", err, exitCode(err))
	}
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"eval"}, "name a subcommand", 2},
		{[]string{"eval", "frobnicate"}, "unknown subcommand", 2},
		{[]string{"eval", "run"}, "name one suite file", 2},
		{[]string{"eval", "run", filepath.Join(t.TempDir(), "missing.yaml")}, "no such file", 1},
		{[]string{"eval", "init", "--n", "0"}, "--n 0", 2},
		{[]string{"eval", "grounding-data"}, "--beir DIR and --out DIR are required", 2},
	} {
		_, _, err := runCLI(t, nil, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != c.code {
			t.Errorf("%v: %v (exit %d), want %q exit %d", c.args, err, exitCode(err), c.want, c.code)
		}
	}
	// An unknown assistant in a variant.
	os.WriteFile(suite, []byte("name: x\ndataset: golden.jsonl\nvariants:\n  - name: v\n    assistant: nobody\n"), 0o644)
	if _, _, err := runCLI(t, nil, "eval", "run", suite, "--data", data); err == nil || !strings.Contains(err.Error(), `assistant "nobody" is not configured`) {
		t.Errorf("unknown assistant: %v", err)
	}
	// A baseline of another suite.
	if _, _, err := runCLI(t, nil, "eval", "run", suite, "--data", data, "--baseline", "nope"); err == nil || !strings.Contains(err.Error(), `"nope" not found`) {
		t.Errorf("unknown baseline run: %v", err)
	}
}

// TestEvalRunPromptAB compares two variants that differ in their prompt
// template file and retrieval depth.
func TestEvalRunPromptAB(t *testing.T) {
	data, suite := evalFixture(t, "variants:\n  - name: base\n  - name: terse\n    template_file: terse.tmpl\n    top_k: 1\n    mode: lexical\n")
	tmpl := `{{define "system"}}Answer in one sentence from the sources.{{range .Sources}}
[{{.N}}] {{.Text}}{{end}}{{end}}`
	if err := os.WriteFile(filepath.Join(filepath.Dir(suite), "terse.tmpl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, errs, err := runCLI(t, nil, "eval", "run", suite, "--data", data, "--json", "--no-save", "--out", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var rep eval.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Variants) != 2 || len(rep.Diffs) != 1 || rep.Diffs[0].Variant != "terse" || rep.Diffs[0].Metric != "f1" {
		t.Fatalf("variants %d, diffs %+v", len(rep.Variants), rep.Diffs)
	}
	if got := rep.Variant("terse").Settings; got["template_file"] != "terse.tmpl" || got["top_k"] != "1" {
		t.Errorf("settings %v", got)
	}
	for _, q := range rep.Variant("terse").Questions {
		if len(q.Sources) > 1 {
			t.Errorf("top_k 1 answered %s from %d sources", q.ID, len(q.Sources))
		}
	}
	out, _, _ := runCLI(t, nil, "eval", "history", "--data", data)
	if !strings.Contains(out, "no evaluation runs stored") {
		t.Errorf("--no-save stored the run:\n%s", out)
	}
}

// TestEvalJudgeCached runs a suite with an LLM judge against the fake
// OpenAI server twice: the second run is answered from the verdicts the
// first stored, without a single model call.
func TestEvalJudgeCached(t *testing.T) {
	up := llmtest.NewOpenAIServer(t)
	data, suite := evalFixture(t, "judge: judge-model\n")
	cfg := fmt.Sprintf("providers:\n  - name: fake\n    type: openai\n    base_url: %s\n", up.URL)
	if err := os.WriteFile(filepath.Join(data, configFileName), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		up.Enqueue(llmtest.Reply{Text: []string{`{"label": "supported", "support": 0.9, "reason": "stated"}`}})
	}
	stdout, errs, err := runCLI(t, nil, "eval", "run", suite, "--data", data, "--json", "--out", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	first := len(up.Calls())
	if first == 0 {
		t.Fatal("the judge was never called")
	}
	for _, c := range up.Calls() {
		if c.Model != "judge-model" || len(c.Messages) != 2 || !strings.Contains(c.Messages[1].Content, "Claim: ") {
			t.Fatalf("judge call %+v", c)
		}
	}
	var rep eval.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Judge, eval.JudgePromptVersion()+"/judge-model") || rep.Variants[0].Metrics["groundedness"] != 0.9 {
		t.Errorf("judge %q, groundedness %v", rep.Judge, rep.Variants[0].Metrics["groundedness"])
	}
	judged := 0
	for _, q := range rep.Variants[0].Questions {
		for _, c := range q.Claims {
			if c.Verdict != "" {
				judged++
			}
		}
	}
	if judged == 0 {
		t.Error("no claim carries the judge's verdict")
	}
	if _, errs, err := runCLI(t, nil, "eval", "run", suite, "--data", data, "--out", t.TempDir()); err != nil {
		t.Fatalf("second run: %v\n%s", err, errs)
	}
	if n := len(up.Calls()); n != first {
		t.Errorf("second run called the judge %d times; the store should have answered every claim", n-first)
	}
}

func TestEvalInit(t *testing.T) {
	data := askFixture(t)
	out := filepath.Join(t.TempDir(), "suites", "handbook.yaml")
	stdout, errs, err := runCLI(t, nil, "eval", "init", "--data", data, "--out", out, "--n", "5")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	golden := filepath.Join(filepath.Dir(out), "handbook.golden.jsonl")
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	d, err := eval.ReadDataset(f, golden)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Items) < 2 || !strings.Contains(stdout, "templated questions") {
		t.Fatalf("%d questions:\n%s", len(d.Items), stdout)
	}
	for _, it := range d.Items {
		if it.ReferenceAnswer == "" || len(it.RelevantIDs) != 1 || !strings.HasSuffix(it.Question, "?") {
			t.Errorf("item %+v", it)
		}
	}
	if _, _, err := runCLI(t, nil, "eval", "init", "--data", data, "--out", out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("overwrote without --force: %v", err)
	}
	// The starter suite runs as written (its gates may not fail on a
	// first run: there is no baseline, and the extractive answers quote
	// the documents).
	if stdout, errs, err := runCLI(t, nil, "eval", "run", out, "--data", data, "--out", t.TempDir()); err != nil {
		t.Fatalf("running the starter suite: %v\n%s\n%s", err, stdout, errs)
	}
}

// TestEvalInitNamesFiles drafts a golden set over two files of one base
// name in different folders and a record, and checks that the files are
// named by the shortest path that tells them apart, the record by its id,
// and that the drafted suite's retrieval finds what it names.
func TestEvalInitNamesFiles(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs")
	for path, text := range map[string]string{
		"guides/setup.md": "# Setting up\n\nThe configuration file names the data directory and the listen address of the server.\n",
		"admin/setup.md":  "# Key rotation\n\nAdministrators rotate the signing keys of every tenant once a quarter and record each rotation.\n",
		"faq.jsonl":       `{"_id": "refunds", "title": "Refunds", "text": "Refunds are issued within fourteen days of a return when the goods arrive back undamaged."}` + "\n",
	} {
		p := filepath.Join(docs, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if _, errs, err := runCLI(t, nil, "ingest", "--quiet", "--data", data, docs); err != nil {
		t.Fatalf("ingest: %v\n%s", err, errs)
	}
	out := filepath.Join(dir, "eval", "setup.yaml")
	if _, errs, err := runCLI(t, nil, "eval", "init", "--data", data, "--out", out, "--n", "3"); err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	golden := filepath.Join(dir, "eval", "setup.golden.jsonl")
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	d, err := eval.ReadDataset(f, golden)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range d.Items {
		got = append(got, it.RelevantIDs...)
	}
	slices.Sort(got)
	if want := []string{"admin/setup.md", "default:refunds", "guides/setup.md"}; !slices.Equal(got, want) {
		t.Fatalf("relevant ids %q, want %q", got, want)
	}
	report := filepath.Join(dir, "report")
	if stdout, errs, err := runCLI(t, nil, "eval", "run", out, "--data", data, "--out", report); err != nil {
		t.Fatalf("running the drafted suite: %v\n%s\n%s", err, stdout, errs)
	}
	var rep eval.Report
	b, err := os.ReadFile(filepath.Join(report, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if v := rep.Variant("default"); v == nil || v.Metrics["recall@10"] < 1 {
		t.Fatalf("drafted suite: variant %+v, want recall@10 1", v)
	}
}

func TestEvalGroundingData(t *testing.T) {
	beir := filepath.Join("..", "..", "..", "shared", "data", "beir-scifact")
	if _, err := os.Stat(beir); err != nil {
		t.Skip("BEIR SciFact not present (shared datasets are referenced, never copied in):", err)
	}
	dir := t.TempDir()
	stdout, errs, err := runCLI(t, nil, "eval", "grounding-data", "--beir", beir, "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	for _, want := range []string{"dev.jsonl (2334 examples, sha256 5b2205fa7fc7a439", "heldout.jsonl (1762 examples, sha256 0a427885a37a969b"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, errs, err = runCLI(t, nil, "bench", "grounding", "--data", filepath.Join(dir, "heldout.jsonl"), "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var rep struct {
		Examples int     `json:"examples"`
		AUC      float64 `json:"auc"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Examples != 1762 || rep.AUC < 0.93 || rep.AUC > 0.94 {
		t.Errorf("held-out benchmark: %+v %v", rep, err)
	}
}

// TestBenchAnswerOnline runs the answer benchmark with online evaluation
// on and off in one run.
func TestBenchAnswerOnline(t *testing.T) {
	out, errs, err := runCLI(t, nil, "bench", "answer", "--beir", "testdata/beir-tiny", "--json", "--passes", "2", "--online-sample", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var rep answerReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	o := rep.Online
	if o == nil || o.Sample != 1 || o.OffP50 <= 0 || o.OnP50 <= 0 || o.OnP95 < o.OnP50 || o.Scored+o.Dropped != o.Sampled || o.Sampled == 0 {
		t.Errorf("online figures: %+v", o)
	}
	if _, _, err := runCLI(t, nil, "bench", "answer", "--beir", "testdata/beir-tiny", "--online-sample", "2"); exitCode(err) != 2 {
		t.Errorf("--online-sample 2: %v", err)
	}
}

// chromium finds a headless browser for the report test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SEXTANT_INTEGRATION") == "1" {
		t.Fatal("chromium is required with SEXTANT_INTEGRATION=1 (Debian package chromium)")
	}
	t.Skip("chromium not installed (Debian package chromium)")
	return ""
}

// TestOnlineEvalServer runs a configured server whose assistant makes
// things up: every answer is scored after it was sent, the scores reach
// the metrics and the answer records, and the hallucination rate over the
// window raises one alert (metric, log line, event).
func TestOnlineEvalServer(t *testing.T) {
	up := llmtest.NewOpenAIServer(t)
	for range 20 {
		up.Enqueue(llmtest.Reply{Text: []string{"The Moon is made of green cheese, ", "as NASA confirmed in 1969 [1]."}})
	}
	config := fmt.Sprintf(`
providers:
  - name: fake
    type: openai
    base_url: %s
assistants:
  - name: liar
    model: gpt-fake
eval:
  online: {sample: 1, hallucination_alert: 0.5, window: 5}
`, up.URL)
	srv, ops, data, logs := operatedServer(t, config, nil)
	if ops.online == nil {
		t.Fatal("online evaluation is not running")
	}
	var ids []string
	for i := range 6 {
		body := fmt.Sprintf(`{"question": "How is PDF text extracted (%d)?", "assistant": "liar", "no_cache": true}`, i)
		req, _ := http.NewRequest("POST", srv.URL+"/v1/ask", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var a struct {
			ID      string `json:"id"`
			Answer  string `json:"answer"`
			Refusal string `json:"refusal"`
		}
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || a.ID == "" || a.Refusal != "" {
			t.Fatalf("ask %d: %s %v %+v", i, resp.Status, err, a)
		}
		ids = append(ids, a.ID)
	}
	if err := ops.closeOnline(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := ops.online.Stats(); st.Scored != 6 || st.Alerts != 1 {
		t.Fatalf("online stats %+v, want 6 scored and 1 alert", st)
	}
	mresp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{`sextant_eval_score_count{assistant="liar",metric="groundedness"} 6`, "sextant_eval_hallucination_alerts_total 1",
		"sextant_eval_hallucination_rate 1", "sextant_eval_dropped_total 0"} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(logs.String(), `"event":"eval.hallucination_alert"`) {
		t.Errorf("no alert in the log:\n%s", logs.String())
	}
	st, err := openStore(t.Context(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range ids {
		e, err := st.AnswerEval(t.Context(), id)
		if err != nil {
			t.Fatalf("answer %s: %v", id, err)
		}
		if e.Assistant != "liar" || e.Unsupported == 0 || e.HallucinationRate == 0 || e.CitationCoverage != 1 {
			t.Errorf("answer %s evaluation %+v", id, e)
		}
	}
}

// TestEvalInitWithModel drafts the questions with a configured model (the
// fake OpenAI server) and keeps the templated question where the reply is
// not the JSON asked for.
func TestEvalInitWithModel(t *testing.T) {
	up := llmtest.NewOpenAIServer(t)
	up.Enqueue(llmtest.Reply{Text: []string{`{"question": "Does Sextant need an external tool for PDF files?", "answer": "No: a pure-Go reader extracts PDF text."}`}},
		llmtest.Reply{Text: []string{"I cannot help with that."}})
	data := askFixture(t)
	cfg := fmt.Sprintf("providers:\n  - name: fake\n    type: openai\n    base_url: %s\n", up.URL)
	if err := os.WriteFile(filepath.Join(data, configFileName), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "s.yaml")
	stdout, errs, err := runCLI(t, nil, "eval", "init", "--data", data, "--out", out, "--n", "2", "--model", "drafter")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	if !strings.Contains(stdout, "drafted by drafter (prompt "+eval.DraftPromptVersion()) {
		t.Errorf("output: %s", stdout)
	}
	f, err := os.Open(filepath.Join(filepath.Dir(out), "s.golden.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := eval.ReadDataset(f, "s.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Items) != 2 || d.Items[0].Question != "Does Sextant need an external tool for PDF files?" || d.Items[0].Tags[1] != "llm" || d.Items[1].Tags[1] != "templated" {
		t.Fatalf("items %+v", d.Items)
	}
	calls := up.Calls()
	if len(calls) != 2 || calls[0].Model != "drafter" || !strings.Contains(calls[0].Messages[1].Content, "Passage:") {
		t.Errorf("model calls %+v", calls)
	}
}
