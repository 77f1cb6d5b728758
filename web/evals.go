package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
)

// The quality endpoints: evaluation runs (POST, GET and DELETE
// /v1/evals/runs), red-team runs (POST, GET and DELETE /v1/redteam/runs)
// and the effective settings (GET /v1/settings; settings.go).
//
// A run is synchronous by default: the response carries the finished run,
// and a client that gives up cancels it (the request context reaches
// every answer). With "background": true the response is 202 with the
// run's id and status "running"; GET .../runs/{id} reads how it is going
// and DELETE .../runs/{id} cancels it (runs.go). Runs are bounded: one at
// a time per server (a second gets 429), each within Evals.Timeout, and
// an inline golden set holds at most MaxInlineQuestions questions.
//
// Spending: Evals.Run and Evals.RedTeam (cmd) book every model call a run
// makes in the usage ledger as the starting key and admit it against the
// key's and project's budgets; a budget that runs out stops the run,
// which ends "failed" with the budget's error.
//
// Tenant scope: the evaluation history is installation-wide (a stored
// run has no tenant) and suites answer from the default tenant's
// documents, so the evaluation endpoints serve keys of the default tenant
// only; a key of a named tenant gets 403. A red-team run attacks the
// caller's own tenant.

// MaxInlineQuestions bounds the golden set a POST /v1/evals/runs body
// may carry; larger sets belong in a suite file on the server.
const MaxInlineQuestions = 200

// DefaultEvalTimeout bounds one evaluation or red-team run when
// Evals.Timeout is zero.
const DefaultEvalTimeout = 10 * time.Minute

// Evals is what the evaluation and red-team endpoints run; cmd implements
// it over the eval package, the store and the server's pipeline. Each nil
// field answers the routes that need it 503.
type Evals struct {
	// Run runs a suite against the server's answer pipeline, answering as
	// p (its document groups apply) and booking every model call as p,
	// stores it under spec.ID when set, checks the gates against the
	// baseline, stores the run in the evaluation history exactly as
	// `sextant eval run` does, and returns the report. An unknown suite
	// is ENOTFOUND; a spec it cannot run, EINVALID.
	Run func(ctx context.Context, p sextant.Principal, spec EvalSpec) (*eval.Report, error)
	// Runs lists stored runs, newest first: those of suite ("" = every
	// suite), at most limit (≤ 0 = all). Their reports are not read.
	Runs func(ctx context.Context, suite string, limit int) ([]EvalRunInfo, error)
	// Report returns a stored run's whole report (ENOTFOUND when absent).
	Report func(ctx context.Context, id string) (*eval.Report, error)
	// Suites lists the names of the suites Run can run by name.
	Suites func() ([]string, error)
	// RedTeam runs the red-team suite against assistant ("" = the
	// default), asking (and booking every model call) as p, and returns
	// its report.
	RedTeam func(ctx context.Context, p sextant.Principal, assistant string) (*RedTeamReport, error)
	// Timeout bounds one run; 0 = DefaultEvalTimeout.
	Timeout time.Duration
}

// EvalSpec is what to evaluate: a suite known to the server by name, or a
// suite built from the request with its inline golden set.
type EvalSpec struct {
	ID      string        // the run's id, given by the server when the run starts; "" = Run picks one
	Suite   string        // a suite's name; "" when Inline is set
	Inline  *eval.Suite   // a suite built from the request (its Dataset is "inline")
	Dataset *eval.Dataset // Inline's golden set
	// Baseline is the run gates compare with: "last" (the suite's
	// previous stored run), "none", or a stored run's id.
	Baseline string
}

// EvalRunInfo is one stored run as GET /v1/evals/runs lists it: the
// columns of `sextant eval history --json`.
type EvalRunInfo struct {
	ID          string                        `json:"id"`
	Suite       string                        `json:"suite"`
	Dataset     string                        `json:"dataset"`
	CreatedAt   time.Time                     `json:"created_at"`
	Questions   int                           `json:"questions"`
	FailedGates int                           `json:"failed_gates"`
	Passed      bool                          `json:"passed"`
	Status      string                        `json:"status"`  // "completed", or "running" for the run in progress
	Metrics     map[string]map[string]float64 `json:"metrics"` // variant → key metric → value
}

// EvalRunRequest is the body of POST /v1/evals/runs: either suite, or
// golden (with the optional name, assistant, metrics, success and gates
// of the suite it makes).
type EvalRunRequest struct {
	Suite     string      `json:"suite,omitempty"`
	Golden    []eval.Item `json:"golden,omitempty"`
	Name      string      `json:"name,omitempty"`      // inline: the suite name its runs are stored under; default "inline"
	Assistant string      `json:"assistant,omitempty"` // inline: the assistant answering; default the server's default
	Metrics   []string    `json:"metrics,omitempty"`   // inline: key metrics; default the suite default
	Success   []string    `json:"success,omitempty"`   // inline: task success conditions, e.g. "f1 >= 0.5"
	Gates     []string    `json:"gates,omitempty"`     // inline: gates, e.g. "hallucination_rate > 0.05"
	Baseline  string      `json:"baseline,omitempty"`  // "last" (default), "none" or a run id
	// Questions includes every question's result in the response.
	Questions bool `json:"questions,omitempty"`
	// Background answers 202 at once with the run's id and status
	// "running" instead of waiting for the run.
	Background bool `json:"background,omitempty"`
}

// EvalRun is the JSON of one run: the gate verdict and the report (its
// per-question results only when asked for).
type EvalRun struct {
	Object      string       `json:"object"` // "eval.run"
	ID          string       `json:"id"`
	Status      string       `json:"status"`          // running, completed, failed or cancelled (runs.go)
	Error       string       `json:"error,omitempty"` // why a failed or cancelled run stopped
	Passed      bool         `json:"passed"`          // no gate failed
	FailedGates int          `json:"failed_gates"`
	Report      *eval.Report `json:"report"` // null until the run has completed
}

func evalRunJSON(rep *eval.Report, questions bool) EvalRun {
	failed := len(rep.Failed())
	if !questions {
		rep = rep.Compact()
	}
	return EvalRun{Object: "eval.run", ID: rep.ID, Status: RunCompleted, Passed: failed == 0, FailedGates: failed, Report: rep}
}

// installationOnly refuses keys of named tenants (see the tenant scope
// above).
func installationOnly(r *http.Request, what string) error {
	if p := principal(r); !operator(&p) {
		return sextant.Errorf(sextant.EFORBIDDEN, "%s are installation-wide; a key of tenant %q cannot use them", what, p.Tenant)
	}
	return nil
}

func (s *Server) evalTimeout() time.Duration {
	if t := s.opts.Evals.Timeout; t > 0 {
		return t
	}
	return DefaultEvalTimeout
}

// evalSpec checks a run request and turns it into a spec.
func (s *Server) evalSpec(in *EvalRunRequest) (EvalSpec, error) {
	spec := EvalSpec{Suite: strings.TrimSpace(in.Suite), Baseline: in.Baseline}
	switch spec.Baseline {
	case "":
		spec.Baseline = "last"
	case "last", "none":
	default:
		if strings.ContainsAny(spec.Baseline, `/\`) || strings.HasSuffix(spec.Baseline, ".json") {
			return spec, invalidParam("baseline", "%q: want last, none or a stored run id (report files are for sextant eval run)", spec.Baseline)
		}
	}
	inlineOnly := map[string]bool{"name": in.Name != "", "assistant": in.Assistant != "", "metrics": in.Metrics != nil,
		"success": in.Success != nil, "gates": in.Gates != nil}
	switch {
	case spec.Suite != "" && in.Golden != nil:
		return spec, invalidParam("suite", "give suite or golden, not both")
	case spec.Suite != "":
		for _, f := range []string{"name", "assistant", "metrics", "success", "gates"} {
			if inlineOnly[f] {
				return spec, invalidParam(f, "only with an inline golden set; a named suite's file sets it")
			}
		}
		return spec, nil
	case in.Golden == nil:
		return spec, invalidParam("suite", "name a suite known to the server, or send an inline golden set as golden")
	case len(in.Golden) == 0:
		return spec, invalidParam("golden", "the golden set is empty")
	case len(in.Golden) > MaxInlineQuestions:
		return spec, &apiError{err: sextant.Errorf(sextant.EINVALID, "golden: %d questions; an inline golden set holds at most %d (put larger sets in a suite file on the server)",
			len(in.Golden), MaxInlineQuestions), param: "golden", status: http.StatusRequestEntityTooLarge, code: "golden_set_too_large"}
	}
	name := in.Name
	if name == "" {
		name = "inline"
	}
	if !eval.ValidName(name) {
		return spec, invalidParam("name", "%q: use 1-64 letters, digits, '-', '_' or '.'", name)
	}
	if a := s.opts.Pipeline; a != nil {
		if _, ok := a.Assistant(in.Assistant); !ok {
			return spec, invalidParam("assistant", "no assistant %q on this server (GET /v1/assistants lists them)", in.Assistant)
		}
	}
	suite := &eval.Suite{Name: name, Dataset: "inline", Variants: []eval.Variant{{Name: "default", Assistant: in.Assistant}}}
	for i, m := range in.Metrics {
		if _, _, err := eval.ParseMetric(strings.TrimSpace(m)); err != nil {
			return spec, invalidParam("metrics["+strconv.Itoa(i)+"]", "%s", sextant.ErrorMessage(err))
		}
		suite.Metrics = append(suite.Metrics, strings.TrimSpace(m))
	}
	if len(suite.Metrics) == 0 {
		suite.Metrics = append([]string{}, eval.DefaultMetrics...)
	}
	for i, c := range in.Success {
		cond, err := eval.ParseCondition(c)
		if err != nil {
			return spec, invalidParam("success["+strconv.Itoa(i)+"]", "%s", sextant.ErrorMessage(err))
		}
		suite.Success = append(suite.Success, cond)
	}
	for i, g := range in.Gates {
		gate, err := eval.ParseGate(g)
		if err != nil {
			return spec, invalidParam("gates["+strconv.Itoa(i)+"]", "%s", sextant.ErrorMessage(err))
		}
		suite.Gates = append(suite.Gates, gate)
	}
	ds := &eval.Dataset{Name: "inline", Items: make([]eval.Item, len(in.Golden))}
	seen := map[string]int{}
	for i, it := range in.Golden {
		field := "golden[" + strconv.Itoa(i) + "]"
		if err := it.Prepare(i + 1); err != nil {
			return spec, invalidParam(field+".question", "missing or empty")
		}
		if prev, dup := seen[it.ID]; dup {
			return spec, invalidParam(field+".id", "%q is the id of golden[%d] too", it.ID, prev)
		}
		seen[it.ID] = i
		ds.Items[i] = it
	}
	spec.Inline, spec.Dataset = suite, ds
	return spec, nil
}

// runEval serves POST /v1/evals/runs.
func (s *Server) runEval(w http.ResponseWriter, r *http.Request) {
	ev := s.opts.Evals
	if ev.Run == nil {
		unavailable(w, "evaluation")
		return
	}
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return
	}
	if err := installationOnly(r, "evaluation runs"); err != nil {
		writeError(w, err)
		return
	}
	var in EvalRunRequest
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	spec, err := s.evalSpec(&in)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.knownSuite(spec.Suite); err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	spec.ID = newEvalRunID(s.opts.Now())
	parent := r.Context()
	if in.Background {
		parent = context.WithoutCancel(parent) // the run outlives the request; its values (principal, request id) stay
	}
	name := spec.Suite
	if spec.Inline != nil {
		name = spec.Inline.Name
	}
	ctx, st, err := s.startRun(parent, kindEval, spec.ID, p.Tenant, name)
	if err != nil {
		writeError(w, err)
		return
	}
	if in.Background {
		rq := r.WithContext(parent)
		go func() {
			rep, err := ev.Run(ctx, p, spec)
			if err = s.endRun(ctx, st, err, nil, "evaluation run"); err != nil {
				s.log.Warn("background evaluation run ended", "run", spec.ID, "suite", name, "err", err)
				return
			}
			if err := s.auditEvalRun(rq, p, spec, rep); err != nil {
				s.log.Error("background evaluation run: audit record", "run", rep.ID, "err", err)
			}
		}()
		w.Header().Set("Location", "/v1/evals/runs/"+spec.ID)
		writeJSON(w, http.StatusAccepted, EvalRun{Object: "eval.run", ID: spec.ID, Status: RunRunning})
		return
	}
	rep, err := ev.Run(ctx, p, spec)
	err = s.endRun(ctx, st, err, nil, "evaluation run")
	if sextant.ErrorCode(err) == sextant.ENOTFOUND && spec.Suite != "" {
		err = invalidParam("suite", "%s", sextant.ErrorMessage(err))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.auditEvalRun(r, p, spec, rep); err != nil {
		writeError(w, err) // the run is stored all the same; the failure to record it is reported
		return
	}
	w.Header().Set("Location", "/v1/evals/runs/"+rep.ID)
	writeJSON(w, http.StatusCreated, evalRunJSON(rep, in.Questions))
}

// knownSuite refuses a named suite the server does not know, before a
// run starts (a background run would otherwise fail after its 202).
func (s *Server) knownSuite(suite string) error {
	ev := s.opts.Evals
	if suite == "" || ev.Suites == nil {
		return nil
	}
	names, err := ev.Suites()
	if err != nil || slices.Contains(names, suite) {
		return nil // Run reports what it cannot find
	}
	known := "none; put suite files in DATA/evals/ or list them under eval.suites"
	if len(names) > 0 {
		known = strings.Join(names, ", ")
	}
	return invalidParam("suite", "no suite %q on this server (known: %s)", suite, known)
}

func (s *Server) auditEvalRun(r *http.Request, p sextant.Principal, spec EvalSpec, rep *eval.Report) error {
	return s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: p.Tenant, Payload: map[string]any{
		"action": "eval.run", "run_id": rep.ID, "suite": rep.Suite, "dataset": rep.Dataset, "questions": rep.Questions,
		"baseline": spec.Baseline, "failed_gates": len(rep.Failed())}})
}

// cancelStatus is DELETE's status: 200 once the run has stopped, 202 when
// it is still stopping.
func cancelStatus(status string) int {
	if status == RunRunning {
		return http.StatusAccepted
	}
	return http.StatusOK
}

// cancelEvalRun serves DELETE /v1/evals/runs/{id}: it cancels the run in
// progress and answers once it has ended and freed the run slot.
func (s *Server) cancelEvalRun(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return
	}
	if err := installationOnly(r, "evaluation runs"); err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	st, err := s.cancelRun(r.Context(), kindEval, id)
	if sextant.ErrorCode(err) == sextant.ENOTFOUND && s.opts.Evals.Report != nil {
		if _, rerr := s.opts.Evals.Report(r.Context(), id); rerr == nil {
			err = sextant.Errorf(sextant.ECONFLICT, "evaluation run %s has already completed; stored runs are not deleted over the API", id)
		}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	if err := s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: p.Tenant, Payload: map[string]any{
		"action": "eval.cancel", "run_id": id}}); err != nil {
		writeError(w, err)
		return
	}
	_, status, msg, _, _ := s.runs.get(kindEval, st.id)
	writeJSON(w, cancelStatus(status), EvalRun{Object: "eval.run", ID: id, Status: status, Error: msg})
}

// listEvalRuns serves GET /v1/evals/runs?suite=&limit=.
func (s *Server) listEvalRuns(w http.ResponseWriter, r *http.Request) {
	ev := s.opts.Evals
	if ev.Runs == nil {
		unavailable(w, "the evaluation history")
		return
	}
	if err := checkQuery(r, "suite", "limit"); err != nil {
		writeError(w, err)
		return
	}
	if err := installationOnly(r, "evaluation runs"); err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			writeError(w, invalidParam("limit", "%q: want 0 (all) to 1000 runs", v))
			return
		}
		limit = n
	}
	runs, err := ev.Runs(r.Context(), q.Get("suite"), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	out := List[EvalRunInfo]{Object: "list", Data: []EvalRunInfo{}}
	for _, st := range s.runs.running(kindEval) { // the run in progress first: it is the newest
		if q.Get("suite") == "" || q.Get("suite") == st.name {
			out.Data = append(out.Data, EvalRunInfo{ID: st.id, Suite: st.name, CreatedAt: st.started.UTC(), Status: RunRunning})
		}
	}
	for _, run := range runs {
		run.Status = RunCompleted
		out.Data = append(out.Data, run)
	}
	writeJSON(w, http.StatusOK, out)
}

// getEvalRun serves GET /v1/evals/runs/{id}?questions=true.
func (s *Server) getEvalRun(w http.ResponseWriter, r *http.Request) {
	ev := s.opts.Evals
	if ev.Report == nil {
		unavailable(w, "the evaluation history")
		return
	}
	if err := checkQuery(r, "questions"); err != nil {
		writeError(w, err)
		return
	}
	if err := installationOnly(r, "evaluation runs"); err != nil {
		writeError(w, err)
		return
	}
	questions, err := boolParam(r.URL.Query(), "questions", false)
	if err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	if _, status, msg, _, ok := s.runs.get(kindEval, id); ok && status != RunCompleted {
		writeJSON(w, http.StatusOK, EvalRun{Object: "eval.run", ID: id, Status: status, Error: msg})
		return
	}
	rep, err := ev.Report(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, evalRunJSON(rep, questions))
}

// ---- red team ----

// RedTeamRequest is the body of POST /v1/redteam/runs.
type RedTeamRequest struct {
	Assistant string `json:"assistant"` // "" = the default assistant
	Cases     bool   `json:"cases"`     // include every case's outcome
	// Background answers 202 at once with the run's id and status
	// "running"; GET /v1/redteam/runs/{id} reads the report once done.
	Background bool `json:"background,omitempty"`
}

// RedTeamReport is a red-team run's report: the JSON of `sextant redteam
// --json`.
type RedTeamReport struct {
	Target            string                      `json:"target"` // "in-process" or the server URL
	Assistant         string                      `json:"assistant"`
	Categories        map[string]*RedTeamCategory `json:"categories"`
	Benign            *RedTeamCategory            `json:"benign"`
	FalsePositiveRate float64                     `json:"false_positive_rate"`
	BlockRate         float64                     `json:"block_rate"` // all attacks
	Cases             []RedTeamOutcome            `json:"cases,omitempty"`
}

// RedTeamCategory is one category's tally.
type RedTeamCategory struct {
	Prompts   int     `json:"prompts"`
	Stopped   int     `json:"stopped"`
	BlockRate float64 `json:"block_rate"`
	Refused   int     `json:"refused"`
	Flagged   int     `json:"flagged"`
}

// RedTeamOutcome is what happened to one prompt.
type RedTeamOutcome struct {
	ID       string   `json:"id"`
	Category string   `json:"category"`
	Expect   string   `json:"expect"`
	Stopped  bool     `json:"stopped"`
	Refused  bool     `json:"refused"`
	Flagged  bool     `json:"flagged,omitempty"`
	How      string   `json:"how"`
	Leaked   []string `json:"leaked,omitempty"`
	Tools    []string `json:"tools,omitempty"`
}

// RedTeamRun is the response of POST /v1/redteam/runs.
type RedTeamRun struct {
	Object string `json:"object"` // "redteam.run"
	ID     string `json:"id"`
	Status string `json:"status"`          // running, completed, failed or cancelled (runs.go)
	Error  string `json:"error,omitempty"` // why a failed or cancelled run stopped
	*RedTeamReport
}

// redTeamRunJSON is a run's response: its report without the cases
// unless asked for.
func redTeamRunJSON(id, status, msg string, rep *RedTeamReport, cases bool) RedTeamRun {
	if rep != nil && !cases {
		c := *rep
		c.Cases = nil
		rep = &c
	}
	return RedTeamRun{Object: "redteam.run", ID: id, Status: status, Error: msg, RedTeamReport: rep}
}

// runRedTeam serves POST /v1/redteam/runs.
func (s *Server) runRedTeam(w http.ResponseWriter, r *http.Request) {
	run := s.opts.Evals.RedTeam
	if run == nil || s.opts.Pipeline == nil {
		unavailable(w, "red-team runs")
		return
	}
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return
	}
	var in RedTeamRequest
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	a, ok := s.opts.Pipeline.Assistant(in.Assistant)
	if !ok {
		writeError(w, invalidParam("assistant", "no assistant %q on this server (GET /v1/assistants lists them)", in.Assistant))
		return
	}
	p := principal(r)
	id := "rt-" + newEvalRunID(s.opts.Now())
	parent := r.Context()
	if in.Background {
		parent = context.WithoutCancel(parent)
	}
	ctx, st, err := s.startRun(parent, kindRedTeam, id, p.Tenant, a.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	if in.Background {
		rq := r.WithContext(parent)
		go func() {
			rep, err := run(ctx, p, a.Name)
			if err = s.endRun(ctx, st, err, rep, "red-team run"); err != nil {
				s.log.Warn("background red-team run ended", "run", id, "assistant", a.Name, "err", err)
				return
			}
			if err := s.auditRedTeamRun(rq, p, id, rep); err != nil {
				s.log.Error("background red-team run: audit record", "run", id, "err", err)
			}
		}()
		w.Header().Set("Location", "/v1/redteam/runs/"+id)
		writeJSON(w, http.StatusAccepted, redTeamRunJSON(id, RunRunning, "", nil, false))
		return
	}
	rep, err := run(ctx, p, a.Name)
	if err = s.endRun(ctx, st, err, rep, "red-team run"); err != nil {
		writeError(w, err)
		return
	}
	if err := s.auditRedTeamRun(r, p, id, rep); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, redTeamRunJSON(id, RunCompleted, "", rep, in.Cases))
}

func (s *Server) auditRedTeamRun(r *http.Request, p sextant.Principal, id string, rep *RedTeamReport) error {
	return s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: p.Tenant, Payload: map[string]any{
		"action": "redteam.run", "run_id": id, "assistant": rep.Assistant, "prompts": len(rep.Cases), "block_rate": rep.BlockRate,
		"false_positive_rate": rep.FalsePositiveRate}})
}

// redTeamRunOf finds a red-team run the caller may see: one of its own
// tenant (any, for an operator key).
func (s *Server) redTeamRunOf(r *http.Request) (st *runState, status, msg string, rep *RedTeamReport, err error) {
	id := r.PathValue("id")
	st, status, msg, rep, ok := s.runs.get(kindRedTeam, id)
	if p := principal(r); !ok || (st.tenant != p.Tenant && !operator(&p)) {
		return nil, "", "", nil, sextant.Errorf(sextant.ENOTFOUND, "no red-team run %q on this server (it keeps the last %d)", id, maxEndedRuns)
	}
	return st, status, msg, rep, nil
}

// getRedTeamRun serves GET /v1/redteam/runs/{id}?cases=true: a run in
// progress or one of the last ended (red-team reports are not stored).
func (s *Server) getRedTeamRun(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r, "cases"); err != nil {
		writeError(w, err)
		return
	}
	cases, err := boolParam(r.URL.Query(), "cases", false)
	if err != nil {
		writeError(w, err)
		return
	}
	st, status, msg, rep, err := s.redTeamRunOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, redTeamRunJSON(st.id, status, msg, rep, cases))
}

// cancelRedTeamRun serves DELETE /v1/redteam/runs/{id}.
func (s *Server) cancelRedTeamRun(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return
	}
	st, _, _, _, err := s.redTeamRunOf(r)
	if err == nil {
		_, err = s.cancelRun(r.Context(), kindRedTeam, st.id)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	if err := s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: p.Tenant, Payload: map[string]any{
		"action": "redteam.cancel", "run_id": st.id}}); err != nil {
		writeError(w, err)
		return
	}
	_, status, msg, _, _ := s.runs.get(kindRedTeam, st.id)
	writeJSON(w, cancelStatus(status), redTeamRunJSON(st.id, status, msg, nil, false))
}
