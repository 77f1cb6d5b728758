package rag_test

import (
	"context"
	"encoding/json"
	"iter"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/rag"
)

// recorder passes requests to a Generator and keeps them.
type recorder struct {
	gen  rag.Generator
	mu   sync.Mutex
	reqs []llm.Request
}

func (r *recorder) StreamCall(ctx context.Context, req *llm.Request, call *llm.Call) iter.Seq2[sextant.Delta, error] {
	r.mu.Lock()
	r.reqs = append(r.reqs, *req)
	r.mu.Unlock()
	return r.gen.StreamCall(ctx, req, call)
}

func (r *recorder) sent() []llm.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]llm.Request(nil), r.reqs...)
}

// sameCall compares what two model requests gave the model.
func sameCall(t *testing.T, what string, a, b llm.Request) {
	t.Helper()
	if diff := cmp.Diff(a.Messages, b.Messages); diff != "" {
		t.Errorf("%s: messages differ (-answer +replay):\n%s", what, diff)
	}
	if diff := cmp.Diff(a.Tools, b.Tools); diff != "" || a.ToolChoice != b.ToolChoice {
		t.Errorf("%s: tools differ (%q, %q):\n%s", what, a.ToolChoice, b.ToolChoice, diff)
	}
	if a.Model != b.Model || a.MaxTokens != b.MaxTokens || len(a.Sources) != len(b.Sources) {
		t.Errorf("%s: model %q/%q, max tokens %d/%d, %d/%d sources", what, a.Model, b.Model, a.MaxTokens, b.MaxTokens, len(a.Sources), len(b.Sources))
	}
}

func lookupTool() sextant.Tool {
	return sextant.Tool{Name: "lookup", Description: "Looks a term up in the glossary.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"term":{"type":"string"}},"required":["term"]}`)}
}

// A chat completion with system instructions, earlier turns, tools, a
// tool call and its result is stored with its whole message list, reads
// back as sent, and replays identically: the model is given the same
// prompt, messages and tools.
func TestReplayChatConversation(t *testing.T) {
	var rec *recorder
	w := newWorld(t, func(o *rag.Options) {
		rec = &recorder{gen: o.Model}
		o.Model = rec
	})
	me := sextant.Principal{ID: "alice"}
	tools := []sextant.Tool{lookupTool()}
	for _, tc := range []struct {
		name string
		msgs []sextant.Message
	}{
		{"system, history and tools", []sextant.Message{
			{Role: sextant.RoleSystem, Content: "Answer briefly."},
			{Role: sextant.RoleUser, Content: "What does the response cache store?"},
			{Role: sextant.RoleAssistant, Content: "It stores answers [1]."},
			{Role: sextant.RoleSystem, Content: "Cite every sentence."},
			{Role: sextant.RoleUser, Content: "When do its entries expire?"},
		}},
		{"tool call and result after the question", []sextant.Message{
			{Role: sextant.RoleSystem, Content: "Use the glossary when a term is unclear."},
			{Role: sextant.RoleUser, Content: "What does the response cache store?"},
			{Role: sextant.RoleAssistant, ToolCalls: []sextant.ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{"term":"cache"}`}}},
			{Role: sextant.RoleTool, ToolCallID: "call_1", Content: "cache: a store of earlier answers"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ask(t, w.p, &rag.Request{Principal: me, Messages: tc.msgs, Tools: tools, ToolChoice: "auto"})
			if res.Refusal != "" || len(res.Sources) == 0 {
				t.Fatalf("not answered from sources: %q (%d sources)", res.Refusal, len(res.Sources))
			}
			got, err := w.db.Answer(t.Context(), res.ID)
			if err != nil {
				t.Fatalf("chat completion not stored: %v", err)
			}
			want := &sextant.Conversation{Messages: tc.msgs, Tools: tools, ToolChoice: "auto"}
			if diff := cmp.Diff(want, got.Conversation); diff != "" {
				t.Errorf("stored conversation (-sent +stored):\n%s", diff)
			}
			re, err := w.p.Replay(t.Context(), me, res.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := rag.CompareReplay(got, &re.Answer, nil); !d.Identical {
				t.Errorf("replay differs: %+v", d)
			}
			if re.Text != res.Text || re.TemplateHash != res.TemplateHash {
				t.Errorf("replay %q, answer %q", re.Text, res.Text)
			}
			sent := rec.sent()
			sameCall(t, tc.name, sent[len(sent)-2], sent[len(sent)-1])
		})
	}
}

// The tool calls an answer asked for are recorded; a replay whose model
// asks for other calls is not identical, one asking for the same calls
// (under new call ids) is.
func TestReplayChatToolCalls(t *testing.T) {
	gen := &script{deltas: []sextant.Delta{{ToolCalls: []sextant.ToolCall{{ID: "call_a", Name: "lookup", Arguments: `{"term":"TTL"}`}},
		FinishReason: sextant.FinishToolCalls}}}
	w := newWorld(t, func(o *rag.Options) { o.Model = gen })
	me := sextant.Principal{ID: "alice"}
	msgs := []sextant.Message{{Role: sextant.RoleSystem, Content: "Look terms up first."}, {Role: sextant.RoleUser, Content: "What is the cache TTL?"}}
	res := ask(t, w.p, &rag.Request{Principal: me, Messages: msgs, Tools: []sextant.Tool{lookupTool()}, ToolChoice: "required"})
	if res.FinishReason != sextant.FinishToolCalls || len(res.ToolCalls) != 1 {
		t.Fatalf("finish %q, calls %+v", res.FinishReason, res.ToolCalls)
	}
	got, err := w.db.Answer(t.Context(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Conversation == nil || !cmp.Equal(got.Conversation.ToolCalls, res.ToolCalls) || got.Conversation.ToolChoice != "required" {
		t.Fatalf("stored conversation %+v", got.Conversation)
	}
	gen.deltas = []sextant.Delta{{ToolCalls: []sextant.ToolCall{{ID: "call_b", Name: "lookup", Arguments: `{"term":"TTL"}`}}, FinishReason: sextant.FinishToolCalls}}
	re, err := w.p.Replay(t.Context(), me, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := rag.CompareReplay(got, &re.Answer, nil); !d.Identical {
		t.Errorf("same calls under new ids: not identical: %+v", d)
	}
	if last := gen.last(); len(last.Tools) != 1 || last.ToolChoice != "required" || last.Messages[0].Role != sextant.RoleSystem ||
		!strings.Contains(last.Messages[0].Content, "Look terms up first.") {
		t.Errorf("replay sent tools %+v, choice %q, system %q", last.Tools, last.ToolChoice, last.Messages[0].Content)
	}
	gen.deltas = []sextant.Delta{{ToolCalls: []sextant.ToolCall{{ID: "call_c", Name: "lookup", Arguments: `{"term":"expiry"}`}}, FinishReason: sextant.FinishToolCalls}}
	re, err = w.p.Replay(t.Context(), me, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	d := rag.CompareReplay(got, &re.Answer, nil)
	if d.Identical || d.ToolCalls == nil || d.ToolCalls[1][0].Arguments != `{"term":"expiry"}` {
		t.Errorf("other calls: %+v", d)
	}
}

// A session's turn that offered tools records them (and no messages);
// its replay offers them again with the session's earlier turns.
func TestReplaySessionWithTools(t *testing.T) {
	var rec *recorder
	w := newWorld(t, func(o *rag.Options) {
		rec = &recorder{gen: o.Model}
		o.Model = rec
	})
	me := sextant.Principal{ID: "alice"}
	first := ask(t, w.p, &rag.Request{Principal: me, Question: "What does the response cache store?"})
	second := ask(t, w.p, &rag.Request{Principal: me, SessionID: first.SessionID, Question: "When do its entries expire?",
		Tools: []sextant.Tool{lookupTool()}, ToolChoice: "auto"})
	got, err := w.db.Answer(t.Context(), second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Conversation; c == nil || len(c.Messages) != 0 || len(c.Tools) != 1 || c.ToolChoice != "auto" {
		t.Fatalf("stored conversation %+v", c)
	}
	if a, _ := w.db.Answer(t.Context(), first.ID); a.Conversation != nil {
		t.Errorf("a plain question recorded a conversation: %+v", a.Conversation)
	}
	re, err := w.p.Replay(t.Context(), me, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := rag.CompareReplay(got, &re.Answer, nil); !d.Identical {
		t.Errorf("replay differs: %+v", d)
	}
	sent := rec.sent()
	sameCall(t, "session turn with tools", sent[1], sent[2])
}

// Under guardrails the recorded conversation follows the question's rule:
// personal data in the system instructions, earlier turns, tool calls and
// tool results is stored as the placeholders the provider saw, and the
// replay sends the provider exactly what the answer sent.
func TestReplayChatConversationDeidentified(t *testing.T) {
	w := newGuarded(t, guardedOptions{guard: rag.GuardrailOptions{Tools: rag.ToolRules{Allow: map[string][]string{"remote": {"lookup"}}}}})
	p := sextant.Principal{ID: "alice", Tenant: "acme", Roles: []string{"app"}}
	msgs := []sextant.Message{
		{Role: sextant.RoleSystem, Content: "The customer is jane.roe@example.com."},
		{Role: sextant.RoleUser, Content: "My phone is +1 415 555 2671."},
		{Role: sextant.RoleAssistant, Content: "Noted."},
		{Role: sextant.RoleUser, Content: "When is the refund for card 4111 1111 1111 1111 paid?"},
		{Role: sextant.RoleAssistant, ToolCalls: []sextant.ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{"term":"536-22-8713"}`}}},
		{Role: sextant.RoleTool, ToolCallID: "call_1", Content: "Customer 536-22-8713 has a refund pending."},
	}
	res := ask(t, w.p, &rag.Request{Principal: p, Assistant: "remote", Messages: msgs, Tools: []sextant.Tool{lookupTool()}})
	if res.Refusal != "" {
		t.Fatalf("refused: %s", res.Refusal)
	}
	got, err := w.db.Answer(t.Context(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	if l := leaks(string(b)); len(l) > 0 {
		t.Errorf("stored answer holds raw values %v:\n%s", l, b)
	}
	if c := got.Conversation; c == nil || len(c.Messages) != len(msgs) || !strings.Contains(c.Messages[0].Content, "[EMAIL_1]") ||
		!strings.Contains(c.Messages[4].ToolCalls[0].Arguments, "[") {
		t.Errorf("stored conversation lost its placeholders: %s", b)
	}
	re, err := w.p.Replay(t.Context(), sextant.Principal{ID: p.ID, Tenant: p.Tenant}, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	calls := w.up.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d provider calls, want the answer's and the replay's", len(calls))
	}
	if diff := cmp.Diff(calls[0].Messages, calls[1].Messages); diff != "" {
		t.Errorf("the replay sent the provider other messages (-answer +replay):\n%s", diff)
	}
	if diff := cmp.Diff(calls[0].Tools, calls[1].Tools); diff != "" {
		t.Errorf("the replay offered other tools:\n%s", diff)
	}
	if d := rag.CompareReplay(got, &re.Answer, nil); d.Refusal != nil || d.Finish != nil {
		t.Errorf("replay: %+v", d)
	}
}
