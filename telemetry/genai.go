package telemetry

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sextant-ai/sextant"
)

// GenAI operation names (gen_ai.operation.name).
const (
	OpChat        = "chat"
	OpEmbeddings  = "embeddings"
	OpRetrieval   = "retrieval"
	OpInvokeAgent = "invoke_agent"
	OpExecuteTool = "execute_tool"
)

// GenAIRequest describes a model call for its span, in the OpenTelemetry
// GenAI semantic conventions. Prompts and completions are never recorded
// on spans: they may hold personal data.
type GenAIRequest struct {
	Operation      string // gen_ai.operation.name; "" = chat
	Provider       string // gen_ai.provider.name (see GenAIProvider)
	Model          string // gen_ai.request.model
	Temperature    *float64
	TopP           *float64
	MaxTokens      int // 0 = not set
	Seed           *int64
	Stream         bool
	ConversationID string // gen_ai.conversation.id
}

// GenAIResponse is what the call returned.
type GenAIResponse struct {
	Model         string   // gen_ai.response.model
	ID            string   // gen_ai.response.id
	FinishReasons []string // gen_ai.response.finish_reasons
	Usage         sextant.Usage
	Err           error // sets error.type to the error code and the span status to Error
}

// GenAIProvider maps a driver or provider name to its well-known
// gen_ai.provider.name value ("gemini" → "gcp.gemini", "mistral" →
// "mistral_ai", "bedrock" → "aws.bedrock", "azure" → "azure.ai.openai");
// other names pass through lower-cased.
func GenAIProvider(name string) string {
	n := strings.ToLower(name)
	switch n {
	case "gemini", "google":
		return "gcp.gemini"
	case "vertex", "vertexai", "vertex_ai":
		return "gcp.vertex_ai"
	case "mistral", "mistralai":
		return "mistral_ai"
	case "bedrock":
		return "aws.bedrock"
	case "azure", "azure-openai", "azure_openai":
		return "azure.ai.openai"
	case "xai", "grok":
		return "x_ai"
	}
	return n
}

// StartGenAI starts a client span for a model call, named
// "{operation} {model}" as the conventions ask, with the request
// attributes set. End it with EndGenAI.
func StartGenAI(ctx context.Context, tracer trace.Tracer, req GenAIRequest, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	op := req.Operation
	if op == "" {
		op = OpChat
	}
	name := op
	if req.Model != "" {
		name += " " + req.Model
	}
	opts = append(opts, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(genAIRequestAttrs(op, req)...))
	return tracer.Start(ctx, name, opts...)
}

func genAIRequestAttrs(op string, req GenAIRequest) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs, semconv.GenAIOperationNameKey.String(op))
	if req.Provider != "" {
		attrs = append(attrs, semconv.GenAIProviderNameKey.String(req.Provider))
	}
	if req.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(req.Model))
	}
	if req.Temperature != nil {
		attrs = append(attrs, semconv.GenAIRequestTemperatureKey.Float64(*req.Temperature))
	}
	if req.TopP != nil {
		attrs = append(attrs, semconv.GenAIRequestTopPKey.Float64(*req.TopP))
	}
	if req.MaxTokens > 0 {
		attrs = append(attrs, semconv.GenAIRequestMaxTokensKey.Int(req.MaxTokens))
	}
	if req.Seed != nil {
		attrs = append(attrs, semconv.GenAIRequestSeedKey.Int64(*req.Seed))
	}
	if req.Stream {
		attrs = append(attrs, semconv.GenAIRequestStreamKey.Bool(true))
	}
	if req.ConversationID != "" {
		attrs = append(attrs, semconv.GenAIConversationIDKey.String(req.ConversationID))
	}
	return attrs
}

// EndGenAI sets the response attributes on span and ends it.
func EndGenAI(span trace.Span, resp GenAIResponse, opts ...trace.SpanEndOption) {
	if span.IsRecording() {
		span.SetAttributes(genAIResponseAttrs(resp)...)
		if resp.Err != nil {
			setError(span, resp.Err)
		}
	}
	span.End(opts...)
}

func genAIResponseAttrs(resp GenAIResponse) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 6)
	if resp.Model != "" {
		attrs = append(attrs, semconv.GenAIResponseModelKey.String(resp.Model))
	}
	if resp.ID != "" {
		attrs = append(attrs, semconv.GenAIResponseIDKey.String(resp.ID))
	}
	if len(resp.FinishReasons) > 0 {
		attrs = append(attrs, semconv.GenAIResponseFinishReasonsKey.StringSlice(resp.FinishReasons))
	}
	attrs = append(attrs, semconv.GenAIUsageInputTokensKey.Int(resp.Usage.InputTokens),
		semconv.GenAIUsageOutputTokensKey.Int(resp.Usage.OutputTokens))
	if resp.Usage.CachedInputTokens > 0 {
		attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokensKey.Int(resp.Usage.CachedInputTokens))
	}
	return attrs
}

// setError marks span failed with the error's code only: messages may
// quote user input.
func setError(span trace.Span, err error) {
	code := sextant.ErrorCode(err)
	span.SetAttributes(semconv.ErrorTypeKey.String(code))
	span.SetStatus(codes.Error, code)
}

// Sextant's own span attributes.
const (
	attrAnswerID = attribute.Key("sextant.answer.id")
	attrCache    = attribute.Key("sextant.cache")
	attrRefusal  = attribute.Key("sextant.refusal")
	attrSources  = attribute.Key("sextant.sources")
	attrStage    = attribute.Key("sextant.stage")
	attrTemplate = attribute.Key("sextant.template")
	attrRequest  = attribute.Key("sextant.request.id")
)

// RecordAnswer records a finished answer as spans under ctx's span, after
// the fact, from the answer's stage timings: an "invoke_agent ASSISTANT"
// span from Answer.CreatedAt over the stages, with one child per stage in
// order. The "generate" stage is a GenAI "chat MODEL" client span with the
// request and usage attributes; "retrieve" is a "retrieval" span with the
// number of sources. Stages run one after another, so each child starts
// where the previous one ended; gaps between stages are not measured and
// are left out.
//
// It lets the answer pipeline stay free of tracing: wire it into the
// pipeline's Done hook. Outbound provider calls traced live (Transport)
// appear as siblings of these spans under the request span.
func RecordAnswer(ctx context.Context, tracer trace.Tracer, a *sextant.Answer) {
	if a == nil {
		return
	}
	start := a.CreatedAt
	if start.IsZero() {
		var total time.Duration
		for _, t := range a.Timings {
			total += t.Duration
		}
		start = time.Now().Add(-total)
	}
	provider, served := splitServed(a.Served)
	agentAttrs := []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String(OpInvokeAgent),
		semconv.GenAIAgentNameKey.String(a.Assistant),
		attrAnswerID.String(a.ID),
		attrSources.Int(len(a.Sources)),
		semconv.GenAIUsageInputTokensKey.Int(a.Usage.InputTokens),
		semconv.GenAIUsageOutputTokensKey.Int(a.Usage.OutputTokens),
	}
	if a.Model != "" {
		agentAttrs = append(agentAttrs, semconv.GenAIRequestModelKey.String(a.Model))
	}
	if provider != "" {
		agentAttrs = append(agentAttrs, semconv.GenAIProviderNameKey.String(GenAIProvider(provider)))
	}
	if a.SessionID != "" {
		agentAttrs = append(agentAttrs, semconv.GenAIConversationIDKey.String(a.SessionID))
	}
	if a.Cache != "" {
		agentAttrs = append(agentAttrs, attrCache.String(a.Cache))
	}
	if a.Refusal != "" {
		// Only the kind ("input", "output", "no sources"): the reason may
		// quote the question.
		kind, _, _ := strings.Cut(a.Refusal, ":")
		agentAttrs = append(agentAttrs, attrRefusal.String(kind))
	}
	if a.FinishReason != "" {
		agentAttrs = append(agentAttrs, semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{a.FinishReason}))
	}
	if a.Template != "" {
		agentAttrs = append(agentAttrs, attrTemplate.String(a.Template))
	}
	name := OpInvokeAgent
	if a.Assistant != "" {
		name += " " + a.Assistant
	}
	actx, agent := tracer.Start(ctx, name, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(agentAttrs...))
	if !agent.IsRecording() {
		agent.End()
		return
	}
	at := start
	for _, st := range a.Timings {
		end := at.Add(st.Duration)
		switch st.Stage {
		case "generate":
			_, sp := StartGenAI(actx, tracer, GenAIRequest{Provider: GenAIProvider(provider), Model: a.Model,
				Temperature: a.Temperature, MaxTokens: a.MaxTokens, Seed: a.Seed, ConversationID: a.SessionID,
				Stream: true}, trace.WithTimestamp(at), trace.WithAttributes(attrStage.String(st.Stage)))
			var fr []string
			if a.FinishReason != "" {
				fr = []string{a.FinishReason}
			}
			EndGenAI(sp, GenAIResponse{Model: served, FinishReasons: fr, Usage: a.Usage}, trace.WithTimestamp(end))
		case "retrieve":
			_, sp := tracer.Start(actx, OpRetrieval, trace.WithTimestamp(at), trace.WithAttributes(
				semconv.GenAIOperationNameKey.String(OpRetrieval), attrStage.String(st.Stage), attrSources.Int(len(a.Sources))))
			sp.End(trace.WithTimestamp(end))
		default:
			_, sp := tracer.Start(actx, st.Stage, trace.WithTimestamp(at), trace.WithAttributes(attrStage.String(st.Stage)))
			sp.End(trace.WithTimestamp(end))
		}
		at = end
	}
	agent.End(trace.WithTimestamp(at))
}

// splitServed splits Answer.Served ("provider:model") into its parts.
func splitServed(s string) (provider, model string) {
	p, m, ok := strings.Cut(s, ":")
	if !ok {
		return "", s
	}
	return p, m
}
