package openai_test

import (
	"testing"

	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/llm/openai"
)

func open(t *testing.T, opts openai.Options) (*openai.Provider, *llmtest.Server) {
	t.Helper()
	s := llmtest.NewOpenAIServer(t)
	s.APIKey = "sk-test"
	opts.BaseURL, opts.APIKey = s.URL, "sk-test"
	p, err := openai.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func TestConformance(t *testing.T) {
	llmtest.Run(t, func(t *testing.T) (driver.Provider, *llmtest.Server) {
		return open(t, openai.Options{})
	})
}
