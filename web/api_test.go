package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/web"
)

// End to end: the fixtures are ingested, a question asked over HTTP, and
// the answer cites the right document at offsets that index its text —
// each source's span is its chunk, each sentence's evidence is quoted from
// the document at the offsets given.
func TestAskEndToEnd(t *testing.T) {
	s := newStack(t, stackOptions{})
	status, _, body := s.postJSON(t, "/v1/ask", map[string]any{"question": rotationQuestion})
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var a web.Answer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	text := docText(t, "key-rotation.md")
	bySource := map[int]web.Source{}
	for _, src := range a.Sources {
		bySource[src.N] = src
	}
	cited := 0
	for _, sen := range a.Sentences {
		if !sen.Supported || len(sen.Citations) == 0 {
			t.Errorf("sentence %q: supported %v, citations %v", sen.Text, sen.Supported, sen.Citations)
		}
		for _, ev := range sen.Evidence {
			src := bySource[ev.N]
			if !strings.Contains(src.URI, "key-rotation.md") {
				continue
			}
			cited++
			if ev.Start < src.Start || ev.End > src.End || text[ev.Start:ev.End] != ev.Quote {
				t.Errorf("evidence [%d,%d) %q does not match the document's text there (source span [%d,%d))", ev.Start, ev.End, ev.Quote, src.Start, src.End)
			}
		}
	}
	if cited == 0 || !strings.Contains(a.Answer, "90 days") || a.Supported == 0 {
		t.Fatalf("answer %q cites key-rotation.md %d times (%d supported)", a.Answer, cited, a.Supported)
	}
	// The source spans are the chunks the store holds.
	for _, src := range a.Sources {
		status, _, body := s.do(t, "GET", "/v1/documents/"+src.DocumentID+"?chunks=true", "", nil)
		var d web.DocumentJSON
		if status != 200 || json.Unmarshal(body, &d) != nil || d.Text == nil {
			t.Fatalf("document %s: %d %s", src.DocumentID, status, body)
		}
		found := false
		for _, c := range d.ChunkList {
			if c.ID == src.ChunkID {
				found = c.Start == src.Start && c.End == src.End && (*d.Text)[c.Start:c.End] == c.Text
			}
		}
		if !found {
			t.Errorf("source %d [%d,%d) is not chunk %s of its document", src.N, src.Start, src.End, src.ChunkID)
		}
	}
	if a.OverheadMS <= 0 || len(a.Timings) == 0 || a.TimingsMS["retrieve"] <= 0 || a.Usage.OutputTokens == 0 {
		t.Errorf("timings %v overhead %v usage %+v", a.TimingsMS, a.OverheadMS, a.Usage)
	}
}

// The /v1/ask stream sends stage events, the sources, deltas that add up
// to the answer, and the answer last.
func TestAskStream(t *testing.T) {
	s := newStack(t, stackOptions{})
	status, h, body := s.postJSON(t, "/v1/ask", map[string]any{"question": "How long does a double shot take on the Corvina?", "stream": true})
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d %q: %s", status, h.Get("Content-Type"), body)
	}
	var (
		kinds []string
		text  string
		done  web.Answer
	)
	for _, ev := range sseEvents(string(body)) {
		if len(kinds) == 0 || kinds[len(kinds)-1] != ev[0] {
			kinds = append(kinds, ev[0])
		}
		switch ev[0] {
		case web.EventDelta:
			var d web.DeltaEvent
			json.Unmarshal([]byte(ev[1]), &d)
			text += d.Text
		case web.EventDone:
			json.Unmarshal([]byte(ev[1]), &done)
		}
	}
	if got := strings.Join(kinds, ","); got != "stage,sources,delta,stage,done" && got != "stage,sources,stage,delta,stage,done" {
		t.Errorf("event order %s", got)
	}
	if text == "" || text != done.Answer || !strings.Contains(text, "28") {
		t.Errorf("deltas %q, answer %q", text, done.Answer)
	}
}

func TestAskAndSearchErrors(t *testing.T) {
	s := newStack(t, stackOptions{tweak: func(o *web.Options) { o.MaxBodyBytes = 4096 }})
	cases := []struct {
		path, body string
		status     int
		param      string
	}{
		{"/v1/ask", `{}`, 400, "question"},
		{"/v1/ask", `{"question": "x", "bogus": 1}`, 400, "bogus"},
		{"/v1/ask", `{"question": 7}`, 400, "question"},
		{"/v1/ask", `{"question": "x", "k": "ten"}`, 400, "k"},
		{"/v1/ask", `{"question": "x", "filters": {"stale": "sometimes"}}`, 400, "filters.stale"},
		{"/v1/ask", `{"question": "x", "filters": {"metadata": {"team": 3}}}`, 400, "filters.metadata.team"},
		{"/v1/ask", `{"question": "x", "filters": {"updated_after": "yesterday"}}`, 400, "filters.updated_after"},
		{"/v1/ask", `{"question": "x", "assistant": "nobody"}`, 404, ""},
		{"/v1/ask", `{"question": "x"} {"question": "y"}`, 400, ""},
		{"/v1/ask", `[1, 2]`, 400, ""},
		{"/v1/ask", ``, 400, ""},
		{"/v1/ask", `{"question": "` + strings.Repeat("x", 5000) + `"}`, 413, ""},
		{"/v1/search", `{"query": ""}`, 400, "query"},
		{"/v1/search", `{"query": "x", "mode": "psychic"}`, 400, "mode"},
		{"/v1/search", `{"query": "x", "k": 5000}`, 400, "k"},
	}
	for _, c := range cases {
		status, _, body := s.do(t, "POST", c.path, "application/json", []byte(c.body))
		e := apiErr(t, body)
		p, _ := e.Param.(string)
		if status != c.status || p != c.param {
			t.Errorf("%s %.60s: %d param %q (%s); want %d param %q", c.path, c.body, status, p, e.Message, c.status, c.param)
		}
		if c.param != "" && !strings.HasPrefix(e.Message, c.param+": ") {
			t.Errorf("%s %.60s: message %q does not name %s", c.path, c.body, e.Message, c.param)
		}
	}
}

// Chat requests for assistants are decoded strictly, with the bad field
// named as OpenAI would.
func TestChatDecodeErrors(t *testing.T) {
	s := newStack(t, stackOptions{})
	cases := []struct {
		body  string
		param string
	}{
		{`{"model": "sextant"}`, "messages"},
		{`{"model": "sextant", "messages": [], "foo": 1}`, "foo"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]}`, "messages[1].role"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 5}]}`, "messages[1].content"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}, {"role": "user"}]}`, "messages[1].content"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a", "extra": true}]}`, "messages[0].extra"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}`, "messages[0].content[0].type"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": [{"type": "text", "txt": "x"}]}]}`, "messages[0].content[0].txt"},
		{`{"model": "sextant", "messages": [{"role": "tool", "content": "r"}]}`, "messages[0].tool_call_id"},
		{`{"model": "sextant", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"arguments": "{}"}}]}]}`, "messages[0].tool_calls[0].function.name"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}], "temperature": 3}`, "temperature"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}], "max_tokens": 0}`, "max_tokens"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}], "stream_options": {"include_usage": true}}`, "stream_options"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": 3}}]}`, "tools[0].function.parameters"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}], "tool_choice": {"type": "function", "function": {"name": "g"}}}`, "tool_choice.function.name"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}], "response_format": {"type": "json_object"}}`, "response_format.type"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}], "stop": ["a","b","c","d","e"]}`, "stop"},
		{`{"model": "sextant", "messages": [{"role": "user", "content": "a"}], "seed": "x"}`, "seed"},
	}
	for _, c := range cases {
		status, _, body := s.do(t, "POST", "/v1/chat/completions", "application/json", []byte(c.body))
		e := apiErr(t, body)
		if p, _ := e.Param.(string); status != 400 || p != c.param || e.Type != "invalid_request_error" {
			t.Errorf("%s: %d param %q (%s); want 400 param %q", c.body, status, p, e.Message, c.param)
		}
	}
	// Parameters OpenAI knows are accepted even when an assistant ignores them.
	ok := `{"model": "sextant", "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "` + rotationQuestion + `"}]}],
		"temperature": 0, "top_p": 1, "max_completion_tokens": 200, "seed": 7, "user": "u1", "n": 1, "stop": "\n\n", "presence_penalty": 0,
		"frequency_penalty": 0, "logit_bias": {}, "metadata": {"a": "b"}, "store": false, "parallel_tool_calls": true, "service_tier": "auto"}`
	if status, _, body := s.do(t, "POST", "/v1/chat/completions", "", []byte(ok)); status != 200 || !strings.Contains(string(body), "90 days") {
		t.Errorf("full request: %d %s", status, body)
	}
}

// A client leaving an assistant's stream cancels the model call behind it.
func TestAssistantDisconnectCancelsUpstream(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.up.Enqueue(llmtest.Reply{Text: []string{"The keys ", "rotate "}, Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"remote","stream":true,"messages":[{"role":"user","content":"`+rotationQuestion+`"}]}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, "The keys") {
			break
		}
	}
	cancel()
	res.Body.Close()
	waitFor(t, s.up.Canceled(), "the upstream to see the disconnect")
}

func TestSearch(t *testing.T) {
	s := newStack(t, stackOptions{})
	status, _, body := s.postJSON(t, "/v1/search", map[string]any{"query": "descale boiler citric acid", "k": 2})
	var out web.SearchResponse
	if status != 200 || json.Unmarshal(body, &out) != nil || len(out.Hits) == 0 {
		t.Fatalf("%d %s", status, body)
	}
	h := out.Hits[0]
	text := docText(t, "espresso.md")
	if !strings.Contains(h.URI, "espresso.md") || text[h.Start:h.End] != h.Text || !strings.Contains(h.Snippet, "«") || h.Collection != "default" {
		t.Errorf("top hit %+v", h)
	}
	status, _, body = s.postJSON(t, "/v1/search", map[string]any{"query": "descale boiler", "filters": map[string]any{"collections": []string{"other"}}})
	if status != 200 || json.Unmarshal(body, &out) != nil || len(out.Hits) != 0 {
		t.Errorf("filtered search: %d %s", status, body)
	}
}

func multipartBody(t *testing.T, fields map[string]string, files map[string]string) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, content := range files {
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte(content))
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func TestDocuments(t *testing.T) {
	s := newStack(t, stackOptions{tweak: func(o *web.Options) { o.MaxUploadBytes = 64 << 10 }})
	ct, body := multipartBody(t, map[string]string{"collection": "notes", "metadata": `{"team": "infra"}`, "labels": "staff"},
		map[string]string{"lighthouse.md": "# Lighthouse\n\nThe Skerry lighthouse flashes twice every fifteen seconds.\n",
			"ferry.txt": "The ferry to Skerry leaves at 07:40 on weekdays.\n"})
	status, _, resp := s.do(t, "POST", "/v1/documents", ct, body)
	var up web.UploadResponse
	if status != 201 || json.Unmarshal(resp, &up) != nil || up.Summary.Added != 2 || len(up.Documents) != 2 {
		t.Fatalf("upload: %d %s", status, resp)
	}
	for _, d := range up.Documents {
		if d.Collection != "notes" || d.Metadata["team"] != "infra" || !cmp.Equal(d.Labels, []string{"staff"}) || d.Chunks == nil || *d.Chunks == 0 {
			t.Errorf("uploaded document %+v", d)
		}
	}
	// Searchable as soon as the upload returns.
	status, _, resp = s.postJSON(t, "/v1/ask", map[string]any{"question": "How often does the Skerry lighthouse flash?", "filters": map[string]any{"collections": []string{"notes"}}})
	if status != 200 || !strings.Contains(string(resp), "fifteen seconds") {
		t.Errorf("ask after upload: %d %.300s", status, resp)
	}
	// The same file again is unchanged; a raw body by name replaces it.
	if status, _, resp = s.do(t, "POST", "/v1/documents", ct, body); status != 200 || !strings.Contains(string(resp), `"unchanged":2`) {
		t.Errorf("re-upload: %d %s", status, resp)
	}
	status, _, resp = s.do(t, "POST", "/v1/documents?name=ferry.txt&collection=notes&meta=team=infra&labels=staff", "text/plain",
		[]byte("The ferry to Skerry leaves at 08:15 on weekdays.\n"))
	if status != 200 || !strings.Contains(string(resp), `"updated":1`) {
		t.Errorf("raw replace: %d %s", status, resp)
	}
	// List with pagination.
	status, _, resp = s.do(t, "GET", "/v1/documents?collection=notes&limit=1", "", nil)
	var page struct {
		Data      []web.DocumentJSON `json:"data"`
		NextAfter string             `json:"next_after"`
	}
	if status != 200 || json.Unmarshal(resp, &page) != nil || len(page.Data) != 1 || page.NextAfter == "" {
		t.Fatalf("list: %d %s", status, resp)
	}
	status, _, resp = s.do(t, "GET", "/v1/documents?collection=notes&after="+page.NextAfter, "", nil)
	page.NextAfter = ""
	if json.Unmarshal(resp, &page) != nil || len(page.Data) != 1 || page.NextAfter != "" {
		t.Errorf("second page: %d %s", status, resp)
	}
	// Delete: gone from the store and from answers.
	id := page.Data[0].ID
	if status, _, resp = s.do(t, "DELETE", "/v1/documents/"+id, "", nil); status != 200 {
		t.Fatalf("delete: %d %s", status, resp)
	}
	if status, _, resp = s.do(t, "GET", "/v1/documents/"+id, "", nil); status != 404 || apiErr(t, resp).Code != "not_found" {
		t.Errorf("get after delete: %d %s", status, resp)
	}
	// Bad uploads.
	big := strings.Repeat("word ", 20<<10)
	ct, body = multipartBody(t, nil, map[string]string{"big.txt": big})
	if status, _, resp = s.do(t, "POST", "/v1/documents", ct, body); status != 413 || apiErr(t, resp).Code != "request_too_large" {
		t.Errorf("oversized upload: %d %s", status, resp)
	}
	ct, body = multipartBody(t, nil, map[string]string{"blob.bin": "\x00\x01\x02\x03"})
	if status, _, resp = s.do(t, "POST", "/v1/documents", ct, body); status != 422 {
		t.Errorf("binary upload: %d %s", status, resp)
	}
	ct, body = multipartBody(t, map[string]string{"collection": "../etc"}, map[string]string{"a.txt": "x"})
	if status, _, resp = s.do(t, "POST", "/v1/documents", ct, body); status != 400 || apiErr(t, resp).Param != "collection" {
		t.Errorf("bad collection: %d %s", status, resp)
	}
	if status, _, resp = s.do(t, "POST", "/v1/documents", "text/plain", []byte("no name")); status != 400 || apiErr(t, resp).Param != "name" {
		t.Errorf("raw upload without a name: %d %s", status, resp)
	}
	if status, _, resp = s.do(t, "GET", "/v1/documents?colection=x", "", nil); status != 400 || apiErr(t, resp).Param != "colection" {
		t.Errorf("misspelt list parameter: %d %s", status, resp)
	}
}

func TestRequestIDsAndUnknownRoutes(t *testing.T) {
	s := newStack(t, stackOptions{})
	req, _ := http.NewRequest("GET", s.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", "trace-42.a")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-Id"); got != "trace-42.a" {
		t.Errorf("request id %q, want the client's", got)
	}
	req.Header.Set("X-Request-Id", "bad id with spaces")
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if got := res.Header.Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
		t.Errorf("request id %q, want a new one", got)
	}
	status, _, body := s.do(t, "GET", "/v1/nothing", "", nil)
	if e := apiErr(t, body); status != 404 || e.Code != "unknown_url" {
		t.Errorf("unknown path: %d %+v", status, e)
	}
	status, h, body := s.do(t, "GET", "/v1/chat/completions", "", nil)
	if e := apiErr(t, body); status != 405 || h.Get("Allow") != "POST" || e.Code != "method_not_allowed" {
		t.Errorf("wrong method: %d Allow %q %+v", status, h.Get("Allow"), e)
	}
	if status, _, _ := s.do(t, "GET", "/readyz", "", nil); status != 200 {
		t.Errorf("readyz %d", status)
	}
}

func TestReadyzFails(t *testing.T) {
	s := newStack(t, stackOptions{tweak: func(o *web.Options) {
		o.Ready = func(context.Context) error { return errors.New("store unreachable") }
	}})
	if status, _, body := s.do(t, "GET", "/readyz", "", nil); status != 503 || !strings.Contains(string(body), "store unreachable") {
		t.Errorf("readyz: %d %s", status, body)
	}
}

// The authentication slot, the permission each route declares, and the
// order of the middleware chain.
func TestAuthAndMiddlewareChain(t *testing.T) {
	var (
		mu    sync.Mutex
		trail []string
	)
	mark := func(kind string) web.Middleware {
		return func(rt web.Route, next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, authed := sextant.PrincipalFrom(r.Context())
				mu.Lock()
				trail = append(trail, fmt.Sprintf("%s:%s:%v", kind, rt.Name, authed))
				mu.Unlock()
				next.ServeHTTP(w, r)
			})
		}
	}
	s := newStack(t, stackOptions{tweak: func(o *web.Options) {
		o.Authenticate = func(r *http.Request) (*sextant.Principal, error) {
			switch r.Header.Get("Authorization") {
			case "Bearer viewer":
				return &sextant.Principal{ID: "key_v", Roles: []string{"viewer"}}, nil
			case "Bearer other-tenant":
				return &sextant.Principal{ID: "key_o", Tenant: "acme", Roles: []string{"admin"}}, nil
			}
			return nil, sextant.Errorf(sextant.EUNAUTHORIZED, "invalid API key")
		}
		o.Middleware = []web.Middleware{mark("outer")}
		o.Admission = []web.Middleware{mark("admit")}
	}})
	send := func(key, method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return res.StatusCode, b.Bytes()
	}
	if status, body := send("", "POST", "/v1/search", `{"query": "tide"}`); status != 401 || apiErr(t, body).Type != "authentication_error" {
		t.Errorf("no key: %d %s", status, body)
	}
	if status, body := send("viewer", "POST", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}]}`); status != 403 || apiErr(t, body).Type != "permission_error" {
		t.Errorf("viewer chatting: %d %s", status, body)
	}
	if status, body := send("viewer", "POST", "/v1/search", `{"query": "tide harbour gate"}`); status != 200 || !strings.Contains(string(body), "tides.md") {
		t.Errorf("viewer searching: %d %.200s", status, body)
	}
	// Another tenant sees none of the default tenant's documents.
	if status, body := send("other-tenant", "POST", "/v1/search", `{"query": "tide harbour gate"}`); status != 200 || strings.Contains(string(body), "tides.md") {
		t.Errorf("other tenant searching: %d %.200s", status, body)
	}
	if status, _ := send("", "GET", "/healthz", ""); status != 200 {
		t.Errorf("healthz needs no key: %d", status)
	}
	want := []string{"outer:search:false", "outer:chat.completions:false", "outer:search:false", "admit:search:true", "outer:search:false", "admit:search:true", "outer:healthz:false"}
	if diff := cmp.Diff(want, trail); diff != "" {
		t.Errorf("middleware trail (-want +got):\n%s", diff)
	}
}

// Usage records are handed over once per answered request.
func TestUsageRecords(t *testing.T) {
	var (
		mu   sync.Mutex
		recs []sextant.UsageRecord
	)
	s := newStack(t, stackOptions{tweak: func(o *web.Options) {
		o.Usage = func(_ context.Context, r sextant.UsageRecord) {
			mu.Lock()
			recs = append(recs, r)
			mu.Unlock()
		}
	}})
	s.postJSON(t, "/v1/chat/completions", map[string]any{"model": "sextant", "messages": []map[string]string{{"role": "user", "content": rotationQuestion}}})
	s.postJSON(t, "/v1/chat/completions", map[string]any{"model": "gpt-4o-mini", "messages": []map[string]string{{"role": "user", "content": "one two three"}}})
	s.postJSON(t, "/v1/chat/completions", map[string]any{"model": "gpt-4o-mini", "stream": true, "stream_options": map[string]bool{"include_usage": true},
		"messages": []map[string]string{{"role": "user", "content": "one two three"}}})
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	if r := recs[0]; r.Assistant != "sextant" || r.Provider != "extractive" || r.Usage.OutputTokens == 0 || !r.Success || r.RequestID == "" {
		t.Errorf("assistant record %+v", r)
	}
	for _, r := range recs[1:] {
		if r.Model != "gpt-4o-mini" || r.Provider != "up" || r.Usage.InputTokens == 0 || r.Usage.OutputTokens == 0 || !r.Success {
			t.Errorf("gateway record %+v", r)
		}
	}
}
