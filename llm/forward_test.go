package llm_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/llm/openai"
)

// A forwarded stream is read after Forward returns: the body must stay
// readable to its end, and closing it (or the caller's context ending)
// must reach the upstream.
func TestForwardStreamOutlivesCall(t *testing.T) {
	s := llmtest.NewOpenAIServer(t)
	p, err := openai.New(openai.Options{BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	m, err := llm.New(llm.Options{Providers: map[string]driver.Provider{"up": p}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	fwd := func(ctx context.Context) io.ReadCloser {
		res, err := m.Forward(ctx, "gpt-4o", &driver.ForwardRequest{Method: "POST", Path: "chat/completions", Body: body})
		if err != nil {
			t.Fatal(err)
		}
		return res.Body
	}

	s.Enqueue(llmtest.Reply{Text: []string{"a", "b", "c"}, Gap: 20 * time.Millisecond})
	rc := fwd(t.Context())
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !strings.HasSuffix(string(raw), "data: [DONE]\n\n") {
		t.Fatalf("read %d bytes, err %v; want the whole stream", len(raw), err)
	}

	s.Enqueue(llmtest.Reply{Text: []string{"a"}, Hang: true})
	ctx, cancel := context.WithCancel(t.Context())
	rc = fwd(ctx)
	cancel()
	if _, err := io.ReadAll(rc); err == nil {
		t.Error("reading a cancelled forward succeeded")
	}
	rc.Close()
	select {
	case <-s.Canceled():
	case <-time.After(5 * time.Second):
		t.Error("the upstream did not see the cancellation")
	}
}
