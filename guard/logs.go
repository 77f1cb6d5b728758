package guard

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"
)

// LogOptions configures NewLogHandler and LogReplaceAttr. The zero value
// scans with every detector and replaces findings with [TYPE].
type LogOptions struct {
	// Scanner finds PII and secrets; nil means New(Options{}).
	Scanner *Scanner
	// HashKey, when set, replaces values with a keyed hash
	// ([EMAIL:3f2a…]) instead of [EMAIL], so log lines about the same
	// person can be joined without storing who it is.
	HashKey []byte
	// SensitiveKeys are attribute keys whose values are replaced whole
	// ("[REDACTED]"), whatever they contain; matching is case-insensitive
	// and ignores '-' and '_'. nil means DefaultSensitiveKeys.
	SensitiveKeys []string
}

// DefaultSensitiveKeys are attribute keys always redacted in logs.
func DefaultSensitiveKeys() []string {
	return []string{"password", "passwd", "secret", "token", "apikey", "authorization", "cookie", "setcookie",
		"privatekey", "credential", "credentials", "accesstoken", "refreshtoken", "clientsecret", "sessionid"}
}

type logRedactor struct {
	s         *Scanner
	r         *Redactor
	sensitive map[string]bool

	// clean remembers short values the scanner found nothing in. Log
	// lines repeat most of their values (message, method, route, model),
	// and the scanner is deterministic, so a value seen clean is clean:
	// it is returned without scanning again. Only clean values are kept,
	// so the set never holds personal data; it is emptied when full.
	mu    sync.RWMutex
	clean map[string]struct{}
}

// Bounds of logRedactor.clean.
const (
	cleanMaxLen     = 128
	cleanMaxEntries = 4096
)

func newLogRedactor(o LogOptions) *logRedactor {
	lr := &logRedactor{s: o.Scanner, sensitive: map[string]bool{}, clean: map[string]struct{}{}}
	if lr.s == nil {
		lr.s = New(Options{})
	}
	lr.r = &Redactor{Default: ActionRedact}
	if len(o.HashKey) > 0 {
		lr.r = &Redactor{Default: ActionHash, HashKey: o.HashKey}
	}
	keys := o.SensitiveKeys
	if keys == nil {
		keys = DefaultSensitiveKeys()
	}
	for _, k := range keys {
		lr.sensitive[keyNorm(k)] = true
	}
	return lr
}

// keyNorm lowercases k and drops '-', '_' and '.', so "X-Api_Key" matches
// "apikey". It runs for every attribute of every log line: a key already
// in normal form (lower-case ASCII) is returned as is, other ASCII keys
// are folded in one pass, and only non-ASCII keys take strings.ToLower.
func keyNorm(k string) string {
	i := 0
	for ; i < len(k); i++ {
		if c := k[i]; c == '-' || c == '_' || c == '.' || 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			break
		}
	}
	if i == len(k) {
		return k
	}
	b := make([]byte, i, len(k))
	copy(b, k[:i])
	ascii := true
	for ; i < len(k); i++ {
		switch c := k[i]; {
		case c == '-' || c == '_' || c == '.':
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			ascii = ascii && c < utf8.RuneSelf
			b = append(b, c)
		}
	}
	if !ascii {
		// The bytes dropped above are ASCII, so they never split a
		// multi-byte character; Unicode case folding is ToLower's.
		return strings.ToLower(string(b))
	}
	return string(b)
}

func (lr *logRedactor) text(s string) string {
	if s == "" || len(s) > cleanMaxLen {
		out, _ := lr.r.Redact(lr.s, s)
		return out
	}
	lr.mu.RLock()
	_, ok := lr.clean[s]
	lr.mu.RUnlock()
	if ok {
		return s
	}
	out, fs := lr.r.Redact(lr.s, s)
	if len(fs) == 0 {
		lr.mu.Lock()
		if len(lr.clean) >= cleanMaxEntries {
			clear(lr.clean)
		}
		lr.clean[strings.Clone(s)] = struct{}{} // not a view into a larger buffer
		lr.mu.Unlock()
	}
	return out
}

// attr redacts one attribute, recursing into groups. Values that are not
// strings are rendered with fmt and scanned when they could carry text
// (errors, Stringers, structs); numbers, bools, times and durations pass.
func (lr *logRedactor) attr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	if lr.sensitive[keyNorm(a.Key)] && a.Value.Kind() != slog.KindGroup {
		return slog.String(a.Key, "[REDACTED]")
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, lr.text(a.Value.String()))
	case slog.KindGroup:
		g := a.Value.Group()
		out := make([]slog.Attr, len(g))
		for i, x := range g {
			out[i] = lr.attr(x)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		case []byte:
			s = string(v)
		default:
			s = fmt.Sprintf("%+v", v)
		}
		return slog.String(a.Key, lr.text(s))
	}
	return a
}

// NewLogHandler wraps next so that no record reaches it with PII or
// secrets: the message and every attribute (including those added with
// With) are scanned and redacted, and attributes with sensitive keys are
// replaced whole. It is the "always on" guard for logs, traces and audit
// records: give every logger in the process this handler.
func NewLogHandler(next slog.Handler, opts LogOptions) slog.Handler {
	return &logHandler{next: next, lr: newLogRedactor(opts)}
}

type logHandler struct {
	next slog.Handler
	lr   *logRedactor
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.lr.text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.lr.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.lr.attr(a)
	}
	return &logHandler{next: h.next.WithAttrs(red), lr: h.lr}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name), lr: h.lr}
}

// LogReplaceAttr returns a function for slog.HandlerOptions.ReplaceAttr
// that redacts every attribute, the message included (the built-in text
// and JSON handlers pass the message through ReplaceAttr under
// slog.MessageKey). Use it when building a handler; use NewLogHandler to
// wrap one you did not build.
func LogReplaceAttr(opts LogOptions) func(groups []string, a slog.Attr) slog.Attr {
	lr := newLogRedactor(opts)
	return func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.SourceKey {
			return a
		}
		return lr.attr(a)
	}
}
