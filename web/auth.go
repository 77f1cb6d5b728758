package web

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/audit"
)

// AuthFailuresPerSecond bounds the authentication failures APIKeyAuth
// records in the audit log, so a flood of bad keys cannot flood the log;
// the next record carries how many were left out.
const AuthFailuresPerSecond = 50

// APIKeyAuth returns an AuthFunc that authenticates the request's
// "Authorization: Bearer KEY" header, or when it is absent the x-api-key
// header Anthropic's SDKs send, with a (401 with OpenAI's error JSON
// when it is missing, malformed, unknown or revoked; the route table and
// sextant.Allowed then give 403 to a key whose roles lack the route's
// permission). When log is not nil each failure is recorded as an
// sextant.AuditAuth record — method, path, client address, reason and a
// fingerprint of the token, never the token — at most
// AuthFailuresPerSecond a second.
func APIKeyAuth(a *access.Authenticator, log *audit.Log) AuthFunc {
	var lim failureLimiter
	return func(r *http.Request) (*sextant.Principal, error) {
		authz := r.Header.Get("Authorization")
		if k := r.Header.Get("X-Api-Key"); authz == "" && k != "" {
			authz = "Bearer " + k // Anthropic's SDKs send the key as x-api-key
		}
		token, err := access.ParseAuthorization(authz)
		if err == nil {
			var p *sextant.Principal
			if p, err = a.Authenticate(r.Context(), token); err == nil {
				return p, nil
			}
		}
		if log != nil && sextant.ErrorCode(err) == sextant.EUNAUTHORIZED {
			if suppressed, ok := lim.allow(time.Now()); ok {
				recordAuthFailure(r, log, token, err, suppressed)
			}
		}
		return nil, err
	}
}

// authFailure is the payload of an authentication failure record.
type authFailure struct {
	Reason      string `json:"reason"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	Remote      string `json:"remote"`
	Fingerprint string `json:"fingerprint,omitempty"` // of the presented token
	Suppressed  int    `json:"suppressed,omitempty"`  // failures left out before this one
}

func recordAuthFailure(r *http.Request, log *audit.Log, token string, err error, suppressed int) {
	remote := r.RemoteAddr
	if host, _, e := net.SplitHostPort(remote); e == nil {
		remote = host
	}
	pl := authFailure{Reason: sextant.ErrorMessage(err), Method: r.Method, Path: r.URL.Path, Remote: remote, Suppressed: suppressed}
	if token != "" {
		pl.Fingerprint = access.Fingerprint(token)
	}
	// Queued, not awaited: the 401 does not wait for a commit. The
	// request's cancellation must not drop the record.
	log.Enqueue(context.WithoutCancel(r.Context()), sextant.AuditEvent{Kind: sextant.AuditAuth,
		RequestID: RequestID(r.Context()), Payload: pl})
}

// failureLimiter admits AuthFailuresPerSecond events per one-second window
// and counts the rest.
type failureLimiter struct {
	mu         sync.Mutex
	window     time.Time
	n          int
	suppressed int
}

// allow reports whether an event at now may be recorded and, if so, how
// many were suppressed since the last recorded one.
func (l *failureLimiter) allow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.window) >= time.Second {
		l.window, l.n = now, 0
	}
	if l.n >= AuthFailuresPerSecond {
		l.suppressed++
		return 0, false
	}
	l.n++
	s := l.suppressed
	l.suppressed = 0
	return s, true
}
