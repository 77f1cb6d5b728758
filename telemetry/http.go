package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sextant-ai/sextant"
)

// RequestIDHeader carries a request's id in both directions.
const RequestIDHeader = "X-Request-Id"

// HTTPOptions configures Middleware. Every part is optional.
type HTTPOptions struct {
	Metrics *Metrics     // request latency and time to first token; nil = none
	Tracing *Tracing     // a server span per request, traceparent read; nil = none
	Logger  *slog.Logger // one line per request; nil = none
	// NewID makes request ids; nil = 16 random hex digits.
	NewID func() string
	// TrustRequestID takes the id from an incoming X-Request-Id header
	// when it is well-formed (up to 64 letters, digits and -_.:), so a
	// gateway in front can correlate; otherwise a new one is made.
	TrustRequestID bool
	// RequestID, when set, gives the id of a request whose server
	// assigned one already (web.RequestID); the middleware then sets no
	// header of its own.
	RequestID func(*http.Request) string
}

// RequestInfo is what the telemetry middleware knows of one request.
// Handlers fill in what only they know (the assistant, model, usage) on
// the request's goroutine; the middleware reads it once the handler has
// returned, for the metrics and the request's log line.
type RequestInfo struct {
	ID        string // the request id (also in the X-Request-Id response header)
	Route     string // the mux pattern that served it; set after the handler returned
	Assistant string
	Model     string
	Usage     sextant.Usage
	CostUSD   float64
	Cache     string // response-cache hit kind, if any
	// ErrorCode is the sextant error code the handler answered with, if
	// any (it goes to the log line).
	ErrorCode string
	// FirstToken is the time from arrival to the first answer token sent;
	// set it with MarkFirstToken.
	FirstToken time.Duration

	start time.Time
}

type infoKey struct{}

// RequestFrom returns the request's RequestInfo, or nil outside the
// middleware.
func RequestFrom(ctx context.Context) *RequestInfo {
	i, _ := ctx.Value(infoKey{}).(*RequestInfo)
	return i
}

// WithRequest returns ctx carrying info, for code that runs a request
// outside the middleware (tests, the CLI).
func WithRequest(ctx context.Context, info *RequestInfo) context.Context {
	if info.start.IsZero() {
		info.start = time.Now()
	}
	return context.WithValue(ctx, infoKey{}, info)
}

// MarkFirstToken records now as the time the first answer token was sent;
// later calls keep the first. Safe on a nil *RequestInfo.
func (i *RequestInfo) MarkFirstToken() {
	if i != nil && i.FirstToken == 0 {
		i.FirstToken = max(time.Since(i.start), 1)
	}
}

// SetAnswer copies an answer's assistant, model, usage and cache outcome,
// with the cost the caller computed.
func (i *RequestInfo) SetAnswer(a *sextant.Answer, costUSD float64) {
	if i == nil || a == nil {
		return
	}
	i.Assistant, i.Model, i.Usage, i.Cache, i.CostUSD = a.Assistant, a.Model, a.Usage, a.Cache, costUSD
}

// SetRecord copies a usage record's assistant, model, usage, cost and
// cache outcome.
func (i *RequestInfo) SetRecord(r *sextant.UsageRecord) {
	if i == nil || r == nil {
		return
	}
	i.Assistant, i.Model, i.Usage, i.Cache, i.CostUSD = r.Assistant, r.Model, r.Usage, r.Cache, r.CostUSD
}

// Middleware returns HTTP middleware that, for every request: assigns a
// request id (RequestFrom, X-Request-Id response header); continues the
// caller's trace from its traceparent header and opens a server span
// "METHOD ROUTE" (route = the http.ServeMux pattern that matched); and
// when the handler returns, records the request's latency (and time to
// first token) in Metrics and writes one JSON log line with the id,
// route, status, duration, assistant, model, tokens, cost and trace id.
//
// Wrap the *http.ServeMux (not single handlers) so the route pattern is
// known. The response writer passed on keeps http.Flusher (SSE) and
// supports http.ResponseController through Unwrap.
func Middleware(o HTTPOptions) func(http.Handler) http.Handler {
	newID := o.NewID
	if newID == nil {
		newID = randomID
	}
	tracer := o.Tracing.Tracer()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := &RequestInfo{start: time.Now()}
			switch id := r.Header.Get(RequestIDHeader); {
			case o.RequestID != nil:
				info.ID = o.RequestID(r)
			case o.TrustRequestID && validID(id):
				info.ID = id
			default:
				info.ID = newID()
			}
			if o.RequestID == nil {
				w.Header().Set(RequestIDHeader, info.ID)
			}
			ctx := context.WithValue(r.Context(), infoKey{}, info)
			ctx = o.Tracing.Extract(ctx, r.Header)
			ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
				semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPathKey.String(r.URL.Path),
				attrRequest.String(info.ID)))
			rec := &recorder{ResponseWriter: w}
			r = r.WithContext(ctx)
			defer func() {
				p := recover()
				if p != nil && rec.status == 0 {
					rec.status = http.StatusInternalServerError
				}
				finish(o, r, rec, info, span)
				if p != nil {
					panic(p)
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

func finish(o HTTPOptions, r *http.Request, rec *recorder, info *RequestInfo, span trace.Span) {
	d := time.Since(info.start)
	status := rec.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	info.Route = r.Pattern
	route := info.Route
	if _, path, ok := strings.Cut(route, " "); ok {
		route = path // "POST /v1/x" → "/v1/x": the method is its own attribute
	}
	if span.IsRecording() {
		if route != "" {
			span.SetName(r.Method + " " + route)
			span.SetAttributes(semconv.HTTPRouteKey.String(route))
		}
		span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(status))
		if info.Assistant != "" {
			span.SetAttributes(semconv.GenAIAgentNameKey.String(info.Assistant))
		}
		if status >= 500 {
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	}
	span.End()
	if o.Metrics != nil {
		o.Metrics.ObserveRequest(info.Route, info.Assistant, info.Model, status, d)
		if info.FirstToken > 0 {
			o.Metrics.ObserveFirstToken(info.Route, info.Assistant, info.Model, info.FirstToken)
		}
	}
	if o.Logger != nil {
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		attrs := make([]slog.Attr, 0, 16)
		attrs = append(attrs,
			slog.String("request_id", info.ID),
			slog.String("method", r.Method),
			slog.String("route", info.Route),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int64("bytes", rec.bytes))
		if info.Assistant != "" {
			attrs = append(attrs, slog.String("assistant", info.Assistant))
		}
		if info.Model != "" {
			attrs = append(attrs, slog.String("model", info.Model))
		}
		if info.Usage.InputTokens > 0 || info.Usage.OutputTokens > 0 {
			attrs = append(attrs, slog.Int("input_tokens", info.Usage.InputTokens), slog.Int("output_tokens", info.Usage.OutputTokens))
		}
		if info.CostUSD > 0 {
			attrs = append(attrs, slog.Float64("cost_usd", info.CostUSD))
		}
		if info.Cache != "" {
			attrs = append(attrs, slog.String("cache", info.Cache))
		}
		if info.FirstToken > 0 {
			attrs = append(attrs, slog.Float64("first_token_ms", float64(info.FirstToken.Microseconds())/1000))
		}
		if info.ErrorCode != "" {
			attrs = append(attrs, slog.String("error", info.ErrorCode))
		}
		o.Logger.LogAttrs(r.Context(), level, "request", attrs...)
	}
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b[:])
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// recorder notes the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client (server-sent events).
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Transport wraps base (nil = http.DefaultTransport) for outbound calls
// (model providers, webhooks): each request gets a client span and
// carries the caller's trace in a traceparent header. With tracing off,
// an incoming traceparent is still passed on unchanged.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if t == nil {
		return base
	}
	return &transport{base: base, t: t}
}

type transport struct {
	base http.RoundTripper
	t    *Tracing
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	host, port := req.URL.Hostname(), req.URL.Port()
	attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(req.Method), semconv.ServerAddressKey.String(host)}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPortKey.Int(p))
	}
	// The URL without its query: queries may carry keys.
	attrs = append(attrs, semconv.URLFullKey.String(req.URL.Scheme+"://"+req.URL.Host+req.URL.Path))
	ctx, span := tr.t.tracer.Start(req.Context(), req.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	r2 := req.Clone(ctx)
	tr.t.prop.Inject(ctx, propagation.HeaderCarrier(r2.Header))
	resp, err := tr.base.RoundTrip(r2)
	if err != nil {
		if span.IsRecording() {
			typ := "transport"
			var ne net.Error
			if ctx.Err() != nil {
				typ = "canceled"
			} else if errors.As(err, &ne) && ne.Timeout() {
				typ = "timeout"
			}
			span.SetAttributes(semconv.ErrorTypeKey.String(typ))
			span.SetStatus(codes.Error, typ)
		}
		span.End()
		return nil, err
	}
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(resp.StatusCode))
		if resp.StatusCode >= 400 {
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
			span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
		}
	}
	// The span lasts until the body is read or closed: streamed responses
	// (SSE) are part of the call.
	resp.Body = &spanBody{ReadCloser: resp.Body, span: span}
	return resp, nil
}

// spanBody ends its span at EOF, on a read error or at Close.
type spanBody struct {
	io.ReadCloser
	span trace.Span
	once sync.Once
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(func() { b.span.End() })
	}
	return n, err
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.span.End() })
	return err
}
