package telemetry

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// LogOptions configures NewLogger. The zero value logs at Info without
// redaction.
type LogOptions struct {
	Level slog.Leveler // nil = slog.LevelInfo
	// Redact wraps the JSON handler so no record reaches it with personal
	// data or secrets; cmd passes the guard's redacting handler:
	//
	//	func(h slog.Handler) slog.Handler { return guard.NewLogHandler(h, guard.LogOptions{}) }
	//
	// nil = no redaction.
	Redact func(slog.Handler) slog.Handler
	// AddSource adds the file:line of the logging call.
	AddSource bool
}

// NewLogger returns a logger writing one JSON object per line to w. Every
// record logged with a context carrying a span gets its trace_id and
// span_id, added after redaction (they are random identifiers, not data).
func NewLogger(w io.Writer, o LogOptions) *slog.Logger {
	var h slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: o.Level, AddSource: o.AddSource})
	h = traceHandler{h}
	if o.Redact != nil {
		h = o.Redact(h)
	}
	return slog.New(h)
}

// traceHandler adds the trace and span ids of the record's context.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
