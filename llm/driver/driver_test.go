package driver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{http.Header{}, 0, false},
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond, true},
		{http.Header{"Retry-After": {"0"}}, 0, true},
		{http.Header{"Retry-After": {"-3"}}, 0, false},
		{http.Header{"Retry-After": {"soon"}}, 0, false},
		{http.Header{"Retry-After": {"1e300"}}, 0, false},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond, true},
		{http.Header{"Retry-After-Ms": {"NaN"}, "Retry-After": {"9"}}, 9 * time.Second, true},
	} {
		got, ok := driver.ParseRetryAfter(tc.header, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%v: got %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "1.5", "-1", "Wed, 21 Oct 2026 07:28:00 GMT", "NaN", "Inf", "1e308", ""} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, ra, ms string) {
		d, ok := driver.ParseRetryAfter(http.Header{"Retry-After": {ra}, "Retry-After-Ms": {ms}}, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q, %q) = %v, %v", ra, ms, d, ok)
		}
	})
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		ue        driver.UpstreamError
		code      string
		retryable bool
	}{
		{driver.UpstreamError{Status: 400}, sextant.EINVALID, false},
		{driver.UpstreamError{Status: 413}, sextant.EINVALID, false},
		{driver.UpstreamError{Status: 401}, sextant.EUNAUTHORIZED, false},
		{driver.UpstreamError{Status: 403}, sextant.EFORBIDDEN, false},
		{driver.UpstreamError{Status: 404}, sextant.ENOTFOUND, false},
		{driver.UpstreamError{Status: 408}, sextant.EUNAVAILABLE, true},
		{driver.UpstreamError{Status: 409}, sextant.EUNAVAILABLE, true},
		{driver.UpstreamError{Status: 429}, sextant.ERATELIMIT, true},
		{driver.UpstreamError{Status: 429, Type: "insufficient_quota"}, sextant.ERATELIMIT, false},
		{driver.UpstreamError{Status: 500}, sextant.EUNAVAILABLE, true},
		{driver.UpstreamError{Status: 529}, sextant.EUNAVAILABLE, true},
		{driver.UpstreamError{Err: io.ErrUnexpectedEOF}, sextant.EUNAVAILABLE, true},
		{driver.UpstreamError{Err: syscall.ECONNREFUSED}, sextant.EUNAVAILABLE, true},
		{driver.UpstreamError{Err: errors.New("json: bad")}, sextant.EINTERNAL, false},
	} {
		ue := tc.ue
		ue.Provider = "p"
		err := driver.Classify(&ue)
		if err.Code != tc.code || driver.Retryable(err) != tc.retryable {
			t.Errorf("%+v: code %q retryable %v; want %q %v", tc.ue, err.Code, driver.Retryable(err), tc.code, tc.retryable)
		}
	}
}

func TestTransport(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := driver.Transport(ctx, "p", errors.New("x")); !errors.Is(err, context.Canceled) || driver.Retryable(err) {
		t.Errorf("canceled: %v", err)
	}
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	err := driver.Transport(dctx, "p", errors.New("x"))
	if !errors.Is(err, context.DeadlineExceeded) || sextant.ErrorCode(err) != sextant.EUNAVAILABLE || !driver.Retryable(err) {
		t.Errorf("deadline: %v", err)
	}
	if err := driver.Transport(context.Background(), "p", io.ErrUnexpectedEOF); sextant.ErrorCode(err) != sextant.EUNAVAILABLE || !driver.Retryable(err) {
		t.Errorf("EOF: %v", err)
	}
}

// FuzzValidate decodes arbitrary JSON into a Request and validates it: it
// must never panic, and whatever it refuses it refuses with EINVALID.
func FuzzValidate(f *testing.F) {
	f.Add(`{"Model":"m","Messages":[{"Role":"user","Content":"hi"}]}`)
	f.Add(`{"Model":"m","Messages":[{"Role":"tool","ToolCallID":"x"}],"Tools":[{"Name":"f","Parameters":{"type":"object"}}],"ToolChoice":"f"}`)
	f.Add(`{"Model":"m","Messages":[{"Role":"assistant","ToolCalls":[{"ID":"1","Name":"f","Arguments":"{"}]}],"Temperature":3}`)
	f.Add(`{"Model":"m","Messages":[{"Role":"user"}],"Format":{"Type":"json_schema","Name":"n","Schema":[]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var r driver.Request
		if json.Unmarshal([]byte(s), &r) != nil {
			return
		}
		if err := r.Validate(); err != nil && sextant.ErrorCode(err) != sextant.EINVALID {
			t.Fatalf("Validate returned a non-EINVALID error: %v", err)
		}
	})
}
