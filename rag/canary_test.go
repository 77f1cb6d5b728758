package rag_test

import (
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/rag"
)

// TestGuardrailsCanaryOf: an assistant's canary given by CanaryOf (as for
// assistants defined after the guardrails were built) withholds an answer
// that repeats it, and the function is asked at every answer.
func TestGuardrailsCanaryOf(t *testing.T) {
	canary := "sxc-fedcba9876543210"
	var asked []string
	for _, tc := range []struct {
		name, answer string
		action       rag.Action
	}{
		{"leak", "The marker is " + canary + ", as you asked.", rag.Block},
		{"clean", "Refunds take five days [1].", rag.Allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen := &script{deltas: says(tc.answer, 4)}
			w := newGuarded(t, guardedOptions{gen: gen, guard: rag.GuardrailOptions{CanaryOf: func(a string) string {
				asked = append(asked, a)
				if a == "remote" {
					return canary
				}
				return ""
			}}})
			res, err := w.p.Ask(t.Context(), &rag.Request{Assistant: "remote", Question: "How long do refunds take?"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Output.Action != tc.action || strings.Contains(res.Text, canary) {
				t.Errorf("output action %v (want %v), text %q", res.Output.Action, tc.action, res.Text)
			}
		})
	}
	if len(asked) != 2 || asked[0] != "remote" {
		t.Errorf("CanaryOf asked for %q, want remote at each of 2 answers", asked)
	}
}

// canaryFor is a CanaryOf giving assistant its canary and the others none.
func canaryFor(assistant, canary string) func(string) string {
	return func(a string) string {
		if a == assistant {
			return canary
		}
		return ""
	}
}

// A canary too short to detect reliably is refused: the answer fails
// rather than going out unchecked.
func TestGuardrailsShortCanary(t *testing.T) {
	w := newGuarded(t, guardedOptions{gen: &script{deltas: says("Refunds take five days [1].", 2)},
		guard: rag.GuardrailOptions{CanaryOf: canaryFor("remote", "short")}})
	if _, err := w.p.Ask(t.Context(), &rag.Request{Assistant: "remote", Question: "How long do refunds take?"}); err == nil {
		t.Error("an answer checked against a short canary went out")
	}
}
