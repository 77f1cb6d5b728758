package driver

import (
	"context"

	"github.com/sextant-ai/sextant"
)

type startUsageKey struct{}

// WithStartUsage returns a context on which a provider that learns a
// call's input usage when its response starts — Anthropic's
// message_start, before any output — reports it to f. It rides on the
// context the way net/http/httptrace hooks do, so the delta stream and its
// contract (usage on the final delta) are unchanged: a caller that wants
// the figure early, such as the Messages API's own message_start, asks for
// it; every other caller is unaffected.
//
// f receives InputTokens (prompt-cache reads included) and
// CachedInputTokens. It runs on the goroutine consuming the stream, before
// the attempt's first delta; with retries and fallback it runs once per
// attempt that reports usage, so the last call describes the attempt that
// answered — unless that attempt's provider reports none. Providers that
// learn usage only at the end never call it.
func WithStartUsage(ctx context.Context, f func(sextant.Usage)) context.Context {
	return context.WithValue(ctx, startUsageKey{}, f)
}

// ReportStartUsage hands u to the function WithStartUsage set on ctx; it
// does nothing when none is set. Drivers call it.
func ReportStartUsage(ctx context.Context, u sextant.Usage) {
	if f, _ := ctx.Value(startUsageKey{}).(func(sextant.Usage)); f != nil {
		f(u)
	}
}
