package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/llmtest"
)

// Online evaluation's LLM-judge calls are booked in the usage ledger as
// the key whose answer is scored (its tenant and project), tagged
// eval:online in the user column, through a real `sextant serve`; a
// budget that runs out stops the judging — the answers are still served
// and scored by the built-in scorer, and sextant_eval_judge_skipped_total
// counts them — and what was judged stays booked within the budget.
func TestServeOnlineJudgeIsBooked(t *testing.T) {
	dir := t.TempDir()
	up := llmtest.NewOpenAIServer(t)
	for range 1000 {
		up.Enqueue(llmtest.Reply{Text: []string{`{"label": "supported", "support": 0.9, "reason": "stated"}`}})
	}
	// The judge is priced as in TestServeRunsAreBooked: a call is
	// estimated at about $0.5 and costs about $0.13; answers of the
	// extractive assistant cost $0. One worker scores one answer at a
	// time, so what a budget admits does not depend on the machine.
	must(t, os.WriteFile(filepath.Join(dir, "sextant.yaml"), []byte(`providers:
  - name: fake
    type: openai
    base_url: `+up.URL+`
prices:
  models:
    judge-model: {input: 100, output: 1000}
eval:
  judge: judge-model
  online: {sample: 1, judge: true, workers: 1}
`), 0o644))
	url, stdout, stop := startServeEnv(t, dir, func(string) string { return "" })
	defer stop()
	admin := printedKey(t, stdout.String())
	type key struct{ ID, Key string }
	newKey := func(name string) key {
		status, b := request(t, admin, "POST", url+"/v1/keys", `{"name": "`+name+`", "roles": ["app"], "project": "support"}`)
		var k key
		if status != 201 || json.Unmarshal(b, &k) != nil {
			t.Fatalf("create %s key: %d %s", name, status, b)
		}
		return k
	}
	app, tight := newKey("app"), newKey("tight")
	if status, b := request(t, admin, "PUT", url+"/v1/budgets", `{"key": "`+tight.ID+`", "daily_usd": 1.2}`); status >= 300 {
		t.Fatalf("set budget: %d %s", status, b)
	}

	metric := func(name string) float64 {
		t.Helper()
		res, err := http.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	scored := `sextant_eval_score_count{assistant="sextant",metric="groundedness"}`
	answered := 0
	ask := func(k key, question string) {
		t.Helper()
		status, b := request(t, k.Key, "POST", url+"/v1/ask", fmt.Sprintf(`{"question": %q, "no_cache": true}`, question))
		var a struct{ Answer, Refusal string }
		if status != 200 || json.Unmarshal(b, &a) != nil || a.Answer == "" || a.Refusal != "" {
			t.Fatalf("ask %q as %s: %d %s", question, k.ID, status, b)
		}
		answered++
	}
	waitScored := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for metric(scored) < float64(answered) {
			if time.Now().After(deadline) {
				t.Fatalf("%v answers scored; want %d", metric(scored), answered)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	type line struct {
		Group     string
		Requests  int64
		Succeeded int64
		CostUSD   float64 `json:"cost_usd"`
	}
	// usage waits for the ledger (it writes in batches, and an answer's
	// own record may land after the judge calls made for it) to hold want
	// eval:online requests and own answers of key k, and returns its usage
	// by user.
	usage := func(k key, want, own int) map[string]line {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			status, b := request(t, admin, "GET", url+"/v1/usage?by=user&key="+k.ID, "")
			var rep struct{ Lines []line }
			if status != 200 || json.Unmarshal(b, &rep) != nil {
				t.Fatalf("usage: %d %s", status, b)
			}
			by := map[string]line{}
			for _, l := range rep.Lines {
				by[l.Group] = l
			}
			if by[onlineTag].Requests == int64(want) && by[""].Requests == int64(own) {
				return by
			}
			if time.Now().After(deadline) {
				t.Fatalf("usage of %s: %s; want %d %s requests (the judge calls made for its answers) and %d answers", k.ID, b, want, onlineTag, own)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// First (the judge's verdict cache is empty): the answers of a key
	// whose budget runs out. They are all served and all scored.
	for _, q := range []string{"How do I ingest a folder of PDFs?", "How do I create an API key?",
		"How are budgets enforced?", "What does the red-team suite check?"} {
		ask(tight, q)
	}
	waitScored()
	tightCalls := len(up.Calls())
	skipped := metric("sextant_eval_judge_skipped_total")
	t.Logf("tight key: %d judge calls, %v of %d answers scored without the judge", tightCalls, skipped, answered)
	if tightCalls == 0 {
		t.Fatal("the judge was never called")
	}
	if skipped < 1 {
		t.Errorf("no answer was scored without the judge after the $1.20 budget ran out (%d judge calls)", tightCalls)
	}
	by := usage(tight, tightCalls, 4)
	if l := by[onlineTag]; l.Succeeded != int64(tightCalls) || l.CostUSD <= 0 || l.CostUSD > 1.2 {
		t.Errorf("%s of the tight key: %+v; want %d priced calls within its $1.20 budget", onlineTag, l, tightCalls)
	}
	if l := by[""]; l.Requests != 4 || l.CostUSD != 0 {
		t.Errorf("the tight key's own answers: %+v; want 4 requests at $0", l)
	}

	// A key with room: every claim its answers make goes to the judge.
	skipped = metric("sextant_eval_judge_skipped_total")
	for _, q := range []string{"Which file formats can be ingested?", "How do I rotate an API key?"} {
		ask(app, q)
	}
	waitScored()
	appCalls := len(up.Calls()) - tightCalls
	if appCalls == 0 {
		t.Fatal("the judge was not called for the second key's answers")
	}
	if s := metric("sextant_eval_judge_skipped_total"); s != skipped {
		t.Errorf("judge skipped for a key within its budget: %v skips, was %v", s, skipped)
	}
	if l := usage(app, appCalls, 2)[onlineTag]; l.CostUSD <= 0 {
		t.Errorf("%s of the app key: %+v; want its %d judge calls priced", onlineTag, l, appCalls)
	}
	status, b := request(t, admin, "GET", url+"/v1/usage?by=project", "")
	if status != 200 || !strings.Contains(string(b), `"group":"support"`) {
		t.Errorf("the judge's usage is not the keys' project's: %d %s", status, b)
	}
	status, b = request(t, admin, "GET", url+"/v1/usage?by=model", "")
	if status != 200 || !strings.Contains(string(b), `"group":"judge-model"`) {
		t.Errorf("usage by model lacks the judge: %d %s", status, b)
	}

	// Each judge call carries the request id of the answer it scored.
	st, err := openStore(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.UsageRecords(t.Context(), sextant.UsageQuery{Project: "support"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{} // request id -> key
	judged := 0
	for _, r := range recs {
		if r.User == "" {
			answers[r.RequestID] = r.Key
		}
	}
	for _, r := range recs {
		if r.User != onlineTag {
			continue
		}
		judged++
		if r.Model != "judge-model" || r.Provider != "fake" || r.RequestID == "" || answers[r.RequestID] != r.Key {
			t.Errorf("judge call %+v: want judge-model via fake, booked to the key and request of an answer %v", r, answers)
		}
	}
	if judged != tightCalls+appCalls {
		t.Errorf("%d judge calls in the ledger; want %d", judged, tightCalls+appCalls)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"usage", "--data", dir, "--by", "user", "--project", "support"}, func(string) string { return "" },
		strings.NewReader(""), &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("sextant usage --by user --project support:\n%s", out.String())
	if !strings.Contains(out.String(), onlineTag) {
		t.Errorf("sextant usage --by user does not show %s:\n%s", onlineTag, out.String())
	}
}
