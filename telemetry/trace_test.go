package telemetry

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sextant-ai/sextant"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestTraceConfigFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want TraceConfig
	}{
		{"off by default", nil, TraceConfig{Exporter: "none", Protocol: ProtocolHTTP}},
		{"endpoint turns it on", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
			TraceConfig{Exporter: "otlp", Protocol: ProtocolHTTP, Endpoint: "http://collector:4318/v1/traces"}},
		{"grpc keeps the base", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			TraceConfig{Exporter: "otlp", Protocol: ProtocolGRPC, Endpoint: "https://collector:4317"}},
		{"traces variables win", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:9999/custom",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
			"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=s%3Dcret, x-tenant = acme ",
			"OTEL_EXPORTER_OTLP_TIMEOUT": "1000", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500",
			"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "true",
		}, TraceConfig{Exporter: "otlp", Protocol: ProtocolHTTP, Endpoint: "http://b:9999/custom",
			Headers: map[string]string{"api-key": "s=cret", "x-tenant": "acme"}, Timeout: 2500 * time.Millisecond,
			Compression: "gzip", Insecure: true}},
		{"exporter none wins over an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			TraceConfig{Exporter: "none", Protocol: ProtocolHTTP, Endpoint: "http://c:4318/v1/traces"}},
		{"explicit otlp without endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, TraceConfig{Exporter: "otlp", Protocol: ProtocolHTTP}},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, TraceConfig{Exporter: "none"}},
		{"resource and service", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,deployment.environment=prod",
			"OTEL_SERVICE_NAME": "sextant-eu", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25",
			"OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_BSP_MAX_QUEUE_SIZE": "4096", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "256",
			"OTEL_BSP_EXPORT_TIMEOUT": "3000", "OTEL_PROPAGATORS": "tracecontext"},
			TraceConfig{Exporter: "none", Protocol: ProtocolHTTP, ServiceName: "sextant-eu",
				Resource: map[string]string{"service.name": "from-attrs", "deployment.environment": "prod"},
				Sampler:  "parentbased_traceidratio", SamplerArg: 0.25, BatchDelay: 500 * time.Millisecond, QueueSize: 4096,
				BatchSize: 256, ExportTimeout: 3 * time.Second, Propagators: []string{"tracecontext"}}},
		{"propagators none", map[string]string{"OTEL_PROPAGATORS": "none"}, TraceConfig{Exporter: "none", Protocol: ProtocolHTTP, Propagators: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TraceConfigFromEnv(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	for _, bad := range []map[string]string{
		{"OTEL_SDK_DISABLED": "maybe"},
		{"OTEL_TRACES_EXPORTER": "zipkin"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://"},
		{"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
		{"OTEL_EXPORTER_OTLP_HEADERS": "a=%zz"},
		{"OTEL_EXPORTER_OTLP_INSECURE": "yes please"},
		{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
		{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"},
		{"OTEL_BSP_MAX_QUEUE_SIZE": "0"},
		{"OTEL_TRACES_SAMPLER": "sometimes"},
		{"OTEL_TRACES_SAMPLER_ARG": "1.5"},
		{"OTEL_PROPAGATORS": "b3"},
		{"OTEL_RESOURCE_ATTRIBUTES": "=x"},
	} {
		_, err := TraceConfigFromEnv(envOf(bad))
		var name string
		for k := range bad {
			name = k
		}
		if sextant.ErrorCode(err) != sextant.EINVALID || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v, want invalid naming %s", bad, err, name)
		}
	}
}

func FuzzTraceConfigFromEnv(f *testing.F) {
	f.Add("a=1,b=2", "service.name=x", "http://h:1", "500")
	f.Add("k=%20v", "a=%zz", "https://[::1]:4317/x", "-1")
	f.Add(",,=,", "=", "http://", "")
	f.Fuzz(func(t *testing.T, headers, resource, endpoint, delay string) {
		c, err := TraceConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": headers,
			"OTEL_RESOURCE_ATTRIBUTES": resource, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": delay}))
		if err != nil {
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		for k := range c.Headers {
			if k == "" || strings.ContainsAny(k, ",=") {
				t.Fatalf("bad header key %q from %q", k, headers)
			}
		}
		if c.BatchDelay < 0 {
			t.Fatalf("negative delay from %q", delay)
		}
		if strings.TrimSpace(endpoint) != "" && c.Endpoint == "" {
			t.Fatalf("endpoint %q dropped", endpoint)
		}
	})
}

// memTracing returns tracing into an in-memory exporter.
func memTracing(t testing.TB) (*Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(context.Background(), TraceConfig{}, TracingOptions{Exporter: exp, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	return tr, exp
}

func attrsOf(s tracetest.SpanStub) map[string]any {
	m := map[string]any{}
	for _, a := range s.Attributes {
		m[string(a.Key)] = a.Value.AsInterface()
	}
	return m
}

func byName(spans tracetest.SpanStubs) map[string]tracetest.SpanStub {
	m := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		m[s.Name] = s
	}
	return m
}

func TestRecordAnswer(t *testing.T) {
	tr, exp := memTracing(t)
	ctx, req := tr.Tracer().Start(context.Background(), "POST /v1/answers")
	a := sampleAnswer()
	RecordAnswer(ctx, tr.Tracer(), a)
	req.End()

	spans := byName(exp.GetSpans())
	if len(spans) != 2+len(a.Timings) {
		t.Fatalf("%d spans: %v", len(spans), spans)
	}
	agent := spans["invoke_agent help"]
	if agent.Parent.SpanID() != req.SpanContext().SpanID() {
		t.Error("answer span is not a child of the request span")
	}
	if !agent.StartTime.Equal(a.CreatedAt) {
		t.Errorf("answer span starts at %v, want %v", agent.StartTime, a.CreatedAt)
	}
	chat := spans["chat gpt-4o-mini"]
	if chat.Parent.SpanID() != agent.SpanContext.SpanID() || chat.SpanKind != trace.SpanKindClient {
		t.Errorf("chat span parent %v kind %v", chat.Parent.SpanID(), chat.SpanKind)
	}
	wantChat := map[string]any{
		"gen_ai.operation.name":                "chat",
		"gen_ai.provider.name":                 "openai",
		"gen_ai.request.model":                 "gpt-4o-mini",
		"gen_ai.response.model":                "gpt-4o-mini-2024-07-18",
		"gen_ai.request.temperature":           0.2,
		"gen_ai.request.max_tokens":            int64(512),
		"gen_ai.request.stream":                true,
		"gen_ai.conversation.id":               "s1",
		"gen_ai.response.finish_reasons":       []string{"stop"},
		"gen_ai.usage.input_tokens":            int64(1200),
		"gen_ai.usage.output_tokens":           int64(150),
		"gen_ai.usage.cache_read.input_tokens": int64(200),
		"sextant.stage":                        "generate",
	}
	if diff := cmp.Diff(wantChat, attrsOf(chat)); diff != "" {
		t.Errorf("chat attributes (-want +got):\n%s", diff)
	}
	if got := attrsOf(agent); got["gen_ai.operation.name"] != "invoke_agent" || got["gen_ai.agent.name"] != "help" || got["sextant.sources"] != int64(4) {
		t.Errorf("agent attributes %v", got)
	}
	if got := attrsOf(spans["retrieval"]); got["gen_ai.operation.name"] != "retrieval" || got["sextant.sources"] != int64(4) {
		t.Errorf("retrieval attributes %v", got)
	}
	// Stages follow each other and fill the answer span.
	at := a.CreatedAt
	for _, st := range a.Timings {
		var s tracetest.SpanStub
		for _, c := range exp.GetSpans() {
			if attrsOf(c)["sextant.stage"] == st.Stage {
				s = c
			}
		}
		if !s.StartTime.Equal(at) || s.EndTime.Sub(s.StartTime) != st.Duration || s.Parent.SpanID() != agent.SpanContext.SpanID() {
			t.Errorf("stage %s: %v..%v parent %v", st.Stage, s.StartTime, s.EndTime, s.Parent.SpanID())
		}
		at = at.Add(st.Duration)
	}
	if !agent.EndTime.Equal(at) {
		t.Errorf("answer span ends at %v, want %v", agent.EndTime, at)
	}
}

func TestGenAISpanError(t *testing.T) {
	tr, exp := memTracing(t)
	_, sp := StartGenAI(context.Background(), tr.Tracer(), GenAIRequest{Operation: OpEmbeddings, Provider: GenAIProvider("Mistral"), Model: "mistral-embed"})
	EndGenAI(sp, GenAIResponse{Err: sextant.Errorf(sextant.ERATELIMIT, "quota of key sk-123 spent")})
	s := exp.GetSpans()[0]
	if s.Name != "embeddings mistral-embed" || s.Status.Code != codes.Error || s.Status.Description != "rate_limited" {
		t.Errorf("span %q status %+v", s.Name, s.Status)
	}
	got := attrsOf(s)
	if got["error.type"] != "rate_limited" || got["gen_ai.provider.name"] != "mistral_ai" {
		t.Errorf("attributes %v", got)
	}
	for _, ev := range s.Events {
		t.Errorf("event %q recorded: error messages must stay off spans", ev.Name)
	}
}

// TestPropagation: a traceparent on an incoming request is continued by
// the server span, and an outbound call made while handling it carries
// the same trace with the client span as parent.
func TestPropagation(t *testing.T) {
	tr, exp := memTracing(t)
	var gotParent string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotParent = r.Header.Get("traceparent")
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	client := &http.Client{Transport: tr.Transport(nil)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/answers", func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "POST", upstream.URL+"/v1/chat/completions?key=secret", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	h := Middleware(HTTPOptions{Tracing: tr})(mux)
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req := httptest.NewRequest("POST", "/v1/answers", nil)
	req.Header.Set("traceparent", incoming)
	h.ServeHTTP(httptest.NewRecorder(), req)

	spans := byName(exp.GetSpans())
	server, client2 := spans["POST /v1/answers"], spans["POST"]
	if server.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || server.Parent.SpanID().String() != "00f067aa0ba902b7" || !server.Parent.IsRemote() {
		t.Errorf("server span trace %s parent %s: want the incoming trace continued", server.SpanContext.TraceID(), server.Parent.SpanID())
	}
	if server.SpanKind != trace.SpanKindServer || attrsOf(server)["http.route"] != "/v1/answers" || attrsOf(server)["http.response.status_code"] != int64(200) {
		t.Errorf("server span %v %v", server.SpanKind, attrsOf(server))
	}
	if client2.Parent.SpanID() != server.SpanContext.SpanID() || client2.SpanKind != trace.SpanKindClient {
		t.Errorf("client span parent %s, want server span %s", client2.Parent.SpanID(), server.SpanContext.SpanID())
	}
	if u := attrsOf(client2)["url.full"]; strings.Contains(u.(string), "secret") {
		t.Errorf("url.full %q keeps the query", u)
	}
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + client2.SpanContext.SpanID().String() + "-01"
	if gotParent != want {
		t.Errorf("outbound traceparent %q, want %q", gotParent, want)
	}
}

// TestPropagationTracingOff: with tracing off, an incoming trace is still
// passed on to providers unchanged, and no span is made.
func TestPropagationTracingOff(t *testing.T) {
	tr, err := NewTracing(context.Background(), TraceConfig{}, TracingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Fatal("tracing on with a zero config")
	}
	var got string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("traceparent") }))
	defer upstream.Close()
	client := &http.Client{Transport: tr.Transport(nil)}
	h := Middleware(HTTPOptions{Tracing: tr})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", upstream.URL, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}))
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("traceparent", incoming)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got != incoming {
		t.Errorf("outbound traceparent %q, want the incoming %q", got, incoming)
	}
	var nilT *Tracing
	if nilT.Transport(nil) != http.DefaultTransport || nilT.Enabled() {
		t.Error("nil tracing")
	}
}

// otlpReceiver is an in-process OTLP/HTTP traces endpoint decoding the
// protobuf requests it gets.
type otlpReceiver struct {
	mu      sync.Mutex
	ctypes  []string
	headers []http.Header
	spans   []string // span names
	attrs   map[string]string
}

func (o *otlpReceiver) record(req *coltracepb.ExportTraceServiceRequest) {
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			o.attrs["resource:"+a.GetKey()] = a.GetValue().GetStringValue()
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				o.spans = append(o.spans, s.GetName())
				for _, a := range s.GetAttributes() {
					o.attrs[a.GetKey()] = a.GetValue().String()
				}
			}
		}
	}
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ctypes = append(o.ctypes, r.URL.Path+" "+r.Header.Get("Content-Type"))
	o.headers = append(o.headers, r.Header.Clone())
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.record(&req)
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(b)
}

func TestOTLPHTTPExport(t *testing.T) {
	rcv := &otlpReceiver{attrs: map[string]string{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg, err := TraceConfigFromEnv(envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20t0k",
		"OTEL_SERVICE_NAME": "sextant-test", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci",
	}))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTracing(t.Context(), cfg, TracingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, root := tr.Tracer().Start(t.Context(), "POST /v1/answers")
	RecordAnswer(ctx, tr.Tracer(), sampleAnswer())
	root.End()
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.ctypes) == 0 || rcv.ctypes[0] != "/v1/traces application/x-protobuf" {
		t.Fatalf("requests %v, want POST /v1/traces with application/x-protobuf", rcv.ctypes)
	}
	if got := rcv.headers[0].Get("Authorization"); got != "Bearer t0k" {
		t.Errorf("authorization header %q", got)
	}
	if len(rcv.spans) != 12 {
		t.Errorf("%d spans received: %v", len(rcv.spans), rcv.spans)
	}
	for k, v := range map[string]string{"resource:service.name": "sextant-test", "resource:deployment.environment": "ci"} {
		if rcv.attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, rcv.attrs[k], v)
		}
	}
	if !strings.Contains(rcv.attrs["gen_ai.request.model"], "gpt-4o-mini") {
		t.Errorf("gen_ai.request.model = %q", rcv.attrs["gen_ai.request.model"])
	}
}

type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	rcv *otlpReceiver
}

func (g *grpcReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.rcv.mu.Lock()
	g.rcv.record(req)
	g.rcv.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func TestOTLPGRPCExport(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &otlpReceiver{attrs: map[string]string{}}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, &grpcReceiver{rcv: rcv})
	go gs.Serve(lis)
	defer gs.Stop()
	cfg, err := TraceConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + lis.Addr().String(),
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTracing(t.Context(), cfg, TracingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, sp := StartGenAI(t.Context(), tr.Tracer(), GenAIRequest{Provider: "anthropic", Model: "claude-haiku-4-5", MaxTokens: 100})
	EndGenAI(sp, GenAIResponse{Model: "claude-haiku-4-5-20251001", Usage: sextant.Usage{InputTokens: 10, OutputTokens: 3}})
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if !cmp.Equal(rcv.spans, []string{"chat claude-haiku-4-5"}) || !strings.Contains(rcv.attrs["gen_ai.usage.output_tokens"], "3") {
		t.Errorf("received %v %v", rcv.spans, rcv.attrs)
	}
}

// TestSamplerAndResource covers the sampler choices.
func TestSampler(t *testing.T) {
	for _, tt := range []struct {
		s      string
		arg    float64
		sample bool
	}{{"", 0, true}, {"always_off", 0, false}, {"traceidratio", 0, false}, {"traceidratio", 1, true}, {"parentbased_always_off", 0, false}} {
		p := sampler(TraceConfig{Sampler: tt.s, SamplerArg: tt.arg}).ShouldSample(sdktrace.SamplingParameters{
			ParentContext: context.Background(), TraceID: trace.TraceID{1, 2, 3}, Name: "x"})
		if got := p.Decision == sdktrace.RecordAndSample; got != tt.sample {
			t.Errorf("%s(%v) samples %v, want %v", tt.s, tt.arg, got, tt.sample)
		}
	}
	if got := dedupe([]attribute.KeyValue{attribute.String("a", "1"), attribute.String("b", "2"), attribute.String("a", "3")}); len(got) != 2 || got[0].Value.AsString() != "3" {
		t.Errorf("dedupe %v", got)
	}
}
