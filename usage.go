package sextant

import (
	"math"
	"time"
)

// UsageRecord is one line of the usage ledger: what one request consumed,
// what it cost and on whose behalf. The web layer writes one per request;
// cost reports, budgets and churn features read them.
type UsageRecord struct {
	RequestID string
	Time      time.Time
	Tenant    string
	Project   string
	Key       string // API key id; "" for local use
	User      string // end user, when the caller names one
	Assistant string
	Model     string // the model name asked for
	Provider  string // the provider that served it; "" when none did (cache hit, refusal)
	Usage     Usage
	CostUSD   float64 // what the request cost in US dollars
	// SavedUSD is cost avoided: the original cost of an answer served from
	// the response cache, plus the provider's discount on cached input
	// tokens.
	SavedUSD float64
	Cache    string // "" generated; "exact" or "semantic" served from the response cache
	// Avoided is, on a cache hit, the usage of the generation whose answer
	// was served. The pricing hook turns it into SavedUSD; the ledger does
	// not store it (Usage stays what the request itself consumed).
	Avoided Usage
	Success bool // the request produced its answer
	Priced  bool // the model had a price; false means CostUSD is 0 because it is unknown
}

// Validate reports the first field of r that cannot be stored.
func (r *UsageRecord) Validate() error {
	switch {
	case r.Time.IsZero():
		return Errorf(EINVALID, "usage record %q: no time", r.RequestID)
	case r.Usage.InputTokens < 0 || r.Usage.OutputTokens < 0 || r.Usage.CachedInputTokens < 0:
		return Errorf(EINVALID, "usage record %q: negative token count", r.RequestID)
	case r.Usage.CachedInputTokens > r.Usage.InputTokens:
		return Errorf(EINVALID, "usage record %q: %d cached input tokens exceed %d input tokens",
			r.RequestID, r.Usage.CachedInputTokens, r.Usage.InputTokens)
	case !finiteNonNegative(r.CostUSD):
		return Errorf(EINVALID, "usage record %q: cost %v is not a non-negative number", r.RequestID, r.CostUSD)
	case !finiteNonNegative(r.SavedUSD):
		return Errorf(EINVALID, "usage record %q: saved cost %v is not a non-negative number", r.RequestID, r.SavedUSD)
	}
	return nil
}

// Usage ledger groupings (UsageQuery.By).
const (
	UsageByDay       = "day" // UTC calendar day, "2006-01-02"
	UsageByTenant    = "tenant"
	UsageByProject   = "project"
	UsageByKey       = "key"
	UsageByUser      = "user"
	UsageByAssistant = "assistant"
	UsageByModel     = "model"
)

// UsageQuery selects and groups ledger records. The zero value totals
// everything.
type UsageQuery struct {
	Since, Until time.Time // Time >= Since and Time < Until, when set
	Tenant       string    // "" = all tenants
	Project      string    // "" = all projects
	Key          string    // "" = all keys
	By           string    // a UsageBy* grouping; "" = one total
}

// Validate reports a grouping this package does not know.
func (q *UsageQuery) Validate() error {
	switch q.By {
	case "", UsageByDay, UsageByTenant, UsageByProject, UsageByKey, UsageByUser, UsageByAssistant, UsageByModel:
	default:
		return Errorf(EINVALID, "usage grouping %q: want day, tenant, project, key, user, assistant or model", q.By)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return Errorf(EINVALID, "usage query: until %s is not after since %s", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	return nil
}

// UsageTotal sums the ledger records of one group.
type UsageTotal struct {
	Group             string // the group's value (a day "2006-01-02", a key id, ...); "" for the overall total
	Requests          int64
	Succeeded         int64
	CacheHits         int64 // served from the response cache
	Unpriced          int64 // records whose model had no price
	InputTokens       int64
	CachedInputTokens int64
	OutputTokens      int64
	CostUSD           float64
	SavedUSD          float64
}

// Budget periods.
const (
	BudgetDaily   = "daily"   // a UTC calendar day
	BudgetMonthly = "monthly" // a UTC calendar month
)

// Budget scopes.
const (
	BudgetKey     = "key"     // one API key
	BudgetProject = "project" // every key of a tenant's project
)

// Budget caps the spend of one key or project over a daily or monthly
// window.
type Budget struct {
	Scope  string // BudgetKey or BudgetProject
	Tenant string // the project's tenant; ignored for key budgets
	ID     string // the key id or project name
	Period string // BudgetDaily or BudgetMonthly
	// LimitUSD is the most the scope may spend in one window; requests
	// that could take it past the limit are refused.
	LimitUSD float64
	// Thresholds are fractions of LimitUSD (0.5 = 50%) at which an alert
	// is sent, once per window each; nil means 0.5, 0.8 and 1.
	Thresholds []float64
}

// Name identifies b in metrics, alerts and messages: "key:ID:daily" or
// "project:TENANT/ID:monthly" (the tenant part only when set).
func (b *Budget) Name() string {
	id := b.ID
	if b.Scope == BudgetProject && b.Tenant != "" {
		id = b.Tenant + "/" + b.ID
	}
	return b.Scope + ":" + id + ":" + b.Period
}

// Validate reports the first field of b that is wrong.
func (b *Budget) Validate() error {
	switch {
	case b.Scope != BudgetKey && b.Scope != BudgetProject:
		return Errorf(EINVALID, "budget scope %q: want key or project", b.Scope)
	case b.ID == "":
		return Errorf(EINVALID, "budget for a %s: no %s id", b.Scope, b.Scope)
	case b.Period != BudgetDaily && b.Period != BudgetMonthly:
		return Errorf(EINVALID, "budget %s: period %q: want daily or monthly", b.ID, b.Period)
	case !finiteNonNegative(b.LimitUSD):
		return Errorf(EINVALID, "budget %s: limit %v: want a non-negative amount in USD", b.ID, b.LimitUSD)
	}
	for _, t := range b.Thresholds {
		if !(t > 0 && t <= 10) {
			return Errorf(EINVALID, "budget %s: threshold %v: want a fraction of the limit in (0, 10]", b.ID, t)
		}
	}
	return nil
}

// WindowStart returns the start of the budget window containing t: the
// UTC midnight of its day, or of the first day of its month.
func (b *Budget) WindowStart(t time.Time) time.Time {
	t = t.UTC()
	if b.Period == BudgetMonthly {
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// WindowEnd returns the end (exclusive) of the window starting at start.
func (b *Budget) WindowEnd(start time.Time) time.Time {
	if b.Period == BudgetMonthly {
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

func finiteNonNegative(f float64) bool { return f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }
