package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

// memPrompts is a Prompts over memory with the contract cmd's store-backed
// one keeps: configured assistants are the base, runtime ones apply over
// them, and every change reconfigures the pipeline at once.
type memPrompts struct {
	mu       sync.Mutex
	p        *rag.Pipeline
	base     []rag.Assistant
	base0    *rag.Templates
	specs    map[string]web.AssistantSpec
	versions map[string][]*rag.Template // by name, oldest first
	active   map[string]*rag.Template
}

func newMemPrompts(p *rag.Pipeline) *memPrompts {
	return &memPrompts{p: p, base: p.Assistants(), base0: p.Templates(), specs: map[string]web.AssistantSpec{},
		versions: map[string][]*rag.Template{}, active: map[string]*rag.Template{}}
}

func (m *memPrompts) templates() *rag.Templates {
	t := m.base0
	for _, tp := range m.active {
		t = t.With(tp)
	}
	return t
}

func (m *memPrompts) apply() error {
	ts := m.templates()
	as := slices.Clone(m.base)
	for _, s := range m.specs {
		a := rag.Assistant{Name: s.Name, Model: s.Model, Template: s.Template, Collections: s.Collections, TopK: s.TopK, ContextWindow: -1}
		if i := slices.IndexFunc(as, func(b rag.Assistant) bool { return b.Name == s.Name }); i >= 0 {
			as[i] = a
		} else {
			as = append(as, a)
		}
	}
	return m.p.Configure(as, "", ts)
}

func (m *memPrompts) TemplateVersions(_ context.Context, name string) ([]web.TemplateVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.templates().Template(name)
	if err != nil {
		return nil, err
	}
	var out []web.TemplateVersion
	for _, v := range slices.Backward(m.versions[name]) {
		out = append(out, web.TemplateVersion{Hash: v.Hash, Active: v.Hash == cur.Hash, Source: "stored"})
	}
	if b, err := m.base0.Template(name); err == nil {
		out = append(out, web.TemplateVersion{Hash: b.Hash, Active: b.Hash == cur.Hash, Source: "builtin"})
	}
	return out, nil
}

func (m *memPrompts) SetTemplate(_ context.Context, name, text, _ string) (string, string, error) {
	tp, err := rag.ParseTemplate(name, text)
	if err != nil {
		return "", "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	before := ""
	if cur, err := m.templates().Template(name); err == nil {
		before = cur.Hash
	}
	m.versions[name] = append(m.versions[name], tp)
	m.active[name] = tp
	return before, tp.Hash, m.apply()
}

func (m *memPrompts) ActivateTemplate(_ context.Context, name, hash, _ string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.templates().Template(name)
	if err != nil {
		return "", err
	}
	for _, v := range m.versions[name] {
		if v.Hash == hash {
			m.active[name] = v
			return cur.Hash, m.apply()
		}
	}
	if b, err := m.base0.Template(name); err == nil && b.Hash == hash {
		delete(m.active, name)
		return cur.Hash, m.apply()
	}
	return "", sextant.Errorf(sextant.ENOTFOUND, "template %q has no version %.12s", name, hash)
}

func (m *memPrompts) SetAssistant(_ context.Context, s web.AssistantSpec, _ string) (string, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.Template != "" {
		if _, err := m.templates().Template(s.Template); err != nil {
			return "", "", web.InvalidField("template", "%q is not a template", s.Template)
		}
	}
	if s.Model == "" {
		return "", "", web.InvalidField("model", "required here")
	}
	old, had := m.specs[s.Name]
	m.specs[s.Name] = s
	if err := m.apply(); err != nil {
		if had {
			m.specs[s.Name] = old
		} else {
			delete(m.specs, s.Name)
		}
		return "", "", err
	}
	a, _ := m.p.Assistant(s.Name)
	return "", web.AssistantHash(&a), nil
}

func (m *memPrompts) DeleteAssistant(_ context.Context, name, _ string) (string, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.specs[name]; !ok {
		return "", "", sextant.Errorf(sextant.ENOTFOUND, "assistant %q is not defined at runtime", name)
	}
	a, _ := m.p.Assistant(name)
	before := web.AssistantHash(&a)
	delete(m.specs, name)
	if err := m.apply(); err != nil {
		return "", "", err
	}
	after := ""
	if a, ok := m.p.Assistant(name); ok {
		after = web.AssistantHash(&a)
	}
	return before, after, nil
}

func promptStack(t *testing.T) *authed {
	t.Helper()
	return authStack(t, func(o *web.Options) { o.Prompts = newMemPrompts(o.Pipeline) })
}

func TestTemplatesAPI(t *testing.T) {
	s := promptStack(t)
	eng, viewer := s.keys[sextant.RoleAIEngineer], s.keys[sextant.RoleSecurity]
	var list web.List[web.Template]
	if st := s.call(t, viewer, "GET", "/v1/templates", "", &list); st != 200 || len(list.Data) != 2 || list.Data[0].Name != "answer" || len(list.Data[0].Hash) != 64 {
		t.Fatalf("list: %d %+v", st, list.Data)
	}
	orig := list.Data[0].Hash
	var got web.Template
	if st := s.call(t, viewer, "GET", "/v1/templates/answer", "", &got); st != 200 || got.Hash != orig || !strings.Contains(got.Body, `define "system"`) || len(got.Versions) != 1 {
		t.Fatalf("get: %d %+v", st, got)
	}

	// A new version (JSON body) becomes active for the next request.
	v2 := `{{define "system"}}Version two. {{range .Sources}}[{{.N}}] {{.Text}} {{end}}{{end}}`
	var set web.Template
	if st := s.call(t, eng, "PUT", "/v1/templates/answer", mustJSON(t, map[string]string{"body": v2}), &set); st != 200 || set.Hash != rag.TemplateHash(v2) || set.PreviousHash == nil || *set.PreviousHash != orig {
		t.Fatalf("set: %d %+v", st, set)
	}
	var ans struct {
		TemplateHash string `json:"template_hash"`
		ID           string `json:"id"`
	}
	if st := s.call(t, eng, "POST", "/v1/ask", `{"question":"What is the tide?","no_cache":true}`, &ans); st != 200 || ans.TemplateHash != set.Hash {
		t.Errorf("answer after the change: %d template %.12s, want %.12s", st, ans.TemplateHash, set.Hash)
	}
	// A plain-text body is the template itself; a new name adds one.
	st, body := sendCT(t, s.URL, eng, "PUT", "/v1/templates/terse", "text/plain", `{{define "system"}}Terse.{{end}}`)
	if st != 200 {
		t.Fatalf("set terse: %d %s", st, body)
	}
	if st := s.call(t, viewer, "GET", "/v1/templates/answer", "", &got); st != 200 || got.Hash != set.Hash || len(got.Versions) != 2 || !got.Versions[0].Active {
		t.Fatalf("versions: %+v", got.Versions)
	}
	// Roll back.
	var act web.Template
	if st := s.call(t, eng, "POST", "/v1/templates/answer/activate", `{"hash":"`+orig+`"}`, &act); st != 200 || act.Hash != orig || *act.PreviousHash != set.Hash {
		t.Fatalf("activate: %d %+v", st, act)
	}
	if tp, _ := s.pipeline.Templates().Template("answer"); tp.Hash != orig {
		t.Errorf("pipeline template after rollback %.12s", tp.Hash)
	}

	for _, c := range []struct {
		method, path, ct, body string
		status                 int
		param, text            string
	}{
		{"PUT", "/v1/templates/answer", "", `{"body":"{{define \"system\"}}\n{{.Nope}\n{{end}}"}`, 400, "body", "line 2"},
		{"PUT", "/v1/templates/answer", "", `{"body":"{{define \"system\"}}{{.Missing}}{{end}}"}`, 400, "body", "Missing"},
		{"PUT", "/v1/templates/answer", "", `{"body":"  "}`, 400, "body", "empty"},
		{"PUT", "/v1/templates/answer", "", `{"text":"x"}`, 400, "text", "unknown field"},
		{"PUT", "/v1/templates/Bad%20Name", "", `{"body":"x"}`, 400, "name", "Bad Name"},
		{"POST", "/v1/templates/answer/activate", "", `{"hash":"abc"}`, 400, "hash", "64 hex"},
		{"POST", "/v1/templates/answer/activate", "", `{"hash":"` + rag.TemplateHash("never") + `"}`, 404, "", "no version"},
		{"GET", "/v1/templates/nope", "", "", 404, "", "not found"},
	} {
		st, body := sendCT(t, s.URL, eng, c.method, c.path, c.ct, c.body)
		e := apiErr(t, body)
		if st != c.status || paramOf(e) != c.param || !strings.Contains(e.Message, c.text) {
			t.Errorf("%s %s %s: %d %s; want %d param %q containing %q", c.method, c.path, c.body, st, body, c.status, c.param, c.text)
		}
	}
	// Roles without templates.write, and keys of a named tenant, cannot change them.
	acmeEng, _ := s.key(t, "acme", sextant.RoleAIEngineer)
	for _, key := range []string{s.keys[sextant.RoleLLMOps], s.keys[sextant.RoleApp], viewer, acmeEng} {
		if st, body := sendCT(t, s.URL, key, "PUT", "/v1/templates/answer", "", `{"body":"{{define \"system\"}}x{{end}}"}`); st != 403 || apiErr(t, body).Type != "permission_error" {
			t.Errorf("set by a key without the right: %d %s", st, body)
		}
	}
	if st, body := sendCT(t, s.URL, acmeEng, "POST", "/v1/templates/answer/activate", "", `{"hash":"`+orig+`"}`); st != 403 || !strings.Contains(string(body), "installation-wide") {
		t.Errorf("activate by a tenant key: %d %s", st, body)
	}
	if st := s.call(t, acmeEng, "GET", "/v1/templates/answer", "", nil); st != 200 {
		t.Errorf("read by a tenant key: %d", st)
	}

	recs := s.auditLog(t)
	if r := findAudit(recs, `"action":"template.set"`, `"name":"answer"`, `"before":"`+orig+`"`, `"after":"`+set.Hash+`"`); len(r) != 1 || r[0].Actor == "" || r[0].Kind != sextant.AuditAdmin {
		t.Errorf("template.set records: %+v", r)
	}
	if r := findAudit(recs, `"action":"template.activate"`, `"before":"`+set.Hash+`"`, `"after":"`+orig+`"`); len(r) != 1 {
		t.Errorf("template.activate records: %+v", r)
	}
	if r := findAudit(recs, `"action":"template.set"`, `"name":"terse"`, `"before":""`); len(r) != 1 {
		t.Errorf("template.set of a new name: %+v", r)
	}
	if n := len(findAudit(recs, `"action":"template.`)); n != 3 {
		t.Errorf("%d template records; want 3 (refused changes are not recorded)", n)
	}
}

func TestAssistantsAPI(t *testing.T) {
	s := promptStack(t)
	eng := s.keys[sextant.RoleAIEngineer]
	var info web.AssistantInfo
	if st := s.call(t, eng, "PUT", "/v1/assistants/hr", `{"model":"extractive","description":"HR questions","top_k":3,"collections":["default"]}`, &info); st != 200 ||
		info.Name != "hr" || info.TopK != 3 || info.Model != "extractive" || len(info.TemplateHash) != 64 {
		t.Fatalf("create: %d %+v", st, info)
	}
	// Usable at once, by name, through the chat API.
	if st, body := send(t, s.URL, s.keys[sextant.RoleApp], "POST", "/v1/chat/completions", `{"model":"hr","messages":[{"role":"user","content":"What is the tide?"}]}`); st != 200 {
		t.Fatalf("chat with the new assistant: %d %s", st, body)
	}
	var list web.List[web.AssistantInfo]
	if st := s.call(t, eng, "GET", "/v1/assistants", "", &list); st != 200 || len(list.Data) != 3 {
		t.Fatalf("list: %d %+v", st, list.Data)
	}
	// Overriding a configured assistant; deleting reverts to it.
	if st := s.call(t, eng, "PUT", "/v1/assistants/remote", `{"name":"remote","model":"extractive","top_k":2}`, &info); st != 200 || info.Model != "extractive" {
		t.Fatalf("override: %d %+v", st, info)
	}
	var del struct {
		Deleted, Configured bool
	}
	if st := s.call(t, eng, "DELETE", "/v1/assistants/remote", "", &del); st != 200 || !del.Deleted || !del.Configured {
		t.Fatalf("delete override: %d %+v", st, del)
	}
	if a, _ := s.pipeline.Assistant("remote"); a.Model != "gpt-4o-mini" {
		t.Errorf("after delete the configured assistant is back: %+v", a)
	}
	if st := s.call(t, eng, "DELETE", "/v1/assistants/hr", "", &del); st != 200 || del.Configured {
		t.Fatalf("delete: %d %+v", st, del)
	}
	if _, ok := s.pipeline.Assistant("hr"); ok {
		t.Error("deleted assistant still answers")
	}

	for _, c := range []struct {
		method, path, body string
		status             int
		param              string
	}{
		{"PUT", "/v1/assistants/x", `{"model":"extractive","top_k":-1}`, 400, "top_k"},
		{"PUT", "/v1/assistants/x", `{"model":"extractive","temperature":3}`, 400, "temperature"},
		{"PUT", "/v1/assistants/x", `{"model":"extractive","stale":"sometimes"}`, 400, "stale"},
		{"PUT", "/v1/assistants/x", `{"model":"extractive","template":"missing"}`, 400, "template"},
		{"PUT", "/v1/assistants/x", `{"model":"extractive","collections":[""]}`, 400, "collections[0]"},
		{"PUT", "/v1/assistants/x", `{"name":"y","model":"extractive"}`, 400, "name"},
		{"PUT", "/v1/assistants/x", `{"model":"extractive","colour":"red"}`, 400, "colour"},
		{"PUT", "/v1/assistants/x", `{"model":"extractive","top_k":"many"}`, 400, "top_k"},
		{"PUT", "/v1/assistants/_x", `{"model":"extractive"}`, 400, "name"},
		{"DELETE", "/v1/assistants/sextant", "", 404, ""},
	} {
		st, body := send(t, s.URL, eng, c.method, c.path, c.body)
		if e := apiErr(t, body); st != c.status || paramOf(e) != c.param {
			t.Errorf("%s %s %s: %d %s; want %d naming %q", c.method, c.path, c.body, st, body, c.status, c.param)
		}
	}
	acmeEng, _ := s.key(t, "acme", sextant.RoleAIEngineer)
	for _, key := range []string{s.keys[sextant.RoleLLMOps], s.keys[sextant.RoleQA], s.keys[sextant.RoleApp], acmeEng} {
		if st, body := send(t, s.URL, key, "PUT", "/v1/assistants/x", `{"model":"extractive"}`); st != 403 {
			t.Errorf("create by a key without the right: %d %s", st, body)
		}
		if st, _ := send(t, s.URL, key, "DELETE", "/v1/assistants/sextant", ""); st != 403 {
			t.Errorf("delete by a key without the right: %d", st)
		}
	}
	recs := s.auditLog(t)
	if r := findAudit(recs, `"action":"assistant.set"`, `"name":"hr"`, `"before":""`); len(r) != 1 || r[0].Actor == "" {
		t.Errorf("assistant.set records: %+v", r)
	}
	if r := findAudit(recs, `"action":"assistant.delete"`, `"name":"remote"`); len(r) != 1 || strings.Contains(string(r[0].Payload), `"after":""`) {
		t.Errorf("assistant.delete of an override: %+v", r)
	}
	if r := findAudit(recs, `"action":"assistant.delete"`, `"name":"hr"`, `"after":""`); len(r) != 1 {
		t.Errorf("assistant.delete: %+v", r)
	}
}

// Without a Prompts the changes answer 503 and the reads still work.
func TestPromptsUnconfigured(t *testing.T) {
	s := authStack(t)
	admin := s.keys[sextant.RoleAdmin]
	if st, _ := send(t, s.URL, admin, "PUT", "/v1/assistants/x", `{"model":"extractive"}`); st != http.StatusServiceUnavailable {
		t.Errorf("set without Prompts: %d", st)
	}
	var got web.Template
	if st := s.call(t, admin, "GET", "/v1/templates/answer", "", &got); st != 200 || len(got.Versions) != 1 {
		t.Errorf("get without Prompts: %d %+v", st, got)
	}
}

func sendCT(t *testing.T, url, key, method, path, ct, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res.StatusCode, []byte(b.String())
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func paramOf(e web.ErrorDetail) string {
	p, _ := e.Param.(string)
	return p
}
