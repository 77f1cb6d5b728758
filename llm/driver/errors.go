package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sextant-ai/sextant"
)

// UpstreamError is what a provider said when it refused or failed a call.
// Drivers return it wrapped in a *sextant.Error built by Classify, so callers
// branch on the code and the portable layer reads retry hints from here.
type UpstreamError struct {
	Provider   string        // driver name, e.g. "openai"
	Status     int           // HTTP status; 0 when the failure arrived inside a stream or no response came
	Type       string        // the provider's error type or code, e.g. "rate_limit_error", "insufficient_quota"
	Message    string        // the provider's message, for people
	RetryAfter time.Duration // server-directed wait before retrying; 0 = none given
	Retryable  bool          // a later identical call may succeed
	Err        error         // underlying cause (network error, SDK error), if any
}

// Error is the technical summary: provider, status, type and cause. The
// people-facing message is the enclosing *sextant.Error's.
func (e *UpstreamError) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.Status != 0 {
		fmt.Fprintf(&b, " %d", e.Status)
	}
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *UpstreamError) Unwrap() error { return e.Err }

// Classify returns the *sextant.Error for a provider failure and fills in
// ue.Retryable from the status and type when the driver left it false:
//
//	400, 413, 422            EINVALID       not retryable
//	401                      EUNAUTHORIZED  not retryable
//	403                      EFORBIDDEN     not retryable
//	404                      ENOTFOUND      not retryable (unknown model)
//	408, 409                 EUNAVAILABLE   retryable (timeouts, lock contention)
//	429                      ERATELIMIT     retryable, unless the type says the quota or budget is spent
//	5xx, 529                 EUNAVAILABLE   retryable
//	0 with a transport error EUNAVAILABLE   retryable (connection refused/reset, EOF, timeout)
//
// Errors delivered inside a stream carry no status; drivers map their
// provider's error type to one of the statuses above before calling Classify.
func Classify(ue *UpstreamError) *sextant.Error {
	code := codeOf(ue)
	what := ue.Message
	switch {
	case what != "":
	case ue.Status != 0:
		what = strings.ToLower(http.StatusText(ue.Status))
	case ue.Err != nil:
		what = "connection failed"
	default:
		what = "request failed"
	}
	msg := ue.Provider + ": " + what
	if ue.Status != 0 {
		msg += fmt.Sprintf(" (status %d)", ue.Status)
	}
	return &sextant.Error{Code: code, Message: msg, Op: "llm", Err: ue}
}

// codeOf returns the code for ue and sets ue.Retryable.
func codeOf(ue *UpstreamError) string {
	switch s := ue.Status; {
	case s == http.StatusTooManyRequests:
		if quotaExhausted(ue.Type) {
			return sextant.ERATELIMIT
		}
		ue.Retryable = true
		return sextant.ERATELIMIT
	case s == http.StatusUnauthorized:
		return sextant.EUNAUTHORIZED
	case s == http.StatusForbidden:
		return sextant.EFORBIDDEN
	case s == http.StatusNotFound:
		return sextant.ENOTFOUND
	case s == http.StatusRequestTimeout || s == http.StatusConflict:
		ue.Retryable = true
		return sextant.EUNAVAILABLE
	case s >= 500:
		ue.Retryable = true
		return sextant.EUNAVAILABLE
	case s >= 400:
		return sextant.EINVALID
	case s == 0:
		if ue.Err != nil && !Transient(ue.Err) && ue.Type == "" {
			return sextant.EINTERNAL
		}
		ue.Retryable = true
		return sextant.EUNAVAILABLE
	}
	return sextant.EINTERNAL
}

func quotaExhausted(typ string) bool {
	switch typ {
	case "insufficient_quota", "billing_hard_limit_reached", "budget_exceeded":
		return true
	}
	return false
}

// Transient reports whether err is a transport failure worth retrying: a
// refused, reset or dropped connection, an unexpected EOF, or a network
// timeout. Context cancellation is not transient: the caller gave up.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// Transport classifies a failure to get, or to finish reading, a response.
// When ctx has ended, caller cancellation is returned as ctx's error (so
// errors.Is(err, context.Canceled) holds and nothing retries it) and a
// deadline becomes a retryable EUNAVAILABLE that still satisfies
// errors.Is(err, context.DeadlineExceeded). Transient network failures are
// retryable EUNAVAILABLE; anything else is EINTERNAL.
func Transport(ctx context.Context, provider string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return Classify(&UpstreamError{Provider: provider, Message: "timed out", Err: cerr})
		}
		return cerr
	}
	ue := &UpstreamError{Provider: provider, Err: err}
	if !Transient(err) {
		// A local failure (request encoding, a bug): not the provider's
		// fault and not worth retrying.
		return &sextant.Error{Code: sextant.EINTERNAL, Message: provider + ": unexpected failure", Op: "llm", Err: ue}
	}
	return Classify(ue)
}

// Upstream returns the *UpstreamError in err's chain, or nil.
func Upstream(err error) *UpstreamError {
	var ue *UpstreamError
	if errors.As(err, &ue) {
		return ue
	}
	return nil
}

// Retryable reports whether err may succeed if the same call is made again.
func Retryable(err error) bool {
	ue := Upstream(err)
	return ue != nil && ue.Retryable
}

// RetryAfter returns the server-directed wait carried by err, if any.
func RetryAfter(err error) (time.Duration, bool) {
	ue := Upstream(err)
	if ue == nil || ue.RetryAfter <= 0 {
		return 0, false
	}
	return ue.RetryAfter, true
}

// Status returns the HTTP status carried by err, or 0.
func Status(err error) int {
	if ue := Upstream(err); ue != nil {
		return ue.Status
	}
	return 0
}

// ParseRetryAfter reads a server's retry hint from h: retry-after-ms
// (milliseconds, sent by OpenAI), then Retry-After as delay-seconds (may be
// fractional) or an HTTP date relative to now. Negative, unparsable or
// absent values give ok = false.
func ParseRetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && !math.IsInf(ms, 0) && !math.IsNaN(ms) && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || math.IsInf(s, 0) || math.IsNaN(s) || s > 1e9 {
			return 0, false
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}
