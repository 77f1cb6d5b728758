package rag_test

import (
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/rag"
)

// TestPromptTokens: the count is that of the prompt the model receives
// when the same request is answered — system text, history within the
// pipeline's limit, question, sources, tool turns and tools — and an
// unknown assistant or an unanswerable request is refused as Ask refuses it.
func TestPromptTokens(t *testing.T) {
	gen := &script{deltas: says("Fact one [1].", 100)}
	p, err := rag.New(rag.Options{Retriever: hits{hit("a", "Fact one is true. Fact two is also true.", 0)}, Model: gen,
		Assistants: []rag.Assistant{{Name: "x", Model: "gpt-4o-mini", System: "Be exact."}}, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	tools := []sextant.Tool{{Name: "lookup", Description: "Look a fact up.", Parameters: []byte(`{"type":"object"}`)}}
	msgs := []sextant.Message{
		{Role: sextant.RoleSystem, Content: "Answer in English."},
		{Role: sextant.RoleUser, Content: "An early question that the history limit drops?"},
		{Role: sextant.RoleAssistant, Content: "An early answer."},
		{Role: sextant.RoleUser, Content: "A recent question?"},
		{Role: sextant.RoleAssistant, Content: "A recent answer [1]."},
		{Role: sextant.RoleUser, Content: "What is fact one?"},
	}
	req := &rag.Request{Assistant: "x", Messages: msgs, Tools: tools}
	res := ask(t, p, req)
	sent := gen.last()
	if len(sent.Messages) != 4 { // system, the one kept turn pair, the question
		t.Fatalf("the model got %d messages; the history limit should leave 4", len(sent.Messages))
	}
	want := (&llm.Counter{}).Prompt("gpt-4o-mini", sent.Messages, tools)
	got, err := p.PromptTokens(t.Context(), &rag.Request{Assistant: "x", Messages: msgs, Tools: tools}, res.Sources)
	if err != nil || got != want {
		t.Errorf("PromptTokens = %d, %v; the prompt the model got counts %d", got, err, want)
	}
	without, err := p.PromptTokens(t.Context(), &rag.Request{Assistant: "x", Messages: msgs, Tools: tools}, nil)
	if err != nil || without >= got {
		t.Errorf("PromptTokens without sources = %d, %v; want fewer than %d", without, err, got)
	}
	if _, err := p.PromptTokens(t.Context(), &rag.Request{Assistant: "nope", Messages: msgs}, nil); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("unknown assistant: %v", err)
	}
	if _, err := p.PromptTokens(t.Context(), &rag.Request{Assistant: "x", Messages: msgs[:1]}, nil); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("no user message: %v", err)
	}
}
