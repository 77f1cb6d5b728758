package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/sqlite"
)

// sextantCLI runs the command in-process and returns stdout, stderr and
// the error.
func sextantCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), args, getenv, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func TestIngestCommand(t *testing.T) {
	data := t.TempDir()
	src := t.TempDir()
	for _, name := range []string{"guide.md", "notes.txt", "corpus.jsonl", "page.html"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "ingest", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, name), b, 0o644)
	}
	os.WriteFile(filepath.Join(src, "bad.json"), []byte(`[{"_id": 1, "text": `), 0o644)
	env := map[string]string{"SEXTANT_DATA": data}

	out, _, err := sextantCLI(t, env, "ingest", src, "--json", "--collection", "kb", "--meta", "team=docs", "--labels", "staff,eng", "--ttl", "30d")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		DataDir                                          string `json:"data_dir"`
		Collection                                       string
		Added, Updated, Unchanged, Failed, Chunks, Files int
		Generation                                       int64
		Problems                                         []ingest.Problem
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if sum.DataDir != data || sum.Collection != "kb" || sum.Added != 6 || sum.Failed != 1 || sum.Generation != 6 ||
		len(sum.Problems) != 1 || !strings.Contains(sum.Problems[0].Reason, "malformed JSON") {
		t.Errorf("summary %s", out)
	}

	// Unchanged re-run, text summary; --strict turns the failure into exit 1.
	out, _, err = sextantCLI(t, env, "ingest", src, "--collection", "kb", "--meta", "team=docs", "--labels", "eng,staff", "--ttl", "720h", "--strict")
	if err == nil || exitCode(err) != 1 || !strings.Contains(out, "unchanged 6") || !strings.Contains(out, "failed   ") {
		t.Errorf("strict re-run: %v\n%s", err, out)
	}

	out, _, err = sextantCLI(t, env, "docs", "list", "--collection", "kb")
	if err != nil || !strings.Contains(out, "kb:4983") || !strings.Contains(out, "Sextant Field Guide") || strings.Count(out, "\n") != 7 {
		t.Errorf("docs list: %v\n%s", err, out)
	}
	out, _, err = sextantCLI(t, env, "docs", "--json")
	var views []docView
	if err != nil || json.Unmarshal([]byte(out), &views) != nil || len(views) != 6 || views[0].Metadata["team"] != "docs" || views[0].ExpiresAt == nil {
		t.Errorf("docs --json: %v\n%s", err, out)
	}
	out, _, err = sextantCLI(t, env, "docs", "show", "kb:5836", "--chunks")
	if err != nil || !strings.Contains(out, "Induction of myelodysplasia") || !strings.Contains(out, "--- chunk 0 [0,") {
		t.Errorf("docs show: %v\n%s", err, out)
	}
	if _, _, err := sextantCLI(t, env, "docs", "show", "nope"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("docs show nope: %v", err)
	}
	out, _, err = sextantCLI(t, env, "docs", "delete", "kb:5836")
	if err != nil || !strings.Contains(out, "deleted kb:5836") {
		t.Errorf("docs delete: %v %s", err, out)
	}
	out, _, err = sextantCLI(t, env, "docs", "stats", "--data", data)
	if err != nil || !strings.Contains(out, "5 documents") || !strings.Contains(out, "generation 7") {
		t.Errorf("docs stats: %v\n%s", err, out)
	}
	// The flag wins over SEXTANT_DATA.
	other := t.TempDir()
	if _, _, err := sextantCLI(t, env, "ingest", filepath.Join(src, "notes.txt"), "--data", other, "--quiet"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, sqlite.FileName)); err != nil {
		t.Errorf("--data ignored: %v", err)
	}

	for _, args := range [][]string{
		{"ingest"},
		{"ingest", src, "--ttl", "soon"},
		{"ingest", src, "--max-bytes", "lots"},
		{"ingest", src, "--chunk-tokens", "4"},
		{"ingest", src, "--chunk-overlap", "300"},
		{"ingest", src, "--meta", "novalue"},
		{"docs", "show"},
		{"docs", "frobnicate"},
	} {
		if _, _, err := sextantCLI(t, env, args...); exitCode(err) != 2 {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if _, _, err := sextantCLI(t, env, "ingest", src, "--collection", "bad name"); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("bad collection: %v", err)
	}
}

func TestParseSizes(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "64MiB": 64 << 20, "10 MB": 10e6, "2GiB": 2 << 30, "5KB": 5000} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "0", "1.5MB", "MB", "99999999999GiB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := parseTTL(in); err != nil || got != want {
			t.Errorf("parseTTL(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"0d", "-3h", "xd", "forever"} {
		if _, err := parseTTL(bad); err == nil {
			t.Errorf("parseTTL(%q) accepted", bad)
		}
	}
}

// crashChildEnv carries the arguments of a child ingest process.
const crashChildEnv = "SEXTANT_TEST_INGEST_CHILD"

// TestIngestCrashChild is the child side of TestIngestCrashConsistency:
// it runs `sextant ingest` with the arguments in $SEXTANT_TEST_INGEST_CHILD.
func TestIngestCrashChild(t *testing.T) {
	argsJSON := os.Getenv(crashChildEnv)
	if argsJSON == "" {
		t.Skip("child process of TestIngestCrashConsistency")
	}
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), args, os.Getenv, strings.NewReader(""), os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// crashCorpus writes files records; version changes every text and the
// number of sentences, so a document's chunks differ between versions.
func crashCorpus(t *testing.T, dir string, files, perFile, version int) map[string]string {
	t.Helper()
	texts := map[string]string{}
	for f := range files {
		var b bytes.Buffer
		for r := range perFile {
			id := fmt.Sprintf("f%d-r%d", f, r)
			var sb strings.Builder
			for s := range 6 + (r+version)%7 {
				fmt.Fprintf(&sb, "Version %d of record %s, sentence %d, talks about retrieval and chunk offsets in some detail. ", version, id, s)
			}
			text := strings.TrimSpace(sb.String())
			texts["default:"+id] = text
			line, _ := json.Marshal(map[string]string{"_id": id, "title": "Record " + id, "text": text})
			b.Write(line)
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%02d.jsonl", f)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return texts
}

// TestIngestCrashConsistency kills (SIGKILL) a child `sextant ingest` that
// is replacing every document of a corpus, then checks that every document
// in the store is wholly the old version or wholly the new one, chunks and
// all, and that a re-run completes the job.
func TestIngestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	ctx := context.Background()
	data, corpus := t.TempDir(), t.TempDir()
	const files, perFile = 8, 150
	chunkArgs := []string{"--chunk-tokens", "48", "--chunk-overlap", "8"}
	chunkOpts := ingest.ChunkOptions{Tokens: 48, Overlap: 8}

	v1 := crashCorpus(t, corpus, files, perFile, 1)
	if _, _, err := sextantCLI(t, nil, append([]string{"ingest", corpus, "--data", data, "--quiet"}, chunkArgs...)...); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	gen1, _ := st.Generation(ctx)
	st.Close()
	if gen1 != files*perFile {
		t.Fatalf("generation %d after the first ingest, want %d", gen1, files*perFile)
	}

	v2 := crashCorpus(t, corpus, files, perFile, 2)
	args, _ := json.Marshal(append([]string{"ingest", corpus, "--data", data, "--quiet", "--batch-chunks", "40"}, chunkArgs...))
	cmd := exec.Command(os.Args[0], "-test.run=^TestIngestCrashChild$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(args))
	var childOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &childOut, &childOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Watch the store from here, as another process would, and kill the
	// child once some replacements have committed.
	watch, err := openStore(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var seen int64
	for time.Now().Before(deadline) {
		g, err := watch.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if seen = g - gen1; seen >= 20 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	watch.Close()
	if seen < 20 {
		t.Fatalf("the child committed nothing in time (%v):\n%s", werr, childOut.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child was not killed mid-ingest (it exited: %v)\n%s", werr, childOut.String())
	}

	old, replaced := checkVersions(t, data, v1, v2, chunkOpts)
	t.Logf("after SIGKILL: %d documents replaced, %d old, generation +%d", replaced, old, seen)
	if replaced == 0 || old == 0 {
		t.Errorf("kill did not land mid-ingest: %d replaced, %d old", replaced, old)
	}

	// A re-run completes the job and leaves nothing half done.
	out, _, err := sextantCLI(t, nil, append([]string{"ingest", corpus, "--data", data, "--json", "--quiet"}, chunkArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	var sum struct{ Updated, Unchanged, Added, Failed int }
	json.Unmarshal([]byte(out), &sum)
	if sum.Updated != old || sum.Unchanged != replaced || sum.Added != 0 || sum.Failed != 0 {
		t.Errorf("re-run summary %+v, want %d updated, %d unchanged", sum, old, replaced)
	}
	if old, _ := checkVersions(t, data, v1, v2, chunkOpts); old != 0 {
		t.Errorf("%d documents still old after the re-run", old)
	}
}

// checkVersions asserts every document is wholly version 1 or wholly
// version 2 (text, hash consistency, and exactly the chunks the chunker
// makes of that text) and counts each.
func checkVersions(t *testing.T, data string, v1, v2 map[string]string, opts ingest.ChunkOptions) (old, replaced int) {
	t.Helper()
	ctx := context.Background()
	st, err := openStore(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	err = st.Scan(ctx, func(d *sextant.Document, chunks []sextant.Chunk) error {
		n++
		full, err := st.Document(ctx, d.ID)
		if err != nil {
			return err
		}
		switch full.Text {
		case v1[d.ID]:
			old++
		case v2[d.ID]:
			replaced++
		default:
			return fmt.Errorf("document %s holds neither version: %.60q", d.ID, full.Text)
		}
		want := ingest.Chunk(d.ID, full.Text, nil, opts)
		if len(chunks) != len(want) {
			return fmt.Errorf("document %s has %d chunks, its text makes %d", d.ID, len(chunks), len(want))
		}
		for i := range want {
			c, w := chunks[i], want[i]
			if c.ID != w.ID || c.Start != w.Start || c.End != w.End || c.Text != w.Text {
				return fmt.Errorf("document %s chunk %d is %+v, want %+v", d.ID, i, c, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(v1) {
		t.Errorf("%d documents in the store, want %d", n, len(v1))
	}
	return old, replaced
}
