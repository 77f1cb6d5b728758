package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

// replayCLI runs sextant replay and returns its output and exit code.
func replayCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"replay"}, args...), func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	if err == nil {
		return out.String(), 0
	}
	out.WriteString("\nerror: " + err.Error())
	return out.String(), exitCode(err)
}

// TestReplay records answers through a running server (over HTTP, with a
// request id), then replays them with sextant replay: unchanged they are
// identical, found by request id and by answer id; an edited document is
// named as changed in the store (the replay still identical, using the
// recorded text); a changed support threshold changes the replay, and
// the differences are shown; a changed template file does not stop a
// replay (the version the answer was made with is kept), a version kept
// nowhere does and says so. The HTTP route gives the same JSON as --json.
func TestReplay(t *testing.T) {
	dir := t.TempDir()
	docs := t.TempDir()
	doc := filepath.Join(docs, "zephyr.md")
	os.WriteFile(doc, []byte("# Zephyr\n\nThe Zephyr gateway listens on port 7311 by default.\n\nIts maintenance window is Sunday night.\n"), 0o644)
	mustRun(t, "ingest", "--data", dir, "--quiet", docs)
	// A remote model (a fake OpenAI server) whose answer changes between
	// the record and the replay.
	up := llmtest.NewOpenAIServer(t)
	os.WriteFile(filepath.Join(dir, "sextant.yaml"), []byte(fmt.Sprintf("providers:\n  - {name: up, type: openai, base_url: %q}\n"+
		"assistants:\n  - {name: remote, model: gpt-4o-mini}\n", up.URL)), 0o644)
	url, out, stop := startServe(t, dir, "--no-sample")
	defer stop()
	key := printedKey(t, out.String())
	st, _ := httpRequest(t, key, "POST", url+"/v1/chat/completions",
		`{"model":"sextant","messages":[{"role":"user","content":"Which port does the Zephyr gateway listen on?"}]}`,
		map[string]string{"X-Request-Id": "req-replay-1"})
	if st != 200 {
		t.Fatalf("chat: %d", st)
	}
	up.Enqueue(llmtest.Reply{Text: []string{"The maintenance window of the Zephyr gateway is Sunday night [1]."}})
	var asked web.Answer
	if st := jsonCall(t, key, "POST", url+"/v1/ask", `{"assistant":"remote","question":"When is the maintenance window of the Zephyr gateway?"}`, &asked); st != 200 ||
		len(asked.Sources) == 0 || asked.Supported != 1 {
		t.Fatalf("ask: %d %+v", st, asked)
	}
	// Over HTTP, by request id: identical.
	var viaHTTP web.Replay
	if st := jsonCall(t, key, "POST", url+"/v1/answers/req-replay-1/replay", "", &viaHTTP); st != 200 || !viaHTTP.Identical || viaHTTP.Replayed == "" {
		t.Fatalf("replay over HTTP: %d %+v", st, viaHTTP)
	}
	stop()

	// By request id, unchanged: identical, exit 0.
	text, code := replayCLI(t, "--data", dir, "req-replay-1")
	if code != 0 || !strings.Contains(text, "Replay: identical") || !strings.Contains(text, "(request req-replay-1)") ||
		strings.Contains(text, "changed in the store") {
		t.Fatalf("replay by request id (exit %d):\n%s", code, text)
	}
	// By answer id, as JSON: what the HTTP route answered.
	js, code := replayCLI(t, "--data", dir, "--json", viaHTTP.AnswerID)
	var viaCLI web.Replay
	if code != 0 || json.Unmarshal([]byte(js), &viaCLI) != nil || !viaCLI.Identical || viaCLI.Replayed != viaHTTP.Replayed ||
		viaCLI.TemplateHash != viaHTTP.TemplateHash || len(viaCLI.Changed) != 0 {
		t.Fatalf("replay --json (exit %d):\n%s", code, js)
	}

	// The document is edited and re-ingested: the replay still uses the
	// recorded text (identical) and names the source that changed.
	os.WriteFile(doc, []byte("# Zephyr\n\nThe Zephyr gateway listens on port 8443 since version 2.\n\nIts maintenance window is Sunday night.\n"), 0o644)
	mustRun(t, "ingest", "--data", dir, "--quiet", docs)
	text, code = replayCLI(t, "--data", dir, "req-replay-1")
	if code != 0 || !strings.Contains(text, "Replay: identical") || !strings.Contains(text, "Sources that changed in the store") ||
		!strings.Contains(text, "zephyr.md") {
		t.Fatalf("replay after the document changed (exit %d):\n%s", code, text)
	}

	// The model answers otherwise now: the replay shows the sentence that
	// changed, and that it lost its support.
	up.Enqueue(llmtest.Reply{Text: []string{"The maintenance window of the Zephyr gateway is Monday morning [1]."}})
	text, code = replayCLI(t, "--data", dir, asked.ID)
	for _, want := range []string{"Replay: DIFFERENT", "- The maintenance window of the Zephyr gateway is Sunday night [1].",
		"+ The maintenance window of the Zephyr gateway is Monday morning [1].", "Support changed:"} {
		if code != 1 || !strings.Contains(text, want) {
			t.Fatalf("replay of a changed model answer (exit %d) lacks %q:\n%s", code, want, text)
		}
	}
	if calls := up.Calls(); len(calls) != 2 {
		t.Errorf("%d calls to the model; want the answer and its replay", len(calls))
	}

	// The template file changes: the built-in version the answer was made
	// with is kept, so the answer still replays exactly.
	tmpl, err := rag.LoadTemplates(nil)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := tmpl.Template("answer")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "templates"), 0o755)
	os.WriteFile(filepath.Join(dir, "templates", "answer.tmpl"), []byte(strings.Replace(orig.Text, "Answer in a few sentences", "Answer in one sentence", 1)), 0o644)
	if text, code := replayCLI(t, "--data", dir, "req-replay-1"); code != 0 || !strings.Contains(text, "identical") {
		t.Fatalf("replay after the template file changed (exit %d):\n%s", code, text)
	}
	// A version kept nowhere (a record naming a hash no store, file or
	// built-in template has): the answer cannot be replayed exactly.
	db, err := sql.Open("sqlite", filepath.Join(dir, "sextant.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE answers SET template_hash = ? WHERE template = 'answer'`, strings.Repeat("ab", 32)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	text, code = replayCLI(t, "--data", dir, "req-replay-1")
	if code != 1 || !strings.Contains(text, "cannot be replayed exactly") || !strings.Contains(text, "kept nowhere") {
		t.Fatalf("replay of a version kept nowhere (exit %d):\n%s", code, text)
	}
	if _, code := replayCLI(t, "--data", dir, "req-unknown"); code != 1 {
		t.Errorf("unknown id: exit %d", code)
	}
	if _, code := replayCLI(t, "--data", dir); code != 2 {
		t.Errorf("no id: exit %d", code)
	}
}
