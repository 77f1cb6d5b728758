package llm

import (
	"sync"
	"time"
)

// State is a circuit breaker state.
type State int

const (
	Closed   State = iota // calls flow; consecutive failures are counted
	Open                  // calls are refused until the open period ends
	HalfOpen              // one trial call decides between Closed and Open
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "unknown"
}

// BreakerPolicy configures the circuit breaker kept for each provider.
// Failures are calls that end in EUNAVAILABLE or ERATELIMIT (the provider is
// down, overloaded or throttling us); a caller's mistake (EINVALID) or
// cancellation is neither failure nor success.
type BreakerPolicy struct {
	// Failures is the number of consecutive failures that opens the
	// circuit; 0 = 5; negative disables the breaker.
	Failures int
	// OpenFor is how long an open circuit refuses calls before letting one
	// trial call through (half-open); 0 = 30 s.
	OpenFor time.Duration
}

func (p BreakerPolicy) withDefaults() BreakerPolicy {
	if p.Failures == 0 {
		p.Failures = 5
	}
	if p.OpenFor <= 0 {
		p.OpenFor = 30 * time.Second
	}
	return p
}

// outcome of one call, as the breaker sees it.
type outcome int

const (
	neutral outcome = iota
	success
	failure
)

// breaker is one provider's circuit. Transitions are reported through
// notify, outside the lock.
type breaker struct {
	provider string
	policy   BreakerPolicy
	notify   func(BreakerEvent)

	mu       sync.Mutex
	state    State
	failures int
	openedAt time.Time
	probing  bool // the half-open trial call is in flight
}

// allow reports whether a call may start at now. When it may not, wait is
// the time until the circuit lets a trial call through. A true result in the
// half-open state makes the caller the trial call: it must report its
// outcome with done.
func (b *breaker) allow(now time.Time) (ok bool, wait time.Duration) {
	if b.policy.Failures < 0 {
		return true, 0
	}
	b.mu.Lock()
	var ev *BreakerEvent
	switch b.state {
	case Closed:
		ok = true
	case Open:
		if until := b.openedAt.Add(b.policy.OpenFor); now.Before(until) {
			wait = until.Sub(now)
		} else {
			ev = b.transition(HalfOpen, now)
			b.probing, ok = true, true
		}
	case HalfOpen:
		if !b.probing {
			b.probing, ok = true, true
		} else {
			wait = time.Second // the trial call has not finished yet
		}
	}
	b.mu.Unlock()
	b.emit(ev)
	return ok, wait
}

// done records the outcome of a call that allow let through.
func (b *breaker) done(o outcome, now time.Time) {
	if b.policy.Failures < 0 {
		return
	}
	b.mu.Lock()
	var ev *BreakerEvent
	switch b.state {
	case Closed:
		switch o {
		case success:
			b.failures = 0
		case failure:
			b.failures++
			if b.failures >= b.policy.Failures {
				ev = b.transition(Open, now)
			}
		}
	case HalfOpen:
		b.probing = false
		switch o {
		case success:
			b.failures = 0
			ev = b.transition(Closed, now)
		case failure:
			ev = b.transition(Open, now)
		}
	case Open:
		// A call that started before the circuit opened; its outcome
		// changes nothing.
	}
	b.mu.Unlock()
	b.emit(ev)
}

func (b *breaker) current() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *breaker) transition(to State, now time.Time) *BreakerEvent {
	ev := &BreakerEvent{Provider: b.provider, From: b.state, To: to, Failures: b.failures, At: now}
	b.state = to
	if to == Open {
		b.openedAt = now
	}
	return ev
}

func (b *breaker) emit(ev *BreakerEvent) {
	if ev != nil && b.notify != nil {
		b.notify(*ev)
	}
}
