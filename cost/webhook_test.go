package cost

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
)

func testAlert() Alert {
	b := sextant.Budget{Scope: sextant.BudgetProject, Tenant: "acme", ID: "support", Period: sextant.BudgetMonthly, LimitUSD: 100}
	return Alert{Budget: b, Name: b.Name(), Threshold: 0.8, SpentUSD: 80.5, LimitUSD: 100,
		WindowStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), WindowEnd: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), At: t0}
}

func TestWebhookRetriesThenDelivers(t *testing.T) {
	secret := []byte("s3cret")
	var mu sync.Mutex
	calls := 0
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		switch calls {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			body, _ = io.ReadAll(r.Body)
			m := hmac.New(sha256.New, secret)
			m.Write(body)
			if got, want := r.Header.Get("X-Sextant-Signature"), "sha256="+hex.EncodeToString(m.Sum(nil)); got != want {
				t.Errorf("signature %q, want %q", got, want)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	w := &Webhook{URL: srv.URL, Secret: secret, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	if err := w.Send(t.Context(), testAlert()); err != nil {
		t.Fatal(err)
	}
	if calls != 3 || len(waits) != 2 {
		t.Fatalf("%d calls, waits %v; want 3 calls and 2 waits", calls, waits)
	}
	if waits[0] > time.Millisecond || waits[1] != 3*time.Second {
		t.Errorf("waits %v: want backoff under 1ms, then the receiver's Retry-After of 3s", waits)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"type": "budget.threshold", "budget": "project:acme/support:monthly", "scope": "project",
		"tenant": "acme", "id": "support", "period": "monthly", "threshold": 0.8, "spent_usd": 80.5, "limit_usd": 100.0,
		"window_start": "2026-03-01T00:00:00Z", "window_end": "2026-04-01T00:00:00Z"} {
		if got[k] != v {
			t.Errorf("body %s = %v, want %v", k, got[k], v)
		}
	}
}

func TestWebhookFailures(t *testing.T) {
	status := http.StatusBadRequest
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(status)
	}))
	defer srv.Close()
	noSleep := func(context.Context, time.Duration) error { return nil }
	w := &Webhook{URL: srv.URL, Attempts: 4, Sleep: noSleep}
	if err := w.Send(t.Context(), testAlert()); sextant.ErrorCode(err) != sextant.EINVALID || calls != 1 {
		t.Errorf("400: %v after %d calls; want invalid after 1 (not retried)", err, calls)
	}
	status, calls = http.StatusBadGateway, 0
	if err := w.Send(t.Context(), testAlert()); sextant.ErrorCode(err) != sextant.EUNAVAILABLE || calls != 4 {
		t.Errorf("502: %v after %d calls; want unavailable after 4", err, calls)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := (&Webhook{URL: srv.URL}).Send(ctx, testAlert()); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
	if err := (&Webhook{}).Send(t.Context(), testAlert()); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("no URL: %v", err)
	}
}
