package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/hnsw"
)

func runBenchANNForTest(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"bench", "ann"}, args...), func(string) string { return "" }, nil, &out, &errb)
	if err != nil {
		t.Logf("stderr: %s", errb.String())
	}
	return out.String(), err
}

func TestBenchANNJSON(t *testing.T) {
	out, err := runBenchANNForTest(t, "--n", "600", "--dim", "16", "--nq", "30", "--ef", "8,32", "--m", "8",
		"--ef-construction", "40", "--json", "--exact", "--filter", "0.1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 { // 2 ef + 2 filtered + exact
		t.Fatalf("got %d lines:\n%s", len(lines), out)
	}
	keys := []string{"engine", "param", "ef", "recall_at_10", "qps", "p50_us", "p99_us", "build_seconds", "memory_bytes"}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("line %s lacks key %q", l, k)
			}
		}
		if r := m["recall_at_10"].(float64); r < 0.8 || r > 1 {
			t.Errorf("recall %v out of the plausible range: %s", r, l)
		}
	}
	var ex annResult
	json.Unmarshal([]byte(lines[4]), &ex)
	if ex.Engine != "sextant-exact" || ex.ScanGBps <= 0 || ex.ReadGBps <= 0 {
		t.Errorf("exact line: %+v", ex)
	}
}

func TestBenchANNFvecsInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, vecs [][]float32) string {
		p := filepath.Join(dir, name)
		f, _ := os.Create(p)
		defer f.Close()
		if err := hnsw.WriteFvecs(f, vecs); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base, queries := mixture(3, 300, 10, 8, 4, 0.5)
	bp, qp := write("base.fvecs", base), write("q.fvecs", queries)
	out, err := runBenchANNForTest(t, "--base", bp, "--queries", qp, "--ef", "16")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "300 base and 10 query vectors of dimension 8") || !strings.Contains(out, "recall@10=") {
		t.Errorf("unexpected output:\n%s", out)
	}
	// A supplied ground truth is used as is: the exact answers give recall
	// 1 at a large ef, a wrong one gives recall 0.
	gt := make([][]int32, len(queries))
	wrong := make([][]int32, len(queries))
	idx, _ := hnsw.Build(context.Background(), hnsw.Options{Dim: 8}, base)
	for i, q := range queries {
		res, _ := idx.Exact(q, hnsw.SearchOptions{K: 10})
		for _, r := range res {
			gt[i] = append(gt[i], int32(r.ID))
		}
		far, _ := idx.Exact(scale(q, -1), hnsw.SearchOptions{K: 10})
		for _, r := range far {
			wrong[i] = append(wrong[i], int32(r.ID))
		}
	}
	for _, tc := range []struct {
		rows [][]int32
		want string
	}{{gt, "recall@10=1.0000"}, {wrong, "recall@10=0.0000"}} {
		p := filepath.Join(dir, "gt.ivecs")
		f, _ := os.Create(p)
		hnsw.WriteIvecs(f, tc.rows)
		f.Close()
		out, err := runBenchANNForTest(t, "--base", bp, "--queries", qp, "--gt", p, "--ef", "300")
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("--gt: err %v, want %q in:\n%s", err, tc.want, out)
		}
	}
	os.WriteFile(filepath.Join(dir, "bad.fvecs"), []byte{9, 0, 0, 0, 1}, 0o644)
	_, err = runBenchANNForTest(t, "--base", filepath.Join(dir, "bad.fvecs"), "--queries", qp)
	if err == nil || !strings.Contains(err.Error(), "bad.fvecs: record 0: truncated") {
		t.Errorf("bad file error = %v", err)
	}
}

func TestBenchANNUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--ef", "0"}, {"--quant", "int4"}, {"--peer", "faiss"}, {"--base", "x.fvecs"},
		{"--dist", "zipf"}, {"--filter", "2"}, {"--metric", "hamming"}, {"--gt", "gt.ivecs"},
	} {
		if _, err := runBenchANNForTest(t, args...); exitCode(err) != 2 {
			t.Errorf("%v: err %v, want a usage error", args, err)
		}
	}
}

// TestBenchANNPeer runs the hnswlib peer side by side on a tiny data set.
// It needs Debian's python3-hnswlib and python3-numpy; it skips without
// them unless SEXTANT_INTEGRATION=1.
func TestBenchANNPeer(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = "python3"
	}
	if err := exec.Command(python, "-c", "import hnswlib, numpy").Run(); err != nil {
		if os.Getenv("SEXTANT_INTEGRATION") == "1" {
			t.Fatalf("python3-hnswlib/python3-numpy missing (%v) and SEXTANT_INTEGRATION=1", err)
		}
		t.Skipf("python3-hnswlib not installed: %v", err)
	}
	out, err := runBenchANNForTest(t, "--n", "500", "--dim", "16", "--nq", "20", "--ef", "16,64", "--m", "8",
		"--ef-construction", "40", "--peer", "hnswlib", "--peer-script", "../../bench/ann_peer.py", "--python", python, "--json")
	if err != nil {
		t.Fatal(err)
	}
	engines := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r annResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		engines[r.Engine]++
		if r.Engine == "hnswlib" && (r.RecallAt10 < 0.8 || r.QPS <= 0) {
			t.Errorf("implausible hnswlib line: %s", l)
		}
	}
	if engines["sextant"] != 2 || engines["hnswlib"] != 2 || engines["ratio"] != 1 {
		t.Errorf("engines %v in:\n%s", engines, out)
	}
}

func scale(v []float32, f float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}

// TestBenchANNNativePeer compiles hnswlib's C++ headers into the native
// peer and runs it side by side on a tiny data set. It needs a C++
// compiler and Debian's libhnswlib-dev; it skips without them unless
// SEXTANT_INTEGRATION=1.
func TestBenchANNNativePeer(t *testing.T) {
	_, errCC := exec.LookPath("c++")
	_, errH := os.Stat("/usr/include/hnswlib/hnswlib.h")
	if errCC != nil || errH != nil {
		if os.Getenv("SEXTANT_INTEGRATION") == "1" {
			t.Fatalf("c++ or libhnswlib-dev missing (%v, %v) and SEXTANT_INTEGRATION=1", errCC, errH)
		}
		t.Skip("c++ or libhnswlib-dev not installed")
	}
	out, err := runBenchANNForTest(t, "--n", "400", "--dim", "16", "--nq", "20", "--ef", "16,64", "--m", "8",
		"--ef-construction", "40", "--peer", "hnswlib-native", "--peer-source", "../../bench/ann_peer.cc", "--json")
	if err != nil {
		t.Fatal(err)
	}
	engines := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r annResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		engines[r.Engine]++
		if r.Engine == "hnswlib-native" && (r.RecallAt10 < 0.8 || r.QPS <= 0) {
			t.Errorf("implausible peer line: %s", l)
		}
	}
	if engines["sextant"] != 2 || engines["hnswlib-native"] != 2 || engines["ratio"] != 1 {
		t.Errorf("engines %v in:\n%s", engines, out)
	}
}
