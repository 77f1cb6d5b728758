package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/audit"
)

// lockedBuffer is a bytes.Buffer safe for a server goroutine writing
// while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs `sextant serve` on a free port over dir and returns its
// URL and a stop function that waits for a clean shutdown.
func startServe(t *testing.T, dir string, extra ...string) (string, *lockedBuffer, func()) {
	t.Helper()
	return startServeEnv(t, dir, func(string) string { return "" }, extra...)
}

// startServeEnv is startServe with the environment getenv gives.
func startServeEnv(t *testing.T, dir string, getenv func(string) string, extra ...string) (string, *lockedBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, extra...)
	go func() {
		done <- run(ctx, args, getenv, strings.NewReader(""), stdout, stderr)
	}()
	re := regexp.MustCompile(`serving at (http://\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			var once sync.Once
			stop := func() { // may be called twice (explicitly, then deferred)
				once.Do(func() {
					cancel()
					select {
					case err := <-done:
						if err != nil {
							t.Errorf("serve: %v\n%s", err, stderr.String())
						}
					case <-time.After(20 * time.Second):
						t.Error("serve did not shut down")
					}
				})
			}
			return m[1], stdout, stop
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s\n%s", err, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// printedKey is the admin key a first start printed (export
// SEXTANT_API_KEY=...), failing the test when there is none.
func printedKey(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`export SEXTANT_API_KEY=(sk-sextant-\w{49})\n`).FindAllStringSubmatch(out, -1)
	if len(m) != 1 || strings.Count(out, m[0][1]) != 1 {
		t.Fatalf("want the admin key printed exactly once:\n%s", out)
	}
	return m[0][1]
}

// keyEnv is an environment with SEXTANT_API_KEY set to key.
func keyEnv(key string) func(string) string {
	return func(k string) string {
		if k == "SEXTANT_API_KEY" {
			return key
		}
		return ""
	}
}

// request sends a request with key (none when "") and returns the status
// and body.
func request(t *testing.T, key, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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

// sextant serve on an empty data directory creates an admin key and prints
// it once, ingests the bundled manual, prints how to try it with the key,
// refuses requests without a key, answers questions about Sextant (over
// HTTP and through sextant ask --server), follows changes another process
// makes to the store, and shuts down cleanly.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	url, stdout, stop := startServe(t, dir)
	defer stop()
	out := stdout.String()
	key := printedKey(t, out)
	for _, want := range []string{"ingested Sextant's manual", "curl -s " + url + `/v1/chat/completions -H "Authorization: Bearer $SEXTANT_API_KEY"`,
		"sextant ask --server " + url} {
		if !strings.Contains(out, want) {
			t.Errorf("serve output lacks %q:\n%s", want, out)
		}
	}
	const question = `{"model": "sextant", "messages": [{"role": "user", "content": "How do I ingest a folder of PDFs?"}]}`
	if status, body := request(t, "", "POST", url+"/v1/chat/completions", question); status != 401 || !strings.Contains(string(body), "Authorization: Bearer") {
		t.Errorf("chat without a key: %d %s", status, body)
	}
	if status, body := request(t, "", "GET", url+"/healthz", ""); status != 200 {
		t.Errorf("healthz without a key: %d %s", status, body)
	}
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(question))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var cc struct {
		Choices []struct {
			Message struct{ Content string }
		}
		Sources []struct {
			URI string `json:"uri"`
		}
	}
	json.NewDecoder(res.Body).Decode(&cc)
	res.Body.Close()
	if res.StatusCode != 200 || len(cc.Choices) == 0 || !strings.Contains(cc.Choices[0].Message.Content, "[") || len(cc.Sources) == 0 ||
		!strings.Contains(cc.Sources[0].URI, "sample-docs/") {
		t.Fatalf("chat: %d %+v", res.StatusCode, cc)
	}

	// sextant ask --server streams the answer and prints the sources; it
	// takes the key from SEXTANT_API_KEY, and says so when there is none.
	var aout, aerr bytes.Buffer
	err = run(context.Background(), []string{"ask", "--server", url, "how do I ingest a folder of PDFs"}, keyEnv(key),
		strings.NewReader(""), &aout, &aerr)
	if err != nil || !strings.Contains(aout.String(), "Sources:") || !strings.Contains(aout.String(), "ingestion.md") {
		t.Fatalf("ask --server: %v\n%s\n%s", err, aout.String(), aerr.String())
	}
	aout.Reset()
	err = run(context.Background(), []string{"ask", "--server", url, "--json", "--filter", "sample=other", "how do I ingest PDFs"},
		keyEnv(key), strings.NewReader(""), &aout, &aerr)
	if err != nil || !strings.Contains(aout.String(), `"refusal": "no sources"`) {
		t.Errorf("ask --server --json with a filter: %v\n%s", err, aout.String())
	}
	err = run(context.Background(), []string{"ask", "--server", url, "--assistant", "nobody", "x"}, keyEnv(key),
		strings.NewReader(""), &aout, &aerr)
	if err == nil || !strings.Contains(err.Error(), `assistant "nobody" not found`) {
		t.Errorf("ask --server with an unknown assistant: %v", err)
	}
	err = run(context.Background(), []string{"ask", "--server", url, "x"}, func(string) string { return "" },
		strings.NewReader(""), &aout, &aerr)
	if err == nil || !strings.Contains(err.Error(), "SEXTANT_API_KEY") {
		t.Errorf("ask --server without a key: %v", err)
	}

	// Another process ingests a file: the server's index follows.
	f := filepath.Join(t.TempDir(), "zephyr.md")
	os.WriteFile(f, []byte("# Zephyr\n\nThe Zephyr gateway listens on port 7311 by default.\n"), 0o644)
	var iout bytes.Buffer
	if err := run(context.Background(), []string{"ingest", "--data", dir, f}, func(string) string { return "" }, strings.NewReader(""), &iout, &iout); err != nil {
		t.Fatalf("ingest: %v\n%s", err, iout.String())
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, b := request(t, key, "POST", url+"/v1/search", `{"query": "Zephyr gateway port"}`)
		if strings.Contains(string(b), "zephyr.md") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server's index did not pick up another process's ingest: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A second start neither ingests the sample again nor prints a key: the
// first start's key goes on working, and the examples say where to find it.
func TestServeSampleOnce(t *testing.T) {
	dir := t.TempDir()
	_, out, stop := startServe(t, dir)
	stop()
	key := printedKey(t, out.String())
	url, out, stop := startServe(t, dir)
	defer stop()
	if strings.Contains(out.String(), "ingested Sextant's manual") {
		t.Errorf("second start ingested the sample again:\n%s", out)
	}
	if strings.Contains(out.String(), "sk-sextant-") || !strings.Contains(out.String(), "the admin key printed on the first start") {
		t.Errorf("second start's output:\n%s", out)
	}
	if status, body := request(t, key, "GET", url+"/v1/models", ""); status != 200 {
		t.Errorf("the first start's key on the second start: %d %s", status, body)
	}
}

// SEXTANT_ADMIN_KEY is imported as the admin key (never printed).
func TestServeAdminKeyFromEnv(t *testing.T) {
	secret, err := access.NewSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	url, out, stop := startServeEnv(t, t.TempDir(), func(k string) string {
		if k == "SEXTANT_ADMIN_KEY" {
			return secret
		}
		return ""
	}, "--no-sample")
	defer stop()
	if strings.Contains(out.String(), secret) || !strings.Contains(out.String(), "imported from SEXTANT_ADMIN_KEY") ||
		!strings.Contains(out.String(), `SEXTANT_API_KEY="$SEXTANT_ADMIN_KEY"`) {
		t.Errorf("output:\n%s", out)
	}
	if status, body := request(t, secret, "GET", url+"/v1/keys", ""); status != 200 {
		t.Errorf("SEXTANT_ADMIN_KEY on /v1/keys: %d %s", status, body)
	}
}

// --no-auth: local development without keys. It is refused on an address
// other machines can reach; on loopback every request acts as an
// administrator, the server says so loudly, and the audit log still
// records what happens, with the start saying auth was off.
func TestServeNoAuth(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "192.0.2.1:8080", "localhost"} {
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"serve", "--no-auth", "--addr", addr, "--data", t.TempDir()}, func(string) string { return "" },
			strings.NewReader(""), &out, &errb)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--no-auth --addr %s: %v; want a usage error naming loopback", addr, err)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--no-auth", "--no-sample", "--addr", "127.0.0.1:0", "--data", dir}, func(string) string { return "" },
			strings.NewReader(""), stdout, stderr)
	}()
	re := regexp.MustCompile(`serving at (http://\S+)`)
	var url string
	for deadline := time.Now().Add(60 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s\n%s", stdout, stderr)
		}
	}
	if out := stdout.String(); strings.Contains(out, "sk-sextant-") || strings.Contains(out, "Authorization") ||
		!strings.Contains(stderr.String(), "WARNING: --no-auth") {
		t.Errorf("--no-auth output:\n%s\nstderr:\n%s", out, stderr)
	}
	if status, body := request(t, "", "GET", url+"/v1/keys", ""); status != 200 || !strings.Contains(string(body), `"data":[]`) {
		t.Errorf("/v1/keys without a key under --no-auth: %d %s", status, body)
	}
	if status, _ := request(t, "", "POST", url+"/v1/keys", `{"roles":["app"]}`); status != 201 {
		t.Errorf("creating a key under --no-auth: %d", status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := openStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var buf bytes.Buffer
	if _, err := audit.Export(context.Background(), st, &buf, audit.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	log := buf.String()
	if !strings.Contains(log, `"action":"server.start"`) || !strings.Contains(log, `"auth":"off"`) ||
		!strings.Contains(log, `"action":"key.create"`) || !strings.Contains(log, `"actor":"local"`) {
		t.Errorf("audit log under --no-auth:\n%s", log)
	}
}
