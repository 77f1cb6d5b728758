package cost

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestFormatReset(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {-time.Second, "0s"}, {time.Nanosecond, "1ms"}, {20 * time.Millisecond, "20ms"},
		{999 * time.Millisecond, "999ms"}, {999*time.Millisecond + 1, "1s"}, {time.Second, "1s"},
		{1500 * time.Millisecond, "2s"}, {6 * time.Minute, "6m0s"}, {6*time.Minute + 100*time.Millisecond, "6m1s"},
		{time.Hour, "1h0m0s"},
	} {
		if got := FormatReset(tt.d); got != tt.want {
			t.Errorf("FormatReset(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestLimiterRequests(t *testing.T) {
	clk := newClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	l, err := NewLimiter(LimiterOptions{Default: RateLimit{RequestsPerMinute: 3}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d, err := l.Allow("k1", 0)
		if err != nil || !d.Allowed || d.RemainingRequests != 2-i {
			t.Fatalf("request %d: %+v, %v", i, d, err)
		}
	}
	d, err := l.Allow("k1", 0)
	if sextant.ErrorCode(err) != sextant.ERATELIMIT || d.Allowed {
		t.Fatalf("4th request: %+v, %v; want rate limited", d, err)
	}
	// 3 per minute refill one every 20 s; the bucket is empty: full in 60 s.
	want := Decision{Exceeded: "requests", RetryAfter: 20 * time.Second, LimitRequests: 3, RemainingRequests: 0, ResetRequests: time.Minute}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("refused decision (-want +got):\n%s", diff)
	}
	h := http.Header{}
	d.SetHeaders(h)
	wantH := http.Header{
		"X-Ratelimit-Limit-Requests":     {"3"},
		"X-Ratelimit-Remaining-Requests": {"0"},
		"X-Ratelimit-Reset-Requests":     {"1m0s"},
		"Retry-After":                    {"20"},
	}
	if diff := cmp.Diff(wantH, h); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	// Other keys have their own buckets.
	if _, err := l.Allow("k2", 0); err != nil {
		t.Errorf("k2: %v", err)
	}
	clk.Add(19 * time.Second)
	if _, err := l.Allow("k1", 0); err == nil {
		t.Error("allowed after 19 s, want refused until 20 s")
	}
	clk.Add(time.Second)
	if d, err := l.Allow("k1", 0); err != nil || d.RemainingRequests != 0 {
		t.Errorf("after 20 s: %+v, %v", d, err)
	}
}

func TestLimiterTokens(t *testing.T) {
	clk := newClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	l, err := NewLimiter(LimiterOptions{
		Default: RateLimit{RequestsPerMinute: 100, TokensPerMinute: 6000},
		Keys:    map[string]RateLimit{"big": {TokensPerMinute: 60000}},
		Now:     clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Allow("k", 5000)
	if err != nil || d.RemainingTokens != 1000 || d.ResetTokens != 50*time.Second || d.RemainingRequests != 99 {
		t.Fatalf("first: %+v, %v", d, err)
	}
	h := http.Header{}
	d.SetHeaders(h)
	for k, v := range map[string]string{"x-ratelimit-limit-tokens": "6000", "x-ratelimit-remaining-tokens": "1000",
		"x-ratelimit-reset-tokens": "50s", "x-ratelimit-limit-requests": "100", "x-ratelimit-reset-requests": "600ms"} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if h.Get("Retry-After") != "" {
		t.Error("Retry-After set on an allowed request")
	}
	// Refused for tokens: neither bucket is charged.
	d, err = l.Allow("k", 2000)
	if sextant.ErrorCode(err) != sextant.ERATELIMIT || d.RetryAfter != 10*time.Second || d.RemainingRequests != 99 || d.Exceeded != "tokens" {
		t.Fatalf("over tokens: %+v, %v", d, err)
	}
	// The request used 3000 fewer tokens than announced: refund.
	l.Adjust("k", -3000)
	if d, err := l.Allow("k", 2000); err != nil || d.RemainingTokens != 2000 {
		t.Fatalf("after refund: %+v, %v", d, err)
	}
	// It used more than announced: the bucket goes into debt.
	l.Adjust("k", 4000)
	d, err = l.Allow("k", 1)
	if err == nil || d.RemainingTokens != 0 || d.RetryAfter != 20*time.Second+10*time.Millisecond {
		t.Fatalf("in debt: %+v, %v", d, err)
	}
	// More than a whole minute can never pass.
	if _, err := l.Allow("k", 6001); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("oversized request: %v, want invalid", err)
	}
	// A key's own limit replaces the default: no request limit for "big".
	d, err = l.Allow("big", 50000)
	if err != nil || d.LimitRequests != 0 || d.LimitTokens != 60000 {
		t.Fatalf("big: %+v, %v", d, err)
	}
	h = http.Header{}
	d.SetHeaders(h)
	if h.Get("x-ratelimit-limit-requests") != "" {
		t.Error("unlimited requests got headers")
	}
	if err := l.Set("k", RateLimit{TokensPerMinute: 10}); err != nil {
		t.Fatal(err)
	}
	if d, _ := l.Allow("k", 5); d.LimitTokens != 10 || d.RemainingTokens != 5 {
		t.Errorf("after Set: %+v", d)
	}
	if _, err := NewLimiter(LimiterOptions{Keys: map[string]RateLimit{"x": {RequestsPerMinute: -1}}}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("negative limit: %v", err)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	clk := newClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	l, _ := NewLimiter(LimiterOptions{Default: RateLimit{RequestsPerMinute: 50, TokensPerMinute: 1000}, Now: clk.Now})
	var mu sync.Mutex
	allowed, tokens := 0, 0
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			n := 10 + i%30
			if d, err := l.Allow("k", n); err == nil && d.Allowed {
				mu.Lock()
				allowed++
				tokens += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed > 50 || tokens > 1000 {
		t.Errorf("allowed %d requests and %d tokens at once; limits are 50 and 1000", allowed, tokens)
	}
	if allowed == 0 {
		t.Error("nothing allowed")
	}
}
