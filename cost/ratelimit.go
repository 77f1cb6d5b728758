package cost

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
)

// RateLimit is a key's allowance per minute; 0 means unlimited.
type RateLimit struct {
	RequestsPerMinute int
	TokensPerMinute   int
}

// LimiterOptions configures NewLimiter. The zero value limits nothing.
type LimiterOptions struct {
	Default RateLimit            // for keys without an entry in Keys
	Keys    map[string]RateLimit // per key id
	Now     func() time.Time     // nil = time.Now
}

// Limiter enforces per-key rate limits with two token buckets per key: one
// of requests, one of tokens (prompt plus expected completion). A bucket
// holds up to a minute's allowance and refills continuously at
// allowance/60 per second, so a key may burst its whole minute and then
// proceeds at the steady rate. It is safe for concurrent use.
type Limiter struct {
	now func() time.Time

	mu      sync.RWMutex
	def     RateLimit
	limits  map[string]RateLimit
	buckets map[string]*keyBuckets
}

type keyBuckets struct {
	mu       sync.Mutex
	req, tok bucket
}

// bucket is a token bucket; level may go below zero when a request used
// more tokens than it announced (Adjust), which delays the next ones.
type bucket struct {
	limit int // per minute; 0 = unlimited
	level float64
	last  time.Time
}

func (b *bucket) rate() float64 { return float64(b.limit) / 60 } // per second

func (b *bucket) refill(now time.Time) {
	if b.limit == 0 {
		return
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.level = min(float64(b.limit), b.level+dt*b.rate())
	}
	b.last = now
}

// wait is how long until the bucket holds n.
func (b *bucket) wait(n float64) time.Duration {
	if b.limit == 0 || b.level >= n {
		return 0
	}
	return secondsCeil((n - b.level) / b.rate())
}

// reset is how long until the bucket is full again.
func (b *bucket) reset() time.Duration {
	if b.limit == 0 {
		return 0
	}
	return secondsCeil((float64(b.limit) - b.level) / b.rate())
}

func secondsCeil(s float64) time.Duration {
	return time.Duration(math.Ceil(s*1e3)) * time.Millisecond
}

func (b *bucket) remaining() int {
	if b.level <= 0 {
		return 0
	}
	return int(b.level)
}

// NewLimiter returns a limiter; limits must not be negative.
func NewLimiter(opts LimiterOptions) (*Limiter, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Limiter{now: opts.Now, limits: map[string]RateLimit{}, buckets: map[string]*keyBuckets{}}
	if err := checkLimit("default", opts.Default); err != nil {
		return nil, err
	}
	l.def = opts.Default
	for k, v := range opts.Keys {
		if err := checkLimit("key "+k, v); err != nil {
			return nil, err
		}
		l.limits[k] = v
	}
	return l, nil
}

func checkLimit(who string, r RateLimit) error {
	if r.RequestsPerMinute < 0 || r.TokensPerMinute < 0 {
		return sextant.Errorf(sextant.EINVALID, "rate limit of %s: %d requests and %d tokens per minute: limits cannot be negative",
			who, r.RequestsPerMinute, r.TokensPerMinute)
	}
	return nil
}

// Set changes a key's limit at run time (the API's llmops role); its
// buckets start full at the new limit.
func (l *Limiter) Set(key string, r RateLimit) error {
	if err := checkLimit("key "+key, r); err != nil {
		return err
	}
	l.mu.Lock()
	l.limits[key] = r
	delete(l.buckets, key)
	l.mu.Unlock()
	return nil
}

// Limit returns the limit that applies to key.
func (l *Limiter) Limit(key string) RateLimit {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if r, ok := l.limits[key]; ok {
		return r
	}
	return l.def
}

func (l *Limiter) key(key string) *keyBuckets {
	l.mu.RLock()
	kb := l.buckets[key]
	l.mu.RUnlock()
	if kb != nil {
		return kb
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if kb = l.buckets[key]; kb != nil {
		return kb
	}
	r, ok := l.limits[key]
	if !ok {
		r = l.def
	}
	now := l.now()
	kb = &keyBuckets{req: bucket{limit: r.RequestsPerMinute, level: float64(r.RequestsPerMinute), last: now},
		tok: bucket{limit: r.TokensPerMinute, level: float64(r.TokensPerMinute), last: now}}
	l.buckets[key] = kb
	return kb
}

// Decision is the outcome of Allow, with what the response headers need.
// Limits of 0 (unlimited) have no headers.
type Decision struct {
	Allowed bool
	// Exceeded names the limit that refused the request, "requests" or
	// "tokens"; "" when allowed.
	Exceeded string
	// RetryAfter is how long until the request would be allowed (0 when
	// it was).
	RetryAfter time.Duration

	LimitRequests     int           // per minute
	RemainingRequests int           // after this request
	ResetRequests     time.Duration // until the requests bucket is full again
	LimitTokens       int
	RemainingTokens   int
	ResetTokens       time.Duration
}

// Allow takes one request and tokens tokens from key's buckets, both or
// neither. Refused, the error is ERATELIMIT saying which limit and when to
// retry; a request needing more tokens than the key's whole minute is
// EINVALID (it can never pass). The Decision is filled in either way.
func (l *Limiter) Allow(key string, tokens int) (Decision, error) {
	kb := l.key(key)
	now := l.now()
	tokens = max(tokens, 0)
	kb.mu.Lock()
	kb.req.refill(now)
	kb.tok.refill(now)
	d := Decision{LimitRequests: kb.req.limit, LimitTokens: kb.tok.limit}
	var err error
	switch {
	case kb.tok.limit > 0 && tokens > kb.tok.limit:
		d.Exceeded = "tokens"
		err = sextant.Errorf(sextant.EINVALID, "request needs %d tokens but key %s may use %d tokens per minute", tokens, key, kb.tok.limit)
	default:
		wr, wt := kb.req.wait(1), kb.tok.wait(float64(tokens))
		if wr == 0 && wt == 0 {
			d.Allowed = true
			if kb.req.limit > 0 {
				kb.req.level--
			}
			if kb.tok.limit > 0 {
				kb.tok.level -= float64(tokens)
			}
			break
		}
		d.RetryAfter = max(wr, wt)
		d.Exceeded = "requests"
		if wt > wr {
			d.Exceeded = "tokens"
		}
		err = sextant.Errorf(sextant.ERATELIMIT, "rate limit of key %s reached (%s per minute); retry in %s", key, d.Exceeded, FormatReset(d.RetryAfter))
	}
	d.RemainingRequests, d.ResetRequests = kb.req.remaining(), kb.req.reset()
	d.RemainingTokens, d.ResetTokens = kb.tok.remaining(), kb.tok.reset()
	kb.mu.Unlock()
	return d, err
}

// Adjust corrects key's tokens bucket once a request's real token count
// is known: delta > 0 takes more (the request used more than it
// announced; the bucket may go negative), delta < 0 gives back.
func (l *Limiter) Adjust(key string, delta int) {
	kb := l.key(key)
	now := l.now()
	kb.mu.Lock()
	if kb.tok.limit > 0 {
		kb.tok.refill(now)
		kb.tok.level = min(kb.tok.level-float64(delta), float64(kb.tok.limit))
	}
	kb.mu.Unlock()
}

// SetHeaders writes the OpenAI-style rate-limit headers for d, and
// Retry-After (whole seconds, rounded up) when it was refused:
//
//	x-ratelimit-limit-requests, x-ratelimit-remaining-requests,
//	x-ratelimit-reset-requests, x-ratelimit-limit-tokens,
//	x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens
//
// Resets are durations until the bucket is full again, formatted like
// OpenAI's ("1s", "6m0s", "20ms").
func (d Decision) SetHeaders(h http.Header) {
	if d.LimitRequests > 0 {
		h.Set("x-ratelimit-limit-requests", strconv.Itoa(d.LimitRequests))
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(d.RemainingRequests))
		h.Set("x-ratelimit-reset-requests", FormatReset(d.ResetRequests))
	}
	if d.LimitTokens > 0 {
		h.Set("x-ratelimit-limit-tokens", strconv.Itoa(d.LimitTokens))
		h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(d.RemainingTokens))
		h.Set("x-ratelimit-reset-tokens", FormatReset(d.ResetTokens))
	}
	if !d.Allowed && d.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.RetryAfter.Seconds())), 10))
	}
}

// FormatReset formats a reset duration like OpenAI's headers: whole
// milliseconds below a second ("20ms"), else rounded up to whole seconds
// in Go's notation ("1s", "6m0s", "1h0m0s"); "0s" for none.
func FormatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if ms := (d + time.Millisecond - 1) / time.Millisecond; ms < 1000 {
		return strconv.FormatInt(int64(ms), 10) + "ms"
	}
	return ((d + time.Second - 1) / time.Second * time.Second).String()
}
