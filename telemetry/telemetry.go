// Package telemetry is how Sextant is observed: Prometheus metrics, an
// OpenTelemetry tracer with OTLP export, and JSON logs. It owns the
// github.com/prometheus/client_golang dependency and the OpenTelemetry SDK
// and exporters; other packages see only small recording methods, the
// OpenTelemetry trace API and log/slog.
//
//   - Metrics (NewMetrics): every metric family in one registry that is
//     never the global default, recorded with typed methods
//     (ObserveRequest, ObserveAnswer, ObserveLLMCall, ...) and served by
//     Handler at GET /metrics. Names follow Prometheus conventions
//     (sextant_ prefix, base units, _total counters); label values are
//     bounded: enumerated in code, or configured lists, or the first N
//     distinct values, with everything else recorded as "other".
//   - Tracing (NewTracing): an SDK tracer provider exporting over OTLP
//     HTTP or gRPC as the standard OTEL_* variables say
//     (TraceConfigFromEnv), off by default; W3C traceparent read by
//     Middleware and written by Transport; GenAI semantic-convention span
//     helpers (StartGenAI, EndGenAI) and RecordAnswer, which turns an
//     answer's stage timings into spans after the fact.
//   - Logs (NewLogger): slog JSON, one line per request from Middleware
//     with its id, redaction by a handler the caller passes in (the
//     guard's).
//
// Nothing here blocks a request on export: spans are batched and dropped
// when the queue is full, metrics are in-memory counters read at scrape
// time, and index statistics are read by the scrape, at most every 15 s.
package telemetry
