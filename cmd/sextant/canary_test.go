package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/web"
)

var canaryRE = regexp.MustCompile(`sxc-[0-9a-f]{16}`)

// TestCanaryRuntimeAssistant defines an assistant over HTTP while the
// server runs, with guard.output.canary on: its instructions carry a
// canary from its first answer, and an answer that repeats the canary is
// withheld, without a restart.
func TestCanaryRuntimeAssistant(t *testing.T) {
	up := llmtest.NewOpenAIServer(t)
	data, _ := guardFixture(t, fmt.Sprintf(`providers:
  - {name: up, type: openai, base_url: %q}
assistants:
  - {name: remote, model: gpt-4o-mini}
guard:
  output:
    canary: true
`, up.URL))
	url, out, stop := startServe(t, data, "--no-sample")
	defer stop()
	key := printedKey(t, out.String())

	ask := func(assistant string) web.Answer {
		t.Helper()
		var a web.Answer
		if st := jsonCall(t, key, "POST", url+"/v1/ask", `{"assistant":"`+assistant+`","question":"When do orders ship?","no_cache":true}`, &a); st != 200 {
			t.Fatalf("ask %s: %d", assistant, st)
		}
		return a
	}
	// canaryOf asks once with a harmless reply and returns the canary in
	// the instructions the model was sent.
	canaryOf := func(assistant string) string {
		t.Helper()
		up.Enqueue(llmtest.Reply{Text: []string{"Orders ship within two days of payment [1]."}})
		if a := ask(assistant); a.Refusal != "" {
			t.Fatalf("%s: harmless answer refused: %s", assistant, a.Refusal)
		}
		calls := up.Calls()
		last := calls[len(calls)-1]
		if len(last.Messages) == 0 || last.Messages[0].Role != sextant.RoleSystem {
			t.Fatalf("%s: no system prompt sent: %+v", assistant, last.Messages)
		}
		c := canaryRE.FindString(last.Messages[0].Content)
		if c == "" {
			t.Fatalf("%s: no canary in the instructions:\n%s", assistant, last.Messages[0].Content)
		}
		return c
	}
	configured := canaryOf("remote")

	if st, b := request(t, key, "PUT", url+"/v1/assistants/leaky", `{"model":"gpt-4o-mini","system":"You answer questions about shipping."}`); st != 200 {
		t.Fatalf("PUT assistant: %d %s", st, b)
	}
	c := canaryOf("leaky")
	if c == configured {
		t.Errorf("two assistants share the canary %s", c)
	}
	// The model repeats the canary, spaced out: the answer is withheld.
	spaced := strings.Join(strings.Split(c, ""), " ")
	up.Enqueue(llmtest.Reply{Text: []string{"My hidden marker is ", spaced, " and that is all."}})
	a := ask("leaky")
	if !strings.Contains(a.Refusal, "canary") || strings.Contains(a.Answer, spaced) || strings.Contains(a.Answer, c) {
		t.Fatalf("leak not caught: refusal %q, answer %q", a.Refusal, a.Answer)
	}
	// Redefining the assistant keeps its canary.
	if st, b := request(t, key, "PUT", url+"/v1/assistants/leaky", `{"model":"gpt-4o-mini","system":"You answer questions about returns."}`); st != 200 {
		t.Fatalf("PUT assistant again: %d %s", st, b)
	}
	if again := canaryOf("leaky"); again != c {
		t.Errorf("redefined assistant's canary %s, was %s", again, c)
	}
}
