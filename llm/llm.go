// Package llm is the portable model layer: one Model in front of any number
// of llm/driver providers. It validates requests, routes a model name to a
// chain of (provider, upstream model) targets, bounds every call with
// timeouts, retries retryable failures with exponential backoff and full
// jitter while honouring Retry-After, falls back along the chain, keeps a
// circuit breaker per provider, propagates cancellation to the upstream, and
// accounts tokens — counting them locally when a provider reports none.
//
// Contracts:
//   - Streams are iter.Seq2[sextant.Delta, error]; nothing happens until the
//     sequence is ranged over; stopping the range cancels the upstream call.
//   - A call is retried or moved to a fallback target only before its first
//     delta reached the caller. Once output has been yielded, a failure is
//     yielded as the stream's error: a stream is never silently restarted.
//   - Every stream that ends without error ends with a delta whose
//     FinishReason is set and whose Usage is non-nil (Estimated when the
//     provider reported none).
//   - Errors are *sextant.Error values: EINVALID (the request, naming the
//     field), ENOTFOUND (no route), ERATELIMIT, EUNAVAILABLE (provider down,
//     circuit open, timeouts), EUNAUTHORIZED/EFORBIDDEN (provider refused
//     our credentials). A caller's own cancellation is returned as
//     context.Canceled.
//
// Telemetry is left to callbacks in Hooks so this package depends on no
// metrics library.
package llm

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// Request is a chat request; see driver.Request. It is an alias so callers
// need import only this package.
type Request = driver.Request

// Target is one place a model name can be served.
type Target struct {
	Provider string // a key of Options.Providers (or Options.Embedders)
	Model    string // model id sent upstream; "" = the name the caller asked for
}

func (t Target) String() string {
	if t.Model == "" {
		return t.Provider
	}
	return t.Provider + ":" + t.Model
}

// Route maps model names to targets.
type Route struct {
	// Match is an exact model name or a path.Match pattern ("gpt-4o*",
	// "claude-*", "*"). Exact names win over patterns; patterns are tried
	// in the order given.
	Match string
	// Targets are tried in order: the first is the primary, the rest are
	// the fallback chain.
	Targets []Target
}

// RetryPolicy configures retries of retryable failures (ERATELIMIT unless
// the quota is spent, EUNAVAILABLE: 408, 409, 5xx, 529, dropped
// connections, timeouts) on one target before falling back to the next.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts per target, the first
	// included; 0 = 3; 1 = no retry.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the backoff: attempt n waits a uniform
	// random duration in [0, min(MaxDelay, BaseDelay·2^(n-1))) ("full
	// jitter"). 0 = 250 ms and 8 s.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter is the longest server-directed wait (Retry-After)
	// honoured; a longer one moves the call to the next target at once.
	// 0 = 30 s. A Retry-After shorter than the jittered backoff is raised
	// to it; a longer one is waited in full.
	MaxRetryAfter time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 8 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 30 * time.Second
	}
	return p
}

// Options configures a Model. Zero values have the documented defaults.
type Options struct {
	// Providers are the chat drivers by name. A provider that also
	// implements driver.Embedder, driver.Reranker or driver.Forwarder
	// serves those calls too.
	Providers map[string]driver.Provider
	// Embedders are embedding-only drivers by name (for example a TEI
	// server); a name may not be in both maps.
	Embedders map[string]driver.Embedder

	// Routes map model names to targets. With no routes and exactly one
	// provider, that provider serves every model name.
	Routes []Route

	// Timeout bounds a whole call: attempts, waits and, for streams, the
	// time until the last delta. 0 = 10 minutes.
	Timeout time.Duration
	// FirstDeltaTimeout bounds one attempt until its first delta (or, for
	// calls that do not stream, its whole response); an attempt that
	// exceeds it fails with a retryable EUNAVAILABLE. Reasoning models may
	// think for minutes before their first token: raise it for them.
	// 0 = 120 s.
	FirstDeltaTimeout time.Duration
	// IdleTimeout bounds the gap between two deltas once a stream has
	// started; a stalled stream ends with EUNAVAILABLE (not retried, since
	// output was already delivered). 0 = 60 s.
	IdleTimeout time.Duration

	Retry   RetryPolicy
	Breaker BreakerPolicy
	Hooks   Hooks

	Now   func() time.Time                                 // clock for the breaker and events; nil = time.Now
	Sleep func(ctx context.Context, d time.Duration) error // backoff waits; nil = a timer that ctx interrupts
	Rand  func() float64                                   // jitter in [0,1); nil = math/rand/v2
}

// Hooks receive events for metrics and logs. Each may be nil. They are
// called synchronously on the calling goroutine and must not block.
type Hooks struct {
	Retry    func(RetryEvent)    // a failed attempt is about to be retried on the same target
	Fallback func(FallbackEvent) // the call moves to the next target of its chain
	Breaker  func(BreakerEvent)  // a provider's circuit changed state
	Done     func(Call)          // a call ended (success or not)
}

// RetryEvent reports a retry.
type RetryEvent struct {
	Model   string        // the model name the caller asked for
	Target  Target        // where the attempt ran
	Attempt int           // the attempt that failed, from 1
	Delay   time.Duration // the wait before the next attempt
	Err     error
}

// FallbackEvent reports a move to the next target.
type FallbackEvent struct {
	Model    string
	From, To Target
	Err      error // why From was abandoned
}

// BreakerEvent reports a circuit state change.
type BreakerEvent struct {
	Provider string
	From, To State
	Failures int // consecutive failures counted when it happened
	At       time.Time
}

// Call describes one finished call: what served it and what it cost.
type Call struct {
	Kind       string        // "chat", "embed", "rerank" or "forward"
	Model      string        // the model name the caller asked for
	Target     Target        // the target that served (or last failed) it
	Attempts   int           // attempts over all targets
	Fallbacks  int           // targets abandoned
	Usage      sextant.Usage // tokens, Estimated when counted locally
	FirstDelta time.Duration // time to the first delta (streams)
	Duration   time.Duration
	Err        error
}

// Model is the portable model. It is safe for concurrent use.
type Model struct {
	opts     Options
	exact    map[string][]Target
	patterns []Route
	breakers map[string]*breaker
	counter  Counter
}

// New checks opts and returns a Model. Errors are EINVALID and name the
// offending route or provider.
func New(opts Options) (*Model, error) {
	opts.Retry = opts.Retry.withDefaults()
	opts.Breaker = opts.Breaker.withDefaults()
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.FirstDeltaTimeout <= 0 {
		opts.FirstDeltaTimeout = 120 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 60 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	m := &Model{opts: opts, exact: map[string][]Target{}, breakers: map[string]*breaker{}}
	names := []string{}
	for name, p := range opts.Providers {
		if name == "" || p == nil {
			return nil, sextant.Errorf(sextant.EINVALID, "providers: entry %q has no name or no driver", name)
		}
		names = append(names, name)
	}
	for name, e := range opts.Embedders {
		if name == "" || e == nil {
			return nil, sextant.Errorf(sextant.EINVALID, "embedders: entry %q has no name or no driver", name)
		}
		if _, dup := opts.Providers[name]; dup {
			return nil, sextant.Errorf(sextant.EINVALID, "embedders: %q is also a chat provider; give each driver one name", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m.breakers[name] = &breaker{provider: name, policy: opts.Breaker, notify: opts.Hooks.Breaker}
	}
	routes := opts.Routes
	if len(routes) == 0 && len(names) == 1 {
		routes = []Route{{Match: "*", Targets: []Target{{Provider: names[0]}}}}
	}
	for i, r := range routes {
		if r.Match == "" {
			return nil, sextant.Errorf(sextant.EINVALID, "routes[%d].match: required", i)
		}
		if _, err := path.Match(r.Match, ""); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "routes[%d].match: bad pattern %q: %v", i, r.Match, err)
		}
		if len(r.Targets) == 0 {
			return nil, sextant.Errorf(sextant.EINVALID, "routes[%d] (%q): no targets", i, r.Match)
		}
		for j, t := range r.Targets {
			if _, ok := m.breakers[t.Provider]; !ok {
				return nil, sextant.Errorf(sextant.EINVALID, "routes[%d].targets[%d]: unknown provider %q (known: %s)", i, j, t.Provider, strings.Join(names, ", "))
			}
		}
		if strings.ContainsAny(r.Match, `*?[\`) {
			m.patterns = append(m.patterns, r)
		} else if _, dup := m.exact[r.Match]; dup {
			return nil, sextant.Errorf(sextant.EINVALID, "routes[%d].match: model %q is routed twice", i, r.Match)
		} else {
			m.exact[r.Match] = r.Targets
		}
	}
	return m, nil
}

// Targets returns the chain that serves model, primary first, or an
// ENOTFOUND error.
func (m *Model) Targets(model string) ([]Target, error) {
	if t, ok := m.exact[model]; ok {
		return t, nil
	}
	for _, r := range m.patterns {
		if ok, _ := path.Match(r.Match, model); ok {
			return r.Targets, nil
		}
	}
	return nil, sextant.Errorf(sextant.ENOTFOUND, "model %q: no route (configure a route whose match covers it)", model)
}

// Models returns the exactly routed model names, sorted, for listing.
func (m *Model) Models() []string {
	out := make([]string, 0, len(m.exact))
	for k := range m.exact {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// State returns the circuit state of a provider.
func (m *Model) State(provider string) State {
	if b, ok := m.breakers[provider]; ok {
		return b.current()
	}
	return Closed
}

// Counter returns the Model's token counter.
func (m *Model) Counter() *Counter { return &m.counter }

// Stream answers req as a stream of deltas; see the package contracts.
func (m *Model) Stream(ctx context.Context, req *Request) iter.Seq2[sextant.Delta, error] {
	return m.StreamCall(ctx, req, nil)
}

// StreamCall is Stream that also fills *call (when non-nil) once the
// sequence ends, to tell which target served the call and its usage.
func (m *Model) StreamCall(ctx context.Context, req *Request, call *Call) iter.Seq2[sextant.Delta, error] {
	return func(yield func(sextant.Delta, error) bool) {
		c := Call{Kind: "chat", Model: req.Model}
		start := m.opts.Now()
		defer func() {
			c.Duration = m.opts.Now().Sub(start)
			if call != nil {
				*call = c
			}
			if m.opts.Hooks.Done != nil {
				m.opts.Hooks.Done(c)
			}
		}()
		if err := req.Validate(); err != nil {
			c.Err = err
			yield(sextant.Delta{}, err)
			return
		}
		stopped := false
		c.Err = m.run(ctx, &c, req.Model, func(ctx context.Context, t Target) (bool, error) {
			p, ok := m.opts.Providers[t.Provider]
			if !ok {
				return false, sextant.Errorf(sextant.EINVALID, "provider %q serves no chat (embeddings only)", t.Provider)
			}
			r := *req
			if t.Model != "" {
				r.Model = t.Model
			}
			emitted, err := m.streamAttempt(ctx, t.Provider, p, &r, start, &c, func(d sextant.Delta) bool {
				if !yield(d, nil) {
					stopped = true
					return false
				}
				return true
			})
			return emitted, err
		})
		if c.Err != nil && !stopped {
			yield(sextant.Delta{}, c.Err)
		}
	}
}

var (
	errFirstDelta = errors.New("no first delta in time")
	errIdle       = errors.New("stream stalled")
)

// streamAttempt runs one attempt on p. emitted reports whether any delta
// reached the caller (after which nothing may be retried).
func (m *Model) streamAttempt(ctx context.Context, name string, p driver.Provider, req *Request, start time.Time, c *Call, out func(sextant.Delta) bool) (emitted bool, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var started atomic.Bool
	timer := time.AfterFunc(m.opts.FirstDeltaTimeout, func() {
		if started.Load() {
			cancel(errIdle)
		} else {
			cancel(errFirstDelta)
		}
	})
	defer timer.Stop()

	var text strings.Builder
	for d, err := range p.Stream(actx, req) {
		if err != nil {
			if ctx.Err() == nil {
				switch cause := context.Cause(actx); {
				case errors.Is(cause, errFirstDelta):
					err = driver.Classify(&driver.UpstreamError{Provider: name, Status: 504,
						Message: fmt.Sprintf("no response from model %q within %v", req.Model, m.opts.FirstDeltaTimeout)})
				case errors.Is(cause, errIdle):
					err = driver.Classify(&driver.UpstreamError{Provider: name, Status: 504,
						Message: fmt.Sprintf("model %q: stream stalled for %v", req.Model, m.opts.IdleTimeout)})
				}
			}
			return emitted, err
		}
		if !emitted {
			started.Store(true)
			c.FirstDelta = m.opts.Now().Sub(start)
		}
		// The caller's own time (a slow client) is not the upstream's
		// stall: the idle clock runs only while waiting for the driver.
		timer.Stop()
		text.WriteString(d.Text)
		if d.FinishReason != "" {
			if d.Usage == nil || (d.Usage.InputTokens == 0 && d.Usage.OutputTokens == 0) {
				d.Usage = &sextant.Usage{
					InputTokens:  m.counter.Prompt(req.Model, req.Messages, req.Tools),
					OutputTokens: m.counter.Completion(req.Model, text.String(), d.ToolCalls),
					Estimated:    true,
				}
			}
			c.Usage = *d.Usage
			emitted = true
			out(d)
			return true, nil
		}
		emitted = true
		if !out(d) {
			return true, nil
		}
		timer.Reset(m.opts.IdleTimeout)
	}
	return emitted, driver.Classify(&driver.UpstreamError{Provider: name,
		Message: fmt.Sprintf("model %q: stream ended without a finish reason", req.Model)})
}

// Response is a complete (non-streamed) answer.
type Response struct {
	Text         string
	ToolCalls    []sextant.ToolCall
	FinishReason string
	Usage        sextant.Usage
	Call         Call // which target served it, attempts, timings
}

// Complete answers req and returns the whole response: it aggregates
// Stream, with the same retries and fallbacks.
func (m *Model) Complete(ctx context.Context, req *Request) (*Response, error) {
	res := &Response{}
	var b strings.Builder
	for d, err := range m.StreamCall(ctx, req, &res.Call) {
		if err != nil {
			return nil, err
		}
		b.WriteString(d.Text)
		if d.FinishReason != "" {
			res.FinishReason, res.ToolCalls = d.FinishReason, d.ToolCalls
			if d.Usage != nil {
				res.Usage = *d.Usage
			}
		}
	}
	res.Text = b.String()
	return res, nil
}

// run drives one call through model's target chain: breaker, attempts,
// backoff, fallback. attempt returns emitted = true once output reached the
// caller, which ends the call whatever its error.
func (m *Model) run(ctx context.Context, c *Call, model string, attempt func(context.Context, Target) (emitted bool, err error)) error {
	targets, err := m.Targets(model)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	rp := m.opts.Retry
	var last error
	for ti, t := range targets {
		if ti > 0 {
			c.Fallbacks++
			if m.opts.Hooks.Fallback != nil {
				m.opts.Hooks.Fallback(FallbackEvent{Model: model, From: targets[ti-1], To: t, Err: last})
			}
		}
		c.Target = t
		b := m.breakers[t.Provider]
		for n := 1; n <= rp.MaxAttempts; n++ {
			ok, wait := b.allow(m.opts.Now())
			if !ok {
				last = driver.Classify(&driver.UpstreamError{Provider: t.Provider, Status: 503, RetryAfter: wait,
					Message: fmt.Sprintf("circuit open after repeated failures; next trial in %v", wait.Round(time.Millisecond))})
				break
			}
			c.Attempts++
			emitted, err := attempt(ctx, t)
			b.done(outcomeOf(err, ctx), m.opts.Now())
			if err == nil || emitted {
				return err
			}
			if cerr := ctx.Err(); cerr != nil {
				if errors.Is(cerr, context.Canceled) {
					return cerr
				}
				return sextant.Errorf(sextant.EUNAVAILABLE, "model %q: no answer within %v (%d attempts): %w", model, m.opts.Timeout, c.Attempts, err)
			}
			last = err
			if !driver.Retryable(err) || n == rp.MaxAttempts {
				break
			}
			delay := m.backoff(n)
			if ra, ok := driver.RetryAfter(err); ok {
				if ra > rp.MaxRetryAfter {
					break // the server asks for longer than we wait: try the next target
				}
				delay = max(delay, ra)
			}
			if dl, ok := ctx.Deadline(); ok && m.opts.Now().Add(delay).After(dl) {
				break
			}
			if m.opts.Hooks.Retry != nil {
				m.opts.Hooks.Retry(RetryEvent{Model: model, Target: t, Attempt: n, Delay: delay, Err: err})
			}
			if err := m.opts.Sleep(ctx, delay); err != nil {
				return err
			}
		}
		if sextant.ErrorCode(last) == sextant.EINVALID && driver.Status(last) != 0 {
			// The provider judged the request itself invalid; another
			// provider would see the same request.
			return last
		}
	}
	return last
}

// backoff returns the full-jitter wait after failed attempt n (from 1).
func (m *Model) backoff(n int) time.Duration {
	rp := m.opts.Retry
	ceil := rp.MaxDelay
	if n-1 < 30 {
		if d := rp.BaseDelay << (n - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(m.opts.Rand() * float64(ceil))
}

// outcomeOf classifies an attempt's result for the breaker.
func outcomeOf(err error, ctx context.Context) outcome {
	if err == nil {
		return success
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return neutral
	}
	switch sextant.ErrorCode(err) {
	case sextant.EUNAVAILABLE, sextant.ERATELIMIT:
		return failure
	}
	return neutral
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
