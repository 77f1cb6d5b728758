package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/web"
)

// aclFixture writes the corpus of the ACL tests: per tenant, documents
// whose facts are unique words, some of them labelled.
func aclFixture(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []struct{ tenant, labels, name, text string }{
		{"acme", "hr", "salaries.md", "# Salaries\n\nThe acme salary band for engineers is Wombat-90 to Wombat-120.\n"},
		{"acme", "", "office.md", "# Office\n\nThe acme office opens at Kestrel-nine. The salary band for engineers is published by HR.\n"},
		{"globex", "", "salaries.md", "# Salaries\n\nThe globex salary band for engineers is Narwhal-200.\n"},
	} {
		src := filepath.Join(t.TempDir(), d.tenant+"-"+strings.ReplaceAll(d.labels, ",", "_"))
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, d.name), []byte(d.text), 0o644)
		args := []string{"ingest", "--data", dir, "--quiet", "--tenant", d.tenant}
		if d.labels != "" {
			args = append(args, "--labels", d.labels)
		}
		mustRun(t, append(args, src)...)
	}
}

// askedSources asks over /v1/ask and over chat completions (plain and
// streamed), and returns every answer text and every cited or given
// source URI of the three.
func askedSources(t *testing.T, url, key, question string) (texts, uris []string) {
	t.Helper()
	var a web.Answer
	if st := jsonCall(t, key, "POST", url+"/v1/ask", `{"question":`+jsonString(question)+`}`, &a); st != 200 {
		t.Fatalf("ask: %d", st)
	}
	texts = append(texts, a.Answer)
	for _, s := range a.Sources {
		uris = append(uris, s.URI)
	}
	for _, s := range a.Sentences {
		for _, e := range s.Evidence {
			texts = append(texts, e.Quote)
		}
	}
	body := `{"model":"sextant","messages":[{"role":"user","content":` + jsonString(question) + `}]}`
	var cc struct {
		Choices []struct{ Message struct{ Content string } }
		Sources []web.Source
	}
	if st := jsonCall(t, key, "POST", url+"/v1/chat/completions", body, &cc); st != 200 || len(cc.Choices) != 1 {
		t.Fatalf("chat: %d", st)
	}
	texts = append(texts, cc.Choices[0].Message.Content)
	for _, s := range cc.Sources {
		uris = append(uris, s.URI)
	}
	st, raw := request(t, key, "POST", url+"/v1/chat/completions", strings.Replace(body, `"model"`, `"stream":true,"model"`, 1))
	if st != 200 {
		t.Fatalf("chat stream: %d %s", st, raw)
	}
	texts = append(texts, string(raw)) // the whole stream: deltas and the sources extension
	return texts, uris
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestServeACL: keys of different tenants and groups ask the running
// server the same question, over /v1/ask and chat completions (plain and
// streamed), with the response cache on. No answer, quote or citation
// ever comes from a document the key may not read: not another tenant's,
// not one labelled for a group the key lacks — not even from a cached
// answer another key's question produced; and every key still gets what
// it may read.
func TestServeACL(t *testing.T) {
	dir := t.TempDir()
	aclFixture(t, dir)
	url, out, stop := startServe(t, dir, "--no-sample")
	defer stop()
	admin := printedKey(t, out.String())
	hr, _ := createKey(t, url, admin, `{"tenant":"acme","roles":["app"],"groups":["hr"]}`)
	plain, _ := createKey(t, url, admin, `{"tenant":"acme","roles":["app"]}`)
	other, _ := createKey(t, url, admin, `{"tenant":"acme","roles":["app"],"groups":["finance"]}`)
	globex, _ := createKey(t, url, admin, `{"tenant":"globex","roles":["app"]}`)
	nobody, _ := createKey(t, url, admin, `{"roles":["app"]}`) // the default tenant holds no documents

	const q = "What is the salary band for engineers?"
	for _, c := range []struct {
		name      string
		key       string
		may, mayN []string // facts the key must find, and must never see
		uris      []string // source files it may be given
	}{
		// The order matters: the hr key's answer is cached first.
		{"acme hr", hr, []string{"Wombat-90"}, []string{"Narwhal"}, []string{"acme-hr/salaries.md", "acme-/office.md"}},
		{"acme, no groups", plain, []string{"published by HR"}, []string{"Wombat", "Narwhal"}, []string{"acme-/office.md"}},
		{"acme, another group", other, []string{"published by HR"}, []string{"Wombat", "Narwhal"}, []string{"acme-/office.md"}},
		{"globex", globex, []string{"Narwhal-200"}, []string{"Wombat", "Kestrel", "published by HR"}, []string{"globex-/salaries.md"}},
		{"default tenant", nobody, nil, []string{"Wombat", "Narwhal", "Kestrel", "published by HR"}, nil},
	} {
		texts, uris := askedSources(t, url, c.key, q)
		all := strings.Join(texts, "\n")
		for _, f := range c.mayN {
			if strings.Contains(all, f) {
				t.Errorf("%s: the answer shows %q, from a document it may not read:\n%s", c.name, f, all)
			}
		}
		for _, f := range c.may {
			if !strings.Contains(all, f) {
				t.Errorf("%s: the answer lacks %q, from a document it may read:\n%s", c.name, f, all)
			}
		}
		for _, u := range uris {
			ok := false
			for _, allowed := range c.uris {
				ok = ok || strings.HasSuffix(u, allowed)
			}
			if !ok {
				t.Errorf("%s: cited %s, which it may not read", c.name, u)
			}
		}
		if c.uris == nil && len(uris) > 0 {
			t.Errorf("%s: sources %v", c.name, uris)
		}
	}
}

// TestServeUploadTenants: a document uploaded by a key of tenant A is
// stored in A; no key of tenant B can list, fetch, search, delete or be
// answered from it, even naming its id; A's keys can.
func TestServeUploadTenants(t *testing.T) {
	dir := t.TempDir()
	url, out, stop := startServe(t, dir, "--no-sample")
	defer stop()
	admin := printedKey(t, out.String())
	acmeWriter, writerID := createKey(t, url, admin, `{"tenant":"acme","roles":["data_engineer"]}`)
	acmeReader, _ := createKey(t, url, admin, `{"tenant":"acme","roles":["viewer","app"]}`)
	globex, _ := createKey(t, url, admin, `{"tenant":"globex","roles":["viewer","app","data_engineer"]}`)

	const doc = "# Quokkafest\n\nQuokkafest is the acme summer party, held at Lake Wendouree.\n"
	st, _ := httpRequest(t, acmeWriter, "POST", url+"/v1/documents?name=quokkafest.md", doc, map[string]string{"Content-Type": "text/markdown"})
	if st != 201 {
		t.Fatalf("upload: %d", st)
	}
	var list struct {
		Data []web.DocumentJSON
	}
	if st := jsonCall(t, acmeReader, "GET", url+"/v1/documents", "", &list); st != 200 || len(list.Data) != 1 {
		t.Fatalf("acme's list: %d %+v", st, list.Data)
	}
	id := list.Data[0].ID
	if st := jsonCall(t, globex, "GET", url+"/v1/documents", "", &list); st != 200 || len(list.Data) != 0 {
		t.Errorf("globex lists %+v", list.Data)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/documents/" + id, ""},
		{"DELETE", "/v1/documents/" + id, ""},
	} {
		if st, body := request(t, globex, c.method, url+c.path, c.body); st != 404 {
			t.Errorf("globex %s %s: %d %s; want 404", c.method, c.path, st, body)
		}
	}
	search := func(key, body string) string {
		st, b := request(t, key, "POST", url+"/v1/search", body)
		if st != 200 {
			t.Fatalf("search %s: %d %s", body, st, b)
		}
		return string(b)
	}
	if got := search(globex, `{"query":"Quokkafest summer party"}`); strings.Contains(got, "quokkafest.md") || strings.Contains(got, "Wendouree") {
		t.Errorf("globex finds the upload: %s", got)
	}
	if got := search(globex, `{"query":"Quokkafest","filters":{"document_ids":["`+id+`"]}}`); strings.Contains(got, "quokkafest.md") || strings.Contains(got, "Wendouree") {
		t.Errorf("globex finds the upload by its id: %s", got)
	}
	texts, uris := askedSources(t, url, globex, "Where is Quokkafest held?")
	if all := strings.Join(texts, "\n"); strings.Contains(all, "Wendouree") || len(uris) != 0 {
		t.Errorf("globex is answered from acme's upload: %v\n%s", uris, all)
	}
	if got := search(acmeReader, `{"query":"Quokkafest summer party"}`); !strings.Contains(got, "quokkafest.md") {
		t.Errorf("acme does not find its upload: %s", got)
	}
	if texts, _ := askedSources(t, url, acmeReader, "Where is Quokkafest held?"); !strings.Contains(strings.Join(texts, "\n"), "Wendouree") {
		t.Errorf("acme is not answered from its upload: %s", texts)
	}
	// The upload is an admin record of acme, by the writer; globex's
	// refused delete left none.
	log := exportAudit(t, url, admin)
	if up := log.find(sextant.AuditAdmin, `"action":"documents.upload"`, id); len(up) != 1 || up[0].Tenant != "acme" || up[0].Actor != writerID {
		t.Errorf("upload record: %+v", up)
	}
	if del := log.find(sextant.AuditAdmin, `"action":"document.delete"`); len(del) != 0 {
		t.Errorf("a refused delete was recorded: %+v", del)
	}
	stop()
	st2, err := openStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if d, err := st2.Document(context.Background(), id); err != nil || d.Tenant != "acme" {
		t.Errorf("the upload is stored as %+v, %v; want tenant acme", d, err)
	}
}
