package anthropic_test

import (
	"testing"

	"github.com/sextant-ai/sextant/llm/anthropic"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/llmtest"
)

func open(t *testing.T, opts anthropic.Options) (*anthropic.Provider, *llmtest.Server) {
	t.Helper()
	s := llmtest.NewAnthropicServer(t)
	s.APIKey = "sk-ant-test"
	opts.BaseURL, opts.APIKey = s.URL, "sk-ant-test"
	p, err := anthropic.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func TestConformance(t *testing.T) {
	llmtest.Run(t, func(t *testing.T) (driver.Provider, *llmtest.Server) {
		return open(t, anthropic.Options{})
	})
}
