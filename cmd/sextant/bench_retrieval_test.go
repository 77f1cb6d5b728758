package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant/eval"
)

func TestLoadQrels(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "q.tsv")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	got, err := loadQrels(write("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\r\n\nq2 0 d3 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := eval.Qrels{"q1": {"d1": 2, "d2": 0}, "q2": {"d3": 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loadQrels (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "q1\td1\tx\nq2\td2\ty\n", "q1\td1\n"} {
		if _, err := loadQrels(write(bad)); err == nil {
			t.Errorf("loadQrels(%q) succeeded", bad)
		}
	}
}

// TestBenchRetrievalTiny runs the whole benchmark on a five-document BEIR
// folder whose rankings are unambiguous, so the metrics are known: every
// judged query finds its best document first.
func TestBenchRetrievalTiny(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"bench", "retrieval", "--beir", "testdata/beir-tiny", "--json", "--repeat", "1"},
		func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"dataset", "docs", "queries", "ndcg_at_10", "recall_at_100", "mrr_at_10", "map_at_100", "index_seconds", "query_p50_ms", "query_p95_ms", "query_p99_ms"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks key %q", k)
		}
	}
	if rep["docs"] != 5.0 || rep["queries"] != 3.0 || rep["dataset"] != "beir-tiny" {
		t.Errorf("docs/queries/dataset = %v/%v/%v", rep["docs"], rep["queries"], rep["dataset"])
	}
	// q1: d1 (grade 2) first, d4 (grade 1) second → nDCG 1, RR 1, AP 1;
	// q2 and q3 find their one relevant document first.
	for _, k := range []string{"ndcg_at_10", "recall_at_100", "mrr_at_10", "map_at_100"} {
		if v, _ := rep[k].(float64); v < 0.999999 {
			t.Errorf("%s = %v, want 1", k, v)
		}
	}
	if rep["peer"] == nil {
		t.Error("no FTS5 peer row")
	}
}

func TestBenchScaleSmall(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"bench", "scale", "--chunks", "3000", "--vocab", "2000", "--queries", "50", "--json"},
		func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var rep scaleReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out.String())
	}
	if rep.Chunks != 3000 || rep.Documents != 3000 || rep.Queries != 50 || rep.IngestMBPerSec <= 0 || rep.IndexBytesPerChunk <= 0 || rep.P95MS <= 0 {
		t.Errorf("report = %+v", rep)
	}
}

// TestBenchRetrievalVectors runs the benchmark's vector and hybrid modes
// on the tiny folder with hand-made vectors that rank every judged query's
// documents first.
func TestBenchRetrievalVectors(t *testing.T) {
	vdir := t.TempDir()
	corpus := `{"id": "d1", "vector": [1, 0.1, 0, 0]}
{"id": "d2", "vector": [0, 1, 0, 0]}
{"id": "d3", "vector": [0, 0, 1, 0]}
{"id": "d4", "vector": [0.9, 0, 0.1, 0]}
{"id": "d5", "vector": [0, 0, 0, 1]}
`
	queries := `{"id": "q1", "vector": [1, 0.05, 0, 0]}
{"id": "q2", "vector": [0.1, 1, 0, 0]}
{"id": "q3", "vector": [0, 0, 0.1, 1]}
{"id": "q4", "vector": [1, 1, 1, 1]}
`
	os.WriteFile(filepath.Join(vdir, "corpus.vectors.jsonl"), []byte(corpus), 0o644)
	os.WriteFile(filepath.Join(vdir, "queries.vectors.jsonl"), []byte(queries), 0o644)
	for _, args := range [][]string{
		{"--mode", "vector"},
		{"--mode", "hybrid"},
		{"--mode", "hybrid", "--fusion", "weighted", "--norm", "zscore", "--vector-weight", "0.3", "--rerank", "features"},
		{"--mode", "hybrid", "--rerank", "features", "--fit-rerank", "--mmr", "0.9", "--int8"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"bench", "retrieval", "--beir", "testdata/beir-tiny", "--json", "--repeat", "1",
			"--peer", "none", "--vectors", vdir}, args...), func(string) string { return "" }, strings.NewReader(""), &out, &errb)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		var rep map[string]any
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if rep["mode"] != args[1] || rep["vector_dim"] != 4.0 {
			t.Errorf("%v: mode %v, vector_dim %v", args, rep["mode"], rep["vector_dim"])
		}
		if v, _ := rep["ndcg_at_10"].(float64); v < 0.99 {
			t.Errorf("%v: nDCG@10 = %v, want 1", args, v)
		}
	}
	// A query without a vector, or vector mode without vectors, is an error.
	os.WriteFile(filepath.Join(vdir, "queries.vectors.jsonl"), []byte(`{"id": "q1", "vector": [1, 0, 0, 0]}`+"\n"), 0o644)
	err := run(context.Background(), []string{"bench", "retrieval", "--beir", "testdata/beir-tiny", "--peer", "none", "--repeat", "1",
		"--mode", "vector", "--vectors", vdir}, func(string) string { return "" }, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "has no vector") {
		t.Errorf("missing query vector: %v", err)
	}
	err = run(context.Background(), []string{"bench", "retrieval", "--beir", "testdata/beir-tiny", "--mode", "hybrid"},
		func(string) string { return "" }, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if exitCode(err) != 2 {
		t.Errorf("hybrid without --vectors: %v", err)
	}
}
