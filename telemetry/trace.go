package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/sextant-ai/sextant"
)

// OTLP protocols.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// TraceConfig configures tracing. The zero value is tracing off. cmd
// builds it from the standard OTEL_* environment variables with
// TraceConfigFromEnv; the fields mirror them.
type TraceConfig struct {
	// Exporter is "otlp" to export spans, "" or "none" for off.
	Exporter string
	// Protocol is ProtocolHTTP (default) or ProtocolGRPC.
	Protocol string
	// Endpoint is the URL spans are sent to: for HTTP the full traces URL
	// ("http://collector:4318/v1/traces"), for gRPC the server
	// ("http://collector:4317"; http means no TLS). "" = localhost on the
	// protocol's default port.
	Endpoint    string
	Insecure    bool              // no TLS, even for an https endpoint
	Headers     map[string]string // sent with every export (authentication)
	Compression string            // "gzip" or "" / "none"
	Timeout     time.Duration     // per export; 0 = 10 s

	ServiceName    string            // service.name; "" = "sextant"
	ServiceVersion string            // service.version
	Resource       map[string]string // further resource attributes

	// Sampler is always_on, always_off, traceidratio,
	// parentbased_always_on (default), parentbased_always_off or
	// parentbased_traceidratio; SamplerArg is the ratio for the ratio
	// samplers (default 1).
	Sampler    string
	SamplerArg float64

	// Batch span processor: delay between exports (0 = 5 s), queue size
	// (0 = 2048; spans beyond it are dropped, never blocking a request),
	// batch size (0 = 512), export timeout (0 = 30 s).
	BatchDelay    time.Duration
	QueueSize     int
	BatchSize     int
	ExportTimeout time.Duration

	// Propagators are the header formats read and written: "tracecontext"
	// (W3C traceparent/tracestate) and "baggage"; nil = both.
	Propagators []string
}

// Enabled reports whether c exports spans.
func (c TraceConfig) Enabled() bool { return c.Exporter == "otlp" }

// TraceConfigFromEnv reads the standard OpenTelemetry environment
// variables through getenv:
//
//	OTEL_SDK_DISABLED                    true turns tracing off whatever else is set
//	OTEL_TRACES_EXPORTER                 otlp | none; unset = otlp when an OTLP endpoint is set, else none
//	OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL http/protobuf (default) | grpc
//	OTEL_EXPORTER_OTLP_ENDPOINT          base URL (HTTP: /v1/traces is appended)
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   traces URL, used as is
//	OTEL_EXPORTER_OTLP_[TRACES_]HEADERS  key=value,key2=value2 (values URL-encoded)
//	OTEL_EXPORTER_OTLP_[TRACES_]INSECURE true = no TLS
//	OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION gzip | none
//	OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT  milliseconds
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES (key=value,...)
//	OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG
//	OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT (ms), OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE
//	OTEL_PROPAGATORS                     tracecontext,baggage (default) | none
//
// Unlike the specification's default, tracing is off unless asked for:
// Sextant runs without a collector by default. An invalid value is an
// EINVALID error naming the variable.
func TraceConfigFromEnv(getenv func(string) string) (TraceConfig, error) {
	var c TraceConfig
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	// traces-specific variables win over the general ones
	pick := func(suffix string) (string, string) {
		if v := env("OTEL_EXPORTER_OTLP_TRACES_" + suffix); v != "" {
			return "OTEL_EXPORTER_OTLP_TRACES_" + suffix, v
		}
		return "OTEL_EXPORTER_OTLP_" + suffix, env("OTEL_EXPORTER_OTLP_" + suffix)
	}
	bad := func(name, val, want string) error {
		return sextant.Errorf(sextant.EINVALID, "%s=%q: %s", name, val, want)
	}

	if v := env("OTEL_SDK_DISABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, bad("OTEL_SDK_DISABLED", v, "want true or false")
		}
		if b {
			return TraceConfig{Exporter: "none"}, nil
		}
	}
	traceEndpoint, base := env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), env("OTEL_EXPORTER_OTLP_ENDPOINT")
	switch v := strings.ToLower(env("OTEL_TRACES_EXPORTER")); v {
	case "":
		c.Exporter = "none"
		if traceEndpoint != "" || base != "" {
			c.Exporter = "otlp"
		}
	case "otlp", "none":
		c.Exporter = v
	default:
		return c, bad("OTEL_TRACES_EXPORTER", v, "want otlp or none (console, zipkin and others are not supported)")
	}

	name, v := pick("PROTOCOL")
	switch v {
	case "", ProtocolHTTP:
		c.Protocol = ProtocolHTTP
	case ProtocolGRPC:
		c.Protocol = ProtocolGRPC
	default:
		return c, bad(name, v, "want http/protobuf or grpc (http/json is not supported)")
	}

	switch {
	case traceEndpoint != "":
		if err := checkEndpoint(traceEndpoint); err != nil {
			return c, bad("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traceEndpoint, err.Error())
		}
		c.Endpoint = traceEndpoint
	case base != "":
		if err := checkEndpoint(base); err != nil {
			return c, bad("OTEL_EXPORTER_OTLP_ENDPOINT", base, err.Error())
		}
		c.Endpoint = base
		if c.Protocol == ProtocolHTTP {
			c.Endpoint = strings.TrimRight(base, "/") + "/v1/traces"
		}
	}

	if name, v := pick("HEADERS"); v != "" {
		h, err := parseKeyValues(v)
		if err != nil {
			return c, bad(name, v, err.Error())
		}
		c.Headers = h
	}
	if name, v := pick("INSECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, bad(name, v, "want true or false")
		}
		c.Insecure = b
	}
	if name, v := pick("COMPRESSION"); v != "" {
		if v != "gzip" && v != "none" {
			return c, bad(name, v, "want gzip or none")
		}
		c.Compression = v
	}
	var err error
	ms := func(name string) (time.Duration, error) {
		v := env(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, bad(name, v, "want a whole number of milliseconds")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	count := func(name string) (int, error) {
		v := env(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return 0, bad(name, v, "want a positive whole number")
		}
		return n, nil
	}
	timeoutVar, _ := pick("TIMEOUT")
	if c.Timeout, err = ms(timeoutVar); err != nil {
		return c, err
	}
	if c.BatchDelay, err = ms("OTEL_BSP_SCHEDULE_DELAY"); err != nil {
		return c, err
	}
	if c.ExportTimeout, err = ms("OTEL_BSP_EXPORT_TIMEOUT"); err != nil {
		return c, err
	}
	if c.QueueSize, err = count("OTEL_BSP_MAX_QUEUE_SIZE"); err != nil {
		return c, err
	}
	if c.BatchSize, err = count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"); err != nil {
		return c, err
	}

	if v := env("OTEL_RESOURCE_ATTRIBUTES"); v != "" {
		r, err := parseKeyValues(v)
		if err != nil {
			return c, bad("OTEL_RESOURCE_ATTRIBUTES", v, err.Error())
		}
		c.Resource = r
		c.ServiceName = r["service.name"]
	}
	if v := env("OTEL_SERVICE_NAME"); v != "" {
		c.ServiceName = v
	}

	if v := strings.ToLower(env("OTEL_TRACES_SAMPLER")); v != "" {
		switch v {
		case "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio":
			c.Sampler = v
		default:
			return c, bad("OTEL_TRACES_SAMPLER", v, "want always_on, always_off, traceidratio or their parentbased_ forms")
		}
	}
	if v := env("OTEL_TRACES_SAMPLER_ARG"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return c, bad("OTEL_TRACES_SAMPLER_ARG", v, "want a ratio between 0 and 1")
		}
		c.SamplerArg = f
	}

	if v := env("OTEL_PROPAGATORS"); v != "" {
		c.Propagators = []string{}
		for _, p := range strings.Split(v, ",") {
			switch p = strings.TrimSpace(strings.ToLower(p)); p {
			case "tracecontext", "baggage":
				c.Propagators = append(c.Propagators, p)
			case "none", "":
			default:
				return c, bad("OTEL_PROPAGATORS", v, "want tracecontext, baggage or none (b3, jaeger and others are not supported)")
			}
		}
	}
	return c, nil
}

func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return errors.New("URL has no host")
	}
	return nil
}

// parseKeyValues parses the W3C-baggage-like list OTEL_*_HEADERS and
// OTEL_RESOURCE_ATTRIBUTES use: key=value pairs separated by commas, values
// percent-encoded.
func parseKeyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %q: want key=value", part)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("entry %q: bad percent-encoding", part)
		}
		out[k] = dv
	}
	return out, nil
}

// TracingOptions are what tests and embedders may add to a TraceConfig.
type TracingOptions struct {
	// Exporter, when set, receives the spans instead of OTLP (tests use
	// the SDK's tracetest.InMemoryExporter); tracing is then on whatever
	// the config says.
	Exporter sdktrace.SpanExporter
	// Synchronous exports each span as it ends instead of in batches
	// (tests only: it puts the export on the request path).
	Synchronous bool
}

// Tracing is the process's tracer provider and propagators. A nil
// *Tracing is tracing off: its methods work and do nothing.
type Tracing struct {
	provider trace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	sdk      *sdktrace.TracerProvider // nil when off
}

// instrumentationName names Sextant's tracer.
const instrumentationName = "github.com/sextant-ai/sextant"

// NewTracing sets up tracing as c says: an SDK tracer provider with a
// batching OTLP exporter when c is enabled, a no-op provider otherwise
// (which still propagates an incoming traceparent to outgoing calls).
// Nothing global is set. Call Shutdown at exit to flush spans.
func NewTracing(ctx context.Context, c TraceConfig, o TracingOptions) (*Tracing, error) {
	t := &Tracing{prop: propagators(c.Propagators)}
	exp := o.Exporter
	if exp == nil && !c.Enabled() {
		t.provider = noop.NewTracerProvider()
		t.tracer = t.provider.Tracer(instrumentationName)
		return t, nil
	}
	if exp == nil {
		var err error
		if exp, err = newExporter(ctx, c); err != nil {
			return nil, err
		}
	}
	attrs := []attribute.KeyValue{semconv.ServiceName("sextant")}
	for k, v := range c.Resource {
		attrs = append(attrs, attribute.String(k, v))
	}
	if c.ServiceName != "" {
		attrs = append(attrs, semconv.ServiceName(c.ServiceName))
	}
	if c.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(c.ServiceVersion))
	}
	attrs = append(attrs, semconv.TelemetrySDKLanguageGo, semconv.TelemetrySDKName("opentelemetry"))
	res := resource.NewWithAttributes(semconv.SchemaURL, dedupe(attrs)...)

	var proc sdktrace.SpanProcessor
	if o.Synchronous {
		proc = sdktrace.NewSimpleSpanProcessor(exp)
	} else {
		var bo []sdktrace.BatchSpanProcessorOption
		if c.BatchDelay > 0 {
			bo = append(bo, sdktrace.WithBatchTimeout(c.BatchDelay))
		}
		if c.QueueSize > 0 {
			bo = append(bo, sdktrace.WithMaxQueueSize(c.QueueSize))
		}
		if c.BatchSize > 0 {
			bo = append(bo, sdktrace.WithMaxExportBatchSize(c.BatchSize))
		}
		if c.ExportTimeout > 0 {
			bo = append(bo, sdktrace.WithExportTimeout(c.ExportTimeout))
		}
		proc = sdktrace.NewBatchSpanProcessor(exp, bo...)
	}
	t.sdk = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(proc), sdktrace.WithSampler(sampler(c)))
	t.provider = t.sdk
	t.tracer = t.sdk.Tracer(instrumentationName)
	return t, nil
}

// dedupe keeps the last value of each attribute key, so configured
// values override defaults.
func dedupe(attrs []attribute.KeyValue) []attribute.KeyValue {
	seen := map[attribute.Key]int{}
	var out []attribute.KeyValue
	for _, a := range attrs {
		if i, ok := seen[a.Key]; ok {
			out[i] = a
			continue
		}
		seen[a.Key] = len(out)
		out = append(out, a)
	}
	return out
}

func newExporter(ctx context.Context, c TraceConfig) (sdktrace.SpanExporter, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var client otlptrace.Client
	switch c.Protocol {
	case "", ProtocolHTTP:
		ep := c.Endpoint
		if ep == "" {
			ep = "http://localhost:4318/v1/traces"
		}
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(ep), otlptracehttp.WithTimeout(timeout)}
		if c.Insecure || strings.HasPrefix(ep, "http://") {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(c.Headers))
		}
		if c.Compression == "gzip" {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		} else {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
		}
		client = otlptracehttp.NewClient(opts...)
	case ProtocolGRPC:
		ep := c.Endpoint
		if ep == "" {
			ep = "http://localhost:4317"
		}
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(ep), otlptracegrpc.WithTimeout(timeout)}
		if c.Insecure || strings.HasPrefix(ep, "http://") {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(c.Headers))
		}
		if c.Compression == "gzip" {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		client = otlptracegrpc.NewClient(opts...)
	default:
		return nil, sextant.Errorf(sextant.EINVALID, "tracing: protocol %q: want http/protobuf or grpc", c.Protocol)
	}
	// New connects lazily (gRPC) or not at all (HTTP): an unreachable
	// collector costs dropped spans, never a failed start.
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "tracing: OTLP exporter for %s: %w", c.Endpoint, err)
	}
	return exp, nil
}

func sampler(c TraceConfig) sdktrace.Sampler {
	ratio := c.SamplerArg
	if ratio == 0 && !strings.HasSuffix(c.Sampler, "traceidratio") {
		ratio = 1
	}
	switch c.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

func propagators(names []string) propagation.TextMapPropagator {
	if names == nil {
		names = []string{"tracecontext", "baggage"}
	}
	var ps []propagation.TextMapPropagator
	if slices.Contains(names, "tracecontext") {
		ps = append(ps, propagation.TraceContext{})
	}
	if slices.Contains(names, "baggage") {
		ps = append(ps, propagation.Baggage{})
	}
	return propagation.NewCompositeTextMapPropagator(ps...)
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.sdk != nil }

// Tracer is Sextant's tracer; a no-op tracer when tracing is off.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return noop.NewTracerProvider().Tracer(instrumentationName)
	}
	return t.tracer
}

// Provider is the tracer provider, for libraries that take one.
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// Propagator reads and writes the configured trace headers.
func (t *Tracing) Propagator() propagation.TextMapPropagator {
	if t == nil {
		return propagation.NewCompositeTextMapPropagator()
	}
	return t.prop
}

// Extract returns ctx carrying the remote span context of h's traceparent
// (and baggage), if any.
func (t *Tracing) Extract(ctx context.Context, h http.Header) context.Context {
	if t == nil {
		return ctx
	}
	return t.prop.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject writes ctx's span context into h as traceparent (and baggage).
func (t *Tracing) Inject(ctx context.Context, h http.Header) {
	if t == nil {
		return
	}
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// ForceFlush exports the spans ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	return t.sdk.ForceFlush(ctx)
}

// Shutdown flushes and stops the exporter; spans started later are
// dropped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}
