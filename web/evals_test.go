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
			<-es.held()
			name := spec.Suite
			if spec.Inline != nil {
				name = spec.Inline.Name
			}
			if name == "missing" {
				return nil, sextant.Errorf(sextant.ENOTFOUND, "no suite %q", name)
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
	// An unknown suite is a bad request naming the suites there are.
	status, b = send(t, s.URL, qa, "POST", "/v1/evals/runs", `{"suite":"missing"}`)
	<-s.specs
	<-s.started
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
