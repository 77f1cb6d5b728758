package eval

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The hand-computed case: judgements d1:2, d2:1, d3:0 (judged
// non-relevant), d4:1 (never retrieved); dX and d5 are unjudged. The run
// ties d1 and dX at 2.0: trec_eval puts the larger id first, so dX (0x58)
// precedes d1 (0x31).
var (
	handQrels = map[string]int{"d1": 2, "d2": 1, "d3": 0, "d4": 1}
	handRun   = []Scored{{"d5", 0.5}, {"d1", 2}, {"d3", 3}, {"d2", 1}, {"dX", 2}}
)

func close6(a, b float64) bool { return math.Abs(a-b) <= 1e-6 }

func TestTrecOrder(t *testing.T) {
	got := TrecOrder(handRun)
	want := []string{"d3", "dX", "d1", "d2", "d5"}
	if !cmp.Equal(want, got) {
		t.Errorf("TrecOrder = %v, want %v", got, want)
	}
	if got := TrecOrder([]Scored{{"a", 1}, {"a", 0.5}, {"b", 1}}); !cmp.Equal([]string{"b", "a"}, got) {
		t.Errorf("duplicates: %v", got)
	}
}

func TestRetrievalMetricsHandComputed(t *testing.T) {
	r := TrecOrder(handRun) // d3 dX d1 d2 d5; relevant: d1 (rank 3), d2 (rank 4); 3 relevant in all
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		// DCG@10 = 2/log2(4) + 1/log2(5); ideal = 2 + 1/log2(3) + 1/log2(4).
		{"ndcg@10", NDCGAtK(r, handQrels, 10), 0.4569494273838043},
		// DCG@3 = 2/log2(4) = 1; ideal@3 as above = 3.1309297535714578.
		{"ndcg@3", NDCGAtK(r, handQrels, 3), 0.31939394323979897},
		{"ndcg@2", NDCGAtK(r, handQrels, 2), 0},
		{"recall@100", RecallAtK(r, handQrels, 100), 2.0 / 3},
		{"recall@3", RecallAtK(r, handQrels, 3), 1.0 / 3},
		{"P@3", PrecisionAtK(r, handQrels, 3), 1.0 / 3},
		{"P@10", PrecisionAtK(r, handQrels, 10), 0.2},
		{"RR@10", ReciprocalRankAtK(r, handQrels, 10), 1.0 / 3},
		{"RR@2", ReciprocalRankAtK(r, handQrels, 2), 0},
		// (1/3 + 2/4) / 3 relevant
		{"AP@100", AveragePrecisionAtK(r, handQrels, 100), (1.0/3 + 0.5) / 3},
		{"AP@3", AveragePrecisionAtK(r, handQrels, 3), (1.0 / 3) / 3},
		{"hit@2", HitRateAtK(r, handQrels, 2), 0},
		{"hit@3", HitRateAtK(r, handQrels, 3), 1},
		// Graded ideal cut at k: grades 3,3,1; run c(1), a(3).
		{"graded ndcg@1", NDCGAtK([]string{"c", "a"}, map[string]int{"a": 3, "b": 3, "c": 1}, 1), 1.0 / 3},
		// DCG@2 = 1 + 3/log2(3); ideal@2 = 3 + 3/log2(3).
		{"graded ndcg@2", NDCGAtK([]string{"c", "a"}, map[string]int{"a": 3, "b": 3, "c": 1}, 2), (1 + 3/math.Log2(3)) / (3 + 3/math.Log2(3))},
		// Only judged-non-relevant rows: everything is 0.
		{"no relevant ndcg", NDCGAtK([]string{"x"}, map[string]int{"x": 0}, 10), 0},
		{"no relevant recall", RecallAtK([]string{"x"}, map[string]int{"x": 0}, 10), 0},
		{"no relevant AP", AveragePrecisionAtK([]string{"x"}, map[string]int{"x": 0}, 10), 0},
		{"empty run", NDCGAtK(nil, handQrels, 10), 0},
	}
	for _, tt := range tests {
		if !close6(tt.got, tt.want) {
			t.Errorf("%s = %.9f, want %.9f", tt.name, tt.got, tt.want)
		}
	}
}

func TestEvaluateRun(t *testing.T) {
	qrels := Qrels{
		"q1": handQrels,
		"q2": {"a": 1},
		"q3": {"z": 1}, // no results in the run: counts as 0
	}
	run := map[string][]Scored{
		"q1":    handRun,
		"q2":    {{"a", 0.1}, {"b", 0.05}},
		"extra": {{"a", 1}}, // unjudged query: ignored
	}
	got := EvaluateRun(run, qrels)
	want := RetrievalScores{
		Queries:       3,
		NDCGAt10:      (0.4569494273838043 + 1 + 0) / 3,
		RecallAt100:   (2.0/3 + 1 + 0) / 3,
		MRRAt10:       (1.0/3 + 1 + 0) / 3,
		MAPAt100:      ((1.0/3+0.5)/3 + 1 + 0) / 3,
		PrecisionAt10: (0.2 + 0.1 + 0) / 3,
		RecallAt10:    (2.0/3 + 1 + 0) / 3,
		HitRateAt10:   2.0 / 3,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(close6)); diff != "" {
		t.Errorf("EvaluateRun (-want +got):\n%s", diff)
	}
}
