package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/web"
)

// evalStack is the authenticated stack with fake evaluation and red-team
// runners (cmd's real ones are tested through sextant serve in
// cmd/sextant/evalserve_test.go): they record what they were asked and
// block while hold is open.
type evalStack struct {
	*authed
	specs   chan web.EvalSpec
	started chan struct{}
	mu      sync.Mutex
	hold    chan struct{}
}

func newEvalStack(t *testing.T) *evalStack {
	t.Helper()
	es := &evalStack{specs: make(chan web.EvalSpec, 16), started: make(chan struct{}, 16)}
	es.setHold(false)
	es.authed = authStack(t, func(opts *web.Options) {
		opts.Evals = es.evals()
		opts.Settings = func(context.Context) (*web.Settings, error) {
			return &web.Settings{RateLimits: web.RateLimitSettings{Keys: map[string]web.RateLimit{"key-a": {RequestsPerMinute: 5}}}}, nil
		}
	})
	return es
}

// setHold makes runs block until release is called (block) or not.
func (es *evalStack) setHold(block bool) {
	es.mu.Lock()
	defer es.mu.Unlock()
	es.hold = make(chan struct{})
	if !block {
		close(es.hold)
	}
}

func (es *evalStack) release() {
	es.mu.Lock()
	defer es.mu.Unlock()
	close(es.hold)
}

func (es *evalStack) held() chan struct{} {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.hold
}

func (es *evalStack) evals() web.Evals {
	return web.Evals{
		Run: func(ctx context.Context, p sextant.Principal, spec web.EvalSpec) (*eval.Report, error) {
			es.specs <- spec
			es.started <- struct{}{}
			select {
			case <-es.held():
			case <-ctx.Done(): // as eval.Run: the run's context reaches every answer
				return nil, ctx.Err()
			}
			name := spec.Suite
			if spec.Inline != nil {
				name = spec.Inline.Name
			}
			switch name {
			case "missing":
				return nil, sextant.Errorf(sextant.ENOTFOUND, "no suite %q", name)
			case "overbudget": // as cmd's meter when a budget runs out mid-run
				return nil, sextant.Errorf(sextant.ERATELIMIT, "eval:overbudget run stopped: budget key:k daily exhausted")
			}
			return &eval.Report{ID: "run-1", Suite: name, Questions: 1, Variants: []eval.VariantReport{{Name: "default",
				Metrics: map[string]float64{"groundedness": 1}, Questions: []eval.QuestionResult{{ID: "q1"}}}}}, nil
		},
		Runs: func(ctx context.Context, suite string, limit int) ([]web.EvalRunInfo, error) {
			return []web.EvalRunInfo{{ID: "run-1", Suite: "smoke", Passed: true}}, nil
		},
		Report: func(ctx context.Context, id string) (*eval.Report, error) {
			if id != "run-1" {
				return nil, sextant.Errorf(sextant.ENOTFOUND, "evaluation run %q not found", id)
			}
			return &eval.Report{ID: id, Suite: "smoke"}, nil
		},
		Suites: func() ([]string, error) { return []string{"smoke"}, nil },
		RedTeam: func(ctx context.Context, p sextant.Principal, assistant string) (*web.RedTeamReport, error) {
			es.started <- struct{}{}
			select {
			case <-es.held():
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &web.RedTeamReport{Assistant: assistant, Categories: map[string]*web.RedTeamCategory{"injection": {Prompts: 2, Stopped: 2, BlockRate: 1}},
				Benign: &web.RedTeamCategory{Prompts: 1}, BlockRate: 1, Cases: []web.RedTeamOutcome{{ID: "i1"}, {ID: "i2"}, {ID: "b1"}}}, nil
		},
	}
}

// The new routes as each role sees them: the role table, spelled out for
// the roles these routes were added for.
func TestEvalRoutesByRole(t *testing.T) {
	s := newEvalStack(t)
	allowed := map[string][]sextant.Role{
		"POST /v1/evals/runs":     {sextant.RoleAdmin, sextant.RoleAIEngineer, sextant.RoleQA},
		"GET /v1/evals/runs":      {sextant.RoleAdmin, sextant.RoleAIEngineer, sextant.RoleProduct, sextant.RoleQA},
		"GET /v1/evals/runs/{id}": {sextant.RoleAdmin, sextant.RoleAIEngineer, sextant.RoleProduct, sextant.RoleQA},
		"POST /v1/redteam/runs":   {sextant.RoleAdmin, sextant.RoleQA},
		"GET /v1/settings":        {sextant.RoleAdmin, sextant.RoleAIEngineer, sextant.RoleLLMOps, sextant.RoleSecurity},
	}
	bodies := map[string]string{"POST /v1/evals/runs": `{"suite":"smoke"}`, "POST /v1/redteam/runs": `{}`}
	for route, roles := range allowed {
		method, path, _ := strings.Cut(route, " ")
		path = strings.Replace(path, "{id}", "run-1", 1)
		for _, r := range sextant.AllRoles() {
			status, b := send(t, s.URL, s.keys[r], method, path, bodies[route])
			want := http.StatusForbidden
			if slices.Contains(roles, r) {
				want = http.StatusOK
				if method == "POST" && strings.HasPrefix(path, "/v1/evals") {
					want = http.StatusCreated
				}
			}
			if status != want {
				t.Errorf("%s as %s: %d %.150s; want %d", route, r, status, b, want)
			}
		}
	}
}

func TestEvalRunRequests(t *testing.T) {
	s := newEvalStack(t)
	qa := s.keys[sextant.RoleQA]
	// An inline set becomes a one-variant suite over the named assistant,
	// with its gates and the default baseline.
	status, b := send(t, s.URL, qa, "POST", "/v1/evals/runs",
		`{"name":"adhoc","assistant":"remote","golden":[{"question":" Why? ","grades":{"d1":2}},{"id":"x","question":"How?"}],"gates":["f1 < 0.5"]}`)
	if status != 201 {
		t.Fatalf("inline: %d %s", status, b)
	}
	spec := <-s.specs
	<-s.started
	if spec.Suite != "" || spec.Baseline != "last" || spec.Inline.Name != "adhoc" || spec.Inline.Variants[0].Assistant != "remote" ||
		len(spec.Inline.Gates) != 1 || len(spec.Inline.Metrics) == 0 || len(spec.Dataset.Items) != 2 ||
		spec.Dataset.Items[0].ID != "q1" || spec.Dataset.Items[0].Question != "Why?" || !slices.Equal(spec.Dataset.Items[0].RelevantIDs, []string{"d1"}) {
		t.Errorf("spec: %+v %+v", spec.Inline, spec.Dataset)
	}
	var run web.EvalRun
	if err := json.Unmarshal(b, &run); err != nil || run.ID != "run-1" || !run.Passed || len(run.Report.Variants[0].Questions) != 0 {
		t.Errorf("response: %v %s", err, b)
	}
	// An unknown suite is a bad request naming the suites there are,
	// refused before a run starts.
	status, b = send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"suite":"missing"}`)
	if status != 400 || !strings.Contains(string(b), `"param":"suite"`) || !strings.Contains(string(b), "known: smoke") {
		t.Errorf("missing suite: %d %s", status, b)
	}
	// Keys of a named tenant: the history is installation-wide.
	acme, _ := s.key(t, "acme", sextant.RoleQA)
	for _, c := range [][2]string{{"POST", "/v1/evals/runs"}, {"GET", "/v1/evals/runs"}, {"GET", "/v1/evals/runs/run-1"}} {
		if status, b := send(t, s.URL, acme, c[0], c[1], `{"suite":"smoke"}`); status != 403 {
			t.Errorf("%s %s by a tenant key: %d %s", c[0], c[1], status, b)
		}
	}
	if status, _ := send(t, s.URL, qa, "GET", "/v1/evals/runs/run-2", ""); status != 404 {
		t.Errorf("unknown run: %d", status)
	}

	// One run at a time: a second while the first runs gets 429.
	s.setHold(true)
	done := make(chan int)
	go func() {
		st, _ := send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"suite":"smoke"}`)
		done <- st
	}()
	<-s.specs
	<-s.started
	if status, b := send(t, s.URL, qa, "POST", "/v1/redteam/runs", `{}`); status != 429 {
		t.Errorf("red team during an evaluation run: %d %s", status, b)
	}
	s.release()
	select {
	case st := <-done:
		if st != 201 {
			t.Errorf("first run: %d", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first run did not finish")
	}

	// Red team: the cases only when asked for; audited.
	var rt web.RedTeamRun
	status, b = send(t, s.URL, qa, "POST", "/v1/redteam/runs", `{"assistant":"remote"}`)
	if status != 200 || json.Unmarshal(b, &rt) != nil || rt.Assistant != "remote" || rt.Cases != nil || rt.Categories["injection"].Stopped != 2 {
		t.Errorf("red team: %d %s", status, b)
	}
	status, b = send(t, s.URL, qa, "POST", "/v1/redteam/runs", `{"cases":true}`)
	if status != 200 || json.Unmarshal(b, &rt) != nil || rt.Assistant != "sextant" || len(rt.Cases) != 3 {
		t.Errorf("red team with cases: %d %s", status, b)
	}
	// Settings: the pipeline's assistants and templates, and the
	// configured sections; a tenant key sees no other key's limits.
	var st web.Settings
	status, b = send(t, s.URL, s.keys[sextant.RoleAIEngineer], "GET", "/v1/settings", "")
	if status != 200 || json.Unmarshal(b, &st) != nil || st.Object != "settings" || st.DefaultAssistant != "sextant" || len(st.Assistants) != 2 ||
		len(st.Templates) == 0 || st.RateLimits.Keys["key-a"].RequestsPerMinute != 5 || st.Providers == nil || st.Budgets == nil {
		t.Errorf("settings: %d %s", status, b)
	}
	acmeEng, _ := s.key(t, "acme", sextant.RoleAIEngineer)
	st = web.Settings{}
	status, b = send(t, s.URL, acmeEng, "GET", "/v1/settings", "")
	if status != 200 || json.Unmarshal(b, &st) != nil || len(st.RateLimits.Keys) != 0 {
		t.Errorf("settings for a tenant key: %d %s", status, b)
	}

	recs := s.auditLog(t)
	if len(findAudit(recs, `"action":"eval.run"`, `"run_id":"run-1"`)) != 2 || len(findAudit(recs, `"action":"redteam.run"`, `"prompts":3`)) != 2 {
		t.Errorf("audit records of the runs missing")
	}
	for _, r := range findAudit(recs, `"action":"eval.run"`) {
		if r.Actor != s.keyIDs[sextant.RoleQA] || r.Kind != sextant.AuditAdmin {
			t.Errorf("eval.run record: %+v", r)
		}
	}
}

// decode unmarshals b into v or fails the test.
func decode[T any](t *testing.T, what string, status int, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %d %v: %s", what, status, err, b)
	}
	return v
}

// Background runs, their status, and cancellation: DELETE stops a run
// in progress (background or waited for), it ends "cancelled", the slot
// is free at once, and only keys allowed to start a run may stop it.
func TestEvalRunCancel(t *testing.T) {
	s := newEvalStack(t)
	qa, product := s.keys[sextant.RoleQA], s.keys[sextant.RoleProduct]
	acme, _ := s.key(t, "acme", sextant.RoleQA)

	// A background run answers 202 with its id at once.
	s.setHold(true)
	status, b := send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"suite":"smoke","background":true}`)
	run := decode[web.EvalRun](t, "background run", status, b)
	if status != 202 || run.ID == "" || run.Status != web.RunRunning || run.Report != nil {
		t.Fatalf("background run: %d %s", status, b)
	}
	if spec := <-s.specs; spec.ID != run.ID {
		t.Errorf("Run got id %q; the response says %q", spec.ID, run.ID)
	}
	<-s.started
	status, b = send(t, s.URL, product, "GET", "/v1/evals/runs/"+run.ID, "")
	if got := decode[web.EvalRun](t, "status", status, b); status != 200 || got.Status != web.RunRunning {
		t.Errorf("status of the running run: %d %s", status, b)
	}
	status, b = send(t, s.URL, product, "GET", "/v1/evals/runs", "")
	if l := decode[web.List[web.EvalRunInfo]](t, "list", status, b); len(l.Data) != 2 || l.Data[0].ID != run.ID || l.Data[0].Status != web.RunRunning ||
		l.Data[0].Suite != "smoke" || l.Data[1].Status != web.RunCompleted {
		t.Errorf("list with a run in progress: %s", b)
	}
	if status, b := send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"suite":"smoke"}`); status != 429 || !strings.Contains(string(b), "DELETE") {
		t.Errorf("second run: %d %s", status, b)
	}
	// Stopping takes the permission starting does, and the default tenant.
	for _, key := range []string{product, acme} {
		if status, b := send(t, s.URL, key, "DELETE", "/v1/evals/runs/"+run.ID, ""); status != 403 {
			t.Errorf("DELETE by a key that may not run evaluations: %d %s", status, b)
		}
	}
	status, b = send(t, s.URL, qa, "DELETE", "/v1/evals/runs/"+run.ID, "")
	if got := decode[web.EvalRun](t, "cancel", status, b); status != 200 || got.ID != run.ID || got.Status != web.RunCancelled || !strings.Contains(got.Error, "cancelled") {
		t.Fatalf("DELETE: %d %s", status, b)
	}
	status, b = send(t, s.URL, product, "GET", "/v1/evals/runs/"+run.ID, "")
	if got := decode[web.EvalRun](t, "status", status, b); got.Status != web.RunCancelled {
		t.Errorf("status after DELETE: %d %s", status, b)
	}
	for _, c := range []struct {
		id     string
		status int
	}{{run.ID, 409}, {"run-1", 409}, {"no-such-run", 404}} {
		if status, b := send(t, s.URL, qa, "DELETE", "/v1/evals/runs/"+c.id, ""); status != c.status {
			t.Errorf("DELETE %s: %d %s; want %d", c.id, status, b, c.status)
		}
	}

	// The slot is free at once: a run waited for, cancelled from another
	// client, answers its waiter 409.
	done := make(chan [2]any, 1)
	go func() {
		st, b := send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"suite":"smoke"}`)
		done <- [2]any{st, b}
	}()
	spec := <-s.specs
	<-s.started
	if status, b := send(t, s.URL, qa, "DELETE", "/v1/evals/runs/"+spec.ID, ""); status != 200 {
		t.Errorf("DELETE of a waited-for run: %d %s", status, b)
	}
	select {
	case r := <-done:
		if r[0].(int) != 409 || !strings.Contains(string(r[1].([]byte)), "cancelled") {
			t.Errorf("waiter of a cancelled run: %d %s", r[0], r[1])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled run's waiter got no answer")
	}

	// A run a budget stops ends "failed" with the budget's error.
	s.setHold(false)
	status, b = send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"name":"overbudget","golden":[{"question":"q?"}],"background":true}`)
	failed := decode[web.EvalRun](t, "budget run", status, b)
	<-s.specs
	<-s.started
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, b = send(t, s.URL, qa, "GET", "/v1/evals/runs/"+failed.ID, "")
		if got := decode[web.EvalRun](t, "status", status, b); got.Status != web.RunRunning {
			if got.Status != web.RunFailed || !strings.Contains(got.Error, "budget") {
				t.Errorf("run stopped by a budget: %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the budget-stopped run never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if status, b := send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"name":"overbudget","golden":[{"question":"q?"}]}`); status != 429 || !strings.Contains(string(b), "budget") {
		t.Errorf("waited-for run stopped by a budget: %d %s", status, b)
	}
	<-s.specs
	<-s.started

	// Red team: background, status, cancel, scoped to the tenant.
	s.setHold(true)
	status, b = send(t, s.URL, qa, "POST", "/v1/redteam/runs", `{"background":true}`)
	rt := decode[web.RedTeamRun](t, "red team", status, b)
	if status != 202 || rt.ID == "" || rt.Status != web.RunRunning {
		t.Fatalf("background red team: %d %s", status, b)
	}
	<-s.started
	if status, b := send(t, s.URL, acme, "GET", "/v1/redteam/runs/"+rt.ID, ""); status != 404 {
		t.Errorf("another tenant's red-team run: %d %s", status, b)
	}
	if status, b := send(t, s.URL, acme, "DELETE", "/v1/redteam/runs/"+rt.ID, ""); status != 404 {
		t.Errorf("another tenant cancels a red-team run: %d %s", status, b)
	}
	if status, b := send(t, s.URL, product, "DELETE", "/v1/redteam/runs/"+rt.ID, ""); status != 403 {
		t.Errorf("DELETE by a key that may not run the red team: %d %s", status, b)
	}
	status, b = send(t, s.URL, qa, "DELETE", "/v1/redteam/runs/"+rt.ID, "")
	if got := decode[web.RedTeamRun](t, "cancel", status, b); status != 200 || got.Status != web.RunCancelled {
		t.Errorf("cancel red team: %d %s", status, b)
	}
	// A background red-team run's report is read with GET once done.
	s.setHold(false)
	status, b = send(t, s.URL, qa, "POST", "/v1/redteam/runs", `{"background":true}`)
	rt = decode[web.RedTeamRun](t, "red team", status, b)
	<-s.started
	deadline = time.Now().Add(10 * time.Second)
	for {
		status, b = send(t, s.URL, qa, "GET", "/v1/redteam/runs/"+rt.ID+"?cases=true", "")
		got := decode[web.RedTeamRun](t, "red team status", status, b)
		if got.Status == web.RunCompleted {
			if got.RedTeamReport == nil || len(got.Cases) != 3 || got.Categories["injection"].Stopped != 2 {
				t.Errorf("completed red-team run: %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("red-team run never completed: %s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}

	recs := s.auditLog(t)
	if len(findAudit(recs, `"action":"eval.cancel"`)) != 2 || len(findAudit(recs, `"action":"redteam.cancel"`, rt.ID)) != 0 ||
		len(findAudit(recs, `"action":"redteam.cancel"`)) != 1 {
		t.Errorf("audit records of the cancellations")
	}
}

// TestStopRunsCancelsBackgroundRuns: a server shutting down cancels a
// background run (it outlives its request) and waits for it to end, so
// the store it writes to is not closed under it; the slot is free after.
func TestStopRunsCancelsBackgroundRuns(t *testing.T) {
	s := newEvalStack(t)
	qa := s.keys[sextant.RoleQA]
	s.setHold(true)
	status, b := send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"suite":"smoke","background":true}`)
	run := decode[web.EvalRun](t, "background run", status, b)
	if status != 202 {
		t.Fatalf("background run: %d %s", status, b)
	}
	<-s.specs
	<-s.started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.api.StopRuns(ctx); err != nil {
		t.Fatalf("StopRuns: %v", err)
	}
	status, b = send(t, s.URL, qa, "GET", "/v1/evals/runs/"+run.ID, "")
	if got := decode[web.EvalRun](t, "status", status, b); got.Status != web.RunCancelled || !strings.Contains(got.Error, "shutting down") {
		t.Errorf("a background run after StopRuns: %d %s", status, b)
	}
	if err := s.api.StopRuns(ctx); err != nil { // nothing left to stop
		t.Errorf("StopRuns with no run: %v", err)
	}
	// The slot was freed: a new run starts.
	s.setHold(false)
	if status, b := send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"suite":"smoke"}`); status != 201 {
		t.Errorf("a run after StopRuns: %d %s", status, b)
	}
}
