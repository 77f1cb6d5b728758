package sqlite

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

func testAnswer(id, session string, turn int) *sextant.Answer {
	temp, seed := 0.2, int64(7)
	return &sextant.Answer{
		ID: id, SessionID: session, Turn: turn, Tenant: "acme", Principal: "k1", Assistant: "sextant",
		Question: "How do I ingest a PDF?", Query: "ingest PDF", Text: "Run sextant ingest [1].",
		Sources: []sextant.Source{{N: 1, ChunkID: "d#0", DocumentID: "d", Title: "Ingest", URI: "file:///d.md",
			Section: "Ingest › PDF", Start: 10, End: 40, Text: "Run sextant ingest on the file.", Quote: "Run sextant ingest", Score: 3.5}},
		Sentences: []sextant.AnswerSentence{{Start: 0, End: 23, Text: "Run sextant ingest.", Citations: []int{1}, Supported: true, Support: 0.9,
			Evidence: []sextant.Evidence{{N: 1, Score: 0.9, Start: 10, End: 28, Quote: "Run sextant ingest"}}}},
		FinishReason: sextant.FinishStop, Model: "extractive", Served: "extractive:extractive", Template: "answer",
		TemplateHash: "abc", Temperature: &temp, Seed: &seed, MaxTokens: 512,
		Usage:     sextant.Usage{InputTokens: 100, OutputTokens: 8, Estimated: true},
		Timings:   []sextant.StageTiming{{Stage: "retrieve", Duration: 300 * time.Microsecond}},
		CreatedAt: time.Date(2026, 11, 27, 10, 0, turn, 0, time.UTC),
	}
}

func TestAnswersRoundTrip(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	want := testAnswer("a1", "s1", 1)
	if err := db.PutAnswer(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := db.Answer(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := db.Answer(ctx, "nope"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("missing answer: %v", err)
	}
	if err := db.PutAnswer(ctx, testAnswer("a2", "s1", 1)); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("same turn twice: %v, want conflict", err)
	}
	if err := db.PutAnswer(ctx, testAnswer("a1", "s1", 2)); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("same id twice: %v, want conflict", err)
	}
	for _, bad := range []*sextant.Answer{{SessionID: "s", Turn: 1}, {ID: "x", Turn: 1}, {ID: "x", SessionID: "s"}} {
		if err := db.PutAnswer(ctx, bad); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("PutAnswer(%+v) = %v, want invalid", bad, err)
		}
	}
}

func TestSessionAnswers(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	for turn := 1; turn <= 5; turn++ {
		a := testAnswer("a"+string(rune('0'+turn)), "s1", turn)
		a.Temperature, a.Seed = nil, nil
		if err := db.PutAnswer(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutAnswer(ctx, testAnswer("b1", "s2", 1)); err != nil {
		t.Fatal(err)
	}
	got, err := db.SessionAnswers(ctx, "s1", 3)
	if err != nil {
		t.Fatal(err)
	}
	var turns []int
	for _, a := range got {
		turns = append(turns, a.Turn)
		if a.Temperature != nil || a.Seed != nil {
			t.Errorf("turn %d: nil temperature/seed read back as %v/%v", a.Turn, a.Temperature, a.Seed)
		}
	}
	if diff := cmp.Diff([]int{3, 4, 5}, turns); diff != "" {
		t.Errorf("last 3 turns, oldest first (-want +got):\n%s", diff)
	}
	all, _ := db.SessionAnswers(ctx, "s1", 0)
	none, _ := db.SessionAnswers(ctx, "unknown", 3)
	if len(all) != 5 || len(none) != 0 {
		t.Errorf("all = %d answers, unknown session = %d", len(all), len(none))
	}
}
