package main

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

// TestEstimateSeesRuntimeAssistants: admission estimates a request for an
// assistant from the assistant the pipeline runs now, so one set or
// changed at runtime (PUT /v1/assistants, sextant assistants set) is
// estimated by its model and context window, not as a gateway model
// named after it (unpriced: a zero reservation against the budget).
func TestEstimateSeesRuntimeAssistants(t *testing.T) {
	data := askFixture(t)
	if err := os.WriteFile(filepath.Join(data, configFileName), []byte("prices:\n  models:\n    extractive: {input: 1, output: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
	s, ops, err := openOperated(t.Context(), e, data, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ops.Close(t.Context()); s.Close() })
	as := s.pipeline.Assistants()
	def, _ := s.pipeline.Assistant("")
	as = append(as, rag.Assistant{Name: "runtime", Model: def.Model, ContextWindow: 50000, MaxTokens: 700})
	if err := s.pipeline.Configure(as, def.Name, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		route, body string
		model       string
		in, out     int
	}{
		{"chat.completions", `{"model": "runtime", "messages": [{"role": "user", "content": "hi"}]}`, def.Model, 50000, 700},
		{"messages", `{"model": "runtime", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}`, def.Model, 50000, 100},
		{"ask", `{"assistant": "runtime", "question": "hi"}`, def.Model, 50000, 700},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		model, in, out, err := ops.estimate(web.Route{Name: tc.route}, r)
		if err != nil || model != tc.model || in != tc.in || out != tc.out {
			t.Errorf("%s: estimate = %q, %d in, %d out, %v; want %q, %d, %d", tc.route, model, in, out, err, tc.model, tc.in, tc.out)
		}
	}
}
