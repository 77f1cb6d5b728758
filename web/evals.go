package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
)

// The quality endpoints: evaluation runs (POST and GET /v1/evals/runs),
// red-team runs (POST /v1/redteam/runs) and the effective settings (GET
// /v1/settings; settings.go).
//
// Evaluation and red-team runs are synchronous: the response carries the
// finished run. `sextant eval run` is a batch job that stores a run only
// once it is complete (the history has no "running" state to poll), a
// suite over the server's own pipeline takes seconds to a few minutes,
// and a client that gives up cancels the run (the request context reaches
// every answer). Runs are bounded instead: one at a time per server (a
// second gets 429), each within Evals.Timeout, and an inline golden set
// holds at most MaxInlineQuestions questions.
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
	// p (its document groups apply), checks the gates against the
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
	// default), asking as p, and returns its report.
	RedTeam func(ctx context.Context, p sextant.Principal, assistant string) (*RedTeamReport, error)
	// Timeout bounds one run; 0 = DefaultEvalTimeout.
	Timeout time.Duration
}

// EvalSpec is what to evaluate: a suite known to the server by name, or a
// suite built from the request with its inline golden set.
type EvalSpec struct {
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
}

// EvalRun is the JSON of one run: the gate verdict and the report (its
// per-question results only when asked for).
type EvalRun struct {
	Object      string       `json:"object"` // "eval.run"
	ID          string       `json:"id"`
	Passed      bool         `json:"passed"` // no gate failed
	FailedGates int          `json:"failed_gates"`
	Report      *eval.Report `json:"report"`
}

func evalRunJSON(rep *eval.Report, questions bool) EvalRun {
	failed := len(rep.Failed())
	if !questions {
		rep = rep.Compact()
	}
	return EvalRun{Object: "eval.run", ID: rep.ID, Passed: failed == 0, FailedGates: failed, Report: rep}
}

// installationOnly refuses keys of named tenants (see the tenant scope
// above).
func installationOnly(r *http.Request, what string) error {
	if p := principal(r); !operator(&p) {
		return sextant.Errorf(sextant.EFORBIDDEN, "%s are installation-wide; a key of tenant %q cannot use them", what, p.Tenant)
	}
	return nil
}

// exclusive runs f unless another run holds the server's run slot.
func (s *Server) exclusive(f func() error) error {
	select {
	case s.runSlot <- struct{}{}:
	default:
		return sextant.Errorf(sextant.ERATELIMIT, "another evaluation or red-team run is in progress on this server; retry when it is done")
	}
	defer func() { <-s.runSlot }()
	return f()
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
	p := principal(r)
	var rep *eval.Report
	err = s.exclusive(func() error {
		ctx, cancel := context.WithTimeout(r.Context(), s.evalTimeout())
		defer cancel()
		var err error
		rep, err = ev.Run(ctx, p, spec)
		if err != nil && ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
			return sextant.Errorf(sextant.EUNAVAILABLE, "the evaluation run took longer than the server's %s limit; run large suites with sextant eval run", s.evalTimeout())
		}
		return err
	})
	if sextant.ErrorCode(err) == sextant.ENOTFOUND && spec.Suite != "" {
		msg := sextant.ErrorMessage(err)
		if ev.Suites != nil {
			if names, lerr := ev.Suites(); lerr == nil {
				known := "none; put suite files in DATA/evals/ or list them under eval.suites"
				if len(names) > 0 {
					known = strings.Join(names, ", ")
				}
				msg = "no suite " + strconv.Quote(spec.Suite) + " on this server (known: " + known + ")"
			}
		}
		err = invalidParam("suite", "%s", msg)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	failed := len(rep.Failed())
	if err := s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: p.Tenant, Payload: map[string]any{
		"action": "eval.run", "run_id": rep.ID, "suite": rep.Suite, "dataset": rep.Dataset, "questions": rep.Questions,
		"baseline": spec.Baseline, "failed_gates": failed}}); err != nil {
		writeError(w, err) // the run is stored all the same; the failure to record it is reported
		return
	}
	w.Header().Set("Location", "/v1/evals/runs/"+rep.ID)
	writeJSON(w, http.StatusCreated, evalRunJSON(rep, in.Questions))
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
	out.Data = append(out.Data, runs...)
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
	rep, err := ev.Report(r.Context(), r.PathValue("id"))
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
	*RedTeamReport
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
	var rep *RedTeamReport
	err := s.exclusive(func() error {
		ctx, cancel := context.WithTimeout(r.Context(), s.evalTimeout())
		defer cancel()
		var err error
		rep, err = run(ctx, p, a.Name)
		if err != nil && ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
			return sextant.Errorf(sextant.EUNAVAILABLE, "the red-team run took longer than the server's %s limit", s.evalTimeout())
		}
		return err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: p.Tenant, Payload: map[string]any{
		"action": "redteam.run", "assistant": rep.Assistant, "prompts": len(rep.Cases), "block_rate": rep.BlockRate,
		"false_positive_rate": rep.FalsePositiveRate}}); err != nil {
		writeError(w, err)
		return
	}
	if !in.Cases {
		c := *rep
		c.Cases = nil
		rep = &c
	}
	writeJSON(w, http.StatusOK, RedTeamRun{Object: "redteam.run", RedTeamReport: rep})
}
