package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

// TestPromptsServeAndCLI changes templates and assistants over HTTP and
// with the command line while a server runs: HTTP changes apply to the
// next request, command-line ones within the server's poll, an answer
// made with an older template version replays exactly, bad definitions
// are refused naming the field, every change is in the audit log, and a
// restart keeps what was set.
func TestPromptsServeAndCLI(t *testing.T) {
	dir := t.TempDir()
	docs := t.TempDir()
	os.WriteFile(filepath.Join(docs, "zephyr.md"), []byte("# Zephyr\n\nThe Zephyr gateway listens on port 7311 by default.\n\nIts maintenance window is Sunday night.\n"), 0o644)
	mustRun(t, "ingest", "--data", dir, "--quiet", docs)
	url, out, stop := startServe(t, dir, "--no-sample")
	key := printedKey(t, out.String())

	ask := func(assistant string) web.Answer {
		t.Helper()
		var a web.Answer
		if st := jsonCall(t, key, "POST", url+"/v1/ask", `{"assistant":"`+assistant+`","question":"Which port does the Zephyr gateway listen on?","no_cache":true}`, &a); st != 200 {
			t.Fatalf("ask %s: %d", assistant, st)
		}
		return a
	}
	first := ask("sextant")
	builtin, _ := rag.LoadTemplates(nil)
	orig, _ := builtin.Template("answer")
	if first.TemplateHash != orig.Hash {
		t.Fatalf("first answer's template %.12s, want the built-in %.12s", first.TemplateHash, orig.Hash)
	}

	// HTTP: a new version applies to the next request.
	v2 := strings.Replace(orig.Text, "Answer in a few sentences", "Answer in one sentence", 1)
	var set web.Template
	if st := jsonCall(t, key, "PUT", url+"/v1/templates/answer", mustJSONString(t, map[string]string{"body": v2}), &set); st != 200 || set.Hash != rag.TemplateHash(v2) {
		t.Fatalf("PUT template: %d %+v", st, set)
	}
	second := ask("sextant")
	if second.TemplateHash != set.Hash {
		t.Errorf("answer after the PUT used %.12s, want %.12s", second.TemplateHash, set.Hash)
	}
	// The answer made with the built-in version replays exactly.
	var rep struct {
		Identical bool `json:"identical"`
	}
	if st := jsonCall(t, key, "POST", url+"/v1/answers/"+first.ID+"/replay", "", &rep); st != 200 || !rep.Identical {
		t.Errorf("replay of the older version: %d %+v", st, rep)
	}

	// Command line, while the server runs: picked up within its poll.
	v3 := strings.Replace(orig.Text, "Answer in a few sentences", "Answer in two sentences", 1)
	file := filepath.Join(t.TempDir(), "answer.tmpl")
	os.WriteFile(file, []byte(v3), 0o644)
	if got := mustRun(t, "templates", "set", "answer", file, "--data", dir); !strings.Contains(got, "is now "+rag.TemplateHash(v3)[:12]) {
		t.Errorf("templates set: %s", got)
	}
	waitFor(t, "the server to apply the CLI's template", func() bool {
		var tp web.Template
		return jsonCall(t, key, "GET", url+"/v1/templates/answer", "", &tp) == 200 && tp.Hash == rag.TemplateHash(v3)
	})
	yml := filepath.Join(t.TempDir(), "ops.yaml")
	os.WriteFile(yml, []byte("name: ops\ndescription: operations\nmodel: extractive\ntop_k: 2\ntemplate: answer\n"), 0o644)
	mustRun(t, "assistants", "set", yml, "--data", dir)
	waitFor(t, "the server to apply the CLI's assistant", func() bool {
		var l web.List[web.AssistantInfo]
		jsonCall(t, key, "GET", url+"/v1/assistants", "", &l)
		for _, a := range l.Data {
			if a.Name == "ops" && a.TopK == 2 {
				return true
			}
		}
		return false
	})
	if a := ask("ops"); a.Assistant != "ops" {
		t.Errorf("answer by the new assistant: %+v", a.Assistant)
	}
	// Roll back from the command line, by a hash prefix.
	mustRun(t, "templates", "activate", "answer", orig.Hash[:10], "--data", dir)
	waitFor(t, "the rollback", func() bool { return ask("sextant").TemplateHash == orig.Hash })

	// Refusals name the field.
	for _, c := range []struct{ body, field string }{
		{`{"model":"no-such-model"}`, "model"},
		{`{"model":"extractive","template":"nope"}`, "template"},
		{`{"model":"extractive","collections":["nope"]}`, "collections[0]"},
		{`{"model":"extractive","filters":{"updated>=":"x"}}`, "filters"},
	} {
		st, b := request(t, key, "PUT", url+"/v1/assistants/bad", c.body)
		if st != 400 || !strings.Contains(string(b), `"param":"`+c.field+`"`) {
			t.Errorf("PUT %s: %d %s; want 400 naming %s", c.body, st, b, c.field)
		}
	}
	if st, b := request(t, key, "DELETE", url+"/v1/assistants/sextant", ""); st != 404 {
		t.Errorf("delete of a configured assistant: %d %s", st, b)
	}
	// HTTP: define over the built-in assistant, then delete back to it.
	if st, b := request(t, key, "PUT", url+"/v1/assistants/sextant", `{"model":"extractive","top_k":1}`); st != 200 {
		t.Fatalf("override the built-in: %d %s", st, b)
	}
	if st, b := request(t, key, "DELETE", url+"/v1/assistants/sextant", ""); st != 200 || !strings.Contains(string(b), `"configured":true`) {
		t.Errorf("delete override: %d %s", st, b)
	}
	stop()

	// What was set survives a restart; the CLI lists it.
	if got := mustRun(t, "assistants", "--data", dir); !strings.Contains(got, "ops") || !strings.Contains(got, "runtime") {
		t.Errorf("assistants list:\n%s", got)
	}
	if got := mustRun(t, "templates", "show", "answer", "--data", dir); strings.Count(got, "\n# ") < 4 || !strings.Contains(got, "* "+orig.Hash) {
		t.Errorf("templates show:\n%s", got)
	}
	url, out, stop = startServe(t, dir, "--no-sample")
	defer stop()
	if a := ask("ops"); a.Assistant != "ops" {
		t.Errorf("after a restart: %+v", a)
	}
	mustRun(t, "assistants", "delete", "ops", "--data", dir)
	audit := mustRun(t, "audit", "export", "--data", dir)
	for _, want := range []string{`"action":"template.set"`, `"action":"template.activate"`, `"action":"assistant.set"`, `"action":"assistant.delete"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if n := strings.Count(audit, `"action":"template.set"`); n != 2 {
		t.Errorf("%d template.set records; want 2 (HTTP and CLI)", n)
	}

	// Command-line refusals.
	bad := filepath.Join(t.TempDir(), "bad.tmpl")
	os.WriteFile(bad, []byte("{{define \"system\"}}\n\n{{.Nope}\n{{end}}"), 0o644)
	if _, errOut, err := runCLI(t, nil, "templates", "set", "answer", bad, "--data", dir); err == nil || !strings.Contains(err.Error()+errOut, "line 3") {
		t.Errorf("bad template: %v %s", err, errOut)
	}
	if _, _, err := runCLI(t, nil, "templates", "activate", "answer", "abc", "--data", dir); exitCode(err) != 2 {
		t.Errorf("short hash: %v", err)
	}
	if _, _, err := runCLI(t, nil, "assistants", "delete", "sextant", "--data", dir); err == nil {
		t.Error("deleting the configured default succeeded")
	}
	if _, _, err := runCLI(t, nil, "templates", "frobnicate", "--data", dir); exitCode(err) != 2 {
		t.Errorf("unknown subcommand: %v", err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
