package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// hostileDoc is a document whose text is markup that would run script if
// the console ever inserted it as HTML.
const hostileDoc = `Zebrafish care notes.

The zebrafish feeding schedule <img src=x onerror="window.__xss=1"> is twice a day, at dawn and at dusk <script>window.__xss=2</script> with flake food.
`

// TestConsoleInBrowser drives the web console in headless Chromium against
// a real `sextant serve` over the bundled manual: the admin key is entered
// once; the playground streams an answer with citations and a click on one
// shows its source passage; the documents, usage, evaluation, safety and
// settings views show the server's data; an answer quoting a document
// full of markup renders it as text (no element made, no script run); a
// product key sees only the views its role allows; and the page asks
// nothing of any host but the server, breaks none of its own
// Content-Security-Policy and throws no exception.
//
// Chromium resolves no host name (--host-resolver-rules maps every name to
// nothing), so nothing can leave the machine; the requests the page makes
// are recorded from the DevTools protocol and each must go to the server.
// SEXTANT_CONSOLE_SCREENSHOTS=DIR saves a screenshot of each view there.
func TestConsoleInBrowser(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	base, out, stop := startServe(t, dir)
	defer stop()
	admin := printedKey(t, out.String())
	server, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	uploadText(t, base, admin, "zebrafish.txt", hostileDoc)
	status, body := request(t, admin, "POST", base+"/v1/keys", `{"name": "pm", "roles": ["product"]}`)
	if status != http.StatusCreated {
		t.Fatalf("creating a product key: %d %s", status, body)
	}
	var created struct{ Key string }
	if err := json.Unmarshal(body, &created); err != nil || created.Key == "" {
		t.Fatalf("product key: %v %s", err, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true), chromedp.Flag("no-pings", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	var mu sync.Mutex
	var requests, exceptions []string
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			exceptions = append(exceptions, fmt.Sprintf("%s (%s:%d)", e.ExceptionDetails.Text, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber))
		}
	}))
	defer bcancel()

	// The first Do starts the browser, which lives as long as that call's
	// context: bctx, not one of the steps' shorter ones.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", browser, err)
	}
	shots := os.Getenv("SEXTANT_CONSOLE_SCREENSHOTS")
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if shots == "" {
				return nil
			}
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		// Each step gets its own deadline, derived from the browser's
		// context (whose end would stop the browser).
		sctx, scancel := context.WithTimeout(bctx, 30*time.Second)
		defer scancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			html, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: %v\npage: %s", step, err, tail(html, 3000))
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	eval := func(js string, v any) {
		t.Helper()
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[json.RawMessage](js))
		if err == nil {
			err = json.Unmarshal(raw, v)
		}
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
	}

	// Record Content-Security-Policy violations from the first byte on.
	run("start",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));`})
			return err
		}),
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("key-input")),
		chromedp.SendKeys(chromedp.ID("key-input"), admin),
		chromedp.Click(chromedp.ID("key-connect")),
		chromedp.WaitVisible(chromedp.ID("nav-settings")))
	var nav []string
	eval(`[...document.querySelectorAll("#nav a")].map((a) => a.id)`, &nav)
	if got := strings.Join(nav, ","); got != "nav-playground,nav-documents,nav-usage,nav-evaluation,nav-safety,nav-settings" {
		t.Errorf("an admin's views: %s", got)
	}
	var stored string
	eval(`sessionStorage.getItem("sextant.console.key")`, &stored)
	if stored != admin {
		t.Errorf("the key is not kept in sessionStorage: %q", stored)
	}

	// Playground: a streamed answer with citations; a citation opens its source.
	run("ask",
		chromedp.WaitReady(chromedp.CSS("#pg-assistant option[value=sextant]")),
		chromedp.SendKeys(chromedp.ID("pg-question"), "How do I ingest a folder of PDFs?"),
		chromedp.Click(chromedp.ID("pg-ask")),
		chromedp.WaitVisible(chromedp.CSS("#pg-answer a.cite")),
		chromedp.WaitVisible(chromedp.ID("pg-facts")),
		shot("playground-answer"),
		chromedp.Click(chromedp.CSS("#pg-answer a.cite")),
		chromedp.WaitVisible(chromedp.CSS("#pg-source blockquote.quote")),
		shot("playground-source"))
	if q := strings.TrimSpace(text("#pg-source blockquote.quote")); len(q) < 10 {
		t.Errorf("the source quote is %q", q)
	}
	if s := text("#pg-source"); !strings.Contains(s, "file://") || !strings.Contains(s, "section") {
		t.Errorf("the source panel lacks the URI or section: %s", s)
	}
	if s := text("#pg-facts"); !strings.Contains(s, "tokens in / out") || !strings.Contains(s, "cache") || !strings.Contains(s, "server time") {
		t.Errorf("answer facts: %s", s)
	}
	if s := text("#pg-timings"); !strings.Contains(s, "retrieve") {
		t.Errorf("timings: %s", s)
	}

	// The same answer, plain (not streamed) and from the cache.
	run("ask again",
		chromedp.Click(chromedp.ID("pg-stream")),
		chromedp.Click(chromedp.ID("pg-ask")),
		chromedp.WaitVisible(chromedp.CSS("#pg-answer a.cite")),
		chromedp.WaitVisible(chromedp.ID("pg-facts")))
	if s := text("#pg-facts"); !strings.Contains(s, "hit (") {
		t.Errorf("a repeated question should be a cache hit: %s", s)
	}

	// An answer quoting markup shows it as text.
	run("ask the hostile document",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[string](`document.getElementById("pg-question").value = ""`)(ctx, tg)
			return err
		}),
		chromedp.SendKeys(chromedp.ID("pg-question"), "What is the zebrafish feeding schedule?"),
		chromedp.Click(chromedp.ID("pg-ask")),
		chromedp.WaitVisible(chromedp.ID("pg-facts")))
	if s := text("#pg-answer"); !strings.Contains(s, `<img src=x onerror="window.__xss=1">`) {
		t.Errorf("the answer should show the document's markup as text: %q", s)
	}
	noMarkup := func(where string) {
		t.Helper()
		var found struct {
			Images, Scripts int
			XSS             any
			Title           string
		}
		eval(`({images: document.querySelectorAll("img").length,
			scripts: document.querySelectorAll("script:not([src])").length,
			xss: window.__xss ?? null, title: document.title})`, &found)
		if found.Images != 0 || found.Scripts != 0 || found.XSS != nil || found.Title != "Sextant console" {
			t.Errorf("%s: hostile markup took effect: %+v", where, found)
		}
	}
	noMarkup("playground")
	run("reveal the hostile source",
		chromedp.Click(chromedp.CSS("#pg-answer a.cite")),
		chromedp.WaitVisible(chromedp.CSS("#pg-source blockquote.quote")))
	if s := text("#pg-source blockquote.quote"); !strings.Contains(s, "<img src=x") {
		t.Errorf("the hostile quote: %q", s)
	}
	noMarkup("source panel")

	// Documents: the manual and the upload are listed; search shows hits.
	run("documents",
		chromedp.Click(chromedp.ID("nav-documents")),
		chromedp.WaitVisible(chromedp.CSS("#doc-list table")),
		shot("documents"))
	if s := text("#doc-list"); !strings.Contains(s, "Quick start") || !strings.Contains(s, "Access control") {
		t.Errorf("the documents list lacks the manual: %.500s", s)
	}
	run("search",
		chromedp.SendKeys(chromedp.ID("doc-query"), "zebrafish feeding"),
		chromedp.Click(chromedp.ID("doc-search")),
		chromedp.WaitVisible(chromedp.CSS("#doc-hits ol.hits mark")))
	if s := text("#doc-hits"); !strings.Contains(s, "<img src=x") || !strings.Contains(s, "score") {
		t.Errorf("search hits: %.500s", s)
	}
	noMarkup("search")

	// Usage: the questions just asked are there (the ledger writes in the
	// background, in batches, so refresh until all three are).
	run("usage", chromedp.Click(chromedp.ID("nav-usage")), chromedp.WaitVisible(chromedp.ID("usage-totals")))
	today := time.Now().UTC().Format("2006-01-02")
	deadline := time.Now().Add(20 * time.Second)
	for {
		var rows string
		var requestsShown int
		eval(`document.querySelector("#usage-table")?.innerText ?? ""`, &rows)
		eval(`Number(document.querySelector("#usage-totals .card-value")?.textContent.replace(/,/g, "") ?? 0)`, &requestsShown)
		if strings.Contains(rows, today) && requestsShown >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage shows %d requests, today's row %v; the playground asked 3 questions: %q",
				requestsShown, strings.Contains(rows, today), text("#usage-out"))
		}
		time.Sleep(300 * time.Millisecond)
		run("refresh usage", chromedp.Click(chromedp.ID("usage-refresh")))
	}
	var bars int
	eval(`document.querySelectorAll("#usage-out svg.chart rect").length`, &bars)
	if bars < 1 {
		t.Error("usage has no bar chart")
	}
	run("budgets", chromedp.WaitVisible(chromedp.CSS("#budgets-out p, #budgets-out table")), shot("usage"))

	// Evaluation: a stored run opens with its metrics and gates; the red
	// team runs from the button.
	status, body = request(t, admin, "POST", base+"/v1/evals/runs", `{"name": "smoke",
		"golden": [{"question": "How do I ingest a folder of PDFs?"}], "metrics": ["groundedness"], "gates": ["groundedness < 0"]}`)
	if status != http.StatusCreated {
		t.Fatalf("evaluation run: %d %s", status, body)
	}
	run("evaluation", chromedp.Click(chromedp.ID("nav-evaluation")), chromedp.WaitVisible(chromedp.CSS("#eval-runs a.run-link")),
		chromedp.Click(chromedp.CSS("#eval-runs a.run-link")), chromedp.WaitVisible(chromedp.ID("eval-gates")))
	if s := text("#eval-metrics"); !strings.Contains(s, "groundedness") {
		t.Errorf("run metrics: %s", s)
	}
	if s := text("#eval-gates"); !strings.Contains(s, "groundedness < 0") || !strings.Contains(s, "passed") {
		t.Errorf("run gates: %s", s)
	}
	run("red team", chromedp.Click(chromedp.ID("rt-run")), chromedp.WaitVisible(chromedp.ID("rt-categories")), shot("evaluation"))
	if s := text("#rt-report"); !strings.Contains(s, "block rate") || !strings.Contains(s, "injection") || !strings.Contains(s, "benign") {
		t.Errorf("red-team report: %s", s)
	}
	run("safety", chromedp.Click(chromedp.ID("nav-safety")), chromedp.WaitVisible(chromedp.CSS("#q-list p, #q-list table")),
		chromedp.WaitVisible(chromedp.CSS("#approvals-list p, #approvals-list table")),
		chromedp.Click(chromedp.ID("audit-verify")), chromedp.WaitVisible(chromedp.CSS("#audit-result dl")), shot("safety"))
	if s := text("#audit-result"); !strings.Contains(s, "The chain is intact") {
		t.Errorf("audit verify: %s", s)
	}
	run("settings", chromedp.Click(chromedp.ID("nav-settings")), chromedp.WaitVisible(chromedp.ID("settings-out")), shot("settings"))
	if s := text("#settings-out"); !strings.Contains(s, "default_assistant") || !strings.Contains(s, "sextant") {
		t.Errorf("settings: %.300s", s)
	}

	// A product key: usage and evaluation results only.
	run("product key",
		chromedp.Click(chromedp.ID("key-forget")),
		chromedp.WaitVisible(chromedp.ID("key-input")),
		chromedp.SendKeys(chromedp.ID("key-input"), created.Key),
		chromedp.Click(chromedp.ID("key-connect")),
		chromedp.WaitVisible(chromedp.ID("nav-usage")),
		chromedp.WaitVisible(chromedp.ID("hidden-views")))
	eval(`[...document.querySelectorAll("#nav a")].map((a) => a.id)`, &nav)
	if got := strings.Join(nav, ","); got != "nav-usage,nav-evaluation" {
		t.Errorf("a product key's views: %s", got)
	}
	if s := text("#hidden-views"); !strings.Contains(s, "Playground (needs chat)") || !strings.Contains(s, "Safety") {
		t.Errorf("the note on views left out: %s", s)
	}
	run("product evaluation", chromedp.Click(chromedp.ID("nav-evaluation")), chromedp.WaitVisible(chromedp.CSS("#eval-runs p, #eval-runs table")))
	var runButtons int
	eval(`document.querySelectorAll("#rt-run, #eval-suite").length`, &runButtons)
	if runButtons != 0 {
		t.Error("a product key is offered to run suites or the red team")
	}

	// A wrong key is refused and forgotten.
	run("bad key",
		chromedp.Click(chromedp.ID("key-forget")),
		chromedp.WaitVisible(chromedp.ID("key-input")),
		chromedp.SendKeys(chromedp.ID("key-input"), "sk-sextant-wrong"),
		chromedp.Click(chromedp.ID("key-connect")),
		chromedp.WaitVisible(chromedp.CSS("#status.error")))
	if s := text("#status"); !strings.Contains(s, "401") {
		t.Errorf("a wrong key: %s", s)
	}

	var violations []string
	eval(`window.__violations`, &violations)
	if len(violations) > 0 {
		t.Errorf("Content-Security-Policy violations: %v", violations)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("exceptions in the page: %v", exceptions)
	}
	if len(requests) < 10 {
		t.Errorf("only %d requests recorded: %v", len(requests), requests)
	}
	for _, r := range requests {
		u, err := url.Parse(r)
		if err != nil || u.Host != server.Host || u.Scheme != server.Scheme {
			t.Errorf("the page asked another host: %s", r)
		}
	}
}

// uploadText uploads one text file to the server as a raw body.
func uploadText(t *testing.T, base, key, name, text string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/documents?name="+url.QueryEscape(name), strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/plain")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("upload %s: %s %s", name, res.Status, b)
	}
}
