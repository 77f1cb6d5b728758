package cost

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/sextant-ai/sextant"
)

// Webhook posts budget alerts as JSON to a URL, retrying failures with
// exponential backoff and full jitter.
//
// The body is {"type":"budget.threshold", "budget":NAME, "scope", "tenant",
// "id", "period", "threshold", "spent_usd", "limit_usd", "window_start",
// "window_end", "at"}. With a Secret, the header
// X-Sextant-Signature: sha256=HEX carries the HMAC-SHA256 of the body, so
// the receiver can check it came from this server.
type Webhook struct {
	URL    string
	Secret []byte       // signs the body when set
	Client *http.Client // nil = a client with a 10 s timeout
	// Attempts is the most deliveries tried; 0 = 6. Network errors, 408,
	// 429 and 5xx are retried; other statuses are final.
	Attempts int
	// BaseDelay and MaxDelay shape the backoff: attempt n waits a random
	// duration in [0, min(MaxDelay, BaseDelay·2^(n-1))); a Retry-After
	// from the receiver is honoured up to MaxDelay. 0 = 500 ms and 30 s.
	BaseDelay, MaxDelay time.Duration
	// Sleep waits between attempts; nil = a timer ctx interrupts.
	Sleep func(ctx context.Context, d time.Duration) error
}

type alertBody struct {
	Type        string  `json:"type"`
	Budget      string  `json:"budget"`
	Scope       string  `json:"scope"`
	Tenant      string  `json:"tenant,omitempty"`
	ID          string  `json:"id"`
	Period      string  `json:"period"`
	Threshold   float64 `json:"threshold"`
	SpentUSD    float64 `json:"spent_usd"`
	LimitUSD    float64 `json:"limit_usd"`
	WindowStart string  `json:"window_start"`
	WindowEnd   string  `json:"window_end"`
	At          string  `json:"at"`
}

// Body is the JSON a webhook receives for a.
func (a *Alert) Body() []byte {
	b, _ := json.Marshal(alertBody{Type: "budget.threshold", Budget: a.Name, Scope: a.Budget.Scope, Tenant: a.Budget.Tenant,
		ID: a.Budget.ID, Period: a.Budget.Period, Threshold: a.Threshold, SpentUSD: a.SpentUSD, LimitUSD: a.LimitUSD,
		WindowStart: a.WindowStart.UTC().Format(time.RFC3339), WindowEnd: a.WindowEnd.UTC().Format(time.RFC3339),
		At: a.At.UTC().Format(time.RFC3339Nano)}) // strings and numbers only: cannot fail
	return b
}

// Send delivers a, retrying as configured. It returns EUNAVAILABLE when
// every attempt failed, EINVALID when the receiver refused the request
// (a 4xx other than 408 and 429), or ctx's error.
func (w *Webhook) Send(ctx context.Context, a Alert) error {
	if w.URL == "" {
		return sextant.Errorf(sextant.EINVALID, "budget webhook: no URL")
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts, base, maxD := w.Attempts, w.BaseDelay, w.MaxDelay
	if attempts <= 0 {
		attempts = 6
	}
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxD <= 0 {
		maxD = 30 * time.Second
	}
	sleep := w.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	body := a.Body()
	var sig string
	if len(w.Secret) > 0 {
		m := hmac.New(sha256.New, w.Secret)
		m.Write(body)
		sig = "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	var last error
	for n := 1; n <= attempts; n++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
		if err != nil {
			return sextant.Errorf(sextant.EINVALID, "budget webhook %q: %w", w.URL, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "sextant-budget-webhook")
		if sig != "" {
			req.Header.Set("X-Sextant-Signature", sig)
		}
		var retryAfter time.Duration
		resp, err := client.Do(req)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			last = err
		case resp.StatusCode < 300:
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			return nil
		default:
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			last = fmt.Errorf("status %s", resp.Status)
			if resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
				return sextant.Errorf(sextant.EINVALID, "budget webhook %s refused alert %s: %w", w.URL, a.Name, last)
			}
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				retryAfter = time.Duration(s) * time.Second
			}
		}
		if n == attempts {
			break
		}
		ceil := base
		for i := 1; i < n && ceil < maxD; i++ {
			ceil *= 2
		}
		d := time.Duration(rand.Int64N(int64(min(ceil, maxD)) + 1))
		d = min(max(d, retryAfter), maxD)
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	return sextant.Errorf(sextant.EUNAVAILABLE, "budget webhook %s: alert %s not delivered after %d attempts: %w", w.URL, a.Name, attempts, last)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
