package churn

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

type crm struct {
	mu       sync.Mutex
	statuses []int // answers to successive requests; then 200
	retry    string
	keys     []string
	bodies   []webhookBody
	headers  []http.Header
}

func (c *crm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	var body webhookBody
	json.Unmarshal(b, &body)
	c.keys = append(c.keys, r.Header.Get("Idempotency-Key"))
	c.bodies = append(c.bodies, body)
	c.headers = append(c.headers, r.Header.Clone())
	status := http.StatusOK
	if len(c.statuses) > 0 {
		status, c.statuses = c.statuses[0], c.statuses[1:]
	}
	if c.retry != "" && status != http.StatusOK {
		w.Header().Set("Retry-After", c.retry)
	}
	w.WriteHeader(status)
}

func TestWebhookRetriesWithTheSameKey(t *testing.T) {
	c := &crm{statuses: []int{503, 429, 200, 500, 200}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	var waits []time.Duration
	wh := &Webhook{
		URL: srv.URL, Threshold: 0.6, BatchSize: 2, Backoff: 100 * time.Millisecond,
		Header: http.Header{"Authorization": {"Bearer t0ken"}},
		Sleep:  func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
	}
	results := []Result{
		{ID: "a", Probability: 0.9}, {ID: "b", Probability: 0.2}, {ID: "c", Probability: 0.6},
		{ID: "d", Probability: 0.7, Reasons: []Reason{{Feature: "tenure", Value: "1", Contribution: 0.8}}},
	}
	st, err := wh.Push(context.Background(), "v3", results)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(WebhookStats{Customers: 3, Requests: 5, Batches: 2}, st); diff != "" {
		t.Fatalf("stats (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 100 * time.Millisecond}, waits); diff != "" {
		t.Fatalf("backoff waits (-want +got):\n%s", diff)
	}
	// Attempts of one batch share a key; the batches' keys differ.
	k := c.keys
	if k[0] == "" || k[0] != k[1] || k[1] != k[2] || k[3] != k[4] || k[2] == k[3] {
		t.Fatalf("idempotency keys %v", k)
	}
	if got := []string{c.bodies[2].Customers[0].ID, c.bodies[2].Customers[1].ID, c.bodies[4].Customers[0].ID}; !cmp.Equal(got, []string{"a", "c", "d"}) {
		t.Fatalf("customers pushed %v, want a, c, d (b is under the threshold)", got)
	}
	if c.bodies[4].Model != "v3" || c.bodies[4].Customers[0].Reasons[0].Feature != "tenure" {
		t.Fatalf("body %+v", c.bodies[4])
	}
	if c.headers[0].Get("Authorization") != "Bearer t0ken" || c.headers[0].Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", c.headers[0])
	}
}

func TestWebhookFailures(t *testing.T) {
	cases := []struct {
		name     string
		statuses []int
		retry    string
		retries  int
		code     string
		requests int
		waits    []time.Duration
	}{
		{"permanent 400", []int{400}, "", 5, sextant.EINVALID, 1, nil},
		{"gives up", []int{502, 502, 502}, "", 2, sextant.EUNAVAILABLE, 3, []time.Duration{time.Second, 2 * time.Second}},
		{"retry-after", []int{503, 200}, "7", 3, "", 2, []time.Duration{7 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &crm{statuses: tc.statuses, retry: tc.retry}
			srv := httptest.NewServer(c)
			defer srv.Close()
			var waits []time.Duration
			wh := &Webhook{URL: srv.URL, Retries: tc.retries, Backoff: time.Second,
				Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			st, err := wh.Push(context.Background(), "v1", []Result{{ID: "x", Probability: 0.99}})
			if got := sextant.ErrorCode(err); got != tc.code {
				t.Fatalf("error %v (code %q), want code %q", err, got, tc.code)
			}
			if st.Requests != tc.requests || !cmp.Equal(waits, tc.waits) {
				t.Fatalf("%d requests, waits %v; want %d, %v", st.Requests, waits, tc.requests, tc.waits)
			}
		})
	}
}

func TestWebhookNetworkErrorAndCancel(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	wh := &Webhook{URL: url, Retries: 10, Sleep: func(ctx context.Context, _ time.Duration) error {
		tries++
		if tries == 2 {
			cancel()
		}
		return ctx.Err()
	}}
	_, err := wh.Push(ctx, "v1", []Result{{ID: "x", Probability: 1}})
	if err == nil || !strings.Contains(err.Error(), "context canceled") || tries != 2 {
		t.Fatalf("error %v after %d waits", err, tries)
	}
}
