package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

// TestEvalRunsSurviveRestart stores runs, closes the store, opens it again
// and finds them: the evaluation history outlives the process.
func TestEvalRunsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	runs := []EvalRun{
		{ID: "r1", Suite: "handbook", Dataset: "golden.jsonl", Questions: 3, Summary: []byte(`{"base":{"f1":0.5}}`), Report: []byte(`{"id":"r1"}`), CreatedAt: t0},
		{ID: "r2", Suite: "scifact", Dataset: "beir:test", Questions: 300, FailedGates: 1, Summary: []byte(`{}`), Report: []byte(`{"id":"r2"}`), CreatedAt: t0.Add(time.Minute)},
		{ID: "r3", Suite: "handbook", Dataset: "golden.jsonl", Questions: 3, Summary: []byte(`{"base":{"f1":0.6}}`), Report: []byte(`{"id":"r3"}`), CreatedAt: t0.Add(2 * time.Minute)},
	}
	for i := range runs {
		if err := db.PutEvalRun(ctx, &runs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutEvalRun(ctx, &runs[0]); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("duplicate run: %v, want ECONFLICT", err)
	}
	if err := db.PutEvalRun(ctx, &EvalRun{ID: "x", Suite: "s"}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("run without time: %v, want EINVALID", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, err := db.EvalRuns(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, r.ID)
		if r.Report != nil {
			t.Errorf("listing carries the report of %s", r.ID)
		}
	}
	if !cmp.Equal(ids, []string{"r3", "r2", "r1"}) {
		t.Errorf("runs newest first = %v", ids)
	}
	hb, err := db.EvalRuns(ctx, "handbook", 1)
	if err != nil || len(hb) != 1 || hb[0].ID != "r3" || string(hb[0].Summary) != `{"base":{"f1":0.6}}` {
		t.Errorf("suite listing = %+v, %v", hb, err)
	}
	last, err := db.LastEvalRun(ctx, "handbook")
	if err != nil || last.ID != "r3" || string(last.Report) != `{"id":"r3"}` || !last.CreatedAt.Equal(runs[2].CreatedAt) {
		t.Errorf("last run = %+v, %v", last, err)
	}
	got, err := db.EvalRun(ctx, "r2")
	want := runs[1]
	if err != nil || !cmp.Equal(*got, want) {
		t.Errorf("EvalRun(r2) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := db.EvalRun(ctx, "nope"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("unknown run: %v", err)
	}
	if _, err := db.LastEvalRun(ctx, "nope"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("unknown suite: %v", err)
	}
}

func TestVerdicts(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, ok, err := db.Verdict(ctx, "k"); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	now := time.Now()
	if err := db.PutVerdict(ctx, "k", []byte(`{"label":"supported"}`), now); err != nil {
		t.Fatal(err)
	}
	if err := db.PutVerdict(ctx, "k", []byte(`{"label":"unsupported"}`), now); err != nil {
		t.Fatal(err)
	}
	v, ok, err := db.Verdict(ctx, "k")
	if err != nil || !ok || string(v) != `{"label":"unsupported"}` {
		t.Errorf("verdict = %s %v %v", v, ok, err)
	}
}

func TestAnswerEvals(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if err := db.PutAnswer(ctx, testAnswer("a1", "s1", 1)); err != nil {
		t.Fatal(err)
	}
	e := &AnswerEval{AnswerID: "a1", Assistant: "sextant", Groundedness: 0.8, HallucinationRate: 0.25, CitationCoverage: 1,
		GroundedCitationRate: 0.5, Relevance: 0.7, Claims: 4, Unsupported: 1, CreatedAt: time.Unix(0, 1234).UTC()}
	if err := db.PutAnswerEval(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := db.AnswerEval(ctx, "a1")
	if err != nil || !cmp.Equal(got, e) {
		t.Errorf("AnswerEval = %+v, %v; want %+v", got, err, e)
	}
	if err := db.PutAnswerEval(ctx, &AnswerEval{AnswerID: "ghost"}); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("evaluation of an unknown answer: %v, want ENOTFOUND", err)
	}
	if _, err := db.AnswerEval(ctx, "ghost"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("missing evaluation: %v", err)
	}
}
