package churn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sextant-ai/sextant"
)

// Webhook pushes customers whose churn probability reaches a threshold to
// a CRM endpoint as JSON:
//
//	POST URL
//	Content-Type: application/json
//	Idempotency-Key: <hex sha256 of the body>
//	{"model": "v3", "customers": [{"id": "...", "probability": 0.81, "reasons": [...]}]}
//
// Failed deliveries (network errors, 408, 429 and 5xx answers) are retried
// with exponential backoff, honouring Retry-After; a retry sends the same
// body and the same Idempotency-Key, so a CRM that deduplicates on the key
// records each batch once. Other 4xx answers are permanent errors.
type Webhook struct {
	URL       string
	Threshold float64 // default 0.5
	BatchSize int     // customers per request; default 100
	Retries   int     // retries after the first attempt; default 5
	Backoff   time.Duration
	MaxDelay  time.Duration // cap on one wait; default 30s
	Header    http.Header   // extra headers, e.g. Authorization
	Client    *http.Client  // default: a client with a 30 s timeout
	Logger    *slog.Logger  // nil: discard
	// Sleep waits between attempts; tests replace it. Default: a timer
	// that ctx cancels.
	Sleep func(ctx context.Context, d time.Duration) error
}

// WebhookStats counts deliveries.
type WebhookStats struct {
	Customers int `json:"customers"` // customers pushed
	Requests  int `json:"requests"`  // HTTP requests made, retries included
	Batches   int `json:"batches"`
}

type webhookBody struct {
	Model     string   `json:"model"`
	Customers []Result `json:"customers"`
}

func (w *Webhook) defaults() Webhook {
	c := *w
	if c.Threshold == 0 {
		c.Threshold = 0.5
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Retries == 0 {
		c.Retries = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = 30 * time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Sleep == nil {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	return c
}

// Push sends the results at or above the threshold, in batches, and
// returns what it delivered. It stops at the first batch that cannot be
// delivered.
func (w *Webhook) Push(ctx context.Context, model string, results []Result) (WebhookStats, error) {
	c := w.defaults()
	var st WebhookStats
	var risky []Result
	for _, r := range results {
		if r.Probability >= c.Threshold {
			risky = append(risky, r)
		}
	}
	for lo := 0; lo < len(risky); lo += c.BatchSize {
		batch := risky[lo:min(lo+c.BatchSize, len(risky))]
		body, err := json.Marshal(webhookBody{Model: model, Customers: batch})
		if err != nil {
			return st, err
		}
		n, err := deliver(ctx, &c, body)
		st.Requests += n
		if err != nil {
			return st, err
		}
		st.Batches++
		st.Customers += len(batch)
	}
	return st, nil
}

// deliver posts body until it is accepted, retries run out or the error is
// permanent; it returns the number of requests made.
func deliver(ctx context.Context, c *Webhook, body []byte) (int, error) {
	sum := sha256.Sum256(body)
	key := hex.EncodeToString(sum[:])
	var lastErr error
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
		if err != nil {
			return attempt, sextant.Errorf(sextant.EINVALID, "webhook URL %q: %v", c.URL, err)
		}
		for k, vs := range c.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := c.Client.Do(req)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return attempt + 1, ctx.Err()
			}
			lastErr = err
		default:
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			switch code := resp.StatusCode; {
			case code >= 200 && code < 300:
				return attempt + 1, nil
			case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
				lastErr = fmt.Errorf("webhook %s: %s", c.URL, resp.Status)
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
					wait = time.Duration(s) * time.Second
				}
			default:
				return attempt + 1, sextant.Errorf(sextant.EINVALID, "webhook %s refused the batch: %s", c.URL, resp.Status)
			}
		}
		if attempt >= c.Retries {
			return attempt + 1, sextant.Errorf(sextant.EUNAVAILABLE, "webhook: giving up after %d attempts: %w", attempt+1, lastErr)
		}
		if wait == 0 {
			wait = c.MaxDelay
			if attempt < 30 {
				wait = c.Backoff << attempt
			}
		}
		wait = min(wait, c.MaxDelay)
		c.Logger.Warn("churn webhook delivery failed; retrying", "url", c.URL, "attempt", attempt+1, "wait", wait, "err", lastErr)
		if err := c.Sleep(ctx, wait); err != nil {
			return attempt + 1, err
		}
	}
}
