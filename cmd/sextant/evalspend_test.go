package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/cost"
	"github.com/sextant-ai/sextant/guard"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/rag"
)

// Runs started over HTTP book every model call — answers and LLM-judge
// verdicts — in the usage ledger as the starting key (its tenant and
// project), tagged eval:SUITE or redteam:ASSISTANT in the user column,
// through a real `sextant serve`: the extractive answerer's calls cost $0
// and still count tokens, the judge's are priced; a budget that runs out
// mid-run stops the run with its error and keeps what was spent booked;
// a spent budget refuses a run before it starts.
func TestServeRunsAreBooked(t *testing.T) {
	dir := t.TempDir()
	up := llmtest.NewOpenAIServer(t)
	for range 1000 {
		up.Enqueue(llmtest.Reply{Text: []string{`{"label": "supported", "support": 0.9, "reason": "stated"}`}})
	}
	// A judge call is estimated at about $0.47 (its prompt at 3 bytes per
	// token, 300 output tokens) and costs about $0.13 (1,270 prompt
	// tokens, a one-token verdict); the suite makes 15 of them ($1.92),
	// one at a time (workers: 1, so the calls admitted before the budget
	// runs out do not depend on the machine's cores). A $1.20 budget
	// admits six calls ($0.63) and refuses the seventh, whose estimate no
	// longer fits.
	must(t, os.WriteFile(filepath.Join(dir, "sextant.yaml"), []byte(`providers:
  - name: fake
    type: openai
    base_url: `+up.URL+`
prices:
  models:
    judge-model: {input: 100, output: 1000}
`), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "evals"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "evals", "smoke.golden.jsonl"), []byte(`{"id": "pdf", "question": "How do I ingest a folder of PDFs?"}
{"id": "keys", "question": "How do I create an API key?"}
{"id": "cost", "question": "How are budgets enforced?"}
`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "evals", "smoke.yaml"), []byte("name: smoke\ndataset: smoke.golden.jsonl\nmetrics: [groundedness]\njudge: judge-model\nworkers: 1\n"), 0o644))
	url, stdout, stop := startServeEnv(t, dir, func(string) string { return "" })
	defer stop()
	admin := printedKey(t, stdout.String())
	type key struct{ ID, Key string }
	newKey := func(name string) key {
		status, b := request(t, admin, "POST", url+"/v1/keys", `{"name": "`+name+`", "roles": ["qa"], "project": "quality"}`)
		var k key
		if status != 201 || json.Unmarshal(b, &k) != nil {
			t.Fatalf("create %s key: %d %s", name, status, b)
		}
		return k
	}
	qa, tight := newKey("qa"), newKey("tight")

	// First (the judge's verdict cache is empty): a run of a key whose
	// budget runs out mid-run.
	if status, b := request(t, admin, "PUT", url+"/v1/budgets", `{"key": "`+tight.ID+`", "daily_usd": 1.2}`); status >= 300 {
		t.Fatalf("set budget: %d %s", status, b)
	}
	status, b := request(t, tight.Key, "POST", url+"/v1/evals/runs", `{"suite": "smoke", "baseline": "none"}`)
	if status != 429 || !strings.Contains(string(b), "eval:smoke run stopped") || !strings.Contains(string(b), "budget key:"+tight.ID+":daily") {
		t.Fatalf("a run that exhausts its budget: %d %s; want 429 naming the budget", status, b)
	}

	before := len(up.Calls())
	if status, b := request(t, qa.Key, "POST", url+"/v1/evals/runs", `{"suite": "smoke"}`); status != 201 {
		t.Fatalf("eval run: %d %s", status, b)
	}
	judgeCalls := len(up.Calls()) - before
	if judgeCalls == 0 {
		t.Fatal("the judge was never called")
	}
	if status, b := request(t, qa.Key, "POST", url+"/v1/redteam/runs", `{"assistant": "sextant"}`); status != 200 {
		t.Fatalf("red-team run: %d %s", status, b)
	}
	cases, err := guard.RedTeamSuite()
	if err != nil {
		t.Fatal(err)
	}

	type line struct {
		Group        string
		Requests     int64
		Succeeded    int64
		InputTokens  int64   `json:"input_tokens"`
		OutputTokens int64   `json:"output_tokens"`
		CostUSD      float64 `json:"cost_usd"`
	}
	var rep struct{ Lines []line }
	byGroup := map[string]line{}
	deadline := time.Now().Add(15 * time.Second) // the ledger writes in batches
	for {
		status, b := request(t, admin, "GET", url+"/v1/usage?by=user&key="+qa.ID, "")
		if status != 200 || json.Unmarshal(b, &rep) != nil {
			t.Fatalf("usage: %d %s", status, b)
		}
		clear(byGroup)
		for _, l := range rep.Lines {
			byGroup[l.Group] = l
		}
		if byGroup["eval:smoke"].Requests == int64(3+judgeCalls) && byGroup["redteam:sextant"].Requests == int64(len(cases)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage of the runs by the qa key: %s; want eval:smoke with %d requests (3 answers, %d judge calls) and redteam:sextant with %d",
				b, 3+judgeCalls, judgeCalls, len(cases))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l := byGroup["redteam:sextant"]; l.InputTokens == 0 || l.OutputTokens == 0 || l.CostUSD != 0 {
		t.Errorf("redteam:sextant: %+v; want tokens counted at $0 (extractive answers)", l)
	}
	if l := byGroup["eval:smoke"]; l.CostUSD <= 0 {
		t.Errorf("eval:smoke: %+v; want the judge's calls priced", l)
	}
	status, b = request(t, admin, "GET", url+"/v1/usage?by=model&key="+qa.ID, "")
	var byModel struct{ Lines []line }
	if status != 200 || json.Unmarshal(b, &byModel) != nil {
		t.Fatalf("usage by model: %d %s", status, b)
	}
	for _, l := range byModel.Lines {
		switch l.Group {
		case "extractive":
			if l.Requests != int64(3+len(cases)) || l.InputTokens == 0 || l.OutputTokens == 0 || l.CostUSD != 0 {
				t.Errorf("extractive answers: %+v; want %d requests with tokens at $0", l, 3+len(cases))
			}
		case "judge-model":
			if l.Requests != int64(judgeCalls) || l.CostUSD <= 0 {
				t.Errorf("judge calls: %+v; want %d priced", l, judgeCalls)
			}
		default:
			t.Errorf("unexpected model %+v", l)
		}
	}
	// The stopped run's calls stay booked, within its budget.
	status, b = request(t, admin, "GET", url+"/v1/usage?by=model&key="+tight.ID, "")
	var stopped struct{ Lines []line }
	if status != 200 || json.Unmarshal(b, &stopped) != nil {
		t.Fatalf("usage of the stopped run: %d %s", status, b)
	}
	var spent float64
	judged := int64(0)
	for _, l := range stopped.Lines {
		spent += l.CostUSD
		if l.Group == "judge-model" {
			judged = l.Succeeded
		}
	}
	t.Logf("stopped run: %d judge calls, $%.4f", judged, spent)
	if judged == 0 || judged >= int64(judgeCalls) || spent <= 0 || spent > 1.2 {
		t.Errorf("the stopped run booked %d judge calls for $%v: %s; want some, fewer than a whole run's, within $1.20", judged, spent, b)
	}
	status, b = request(t, admin, "GET", url+"/v1/usage?by=project", "")
	if status != 200 || !strings.Contains(string(b), `"group":"quality"`) {
		t.Errorf("the runs' usage is not the key's project's: %d %s", status, b)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"usage", "--data", dir, "--by", "user"}, func(string) string { return "" },
		strings.NewReader(""), &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "eval:smoke") || !strings.Contains(out.String(), "redteam:sextant") {
		t.Errorf("sextant usage --by user does not show the runs:\n%s", out.String())
	}

	// A spent budget (a limit of 0 freezes the key) refuses runs.
	if status, b := request(t, admin, "PUT", url+"/v1/budgets", `{"key": "`+qa.ID+`", "daily_usd": 0}`); status >= 300 {
		t.Fatalf("set budget: %d %s", status, b)
	}
	for _, c := range [][2]string{{"/v1/evals/runs", `{"suite": "smoke"}`}, {"/v1/redteam/runs", `{}`}} {
		status, b := request(t, qa.Key, "POST", url+c[0], c[1])
		if status != 429 || !strings.Contains(string(b), "run refused") || !strings.Contains(string(b), "budget") {
			t.Errorf("POST %s with a spent budget: %d %s", c[0], status, b)
		}
	}
}

// A budget that runs out mid-run stops the run at its next model call
// with the budget's error, as the run's cause; the calls made before stay
// booked and settled.
func TestRunMeterStopsAtBudget(t *testing.T) {
	ctx := context.Background()
	key := sextant.Principal{ID: "key-1", Tenant: "", Project: "quality"}
	budgets, err := cost.NewBudgets(ctx, cost.BudgetOptions{Budgets: []sextant.Budget{{Scope: sextant.BudgetKey, ID: "key-1", Period: sextant.BudgetDaily, LimitUSD: 0.05}}})
	if err != nil {
		t.Fatal(err)
	}
	defer budgets.Close(ctx)
	prices, err := cost.NewPrices(cost.PriceConfig{Models: map[string]cost.Price{"priced": {Input: 10, Output: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var booked []sextant.UsageRecord
	spend := &runSpending{budgets: budgets, prices: prices, book: func(_ context.Context, rec sextant.UsageRecord) {
		mu.Lock()
		defer mu.Unlock()
		booked = append(booked, rec)
	}}
	runCtx, m, err := spend.meter(ctx, key, "eval:smoke")
	if err != nil {
		t.Fatal(err)
	}
	defer m.done()
	// Each call: 1000 prompt tokens at most, 1000 output = $0.02
	// reserved; each uses 1000 in and 1000 out = $0.02 spent.
	a := rag.Assistant{Name: "sextant", Model: "priced", ContextWindow: 1000, MaxTokens: 1000}
	call := func() error {
		_, err := m.askAs(runCtx, a, func(context.Context) (*rag.Result, error) {
			return &rag.Result{Answer: sextant.Answer{Model: "priced", Usage: sextant.Usage{InputTokens: 1000, OutputTokens: 1000}, Served: "up:priced"}}, nil
		})
		return err
	}
	for i := range 2 {
		if err := call(); err != nil {
			t.Fatalf("call %d within the budget: %v", i+1, err)
		}
	}
	err = call() // $0.04 spent + $0.02 reserved > $0.05
	if sextant.ErrorCode(err) != sextant.ERATELIMIT || !strings.Contains(sextant.ErrorMessage(err), "eval:smoke run stopped") {
		t.Fatalf("call over the budget: %v", err)
	}
	if cause := context.Cause(runCtx); !errors.Is(cause, err) && cause != err {
		t.Errorf("the run's context: cause %v; want the budget's error", cause)
	}
	if len(booked) != 2 {
		t.Fatalf("booked %d records; want the 2 calls made", len(booked))
	}
	for _, r := range booked {
		if r.Key != "key-1" || r.Project != "quality" || r.User != "eval:smoke" || r.Model != "priced" || r.Provider != "up" ||
			r.Usage.InputTokens != 1000 || !r.Success {
			t.Errorf("booked %+v", r)
		}
	}
	if st := budgets.Status(); len(st) != 1 || st[0].SpentUSD < 0.0399 || st[0].ReservedUSD != 0 {
		t.Errorf("budget after the run: %+v; want $0.04 spent, nothing reserved", st)
	}
	// A budget spent to the limit refuses the next run outright.
	res, err := budgets.Reserve(cost.Scope{Project: "quality", Key: "key-1"}, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	res.Settle(0.01) // $0.05 of $0.05
	if _, _, err := spend.meter(ctx, key, "redteam:sextant"); sextant.ErrorCode(err) != sextant.ERATELIMIT || !strings.Contains(sextant.ErrorMessage(err), "redteam:sextant run refused") {
		t.Errorf("a run of a spent key: %v", err)
	}
}
