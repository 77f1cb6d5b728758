package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/openai"
	"github.com/sextant-ai/sextant/web"
)

// gatewayStacks builds the bare gateway and the full serve stack (as bench
// gateway --full does, spans exported to a local receiver) over one fake
// upstream.
func gatewayStacks(tb testing.TB) (bare http.Handler, full *benchFull) {
	tb.Helper()
	up := httptest.NewServer(fastUpstream(false))
	tb.Cleanup(up.Close)
	sink := httptest.NewServer(otlpSink())
	tb.Cleanup(sink.Close)
	op, err := openai.New(openai.Options{Name: "upstream", BaseURL: up.URL + "/v1"})
	if err != nil {
		tb.Fatal(err)
	}
	model, err := llm.New(llm.Options{Providers: map[string]driver.Provider{"upstream": op}})
	if err != nil {
		tb.Fatal(err)
	}
	api, err := web.New(web.Options{Model: model})
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{getenv: func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return sink.URL
		}
		return ""
	}, stdout: io.Discard, stderr: io.Discard}
	full, err = fullGateway(context.Background(), e, up.URL+"/v1")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(full.close)
	return api.Handler(), full
}

const gatewayBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say how much Sextant adds to this call."}],"temperature":0.2,"max_tokens":64}`

func serveGateway(tb testing.TB, h http.Handler, key string) {
	req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(gatewayBody))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte("chat.completion")) {
		tb.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
	}
}

// TestFullGateway: the full stack authenticates, answers, and refuses a
// request without a key.
func TestFullGateway(t *testing.T) {
	bare, full := gatewayStacks(t)
	serveGateway(t, bare, "")
	serveGateway(t, full.handler, full.key)
	w := httptest.NewRecorder()
	full.handler.ServeHTTP(w, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(gatewayBody)))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("no key: status %d, want 401", w.Code)
	}
}

// BenchmarkGatewayStack serves the same chat completion through the bare
// gateway and through the full serve stack, in process (the upstream is a
// loopback server): the difference is what the operating and security
// sides cost a request. Run with -cpuprofile to see where.
func BenchmarkGatewayStack(b *testing.B) {
	bare, full := gatewayStacks(b)
	for _, c := range []struct {
		name string
		h    http.Handler
		key  string
	}{{"bare", bare, ""}, {"full", full.handler, full.key}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			c0 := cpuSeconds()
			for b.Loop() {
				serveGateway(b, c.h, c.key)
			}
			// The process's CPU (background writers and exporters
			// included) per request: steadier than ns/op on a busy
			// machine.
			b.ReportMetric((cpuSeconds()-c0)*1e6/float64(b.N), "cpu-µs/op")
		})
	}
}
