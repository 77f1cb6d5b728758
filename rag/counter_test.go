package rag_test

import (
	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
)

type counterHolder struct{ c llm.Counter }

func (h *counterHolder) prompt(model string, msgs []sextant.Message) int {
	return h.c.Prompt(model, msgs, nil)
}
