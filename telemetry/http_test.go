package telemetry

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/guard"
)

// logLines decodes JSON log lines.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestMiddleware(t *testing.T) {
	m := newTestMetrics(t, MetricsOptions{NoRuntime: true})
	tr, exp := memTracing(t)
	var buf bytes.Buffer
	logger := NewLogger(&buf, LogOptions{})
	ids := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/answers", func(w http.ResponseWriter, r *http.Request) {
		info := RequestFrom(r.Context())
		info.SetAnswer(sampleAnswer(), 0.00027)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: sources\n\n")
		w.(http.Flusher).Flush() // SSE still flushes through the middleware
		info.MarkFirstToken()
		io.WriteString(w, "data: hello\n\n")
	})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		RequestFrom(r.Context()).ErrorCode = sextant.EINTERNAL
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
	h := Middleware(HTTPOptions{Metrics: m, Tracing: tr, Logger: logger, TrustRequestID: true,
		NewID: func() string { ids++; return "req-" + string(rune('0'+ids)) }})(mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/answers", nil))
	if rec.Header().Get(RequestIDHeader) != "req-1" || !rec.Flushed {
		t.Errorf("request id %q, flushed %v", rec.Header().Get(RequestIDHeader), rec.Flushed)
	}
	req := httptest.NewRequest("GET", "/boom", nil)
	req.Header.Set(RequestIDHeader, "gateway-abc.123")
	h.ServeHTTP(httptest.NewRecorder(), req)
	req = httptest.NewRequest("GET", "/nowhere", nil)
	req.Header.Set(RequestIDHeader, "bad id with spaces")
	h.ServeHTTP(httptest.NewRecorder(), req)

	lines := logLines(t, &buf)
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want one per request:\n%s", len(lines), buf.String())
	}
	l := lines[0]
	for k, v := range map[string]any{"msg": "request", "level": "INFO", "request_id": "req-1", "method": "POST",
		"route": "POST /v1/answers", "status": 200.0, "assistant": "help", "model": "gpt-4o-mini", "input_tokens": 1200.0,
		"output_tokens": 150.0, "cost_usd": 0.00027} {
		if l[k] != v {
			t.Errorf("log %s = %v, want %v", k, l[k], v)
		}
	}
	spans := exp.GetSpans()
	if l["trace_id"] != spans[0].SpanContext.TraceID().String() {
		t.Errorf("log trace_id %v, span trace %s", l["trace_id"], spans[0].SpanContext.TraceID())
	}
	if _, ok := l["first_token_ms"]; !ok {
		t.Error("no first_token_ms")
	}
	if l := lines[1]; l["request_id"] != "gateway-abc.123" || l["level"] != "ERROR" || l["error"] != "internal" || l["status"] != 500.0 {
		t.Errorf("second line %v", l)
	}
	if l := lines[2]; l["request_id"] != "req-2" || l["status"] != 404.0 || l["route"] != "" {
		t.Errorf("third line %v (a malformed incoming id is replaced)", l)
	}

	if n := testutil.CollectAndCount(m.requestDuration); n != 3 {
		t.Errorf("%d request series, want 3", n)
	}
	if h := histogram(t, m, "sextant_request_duration_seconds", map[string]string{"route": "GET /boom", "code": "500"}); h.GetSampleCount() != 1 {
		t.Error("500 not recorded")
	}
	if h := histogram(t, m, "sextant_time_to_first_token_seconds", map[string]string{"assistant": "help"}); h.GetSampleCount() != 1 {
		t.Error("time to first token not recorded")
	}
	if spans[1].Status.Code.String() != "Error" {
		t.Errorf("500 span status %v", spans[1].Status)
	}
}

func TestMiddlewareServerRequestID(t *testing.T) {
	var buf bytes.Buffer
	h := Middleware(HTTPOptions{Logger: NewLogger(&buf, LogOptions{}), RequestID: func(r *http.Request) string { return "from-server" }})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := RequestFrom(r.Context()).ID; id != "from-server" {
				t.Errorf("id %q", id)
			}
		}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get(RequestIDHeader) != "" || logLines(t, &buf)[0]["request_id"] != "from-server" {
		t.Errorf("header %q, log %s", rec.Header().Get(RequestIDHeader), buf.String())
	}
}

func TestMiddlewarePanic(t *testing.T) {
	m := newTestMetrics(t, MetricsOptions{NoRuntime: true})
	h := Middleware(HTTPOptions{Metrics: m})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bug") }))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic swallowed")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	if h := histogram(t, m, "sextant_request_duration_seconds", map[string]string{"code": "500"}); h.GetSampleCount() != 1 {
		t.Error("panicking request not recorded as 500")
	}
}

// TestLoggerRedaction composes the guard's redacting handler: personal
// data is redacted, trace ids are kept.
func TestLoggerRedaction(t *testing.T) {
	tr, _ := memTracing(t)
	var buf bytes.Buffer
	logger := NewLogger(&buf, LogOptions{Redact: func(h slog.Handler) slog.Handler { return guard.NewLogHandler(h, guard.LogOptions{}) }})
	ctx, sp := tr.Tracer().Start(t.Context(), "x")
	logger.InfoContext(ctx, "question from jane.doe@example.com", slog.String("password", "hunter2"), slog.Int("n", 3))
	sp.End()
	logger.With(slog.String("user", "bob@example.org")).Warn("no span")
	lines := logLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("lines %v", lines)
	}
	if s := buf.String(); strings.Contains(s, "jane.doe@example.com") || strings.Contains(s, "hunter2") || strings.Contains(s, "bob@example.org") {
		t.Errorf("personal data or secret in the log:\n%s", s)
	}
	if lines[0]["trace_id"] != sp.SpanContext().TraceID().String() || lines[0]["span_id"] != sp.SpanContext().SpanID().String() {
		t.Errorf("trace ids %v %v, want %s", lines[0]["trace_id"], lines[0]["span_id"], sp.SpanContext().TraceID())
	}
	if lines[0]["n"] != 3.0 {
		t.Errorf("numbers changed: %v", lines[0]["n"])
	}
	if _, ok := lines[1]["trace_id"]; ok {
		t.Error("trace_id without a span")
	}
}

func TestRequestInfoHelpers(t *testing.T) {
	var nilInfo *RequestInfo
	nilInfo.MarkFirstToken()
	nilInfo.SetAnswer(sampleAnswer(), 1)
	if RequestFrom(t.Context()) != nil {
		t.Error("RequestFrom outside the middleware")
	}
	info := &RequestInfo{ID: "x"}
	ctx := WithRequest(t.Context(), info)
	time.Sleep(time.Millisecond)
	RequestFrom(ctx).MarkFirstToken()
	first := info.FirstToken
	RequestFrom(ctx).MarkFirstToken()
	if first < time.Millisecond || info.FirstToken != first {
		t.Errorf("first token %v then %v", first, info.FirstToken)
	}
	for id, ok := range map[string]bool{"abc-1.2:3_x": true, "": false, strings.Repeat("a", 65): false, "a b": false, "é": false} {
		if validID(id) != ok {
			t.Errorf("validID(%q) = %v", id, !ok)
		}
	}
	if id := randomID(); len(id) != 16 || !validID(id) {
		t.Errorf("randomID %q", id)
	}
}
