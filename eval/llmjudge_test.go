package eval

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
)

func TestParseVerdict(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Verdict
		err  string
	}{
		{in: `{"label": "supported", "support": 0.9, "reason": "stated"}`, want: Verdict{Label: "supported", Support: 0.9, Reason: "stated"}},
		{in: "```json\n{\"label\": \"Contradicted\", \"reason\": \"says 1937\"}\n```", want: Verdict{Label: "contradicted", Reason: "says 1937"}},
		{in: `Verdict: {"label": "supported"} done`, want: Verdict{Label: "supported", Support: 1}},
		{in: `{"note": "{not this}"} {"label": "unsupported", "support": 0}`, err: "label \"\""},
		{in: `{bad} {"label": "unsupported", "support": 0.2}`, want: Verdict{Label: "unsupported", Support: 0.2}},
		{in: `{"label": "maybe"}`, err: `label "maybe"`},
		{in: `{"label": "supported", "support": 2}`, err: "outside [0, 1]"},
		{in: `no json here`, err: "no JSON object"},
		{in: `{"label": 1}`, err: "cannot unmarshal"},
	} {
		v, err := ParseVerdict(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseVerdict(%q) = %+v, %v; want error %q", c.in, v, err, c.err)
			}
			continue
		}
		if err != nil || v != c.want {
			t.Errorf("ParseVerdict(%q) = %+v, %v; want %+v", c.in, v, err, c.want)
		}
	}
}

func FuzzParseVerdict(f *testing.F) {
	for _, s := range []string{`{"label": "supported", "support": 0.5}`, "{{{", `{"a": "\"}"} {"label": "unsupported"}`, `}{`, `{"label":"contradicted","support":-0}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVerdict(s)
		if err != nil {
			return
		}
		if err := validVerdict(v); err != nil {
			t.Fatalf("ParseVerdict(%q) = %+v, not a valid verdict: %v", s, v, err)
		}
	})
}

func TestLLMJudge(t *testing.T) {
	var system, user string
	j := &LLMJudge{Model: "judge-model", Complete: func(_ context.Context, s, u string) (string, error) {
		system, user = s, u
		return `{"label": "contradicted", "support": 0.1, "reason": "1937, not 1950"}`, nil
	}}
	v, err := j.JudgeClaim(context.Background(), JudgeRequest{Question: "When?", Claim: "It opened in 1950.", Passages: []string{"It opened in 1937.", "Other."}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Label != VerdictContradicted || v.Support != 0.1 {
		t.Errorf("verdict %+v", v)
	}
	for _, want := range []string{"Question the answer was written for: When?", "[1] It opened in 1937.", "[2] Other.", "Claim: It opened in 1950."} {
		if !strings.Contains(user, want) {
			t.Errorf("user message lacks %q:\n%s", want, user)
		}
	}
	if !strings.Contains(system, `"label"`) || strings.Contains(system, "{{") {
		t.Errorf("system prompt: %q", system)
	}
	if pv := j.PromptVersion(); !strings.HasPrefix(pv, "judge-") || !strings.HasSuffix(pv, "/judge-model") || pv == (&LLMJudge{Model: "other"}).PromptVersion() {
		t.Errorf("prompt version %q", pv)
	}
	j.Complete = func(context.Context, string, string) (string, error) {
		return "", sextant.Errorf(sextant.EUNAVAILABLE, "down")
	}
	if _, err := j.JudgeClaim(context.Background(), JudgeRequest{Claim: "c"}); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Errorf("provider error: %v", err)
	}
	j.Complete = func(context.Context, string, string) (string, error) { return "I think it is fine.", nil }
	if _, err := j.JudgeClaim(context.Background(), JudgeRequest{Claim: "c"}); err == nil {
		t.Error("a reply without a verdict was accepted")
	}
}

// TestCachedLLMJudge: the same claim is judged once; a reply that is not a
// verdict is not cached.
func TestCachedLLMJudge(t *testing.T) {
	calls := 0
	reply := "not json"
	j := &CachedJudge{Judge: &LLMJudge{Model: "m", Complete: func(context.Context, string, string) (string, error) {
		calls++
		return reply, nil
	}}, Cache: &MemoryVerdictCache{}}
	req := JudgeRequest{Claim: "c", Passages: []string{"p"}}
	if _, err := j.JudgeClaim(context.Background(), req); err == nil {
		t.Fatal("bad reply accepted")
	}
	reply = `{"label": "supported"}`
	for range 3 {
		if v, err := j.JudgeClaim(context.Background(), req); err != nil || v.Label != VerdictSupported {
			t.Fatal(v, err)
		}
	}
	if calls != 2 {
		t.Errorf("model called %d times, want 2 (one failed, one cached)", calls)
	}
}

func TestDraftTemplated(t *testing.T) {
	docs := []DraftSource{
		{DocumentID: "docs:search", Title: "Search", Chunks: []sextant.Chunk{
			{ID: "docs:search#0", Section: []string{"Search", "Query syntax"}, Text: "Sextant search accepts phrases in quotes and field filters. The query syntax supports prefix matching with a trailing star. Phrases in quotes match words in order."},
			{ID: "docs:search#1", Text: "Short."},
			{ID: "docs:search#2", Section: []string{"Search", "Ranking"}, Text: "BM25 is the ranking function used for lexical search. It weighs rare terms more than common terms and normalises by document length."},
		}},
		{DocumentID: "docs:cost", Title: "Cost", Chunks: []sextant.Chunk{
			{ID: "docs:cost#0", Text: "Budgets cap the spending of an API key or a project per day or per month. An alert is sent when spending crosses each threshold of the budget."},
		}},
	}
	items, err := Draft(context.Background(), docs, DraftOptions{N: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("drafted %d questions, want 3 (one chunk is too short): %+v", len(items), items)
	}
	// Round-robin: the second document comes before the first's second chunk.
	if items[0].RelevantIDs[0] != "docs:search" || items[1].RelevantIDs[0] != "docs:cost" || items[2].RelevantIDs[0] != "docs:search" {
		t.Errorf("order: %v %v %v", items[0].RelevantIDs, items[1].RelevantIDs, items[2].RelevantIDs)
	}
	if items[2].Question != "What is BM25?" || items[2].ReferenceAnswer != "BM25 is the ranking function used for lexical search." {
		t.Errorf("definition question: %+v", items[2])
	}
	if items[0].Question != `What does "Search" say about query syntax?` {
		t.Errorf("heading question: %q", items[0].Question)
	}
	for _, it := range items {
		if it.ID == "" || it.ReferenceAnswer == "" || !strings.Contains(strings.Join(it.Tags, ","), "templated") {
			t.Errorf("item %+v", it)
		}
	}
	again, _ := Draft(context.Background(), docs, DraftOptions{N: 10})
	if len(again) != len(items) || again[1].Question != items[1].Question {
		t.Error("drafting is not deterministic")
	}
}

func TestDraftLLM(t *testing.T) {
	docs := []DraftSource{{DocumentID: "d1", Title: "Guide", Chunks: []sextant.Chunk{
		{ID: "d1#0", Text: "Refunds are issued within 14 days of a return. Opened software cannot be refunded at all."},
		{ID: "d1#1", Text: "Shipping is free for orders above fifty euros within the European Union and Switzerland."},
	}}}
	replies := []string{`{"question": "How long do refunds take?", "answer": "Refunds are issued within 14 days of a return."}`, "sorry"}
	var prompts []string
	items, err := Draft(context.Background(), docs, DraftOptions{N: 5, Complete: func(_ context.Context, _, user string) (string, error) {
		prompts = append(prompts, user)
		r := replies[0]
		replies = replies[1:]
		return r, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Question != "How long do refunds take?" || items[0].Tags[1] != "llm" || items[1].Tags[1] != "templated" {
		t.Fatalf("items %+v", items)
	}
	if !strings.Contains(prompts[0], "Document: Guide") || !strings.Contains(prompts[0], "Refunds are issued") {
		t.Errorf("prompt %q", prompts[0])
	}
	_, err = Draft(context.Background(), docs, DraftOptions{Complete: func(context.Context, string, string) (string, error) {
		return "", errors.New("boom")
	}})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("model error: %v", err)
	}
}
