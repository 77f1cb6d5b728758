package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/web"
)

// TestReplayChatConversation records a chat completion with system
// instructions, an earlier turn, tools, a tool call and its result
// through a running server, finds it by its request id, and replays it
// with sextant replay: identical, with the conversation summarised.
func TestReplayChatConversation(t *testing.T) {
	dir := t.TempDir()
	docs := t.TempDir()
	os.WriteFile(filepath.Join(docs, "zephyr.md"), []byte("# Zephyr\n\nThe Zephyr gateway listens on port 7311 by default.\n\nIts maintenance window is Sunday night.\n"), 0o644)
	mustRun(t, "ingest", "--data", dir, "--quiet", docs)
	os.WriteFile(filepath.Join(dir, "sextant.yaml"), []byte("guard:\n  tools:\n    allow: {sextant: [lookup]}\n"), 0o644)
	url, out, stop := startServe(t, dir, "--no-sample")
	defer stop()
	key := printedKey(t, out.String())
	body := `{"model":"sextant","tool_choice":"auto",
	  "tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}],
	  "messages":[{"role":"system","content":"Answer briefly."},
	    {"role":"user","content":"What is Zephyr?"},{"role":"assistant","content":"A gateway [1]."},
	    {"role":"user","content":"Which port does the Zephyr gateway listen on?"},
	    {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{}"}}]},
	    {"role":"tool","tool_call_id":"call_1","content":"port: a TCP port"}]}`
	if st, _ := httpRequest(t, key, "POST", url+"/v1/chat/completions", body, map[string]string{"X-Request-Id": "req-conv-1"}); st != 200 {
		t.Fatalf("chat: %d", st)
	}
	var got web.StoredAnswer
	if st := jsonCall(t, key, "GET", url+"/v1/answers/req-conv-1", "", &got); st != 200 || got.Conversation == nil ||
		len(got.Conversation.Messages) != 6 || len(got.Conversation.Tools) != 1 || !strings.Contains(got.Answer.Answer, "7311") {
		t.Fatalf("stored chat answer: %d %+v", st, got)
	}
	stop()
	text, code := replayCLI(t, "--data", dir, "req-conv-1")
	const want = "Conversation: 6 messages (1 system, 2 user, 2 assistant, 1 tool), 1 tools, tool choice auto"
	if code != 0 || !strings.Contains(text, "Replay: identical") || !strings.Contains(text, want) {
		t.Fatalf("replay (exit %d), want %q:\n%s", code, want, text)
	}
}
