package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// TestEvalReportInBrowser opens the HTML report in headless Chromium and
// checks that it renders, that the page asks for nothing over the network,
// and that the drill-down holds every question.
//
// The page is served by a local server, and Chromium resolves every host
// name to that server, so every request — the page's and the browser's own
// (its component updater ignores --disable-component-update) — reaches the
// server. A request the page causes carries the page as its Referer or
// goes to the page's host; only the page itself and its favicon may be
// asked for. Requests without a Referer to other hosts are Chromium's
// services: logged, not failed. (The page also forbids loading anything
// with its Content-Security-Policy, and TestReportHTMLSelfContained in
// package eval checks its markup for any outside reference.)
func TestEvalReportInBrowser(t *testing.T) {
	browser := chromium(t)
	data, suite := evalFixture(t, "variants:\n  - name: base\n  - name: narrow\n    top_k: 1\ngates:\n  - f1 < 0.1\n")
	fixDocIDs(t, data, suite)
	out := t.TempDir()
	if _, errs, err := runCLI(t, nil, "eval", "run", suite, "--data", data, "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}

	type request struct{ host, path, referer string }
	var mu sync.Mutex
	var requests []request
	var tlsAttempts bytes.Buffer
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, request{r.Host, r.URL.Path, r.Referer()})
		mu.Unlock()
		if r.URL.Path != "/report.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	// An https request to the mapped port arrives as a TLS handshake on
	// this plain server: the listener notes connections opening with one.
	srv.Listener = &sniffListener{Listener: srv.Listener, tls: func() {
		mu.Lock()
		tlsAttempts.WriteString("TLS handshake\n")
		mu.Unlock()
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions",
		"--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate", "--disable-domain-reliability",
		"--no-pings", "--safebrowsing-disable-auto-update",
		"--user-data-dir="+t.TempDir(), "--host-resolver-rules=MAP * "+host, "--virtual-time-budget=3000",
		"--dump-dom", "http://report.test/report.html")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, tail(stderr.String(), 2000))
	}
	dom := stdout.String()

	mu.Lock()
	defer mu.Unlock()
	fetched := false
	for _, r := range requests {
		byPage := r.host == "report.test" || strings.Contains(r.referer, "report.test")
		switch {
		case byPage && r.path == "/report.html":
			fetched = true
		case byPage && r.path == "/favicon.ico":
		case byPage:
			t.Errorf("the page requested %s%s (referer %q)", r.host, r.path, r.referer)
		default:
			t.Logf("Chromium's own request (no referer): %s%s", r.host, r.path)
		}
	}
	if !fetched {
		t.Fatal("the browser never fetched the page")
	}
	if tlsAttempts.Len() > 0 {
		t.Logf("TLS connections (Chromium's services; the page names no https URL): %d", strings.Count(tlsAttempts.String(), "\n"))
	}

	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var questions []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			counts[n.Data]++
			for _, a := range n.Attr {
				switch {
				case a.Key == "data-question" && n.Data == "details":
					questions = append(questions, a.Val)
				case a.Key == "data-variant":
					counts["variant:"+a.Val]++
				case a.Key == "id" && a.Val == "run-id":
					counts["run-id"]++
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if strings.Join(questions, ",") != "pdf,rank,formats" {
		t.Errorf("drill-down questions in the rendered page = %v", questions)
	}
	if counts["variant:base"] != 3 || counts["variant:narrow"] != 3 || counts["svg"] < 5 || counts["run-id"] != 1 || counts["script"] != 0 {
		t.Errorf("rendered page: %v", counts)
	}
	if !strings.Contains(dom, "Prompt A/B") || !strings.Contains(dom, "narrow vs base on f1") {
		t.Error("the rendered page lacks the A/B section")
	}
}

// sniffListener calls tls for each connection whose first byte opens a TLS
// handshake record (0x16).
type sniffListener struct {
	net.Listener
	tls func()
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, tls: l.tls}, nil
}

type sniffConn struct {
	net.Conn
	tls  func()
	seen bool
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.seen && n > 0 {
		c.seen = true
		if p[0] == 0x16 {
			c.tls()
		}
	}
	return n, err
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
