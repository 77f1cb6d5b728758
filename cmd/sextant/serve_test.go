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
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, extra...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), stdout, stderr)
	}()
	re := regexp.MustCompile(`serving at (http://\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			stop := func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("serve: %v\n%s", err, stderr.String())
					}
				case <-time.After(20 * time.Second):
					t.Error("serve did not shut down")
				}
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

// sextant serve on an empty data directory ingests the bundled manual,
// prints how to try it, answers questions about Sextant (over HTTP and
// through sextant ask --server), follows changes another process makes to
// the store, and shuts down cleanly.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	url, stdout, stop := startServe(t, dir)
	defer stop()
	out := stdout.String()
	for _, want := range []string{"ingested Sextant's manual", "curl -s " + url + "/v1/chat/completions", "sextant ask --server " + url} {
		if !strings.Contains(out, want) {
			t.Errorf("serve output lacks %q:\n%s", want, out)
		}
	}
	res, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(
		`{"model": "sextant", "messages": [{"role": "user", "content": "How do I ingest a folder of PDFs?"}]}`))
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

	// sextant ask --server streams the answer and prints the sources.
	var aout, aerr bytes.Buffer
	err = run(context.Background(), []string{"ask", "--server", url, "how do I ingest a folder of PDFs"}, func(string) string { return "" },
		strings.NewReader(""), &aout, &aerr)
	if err != nil || !strings.Contains(aout.String(), "Sources:") || !strings.Contains(aout.String(), "ingestion.md") {
		t.Fatalf("ask --server: %v\n%s\n%s", err, aout.String(), aerr.String())
	}
	aout.Reset()
	err = run(context.Background(), []string{"ask", "--server", url, "--json", "--filter", "sample=other", "how do I ingest PDFs"},
		func(string) string { return "" }, strings.NewReader(""), &aout, &aerr)
	if err != nil || !strings.Contains(aout.String(), `"refusal": "no sources"`) {
		t.Errorf("ask --server --json with a filter: %v\n%s", err, aout.String())
	}
	err = run(context.Background(), []string{"ask", "--server", url, "--assistant", "nobody", "x"}, func(string) string { return "" },
		strings.NewReader(""), &aout, &aerr)
	if err == nil || !strings.Contains(err.Error(), `assistant "nobody" not found`) {
		t.Errorf("ask --server with an unknown assistant: %v", err)
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
		res, err := http.Post(url+"/v1/search", "application/json", strings.NewReader(`{"query": "Zephyr gateway port"}`))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		res.Body.Close()
		if strings.Contains(b.String(), "zephyr.md") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server's index did not pick up another process's ingest: %s", b.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A second start does not ingest the sample again.
func TestServeSampleOnce(t *testing.T) {
	dir := t.TempDir()
	_, _, stop := startServe(t, dir)
	stop()
	_, out, stop := startServe(t, dir)
	stop()
	if strings.Contains(out.String(), "ingested Sextant's manual") {
		t.Errorf("second start ingested the sample again:\n%s", out)
	}
}
