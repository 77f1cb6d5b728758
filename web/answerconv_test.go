package web_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

// chatAnswerIDs returns the ids of the stored answers of stateless chat
// requests, oldest first: the API answers a chat completion under its own
// id, and this stack records no audit log to map one to the other.
func chatAnswerIDs(t *testing.T, s *authed) []string {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(s.dir, "data", sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM answers WHERE session_id = 'chat_' || id ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// Chat completions and Messages API requests to an assistant with system
// instructions, earlier turns, tools, tool calls and tool results are
// stored with their conversation, read back through GET
// /v1/answers/{id} and the audit route, and replay identically. A record
// without one (as stored before conversations were) still reads and
// replays.
func TestChatConversationStoredAndReplayed(t *testing.T) {
	s := authStack(t)
	key, _ := s.key(t, "", sextant.RoleApp)
	chat := `{"model": "sextant", "tool_choice": "auto",
	  "tools": [{"type": "function", "function": {"name": "lookup", "description": "Glossary.", "parameters": {"type": "object", "properties": {"term": {"type": "string"}}}}}],
	  "messages": [
	    {"role": "system", "content": "Answer briefly."},
	    {"role": "user", "content": "Who owns the Halyard service?"},
	    {"role": "assistant", "content": "The platform team [1]."},
	    {"role": "user", "content": "` + rotationQuestion + `"},
	    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"term\":\"rotation\"}"}}]},
	    {"role": "tool", "tool_call_id": "call_1", "content": "rotation: replacing a key"}]}`
	if st := s.call(t, key, "POST", "/v1/chat/completions", chat, nil); st != 200 {
		t.Fatalf("chat: %d", st)
	}
	msgs := `{"model": "sextant", "max_tokens": 400, "system": "Answer briefly.",
	  "tools": [{"name": "lookup", "description": "Glossary.", "input_schema": {"type": "object"}}],
	  "messages": [
	    {"role": "user", "content": "Who owns the Halyard service?"},
	    {"role": "assistant", "content": "The platform team."},
	    {"role": "user", "content": "` + rotationQuestion + `"}]}`
	if st := s.call(t, key, "POST", "/v1/messages", msgs, nil); st != 200 {
		t.Fatalf("messages: %d", st)
	}
	if st := s.call(t, key, "POST", "/v1/chat/completions", `{"model":"sextant","messages":[{"role":"user","content":"`+rotationQuestion+`"}]}`, nil); st != 200 {
		t.Fatalf("single-message chat: %d", st)
	}
	ids := chatAnswerIDs(t, s)
	if len(ids) != 3 {
		t.Fatalf("%d chat answers stored; want 3", len(ids))
	}
	for i, c := range []struct {
		roles      string
		tools      string
		toolChoice string
	}{
		{"system user assistant user assistant tool", "lookup", "auto"},
		{"system user assistant user", "lookup", ""},
		{"user", "", ""},
	} {
		var got web.StoredAnswer
		if st := s.call(t, key, "GET", "/v1/answers/"+ids[i], "", &got); st != 200 {
			t.Fatalf("answer %d: %d", i, st)
		}
		conv := got.Conversation
		if conv == nil {
			t.Fatalf("answer %d: no conversation", i)
		}
		var roles, tools []string
		for _, m := range conv.Messages {
			roles = append(roles, m.Role)
		}
		for _, tl := range conv.Tools {
			tools = append(tools, tl.Function.Name)
		}
		if strings.Join(roles, " ") != c.roles || strings.Join(tools, " ") != c.tools || conv.ToolChoice != c.toolChoice {
			t.Errorf("answer %d: conversation roles %v, tools %v, choice %q", i, roles, tools, conv.ToolChoice)
		}
		if i == 0 {
			if m := conv.Messages[4]; len(m.ToolCalls) != 1 || m.ToolCalls[0].Function.Arguments != `{"term":"rotation"}` {
				t.Errorf("recorded tool call %+v", m.ToolCalls)
			}
			if m := conv.Messages[5]; m.ToolCallID != "call_1" || m.Content != "rotation: replacing a key" {
				t.Errorf("recorded tool result %+v", m)
			}
			if string(conv.Tools[0].Function.Parameters) != `{"type":"object","properties":{"term":{"type":"string"}}}` {
				t.Errorf("recorded tool schema %s", conv.Tools[0].Function.Parameters)
			}
		}
		if len(got.Sources) == 0 {
			t.Errorf("answer %d has no sources", i)
		}
		var rp web.Replay
		if st := s.call(t, key, "POST", "/v1/answers/"+ids[i]+"/replay", "", &rp); st != 200 || !rp.Identical || rp.Replayed != got.Answer.Answer || rp.ToolCalls != nil {
			t.Errorf("replay of answer %d: %d %+v", i, st, rp)
		}
	}
	var audited web.StoredAnswer
	if st := s.call(t, s.keys[sextant.RoleSecurity], "GET", "/v1/audit/answers/"+ids[0], "", &audited); st != 200 ||
		audited.Conversation == nil || len(audited.Conversation.Messages) != 6 {
		t.Errorf("audit route: %d %+v", st, audited.Conversation)
	}

	// A single-message chat as stored before conversations were: no
	// conversation column value. It reads and replays as before.
	db, err := sql.Open("sqlite", filepath.Join(s.dir, "data", sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE answers SET conversation = NULL WHERE id = ?`, ids[2]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var old web.StoredAnswer
	if st := s.call(t, key, "GET", "/v1/answers/"+ids[2], "", &old); st != 200 || old.Conversation != nil || old.Answer.Answer == "" {
		t.Fatalf("old record: %d %+v", st, old)
	}
	var rp web.Replay
	if st := s.call(t, key, "POST", "/v1/answers/"+ids[2]+"/replay", "", &rp); st != 200 || !rp.Identical || rp.Replayed != old.Answer.Answer {
		t.Errorf("replay of the old record: %d %+v", st, rp)
	}
}
