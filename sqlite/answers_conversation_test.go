package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

func testConversation() *sextant.Conversation {
	return &sextant.Conversation{
		Messages: []sextant.Message{
			{Role: sextant.RoleSystem, Content: "Answer in one sentence."},
			{Role: sextant.RoleUser, Content: "What does the cache store?", Name: "ops"},
			{Role: sextant.RoleAssistant, Content: "Answers [1]."},
			{Role: sextant.RoleUser, Content: "How do I ingest a PDF?"},
			{Role: sextant.RoleAssistant, ToolCalls: []sextant.ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{"q":"pdf"}`}}},
			{Role: sextant.RoleTool, Content: "sextant ingest file.pdf", ToolCallID: "call_1"},
		},
		Tools: []sextant.Tool{
			{Name: "lookup", Description: "Looks a term up.", Parameters: json.RawMessage(`{"type": "object", "properties": {"q": {"type": "string"}}}`)},
			{Name: "now"},
		},
		ToolChoice: "auto",
		ToolCalls:  []sextant.ToolCall{{ID: "call_2", Name: "now", Arguments: "{}"}},
	}
}

// A chat request's messages, tools, tool choice and the answer's tool
// calls come back as stored, the tool schema byte for byte.
func TestAnswerConversationRoundTrip(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	want := testAnswer("a1", "chat_a1", 1)
	want.Conversation = testConversation()
	if err := db.PutAnswer(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := db.Answer(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Tools alone (a stored session's turn that offered tools).
	tools := testAnswer("a2", "s2", 1)
	tools.Conversation = &sextant.Conversation{Tools: []sextant.Tool{{Name: "now"}}, ToolChoice: "none"}
	if err := db.PutAnswer(ctx, tools); err != nil {
		t.Fatal(err)
	}
	if got, err := db.SessionAnswers(ctx, "s2", 0); err != nil || len(got) != 1 || !cmp.Equal(got[0].Conversation, tools.Conversation) {
		t.Errorf("session answers: %v %+v", err, got)
	}
}

// Answers stored before migration 0009 read back without a conversation;
// answers stored after it keep theirs.
func TestAnswerConversationMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{path: dir + "/" + FileName}
	w, err := sql.Open("sqlite", dsn(db.path, nil))
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	db.write = w
	var before []migration
	for _, m := range migs {
		if m.version < 9 {
			before = append(before, m)
		}
	}
	if err := db.migrate(ctx, before, time.Now); err != nil {
		t.Fatal(err)
	}
	// An answer as schema 8 stored it: the insert of that release.
	old := testAnswer("old", "s1", 1)
	if _, err := w.ExecContext(ctx, `INSERT INTO sessions (id, tenant, principal, assistant, turns, created_at, updated_at)
		VALUES ('s1', 'acme', 'k1', 'sextant', 1, 1, 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO answers (id, session_id, turn, tenant, principal, assistant,
			question, query, text, finish_reason, refusal, model, served, template, template_hash,
			temperature, seed, max_tokens, input_tokens, cached_input_tokens, output_tokens, tokens_estimated,
			cache, chunk_ids, sources, sentences, timings, created_at)
			VALUES ('old', 's1', 1, 'acme', 'k1', 'sextant', ?, ?, ?, 'stop', '', 'extractive', 'extractive:extractive', 'answer', 'abc',
			0.2, 7, 512, 100, 0, 8, 1, '', '["d#0"]', ?, '[]', '[]', ?)`,
		old.Question, old.Query, old.Text,
		`[{"n":1,"chunk_id":"d#0","document_id":"d","start":10,"end":40,"text":"Run sextant ingest on the file.","score":3.5}]`,
		old.CreatedAt.UnixNano()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	full, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if v, _ := full.SchemaVersion(ctx); v != len(migs) {
		t.Errorf("schema version %d, want %d", v, len(migs))
	}
	got, err := full.Answer(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if got.Conversation != nil || got.Question != old.Question || got.Text != old.Text || len(got.Sources) != 1 {
		t.Errorf("old answer read back as %+v", got)
	}
	next := testAnswer("new", "s1", 2)
	next.Conversation = testConversation()
	if err := full.PutAnswer(ctx, next); err != nil {
		t.Fatal(err)
	}
	all, err := full.SessionAnswers(ctx, "s1", 0)
	if err != nil || len(all) != 2 {
		t.Fatalf("session answers: %v, %d", err, len(all))
	}
	if all[0].Conversation != nil || !cmp.Equal(all[1].Conversation, next.Conversation) {
		t.Errorf("conversations after the migration: %+v, %+v", all[0].Conversation, all[1].Conversation)
	}
}

// BenchmarkPutAnswer stores answers without and with a chat request's
// conversation (six messages, a tool), side by side: what recording the
// conversation adds to the record stage.
func BenchmarkPutAnswer(b *testing.B) {
	for _, bc := range []struct {
		name string
		conv *sextant.Conversation
	}{{"plain", nil}, {"conversation", testConversation()}} {
		b.Run(bc.name, func(b *testing.B) {
			db, err := Open(b.Context(), b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			a := testAnswer("", "", 1)
			a.Conversation = bc.conv
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				a.ID = fmt.Sprintf("a%d", i)
				a.SessionID = "chat_" + a.ID
				if err := db.PutAnswer(b.Context(), a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
