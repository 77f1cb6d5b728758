package web

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/cost"
	"github.com/sextant-ai/sextant/rag"
)

// The administration and operations API: API keys, usage, budgets, the
// audit log, document quarantine, assistants and the response cache. Each
// route declares its permission in Server.Routes like every other.
//
// Tenant scope: a caller whose key belongs to the default tenant ("")
// acts for the whole installation here — it sees and manages every
// tenant's keys, budgets, usage, quarantines and the whole audit log. A
// key of a named tenant sees and changes its own tenant's only; naming
// another tenant is refused (403) and another tenant's objects are not
// found (404).

// Admin is what the administration endpoints work on. Each nil field
// answers the routes that need it 503, saying what is not configured.
type Admin struct {
	// Keys stores API keys (POST, GET and DELETE /v1/keys); *sqlite.DB.
	Keys KeyStore
	// KeyRevoked is told the id of each key revoked over HTTP, so the
	// authenticator stops accepting it at once
	// (access.Authenticator.Invalidate).
	KeyRevoked func(id string)
	// Usage totals the usage ledger (GET /v1/usage); sqlite's UsageTotals.
	Usage cost.TotalsFunc
	// Budgets are the server's budgets (GET, PUT and DELETE /v1/budgets);
	// *cost.Budgets.
	Budgets Budgets
	// Audit reads the audit log (GET /v1/audit, POST /v1/audit/verify);
	// *sqlite.DB.
	Audit audit.Source
	// AuditKeys are the public keys checkpoints must be signed with; empty
	// trusts the key each checkpoint names.
	AuditKeys []ed25519.PublicKey
	// Record appends an administrative change to the audit log, durably,
	// before the response is sent; a change whose record fails is
	// reported as failed (and undone where it can be). nil records nothing.
	Record func(ctx context.Context, ev sextant.AuditEvent) error
	// Quarantines lists quarantined documents (GET /v1/quarantine) and
	// Release ends a quarantine (POST /v1/quarantine/{id}/release).
	Quarantines QuarantineFunc
	Release     ReleaseFunc
	// Answers reads stored answers (GET /v1/answers/{id}, replays);
	// *sqlite.DB.
	Answers AnswerStore
	// AnswerByRequest returns the id of the answer a request produced,
	// given the request's id (the X-Request-Id of the call that asked);
	// ENOTFOUND when it produced none. nil: answers are found by answer
	// id only.
	AnswerByRequest func(ctx context.Context, requestID string) (string, error)
}

// KeyStore is the API key store the /v1/keys endpoints use.
type KeyStore interface {
	access.Creator
	// APIKey returns a key by id (ENOTFOUND when absent).
	APIKey(ctx context.Context, id string) (*sextant.APIKey, error)
	// APIKeys lists every key.
	APIKeys(ctx context.Context) ([]sextant.APIKey, error)
	// RevokeAPIKey revokes a key and returns it.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) (*sextant.APIKey, error)
}

// Budgets is what /v1/budgets changes; *cost.Budgets satisfies it.
type Budgets interface {
	Status() []cost.BudgetStatus
	Set(ctx context.Context, b sextant.Budget) error
	Delete(ctx context.Context, b sextant.Budget) error
}

// QuarantineFunc lists quarantines of tenant ("*" = every tenant), active
// ones only unless all.
type QuarantineFunc func(ctx context.Context, tenant string, all bool) ([]sextant.Quarantine, error)

// ReleaseFunc ends a document's active quarantine, recording who and why
// (ENOTFOUND when it is not quarantined).
type ReleaseFunc func(ctx context.Context, documentID, by, note string, at time.Time) (*sextant.Quarantine, error)

// AnswerStore reads stored answers.
type AnswerStore interface {
	Answer(ctx context.Context, id string) (*sextant.Answer, error)
}

// operator reports whether p acts for the whole installation in the admin
// API: a key of the default tenant (and local use without keys).
func operator(p *sextant.Principal) bool { return p.Tenant == "" }

// tenantParam is the tenant a request names (param, in the query or the
// body), checked against the caller: "" means the caller's own. A caller
// of a named tenant may name only its own.
func tenantParam(p *sextant.Principal, param, named string) (string, error) {
	switch {
	case named == "":
		return p.Tenant, nil
	case operator(p) || named == p.Tenant:
		return named, nil
	}
	return "", &apiError{err: sextant.Errorf(sextant.EFORBIDDEN, "%s %q: a key of tenant %q acts in its own tenant only", param, named, p.Tenant), param: param}
}

func unavailable(w http.ResponseWriter, what string) {
	writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "%s is not configured on this server", what))
}

// record appends an admin change to the audit log.
func (s *Server) record(r *http.Request, ev sextant.AuditEvent) error {
	if s.opts.Admin.Record == nil {
		return nil
	}
	p := principal(r)
	ev.Actor, ev.RequestID = p.ID, RequestID(r.Context())
	if err := s.opts.Admin.Record(context.WithoutCancel(r.Context()), ev); err != nil {
		return sextant.Errorf(sextant.EUNAVAILABLE, "the audit log could not record the change: %v", err)
	}
	return nil
}

// checkQuery refuses query parameters other than allowed.
func checkQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			return invalidParam(k, "unknown query parameter (want %s)", strings.Join(allowed, ", "))
		}
	}
	return nil
}

// ---- API keys ----

// KeyRequest is the body of POST /v1/keys.
type KeyRequest struct {
	Name    string   `json:"name"`
	Tenant  string   `json:"tenant"`  // "" = the caller's tenant
	Project string   `json:"project"` // "" = none
	Roles   []string `json:"roles"`
	// Groups are the key's document access groups: ["*"] = every
	// document of the tenant; absent = unlabelled documents only (every
	// document for an admin key); [] = unlabelled documents only.
	Groups *[]string `json:"groups"`
}

// Key is the JSON form of an API key, never its secret; POST /v1/keys
// adds the secret once, as "key".
type Key struct {
	Object     string     `json:"object"` // "api_key"
	Key        string     `json:"key,omitempty"`
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Tenant     string     `json:"tenant"`
	Project    string     `json:"project"`
	Roles      []string   `json:"roles"`
	Groups     []string   `json:"groups"` // null = every document of the tenant
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// NewKey renders a key as the API does (without its secret); the command
// line's --json output uses it so both print the same object.
func NewKey(k *sextant.APIKey) Key {
	j := Key{Object: "api_key", ID: k.ID, Name: k.Name, Tenant: k.Tenant, Project: k.Project, Roles: k.Roles, Groups: k.Groups, CreatedAt: k.CreatedAt}
	if j.Roles == nil {
		j.Roles = []string{}
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		j.LastUsedAt = &t
	}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt
		j.RevokedAt = &t
	}
	return j
}

// keyAudit is the audit payload of a key change (never the secret); the
// command line records the same.
type keyAudit struct {
	Action  string   `json:"action"`
	KeyID   string   `json:"key_id"`
	Name    string   `json:"name,omitempty"`
	Tenant  string   `json:"tenant"`
	Project string   `json:"project,omitempty"`
	Roles   []string `json:"roles,omitempty"`
	Groups  []string `json:"groups"`
}

func keyEvent(action string, k *sextant.APIKey) sextant.AuditEvent {
	return sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: k.Tenant, Payload: keyAudit{
		Action: action, KeyID: k.ID, Name: k.Name, Tenant: k.Tenant, Project: k.Project, Roles: k.Roles, Groups: k.Groups}}
}

// createKey serves POST /v1/keys: the secret is in the response, once.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Admin.Keys
	if st == nil {
		unavailable(w, "an API key store")
		return
	}
	var in KeyRequest
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	tenant, err := tenantParam(&p, "tenant", in.Tenant)
	if err != nil {
		writeError(w, err)
		return
	}
	spec := access.KeySpec{Name: in.Name, Tenant: tenant, Project: in.Project, Roles: in.Roles}
	switch {
	case in.Groups == nil && slices.Contains(in.Roles, string(sextant.RoleAdmin)):
		// nil: an admin key reads every document of its tenant
	case in.Groups == nil:
		spec.Groups = []string{}
	case len(*in.Groups) == 1 && (*in.Groups)[0] == "*":
	default:
		spec.Groups = append([]string{}, *in.Groups...)
	}
	if err := spec.Validate(); err != nil {
		param := "roles"
		if msg := sextant.ErrorMessage(err); strings.HasPrefix(msg, "group") {
			param = "groups"
		} else if strings.HasPrefix(msg, "key ") {
			param = strings.Fields(msg)[1]
		}
		writeError(w, &apiError{err: err, param: param})
		return
	}
	secret, k, err := access.Create(r.Context(), st, spec, nil, s.opts.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.record(r, keyEvent("key.create", k)); err != nil {
		// An unrecorded key must not work: revoke it and report failure.
		if _, rerr := st.RevokeAPIKey(context.WithoutCancel(r.Context()), k.ID, s.opts.Now()); rerr != nil {
			s.log.Error("key created but neither recorded nor revoked", "key_id", k.ID, "err", rerr)
		}
		writeError(w, err)
		return
	}
	out := NewKey(k)
	out.Key = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

// listKeys serves GET /v1/keys: never secrets.
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Admin.Keys
	if st == nil {
		unavailable(w, "an API key store")
		return
	}
	if err := checkQuery(r, "tenant"); err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	named := r.URL.Query().Get("tenant")
	tenant, err := tenantParam(&p, "tenant", named)
	if err != nil {
		writeError(w, err)
		return
	}
	keys, err := st.APIKeys(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := List[Key]{Object: "list", Data: []Key{}}
	for i := range keys {
		if (operator(&p) && named == "") || keys[i].Tenant == tenant {
			out.Data = append(out.Data, NewKey(&keys[i]))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// revokeKey serves DELETE /v1/keys/{id}. Revoking a revoked key answers
// it as it is.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Admin.Keys
	if st == nil {
		unavailable(w, "an API key store")
		return
	}
	p := principal(r)
	id := r.PathValue("id")
	k, err := st.APIKey(r.Context(), id)
	if err == nil && !operator(&p) && k.Tenant != p.Tenant {
		err = sextant.Errorf(sextant.ENOTFOUND, "API key %q not found", id)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if !k.Revoked() {
		if k, err = st.RevokeAPIKey(r.Context(), id, s.opts.Now()); err != nil {
			writeError(w, err)
			return
		}
		if f := s.opts.Admin.KeyRevoked; f != nil {
			f(id)
		}
		if err := s.record(r, keyEvent("key.revoke", k)); err != nil {
			writeError(w, err) // revoked all the same: failing closed
			return
		}
	}
	writeJSON(w, http.StatusOK, NewKey(k))
}

// List is the JSON list envelope.
type List[T any] struct {
	Object string `json:"object"` // "list"
	Data   []T    `json:"data"`
}

// ---- usage ----

// UsageLine is one line of a usage report: the JSON of `sextant usage
// --json`, which reports the same aggregations.
type UsageLine struct {
	Group             string  `json:"group,omitempty"`
	Requests          int64   `json:"requests"`
	Succeeded         int64   `json:"succeeded"`
	CacheHits         int64   `json:"cache_hits"`
	Unpriced          int64   `json:"unpriced"`
	InputTokens       int64   `json:"input_tokens"`
	CachedInputTokens int64   `json:"cached_input_tokens"`
	OutputTokens      int64   `json:"output_tokens"`
	CostUSD           float64 `json:"cost_usd"`
	SavedUSD          float64 `json:"saved_usd"`
	TokensPerTask     float64 `json:"tokens_per_task"`
	CostPerTask       float64 `json:"cost_per_task_usd"`
	CostPerSuccess    float64 `json:"cost_per_success_usd"`
	CacheHitRatio     float64 `json:"cache_hit_ratio"`
}

// UsageReport is the body of GET /v1/usage.
type UsageReport struct {
	Since    *time.Time    `json:"since,omitempty"`
	Until    *time.Time    `json:"until,omitempty"`
	By       string        `json:"by,omitempty"`
	Lines    []UsageLine   `json:"lines,omitempty"`
	Total    UsageLine     `json:"total"`
	Forecast UsageForecast `json:"forecast"`
}

// UsageForecast is this month's projected spend.
type UsageForecast struct {
	Month         string  `json:"month"`
	MonthToDate   float64 `json:"month_to_date_usd"`
	DailyAverage  float64 `json:"daily_average_usd"`
	AverageDays   float64 `json:"average_days"`
	DaysRemaining float64 `json:"days_remaining"`
	Projected     float64 `json:"projected_usd"`
}

// UsageReportJSON is the JSON form of a cost report (the server's and
// `sextant usage --json`'s).
func UsageReportJSON(rep *cost.Report) UsageReport {
	line := func(l cost.Line) UsageLine {
		return UsageLine{Group: l.Group, Requests: l.Requests, Succeeded: l.Succeeded, CacheHits: l.CacheHits, Unpriced: l.Unpriced,
			InputTokens: l.InputTokens, CachedInputTokens: l.CachedInputTokens, OutputTokens: l.OutputTokens, CostUSD: l.CostUSD,
			SavedUSD: l.SavedUSD, TokensPerTask: l.TokensPerTask, CostPerTask: l.CostPerTask, CostPerSuccess: l.CostPerSuccess,
			CacheHitRatio: l.CacheHitRatio}
	}
	out := UsageReport{By: rep.By, Total: line(rep.Total)}
	if !rep.Since.IsZero() {
		t := rep.Since
		out.Since = &t
	}
	if !rep.Until.IsZero() {
		t := rep.Until
		out.Until = &t
	}
	for _, l := range rep.Lines {
		out.Lines = append(out.Lines, line(l))
	}
	f := rep.Forecast
	out.Forecast = UsageForecast{Month: f.Month, MonthToDate: f.MonthToDate, DailyAverage: f.DailyAverage,
		AverageDays: f.AverageDays, DaysRemaining: f.DaysRemaining, Projected: f.Projected}
	return out
}

// ParseWhen reads a time the way the usage and audit endpoints and
// commands take it: a date (2026-03-01, UTC), an RFC 3339 time, or an age
// before now (36h, 7d, 4w).
func ParseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err == nil && v >= 0 && v*float64(unit) <= float64(math.MaxInt64) {
				return now.Add(-time.Duration(v * float64(unit))), nil
			}
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("want a date (2006-01-02), an RFC 3339 time or an age like 36h, 7d, 4w")
}

// usage serves GET /v1/usage?by=&since=&until=&tenant=&project=&key=:
// the report of `sextant usage --json` (default period: this month, UTC).
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	totals := s.opts.Admin.Usage
	if totals == nil {
		unavailable(w, "a usage ledger")
		return
	}
	if err := checkQuery(r, "by", "since", "until", "tenant", "project", "key"); err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	qv := r.URL.Query()
	now := s.opts.Now().UTC()
	q := sextant.UsageQuery{By: qv.Get("by"), Project: qv.Get("project"), Key: qv.Get("key"),
		Since: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)}
	var err error
	if operator(&p) {
		q.Tenant = qv.Get("tenant") // "" = every tenant
	} else if q.Tenant, err = tenantParam(&p, "tenant", qv.Get("tenant")); err != nil {
		writeError(w, err)
		return
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := qv.Get(f.name); v != "" {
			if *f.dst, err = ParseWhen(v, now); err != nil {
				writeError(w, invalidParam(f.name, "%q: %v", v, err))
				return
			}
		}
	}
	if err := q.Validate(); err != nil {
		param := "until"
		if strings.HasPrefix(sextant.ErrorMessage(err), "usage grouping") {
			param = "by"
		}
		writeError(w, &apiError{err: err, param: param})
		return
	}
	rep, err := cost.BuildReport(r.Context(), totals, q, now)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, UsageReportJSON(rep))
}

// ---- budgets ----

// Budget is one budget in its current window: the JSON of `sextant
// budgets --json`.
type Budget struct {
	Budget      string    `json:"budget"`
	Scope       string    `json:"scope"`
	Tenant      string    `json:"tenant,omitempty"`
	ID          string    `json:"id"`
	Period      string    `json:"period"`
	Source      string    `json:"source"`
	LimitUSD    float64   `json:"limit_usd"`
	SpentUSD    float64   `json:"spent_usd"`
	ReservedUSD float64   `json:"reserved_usd"`
	Utilization float64   `json:"utilization"`
	Thresholds  []float64 `json:"thresholds"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
}

// BudgetJSON is the JSON form of a budget's status.
func BudgetJSON(s *cost.BudgetStatus) Budget {
	th := s.Budget.Thresholds
	if th == nil {
		th = []float64{0.5, 0.8, 1}
	}
	return Budget{Budget: s.Name, Scope: s.Budget.Scope, Tenant: s.Budget.Tenant, ID: s.Budget.ID, Period: s.Budget.Period,
		Source: s.Source, LimitUSD: s.Budget.LimitUSD, SpentUSD: s.SpentUSD, ReservedUSD: s.ReservedUSD, Utilization: s.Utilization,
		Thresholds: th, WindowStart: s.WindowStart, WindowEnd: s.WindowEnd}
}

// BudgetRequest is the body of PUT /v1/budgets: one scope (a key id or a
// project, as NAME or TENANT/NAME) and a daily limit, a monthly limit or
// both.
type BudgetRequest struct {
	Key        string    `json:"key"`
	Project    string    `json:"project"`
	DailyUSD   *float64  `json:"daily_usd"`
	MonthlyUSD *float64  `json:"monthly_usd"`
	Thresholds []float64 `json:"thresholds"` // fractions of the limit; default 0.5, 0.8, 1
}

// budgetScope resolves a key id or a project reference into a budget's
// scope, as the caller may name it: a key of its tenant (keys of every
// tenant for an operator), a project of its tenant.
func (s *Server) budgetScope(r *http.Request, key, project string) (sextant.Budget, error) {
	p := principal(r)
	switch {
	case (key == "") == (project == ""):
		return sextant.Budget{}, invalidParam("key", "give exactly one of key and project")
	case key != "":
		if !operator(&p) {
			if err := s.ownKey(r.Context(), &p, key); err != nil {
				return sextant.Budget{}, err
			}
		}
		return sextant.Budget{Scope: sextant.BudgetKey, ID: key}, nil
	}
	tenant, name := "", project
	if t, n, ok := strings.Cut(project, "/"); ok {
		tenant, name = t, n
	}
	if name == "" {
		return sextant.Budget{}, invalidParam("project", "%q: want NAME or TENANT/NAME", project)
	}
	tenant, err := tenantParam(&p, "project", tenant)
	if err != nil {
		return sextant.Budget{}, err
	}
	return sextant.Budget{Scope: sextant.BudgetProject, Tenant: tenant, ID: name}, nil
}

// ownKey checks that key id belongs to p's tenant (ENOTFOUND otherwise).
func (s *Server) ownKey(ctx context.Context, p *sextant.Principal, id string) error {
	if s.opts.Admin.Keys == nil {
		return sextant.Errorf(sextant.EFORBIDDEN, "key budgets need the key store to check the key's tenant")
	}
	k, err := s.opts.Admin.Keys.APIKey(ctx, id)
	if err == nil && k.Tenant != p.Tenant {
		err = sextant.Errorf(sextant.ENOTFOUND, "API key %q not found", id)
	}
	return err
}

// visibleBudget reports whether p may see b.
func (s *Server) visibleBudget(ctx context.Context, p *sextant.Principal, b *sextant.Budget) bool {
	switch {
	case operator(p):
		return true
	case b.Scope == sextant.BudgetProject:
		return b.Tenant == p.Tenant
	}
	return s.ownKey(ctx, p, b.ID) == nil
}

// listBudgets serves GET /v1/budgets.
func (s *Server) listBudgets(w http.ResponseWriter, r *http.Request) {
	b := s.opts.Admin.Budgets
	if b == nil {
		unavailable(w, "budgets")
		return
	}
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	out := List[Budget]{Object: "list", Data: []Budget{}}
	st := b.Status()
	for i := range st {
		if s.visibleBudget(r.Context(), &p, &st[i].Budget) {
			out.Data = append(out.Data, BudgetJSON(&st[i]))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// budgetAudit is the audit payload of a budget change.
type budgetAudit struct {
	Action     string    `json:"action"`
	Budget     string    `json:"budget"`
	LimitUSD   float64   `json:"limit_usd,omitempty"`
	Thresholds []float64 `json:"thresholds,omitempty"`
}

// BudgetEvent is the audit event of a budget change ("budget.set" or
// "budget.delete"); the command line records the same.
func BudgetEvent(action string, b *sextant.Budget) sextant.AuditEvent {
	return sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: b.Tenant,
		Payload: budgetAudit{Action: action, Budget: b.Name(), LimitUSD: b.LimitUSD, Thresholds: b.Thresholds}}
}

// setBudgets serves PUT /v1/budgets: sets the daily and/or monthly budget
// of one key or project and answers their status.
func (s *Server) setBudgets(w http.ResponseWriter, r *http.Request) {
	b := s.opts.Admin.Budgets
	if b == nil {
		unavailable(w, "budgets")
		return
	}
	var in BudgetRequest
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	base, err := s.budgetScope(r, in.Key, in.Project)
	if err != nil {
		writeError(w, err)
		return
	}
	if in.DailyUSD == nil && in.MonthlyUSD == nil {
		writeError(w, invalidParam("daily_usd", "give daily_usd, monthly_usd or both"))
		return
	}
	var set []sextant.Budget
	for _, l := range []struct {
		period string
		v      *float64
	}{{sextant.BudgetDaily, in.DailyUSD}, {sextant.BudgetMonthly, in.MonthlyUSD}} {
		if l.v == nil {
			continue
		}
		bud := base
		bud.Period, bud.LimitUSD, bud.Thresholds = l.period, *l.v, in.Thresholds
		if err := bud.Validate(); err != nil {
			param := l.period + "_usd"
			if strings.Contains(sextant.ErrorMessage(err), "threshold") {
				param = "thresholds"
			}
			writeError(w, &apiError{err: err, param: param})
			return
		}
		set = append(set, bud)
	}
	for i := range set {
		if err := b.Set(r.Context(), set[i]); err != nil {
			writeError(w, err)
			return
		}
		if err := s.record(r, BudgetEvent("budget.set", &set[i])); err != nil {
			writeError(w, err)
			return
		}
	}
	out := List[Budget]{Object: "list", Data: []Budget{}}
	st := b.Status()
	for i := range st {
		for _, bud := range set {
			if st[i].Name == bud.Name() {
				out.Data = append(out.Data, BudgetJSON(&st[i]))
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteBudgets serves DELETE /v1/budgets?key=ID|project=[T/]NAME&period=daily|monthly|daily,monthly.
func (s *Server) deleteBudgets(w http.ResponseWriter, r *http.Request) {
	b := s.opts.Admin.Budgets
	if b == nil {
		unavailable(w, "budgets")
		return
	}
	if err := checkQuery(r, "key", "project", "period"); err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	base, err := s.budgetScope(r, q.Get("key"), q.Get("project"))
	if err != nil {
		writeError(w, err)
		return
	}
	periods := strings.Split(q.Get("period"), ",")
	for _, per := range periods {
		if per != sextant.BudgetDaily && per != sextant.BudgetMonthly {
			writeError(w, invalidParam("period", "%q: want daily, monthly or daily,monthly", q.Get("period")))
			return
		}
	}
	var deleted []string
	for _, per := range periods {
		bud := base
		bud.Period = per
		if err := b.Delete(r.Context(), bud); err != nil {
			writeError(w, err)
			return
		}
		if err := s.record(r, BudgetEvent("budget.delete", &bud)); err != nil {
			writeError(w, err)
			return
		}
		deleted = append(deleted, bud.Name())
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string   `json:"object"`
		Deleted []string `json:"deleted"`
	}{"budget.deleted", deleted})
}

// ---- audit log ----

// exportAudit serves GET /v1/audit?since=&kind=: the log as JSON Lines
// (the format of `sextant audit export`). An operator gets the whole log,
// which verifies on its own; a key of a named tenant gets its tenant's
// records only (X-Sextant-Audit-Scope: tenant), which do not.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request) {
	src := s.opts.Admin.Audit
	if src == nil {
		unavailable(w, "an audit log")
		return
	}
	if err := checkQuery(r, "since", "kind"); err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	var opts audit.ExportOptions
	q := r.URL.Query()
	if v := q.Get("since"); v != "" {
		t, err := ParseWhen(v, s.opts.Now())
		if err != nil {
			writeError(w, invalidParam("since", "%q: %v", v, err))
			return
		}
		opts.Since = t
	}
	for _, k := range q["kind"] {
		for k := range strings.SplitSeq(k, ",") {
			if !sextant.ValidAuditKind(sextant.AuditKind(k)) {
				writeError(w, invalidParam("kind", "%q is not a record kind (admin, policy, approval, auth, answer, ...)", k))
				return
			}
			opts.Kinds = append(opts.Kinds, sextant.AuditKind(k))
		}
	}
	scope := "all"
	if !operator(&p) {
		opts.Tenants, scope = []string{p.Tenant}, "tenant"
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Sextant-Audit-Scope", scope)
	w.Header().Set("Cache-Control", "no-store")
	cw := &countingWriter{w: w}
	if _, err := audit.Export(r.Context(), src, cw, opts); err != nil {
		if cw.n == 0 {
			w.Header().Set("Content-Type", "application/json")
			writeError(w, err)
			return
		}
		// The status is sent: cut the stream short so the client sees an
		// incomplete body, and log why.
		s.log.Error("audit export failed mid-stream", "request_id", RequestID(r.Context()), "err", err)
		panic(http.ErrAbortHandler)
	}
}

type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// AuditVerification is the body of POST /v1/audit/verify.
type AuditVerification struct {
	OK bool `json:"ok"`
	audit.Report
	Unsigned    int64    `json:"unsigned"`     // records after the last checkpoint
	TrustedKeys []string `json:"trusted_keys"` // ids of the public keys checkpoints must be signed with
}

// verifyAudit serves POST /v1/audit/verify: the whole chain and its
// checkpoints, like `sextant audit verify`.
func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) {
	src := s.opts.Admin.Audit
	if src == nil {
		unavailable(w, "an audit log")
		return
	}
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return
	}
	rep, err := audit.Verify(r.Context(), src, audit.VerifyOptions{PublicKeys: s.opts.Admin.AuditKeys})
	if err != nil {
		writeError(w, err)
		return
	}
	out := AuditVerification{OK: rep.OK(), Report: rep, Unsigned: rep.Unsigned(), TrustedKeys: []string{}}
	for _, k := range s.opts.Admin.AuditKeys {
		out.TrustedKeys = append(out.TrustedKeys, audit.KeyID(k))
	}
	writeJSON(w, http.StatusOK, out)
}

// ---- quarantine ----

// Quarantined is the JSON form of a document quarantine.
type Quarantined struct {
	Document   string     `json:"document"`
	Tenant     string     `json:"tenant,omitempty"`
	Chunk      string     `json:"chunk"`
	Score      float64    `json:"score"`
	Reason     string     `json:"reason"`
	Excerpt    string     `json:"excerpt"`
	CreatedAt  time.Time  `json:"created_at"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	ReleasedBy string     `json:"released_by,omitempty"`
	Note       string     `json:"note,omitempty"`
}

// NewQuarantined renders a quarantine as the API does; the command line's
// --json output uses it so both print the same object.
func NewQuarantined(q *sextant.Quarantine) Quarantined {
	v := Quarantined{q.DocumentID, q.Tenant, q.ChunkID, q.Score, q.Reason, q.Excerpt, q.CreatedAt, nil, q.ReleasedBy, q.Note}
	if !q.Active() {
		t := q.ReleasedAt
		v.ReleasedAt = &t
	}
	return v
}

// listQuarantine serves GET /v1/quarantine?all=true.
func (s *Server) listQuarantine(w http.ResponseWriter, r *http.Request) {
	list := s.opts.Admin.Quarantines
	if list == nil {
		unavailable(w, "document quarantine")
		return
	}
	if err := checkQuery(r, "all"); err != nil {
		writeError(w, err)
		return
	}
	all, err := boolParam(r.URL.Query(), "all", false)
	if err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	tenant := p.Tenant
	if operator(&p) {
		tenant = "*"
	}
	qs, err := list(r.Context(), tenant, all)
	if err != nil {
		writeError(w, err)
		return
	}
	out := List[Quarantined]{Object: "list", Data: []Quarantined{}}
	for i := range qs {
		out.Data = append(out.Data, NewQuarantined(&qs[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// QuarantineRelease is the (optional) body of POST
// /v1/quarantine/{id}/release.
type QuarantineRelease struct {
	Note string `json:"note,omitempty"`
}

// releaseQuarantine serves POST /v1/quarantine/{id}/release.
func (s *Server) releaseQuarantine(w http.ResponseWriter, r *http.Request) {
	list, release := s.opts.Admin.Quarantines, s.opts.Admin.Release
	if list == nil || release == nil {
		unavailable(w, "document quarantine")
		return
	}
	var in QuarantineRelease
	if err := s.readOptionalJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	id := r.PathValue("id")
	if !operator(&p) { // only the caller's tenant's quarantines are found
		qs, err := list(r.Context(), p.Tenant, false)
		if err != nil {
			writeError(w, err)
			return
		}
		if !slices.ContainsFunc(qs, func(q sextant.Quarantine) bool { return q.DocumentID == id }) {
			writeError(w, sextant.Errorf(sextant.ENOTFOUND, "document %q is not in quarantine", id))
			return
		}
	}
	q, err := release(r.Context(), id, p.ID, in.Note, s.opts.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.record(r, sextant.AuditEvent{Kind: sextant.AuditPolicy, Tenant: q.Tenant, Payload: map[string]any{
		"stage": "retrieval", "action": "release", "document": q.DocumentID, "note": q.Note}}); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, NewQuarantined(q))
}

// ---- assistants and the response cache ----

// AssistantInfo is an assistant's settings as GET /v1/assistants shows
// them: never its instructions (they may hold a canary).
type AssistantInfo struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Default      bool     `json:"default"`
	Model        string   `json:"model"`
	Template     string   `json:"template"`
	TemplateHash string   `json:"template_hash"`
	Collections  []string `json:"collections"`
	TopK         int      `json:"top_k"`
	Temperature  *float64 `json:"temperature"`
	MaxTokens    int      `json:"max_tokens"`
	Cached       bool     `json:"cached"`
}

// pipelineRead starts a request on the answer pipeline that takes no
// query parameters: it answers 503 when the server has no pipeline and
// 400 for a query, and reports whether the handler may go on.
func (s *Server) pipelineRead(w http.ResponseWriter, r *http.Request) (*rag.Pipeline, bool) {
	if s.opts.Pipeline == nil {
		unavailable(w, "an answer pipeline")
		return nil, false
	}
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return nil, false
	}
	return s.opts.Pipeline, true
}

// assistants serves GET /v1/assistants.
func (s *Server) assistants(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.pipelineRead(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, List[AssistantInfo]{Object: "list", Data: s.assistantInfos()})
}

// purgeCache serves POST /v1/cache/purge: empties the response cache.
func (s *Server) purgeCache(w http.ResponseWriter, r *http.Request) {
	pl, ok := s.pipelineRead(w, r)
	if !ok {
		return
	}
	n, enabled := pl.PurgeCache()
	if err := s.record(r, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: principal(r).Tenant,
		Payload: map[string]any{"action": "cache.purge", "purged": n}}); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		Enabled bool   `json:"enabled"`
		Purged  int    `json:"purged"`
	}{"cache.purge", enabled, n})
}

// errNotAnswer hides whether an answer exists from whoever may not see it.
func errNotAnswer(id string) error {
	return sextant.Errorf(sextant.ENOTFOUND, "answer %q not found", id)
}

// findAnswer returns the answer id names (an answer id, or the id of the
// request that produced it) if p may see it: p's own answers, and with
// asAuditor the answers of p's tenant (every tenant for an operator).
func (s *Server) findAnswer(ctx context.Context, p *sextant.Principal, id string, asAuditor bool) (*sextant.Answer, error) {
	st := s.opts.Admin.Answers
	if st == nil {
		return nil, sextant.Errorf(sextant.EUNAVAILABLE, "an answer store is not configured on this server")
	}
	a, err := st.Answer(ctx, id)
	if sextant.ErrorCode(err) == sextant.ENOTFOUND && s.opts.Admin.AnswerByRequest != nil {
		var aid string
		if aid, err = s.opts.Admin.AnswerByRequest(ctx, id); err == nil {
			a, err = st.Answer(ctx, aid)
		}
	}
	switch {
	case sextant.ErrorCode(err) == sextant.ENOTFOUND:
		return nil, errNotAnswer(id)
	case err != nil:
		return nil, err
	case asAuditor && (operator(p) || a.Tenant == p.Tenant):
		return a, nil
	case a.Tenant == p.Tenant && a.Principal == p.ID:
		return a, nil
	}
	return nil, errNotAnswer(id)
}

// StoredAnswer is the JSON form of a stored answer: GET /v1/answers/{id}.
type StoredAnswer struct {
	Object string `json:"object"` // "answer"
	Answer
	Tenant    string    `json:"tenant"`
	Principal string    `json:"principal"`
	CreatedAt time.Time `json:"created_at"`
	// Conversation is the chat request the answer replied to (its
	// messages and tools), when it was one; absent for a plain question
	// and for answers stored before conversations were recorded.
	Conversation *Conversation `json:"conversation,omitempty"`
}

func storedAnswerJSON(a *sextant.Answer) StoredAnswer {
	res := &rag.Result{Answer: *a}
	return StoredAnswer{Object: "answer", Answer: *answerJSON(res, 0), Tenant: a.Tenant, Principal: a.Principal, CreatedAt: a.CreatedAt,
		Conversation: conversationJSON(a.Conversation)}
}

// getAnswer serves GET /v1/answers/{id}: the caller's own answer, by
// answer id or request id.
func (s *Server) getAnswer(w http.ResponseWriter, r *http.Request) { s.showAnswer(w, r, false) }

// auditAnswer serves GET /v1/audit/answers/{id}: any answer of the
// caller's tenant, for investigations.
func (s *Server) auditAnswer(w http.ResponseWriter, r *http.Request) { s.showAnswer(w, r, true) }

func (s *Server) showAnswer(w http.ResponseWriter, r *http.Request, asAuditor bool) {
	p := principal(r)
	a, err := s.findAnswer(r.Context(), &p, r.PathValue("id"), asAuditor)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, storedAnswerJSON(a))
}

// Replay is the body of POST /v1/answers/{id}/replay: the recorded answer
// re-run with the same template, sources and settings (rag.Pipeline.Replay)
// and what differs.
type Replay struct {
	Object       string       `json:"object"` // "answer.replay"
	AnswerID     string       `json:"answer_id"`
	Identical    bool         `json:"identical"`
	Template     string       `json:"template"`
	TemplateHash string       `json:"template_hash"`
	Model        string       `json:"model"`
	Recorded     string       `json:"recorded"` // the recorded answer text
	Replayed     string       `json:"replayed"` // the replay's text
	Diff         []DiffLine   `json:"diff"`     // sentence diff, recorded to replayed; empty when the text is the same
	CitedAdded   []int        `json:"cited_added"`
	CitedRemoved []int        `json:"cited_removed"`
	Support      []Support    `json:"support_changes"`
	Finish       *[2]string   `json:"finish_changed,omitempty"`  // [recorded, replayed]
	Refusal      *[2]string   `json:"refusal_changed,omitempty"` // [recorded, replayed]
	Changed      []SourceDiff `json:"sources_changed"`           // recorded sources that read differently in the store now
	// ToolCalls holds the recorded and the replayed tool calls when their
	// names or arguments differ.
	ToolCalls *[2][]chatToolCall `json:"tool_calls_changed,omitempty"`
}

// DiffLine is one line of an answer diff: op is "=", "-" or "+".
type DiffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// Support is a sentence whose support by its citations changed.
type Support struct {
	Sentence        string  `json:"sentence"`
	Was             string  `json:"was,omitempty"` // the recorded sentence it replaced
	Before          float64 `json:"before"`
	After           float64 `json:"after"`
	SupportedBefore bool    `json:"supported_before"`
	Supported       bool    `json:"supported"`
}

// SourceDiff is a recorded source whose chunk changed in the store since.
type SourceDiff struct {
	N          int    `json:"n"`
	ChunkID    string `json:"chunk_id"`
	DocumentID string `json:"document_id"`
	URI        string `json:"uri"`
	Gone       bool   `json:"gone"` // the chunk no longer exists; else its text differs
}

// ReplayJSON is the JSON form of a replay and its comparison.
func ReplayJSON(recorded *sextant.Answer, replayed *rag.Result, d *rag.ReplayDiff) Replay {
	out := Replay{Object: "answer.replay", AnswerID: recorded.ID, Identical: d.Identical, Template: recorded.Template,
		TemplateHash: recorded.TemplateHash, Model: recorded.Model, Recorded: recorded.Text, Replayed: replayed.Text,
		Diff: []DiffLine{}, CitedAdded: nonNil(d.CitedAdded), CitedRemoved: nonNil(d.CitedRemoved), Support: []Support{},
		Finish: d.Finish, Refusal: d.Refusal, Changed: []SourceDiff{}}
	for _, l := range d.Text {
		out.Diff = append(out.Diff, DiffLine{string(l.Op), l.Text})
	}
	for _, c := range d.Support {
		out.Support = append(out.Support, Support{c.Sentence, c.Was, c.Before, c.After, c.SupportedBefore, c.SupportedNow})
	}
	for _, c := range d.Changed {
		out.Changed = append(out.Changed, SourceDiff{c.N, c.ChunkID, c.DocumentID, c.URI, c.Gone})
	}
	if d.ToolCalls != nil {
		was, now := toolCallsJSON(d.ToolCalls[0], false), toolCallsJSON(d.ToolCalls[1], false)
		if was == nil {
			was = []chatToolCall{}
		}
		if now == nil {
			now = []chatToolCall{}
		}
		out.ToolCalls = &[2][]chatToolCall{was, now}
	}
	return out
}

func nonNil(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

// CurrentChunks returns the text each of a's sources' chunks has in the
// store now (absent: the chunk is gone), for rag.CompareReplay.
func CurrentChunks(ctx context.Context, chunks func(ctx context.Context, documentID string) ([]sextant.Chunk, error), a *sextant.Answer) (map[string]string, error) {
	cur := map[string]string{}
	seen := map[string]bool{}
	for _, src := range a.Sources {
		if seen[src.DocumentID] {
			continue
		}
		seen[src.DocumentID] = true
		cs, err := chunks(ctx, src.DocumentID)
		if sextant.ErrorCode(err) == sextant.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			cur[c.ID] = c.Text
		}
	}
	return cur, nil
}

// replayAnswer serves POST /v1/answers/{id}/replay (the caller's own).
func (s *Server) replayAnswer(w http.ResponseWriter, r *http.Request) { s.replay(w, r, false) }

// auditReplay serves POST /v1/audit/answers/{id}/replay (any answer of
// the caller's tenant, replayed as its asker).
func (s *Server) auditReplay(w http.ResponseWriter, r *http.Request) { s.replay(w, r, true) }

func (s *Server) replay(w http.ResponseWriter, r *http.Request, asAuditor bool) {
	if _, ok := s.pipelineRead(w, r); !ok {
		return
	}
	p := principal(r)
	a, err := s.findAnswer(r.Context(), &p, r.PathValue("id"), asAuditor)
	if err != nil {
		writeError(w, err)
		return
	}
	// The replay acts as the asker: it retrieves nothing, so only the
	// identity the record names matters.
	res, err := s.opts.Pipeline.Replay(r.Context(), sextant.Principal{ID: a.Principal, Tenant: a.Tenant}, a.ID)
	if err != nil {
		writeError(w, err)
		return
	}
	var cur map[string]string
	if s.opts.Store != nil {
		if cur, err = CurrentChunks(r.Context(), s.opts.Store.DocumentChunks, a); err != nil {
			writeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, ReplayJSON(a, res, rag.CompareReplay(a, &res.Answer, cur)))
}
