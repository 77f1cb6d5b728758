package cost

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
)

// BudgetStore persists budgets and what they have spent (sqlite's DB
// implements it).
type BudgetStore interface {
	// Budgets returns the budgets set through the CLI or API.
	Budgets(ctx context.Context) ([]sextant.Budget, error)
	PutBudget(ctx context.Context, b *sextant.Budget, now time.Time) error
	DeleteBudget(ctx context.Context, b *sextant.Budget) error
	// Spent is what b's key or project spent from since on, by the ledger.
	Spent(ctx context.Context, b *sextant.Budget, since time.Time) (float64, error)
	// BudgetAlerts returns the thresholds already alerted for the window.
	BudgetAlerts(ctx context.Context, b *sextant.Budget, windowStart time.Time) ([]float64, error)
	// MarkBudgetAlert records an alert; first is false if it was recorded
	// before (by another process).
	MarkBudgetAlert(ctx context.Context, b *sextant.Budget, windowStart time.Time, threshold float64, at time.Time) (first bool, err error)
}

// Scope is whom a request is charged to.
type Scope struct {
	Tenant  string
	Project string
	Key     string
}

// Alert reports that a budget's spend reached one of its thresholds.
type Alert struct {
	Budget      sextant.Budget
	Name        string  // Budget.Name()
	Threshold   float64 // the fraction reached (0.8 = 80%)
	SpentUSD    float64 // settled spend in the window when it was reached
	LimitUSD    float64
	WindowStart time.Time
	WindowEnd   time.Time
	At          time.Time
}

// BudgetOptions configures NewBudgets. The zero value has no budgets.
type BudgetOptions struct {
	// Budgets are the configured budgets. A budget stored in Store with
	// the same scope, tenant, id and period replaces its configured one.
	Budgets []sextant.Budget
	// Store persists budgets set at run time, provides the spend of the
	// current windows at start, and records alerts so each is sent once
	// across restarts; nil = memory only.
	Store BudgetStore
	// OnAlert receives each alert, once per budget, window and threshold.
	// It runs on a delivery goroutine, never on the request's, so it may
	// block (post a webhook); Close waits for it.
	OnAlert func(Alert)
	// OnError receives failures of background work (recording an alert);
	// nil = ignore.
	OnError func(error)
	Now     func() time.Time // nil = time.Now
}

// defaultThresholds are the alert thresholds of a budget that sets none.
var defaultThresholds = []float64{0.5, 0.8, 1}

// Budgets enforces spending limits. Reserve checks and reserves under one
// mutex, so concurrent requests never together exceed a limit by more than
// their costs exceeded their estimates (see Reserve). It is safe for
// concurrent use.
type Budgets struct {
	opts BudgetOptions

	configured []sextant.Budget

	mu       sync.Mutex
	byName   map[string]*window      // Budget.Name() → state
	keys     map[string][]*window    // key id → its budgets
	projects map[[2]string][]*window // (tenant, project) → its budgets
	stored   map[string]bool         // names of budgets from Store

	deliveries sync.WaitGroup
}

// window is one budget's state in its current window.
type window struct {
	b          sextant.Budget
	thresholds []float64
	start, end time.Time
	spent      float64 // settled in this window
	reserved   float64 // held by requests in flight
	fired      []bool  // per threshold, in this window
}

// NewBudgets loads the configured and stored budgets and the spend and
// sent alerts of their current windows.
func NewBudgets(ctx context.Context, opts BudgetOptions) (*Budgets, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Budgets{opts: opts, byName: map[string]*window{}, stored: map[string]bool{}}
	b.configured = slices.Clone(opts.Budgets)
	seen := map[string]bool{}
	for i := range b.configured {
		bud := &b.configured[i]
		if bud.Scope == sextant.BudgetKey {
			bud.Tenant = ""
		}
		if err := bud.Validate(); err != nil {
			return nil, err
		}
		if seen[bud.Name()] {
			return nil, sextant.Errorf(sextant.EINVALID, "budget %s is configured twice", bud.Name())
		}
		seen[bud.Name()] = true
	}
	if err := b.Reload(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Reload re-reads the stored budgets (another process may have set some)
// and rebuilds every window from the store's ledger; spend reserved by
// requests in flight is kept.
func (b *Budgets) Reload(ctx context.Context) error {
	all := slices.Clone(b.configured)
	stored := map[string]bool{}
	if st := b.opts.Store; st != nil {
		bs, err := st.Budgets(ctx)
		if err != nil {
			return err
		}
		for _, s := range bs {
			stored[s.Name()] = true
			all = slices.DeleteFunc(all, func(c sextant.Budget) bool { return c.Name() == s.Name() })
			all = append(all, s)
		}
	}
	now := b.opts.Now()
	ws := make([]*window, 0, len(all))
	for _, bud := range all {
		w, err := b.load(ctx, bud, now)
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := map[string]bool{}
	for _, w := range ws {
		keep[w.b.Name()] = true
		b.put(w)
	}
	for name := range b.byName {
		if !keep[name] {
			delete(b.byName, name)
		}
	}
	b.stored = stored
	b.reindex()
	return nil
}

func (b *Budgets) load(ctx context.Context, bud sextant.Budget, now time.Time) (*window, error) {
	if bud.Scope == sextant.BudgetKey {
		bud.Tenant = ""
	}
	w := &window{b: bud, thresholds: bud.Thresholds}
	if w.thresholds == nil {
		w.thresholds = defaultThresholds
	}
	w.thresholds = slices.Clone(w.thresholds)
	slices.Sort(w.thresholds)
	w.fired = make([]bool, len(w.thresholds))
	w.start = bud.WindowStart(now)
	w.end = bud.WindowEnd(w.start)
	if st := b.opts.Store; st != nil {
		spent, err := st.Spent(ctx, &bud, w.start)
		if err != nil {
			return nil, err
		}
		w.spent = spent
		sent, err := st.BudgetAlerts(ctx, &bud, w.start)
		if err != nil {
			return nil, err
		}
		for i, t := range w.thresholds {
			w.fired[i] = slices.Contains(sent, t)
		}
	}
	return w, nil
}

// put installs the freshly loaded state w. A budget already tracked keeps
// its state object (reservations in flight point at it) and its
// reservations; within the same window its spend is the larger of the
// two, since the ledger may not hold this process's latest records yet.
// Callers hold mu and reindex afterwards.
func (b *Budgets) put(w *window) {
	name := w.b.Name()
	o := b.byName[name]
	if o == nil {
		b.byName[name] = w
		return
	}
	if o.start.Equal(w.start) {
		w.spent = max(w.spent, o.spent)
		if slices.Equal(o.thresholds, w.thresholds) {
			for i := range w.fired {
				w.fired[i] = w.fired[i] || o.fired[i]
			}
		}
	}
	o.b, o.thresholds, o.start, o.end, o.spent, o.fired = w.b, w.thresholds, w.start, w.end, w.spent, w.fired
}

// reindex rebuilds the key and project indexes; callers hold mu.
func (b *Budgets) reindex() {
	b.keys, b.projects = map[string][]*window{}, map[[2]string][]*window{}
	for _, w := range b.byName {
		if w.b.Scope == sextant.BudgetKey {
			b.keys[w.b.ID] = append(b.keys[w.b.ID], w)
		} else {
			k := [2]string{w.b.Tenant, w.b.ID}
			b.projects[k] = append(b.projects[k], w)
		}
	}
}

// Set creates or replaces a budget at run time, persisting it in Store
// when there is one.
func (b *Budgets) Set(ctx context.Context, bud sextant.Budget) error {
	if bud.Scope == sextant.BudgetKey {
		bud.Tenant = ""
	}
	if err := bud.Validate(); err != nil {
		return err
	}
	now := b.opts.Now()
	if st := b.opts.Store; st != nil {
		if err := st.PutBudget(ctx, &bud, now); err != nil {
			return err
		}
	}
	w, err := b.load(ctx, bud, now)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.put(w)
	b.stored[bud.Name()] = true
	b.reindex()
	return nil
}

// Delete removes a budget set at run time (from Store too). A configured
// budget cannot be deleted this way: it returns EINVALID naming it.
func (b *Budgets) Delete(ctx context.Context, bud sextant.Budget) error {
	if bud.Scope == sextant.BudgetKey {
		bud.Tenant = ""
	}
	b.mu.Lock()
	stored := b.stored[bud.Name()]
	b.mu.Unlock()
	if !stored {
		for _, c := range b.configured {
			if c.Name() == bud.Name() {
				return sextant.Errorf(sextant.EINVALID, "budget %s is set in the configuration file; change it there", bud.Name())
			}
		}
		if b.opts.Store == nil {
			return sextant.Errorf(sextant.ENOTFOUND, "budget %s: not found", bud.Name())
		}
	}
	if st := b.opts.Store; st != nil {
		if err := st.DeleteBudget(ctx, &bud); err != nil {
			return err
		}
	}
	var restore *window
	for _, c := range b.configured {
		if c.Name() == bud.Name() {
			// The stored budget overrode a configured one: it applies again.
			w, err := b.load(ctx, c, b.opts.Now())
			if err != nil {
				return err
			}
			restore = w
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.stored, bud.Name())
	if restore != nil {
		b.put(restore)
	} else {
		delete(b.byName, bud.Name())
	}
	b.reindex()
	return nil
}

// ExhaustedError is the cause of the ERATELIMIT error Reserve returns when
// a budget cannot cover a request.
type ExhaustedError struct {
	Budget   sextant.Budget
	Name     string
	LimitUSD float64
	UsedUSD  float64   // settled plus reserved in the window
	NeedUSD  float64   // the request's estimate
	Reset    time.Time // when the window ends (Retry-After)
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("budget %s is exhausted: $%.4f of $%.4f spent or reserved, this request may cost up to $%.4f; it resets at %s",
		e.Name, e.UsedUSD, e.LimitUSD, e.NeedUSD, e.Reset.UTC().Format(time.RFC3339))
}

// epsilon absorbs floating-point rounding in sums of amounts (a billionth
// of a dollar), so fifty $0.01 requests fit a $0.50 budget.
const epsilon = 1e-9

// maxHolds is the most budgets one request can be charged to: a key's and
// its project's, daily and monthly.
const maxHolds = 4

// Reservation holds an estimated cost against every budget of a scope
// until it is settled. Settle it exactly once.
type Reservation struct {
	b      *Budgets
	n      int
	holds  [maxHolds]*window
	amount float64
}

// Amount is the estimate reserved.
func (r *Reservation) Amount() float64 { return r.amount }

// Reserve checks that every budget of scope (the key's and the project's)
// can take estimateUSD on top of what it has spent and what requests in
// flight have reserved, and if all can, reserves it in all of them at
// once. Otherwise nothing is reserved and the error is ERATELIMIT with an
// *ExhaustedError cause naming the first budget that cannot.
//
// Guarantee: a window's settled spend never exceeds its limit by more
// than the sum, over requests settled in it, of what each request cost
// beyond its estimate. With estimates that bound the cost (prompt tokens
// plus max_tokens at list price: Prices.Estimate), the limit holds
// exactly; a slightly low estimate lets through at most the requests in
// flight at once, each overshooting by its own error.
func (b *Budgets) Reserve(scope Scope, estimateUSD float64) (Reservation, error) {
	if !finite(estimateUSD) {
		return Reservation{}, sextant.Errorf(sextant.EINVALID, "budget reservation: estimate %v is not a non-negative amount", estimateUSD)
	}
	r := Reservation{b: b, amount: estimateUSD}
	b.mu.Lock()
	now := b.opts.Now()
	var ks, ps []*window
	if scope.Key != "" {
		ks = b.keys[scope.Key]
	}
	if scope.Project != "" {
		ps = b.projects[[2]string{scope.Tenant, scope.Project}]
	}
	for _, set := range [2][]*window{ks, ps} {
		for _, w := range set {
			w.roll(now)
			// A spent budget refuses even free requests: a limit of 0 freezes a key.
			if used := w.spent + w.reserved; used+estimateUSD > w.b.LimitUSD+epsilon || used >= w.b.LimitUSD-epsilon {
				err := &ExhaustedError{Budget: w.b, Name: w.b.Name(), LimitUSD: w.b.LimitUSD, UsedUSD: used, NeedUSD: estimateUSD, Reset: w.end}
				b.mu.Unlock()
				return Reservation{}, &sextant.Error{Code: sextant.ERATELIMIT, Op: "budget", Message: err.Error(), Err: err}
			}
			r.holds[r.n] = w // at most a daily and a monthly budget per key and per project
			r.n++
		}
	}
	for _, w := range r.holds[:r.n] {
		w.reserved += estimateUSD
	}
	b.mu.Unlock()
	return r, nil
}

// roll moves w to the window containing now, dropping the old window's
// spend and alerts. Reservations in flight stay: their cost lands in the
// window they settle in. Callers hold mu.
func (w *window) roll(now time.Time) {
	if now.Before(w.end) {
		return
	}
	w.start = w.b.WindowStart(now)
	w.end = w.b.WindowEnd(w.start)
	w.spent = 0
	clear(w.fired)
}

// Settle replaces the reservation with the actual cost of the request (0
// for a request that failed before anything was charged) and sends the
// alerts of thresholds the spend reached.
func (r *Reservation) Settle(actualUSD float64) {
	if r.b == nil {
		return
	}
	if !finite(actualUSD) {
		actualUSD = r.amount
	}
	b := r.b
	var alerts []Alert
	b.mu.Lock()
	now := b.opts.Now()
	for _, w := range r.holds[:r.n] {
		w.reserved = max(w.reserved-r.amount, 0)
		w.roll(now)
		w.spent += actualUSD
		if w.b.LimitUSD <= 0 {
			continue
		}
		for i, t := range w.thresholds {
			if !w.fired[i] && w.spent >= t*w.b.LimitUSD-epsilon {
				w.fired[i] = true
				alerts = append(alerts, Alert{Budget: w.b, Name: w.b.Name(), Threshold: t, SpentUSD: w.spent,
					LimitUSD: w.b.LimitUSD, WindowStart: w.start, WindowEnd: w.end, At: now})
			}
		}
	}
	b.mu.Unlock()
	r.b = nil
	if len(alerts) > 0 {
		b.deliver(alerts)
	}
}

// deliver records and sends alerts on a goroutine of their own.
func (b *Budgets) deliver(alerts []Alert) {
	b.deliveries.Add(1)
	go func() {
		defer b.deliveries.Done()
		for _, a := range alerts {
			if st := b.opts.Store; st != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				first, err := st.MarkBudgetAlert(ctx, &a.Budget, a.WindowStart, a.Threshold, a.At)
				cancel()
				if err != nil && b.opts.OnError != nil {
					b.opts.OnError(fmt.Errorf("budget %s: record alert at %g: %w", a.Name, a.Threshold, err))
				}
				if err == nil && !first {
					continue // another process sent it
				}
			}
			if b.opts.OnAlert != nil {
				b.opts.OnAlert(a)
			}
		}
	}()
}

// Close waits for alert deliveries in progress, or for ctx to end.
func (b *Budgets) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.deliveries.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BudgetStatus is one budget's state in its current window.
type BudgetStatus struct {
	Budget      sextant.Budget
	Name        string
	Source      string // "config" or "store"
	WindowStart time.Time
	WindowEnd   time.Time
	SpentUSD    float64 // settled
	ReservedUSD float64 // held by requests in flight
	Utilization float64 // (spent + reserved) / limit; 0 for a zero limit
}

// Status reports every budget, sorted by name.
func (b *Budgets) Status() []BudgetStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.opts.Now()
	var out []BudgetStatus
	for name, w := range b.byName {
		w.roll(now)
		s := BudgetStatus{Budget: w.b, Name: name, Source: "config", WindowStart: w.start, WindowEnd: w.end,
			SpentUSD: w.spent, ReservedUSD: w.reserved}
		if b.stored[name] {
			s.Source = "store"
		}
		if w.b.LimitUSD > 0 {
			s.Utilization = (w.spent + w.reserved) / w.b.LimitUSD
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y BudgetStatus) int {
		switch {
		case x.Name < y.Name:
			return -1
		case x.Name > y.Name:
			return 1
		}
		return 0
	})
	return out
}
