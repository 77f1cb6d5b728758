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
