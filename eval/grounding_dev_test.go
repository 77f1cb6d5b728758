package eval

import (
	"context"
	"os"
	"testing"
)

func groundingExamples(t testing.TB, path string) []GroundingExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exs, err := ReadGroundingExamples(f)
	if err != nil {
		t.Fatal(err)
	}
	return exs
}

// TestGroundingDevAUC holds the built-in scorer to its target on the
// development set: AUC ≥ 0.80 for detecting unsupported answers. The
// held-out figures are logged, not asserted: they are reported, not tuned.
func TestGroundingDevAUC(t *testing.T) {
	sets := sciFactSets(t)
	s := NewScorer(ScorerOptions{})
	for _, name := range []string{GroundingDev, GroundingHeldout} {
		rep, err := BenchGrounding(context.Background(), s, sets[name], 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: n=%d AUC=%.4f P=%.3f R=%.3f F1=%.3f p50=%.3fms", name, rep.Examples, rep.AUC, rep.Precision, rep.Recall, rep.F1, rep.P50ms)
		for _, sr := range rep.Subsets {
			t.Logf("  %-20s n=%4d mean=%.3f acc=%.3f auc=%.4f", sr.Name, sr.Examples, sr.MeanScore, sr.Accuracy, sr.AUC)
		}
		for _, p := range rep.Pairs {
			t.Logf("  %s vs %s: AUC=%.4f", p.Supported, p.Unsupported, p.AUC)
		}
		if name == GroundingDev && rep.AUC < 0.80 {
			t.Errorf("dev AUC = %.4f, want ≥ 0.80", rep.AUC)
		}
	}
}

// TestGroundingHandwritten scores the hand-written fixture, which needs no
// shared data: general-domain answers, supported and fabricated.
func TestGroundingHandwritten(t *testing.T) {
	rep, err := BenchGrounding(context.Background(), NewScorer(ScorerOptions{}), groundingExamples(t, "testdata/grounding/handwritten.jsonl"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("handwritten: n=%d AUC=%.4f P=%.3f R=%.3f F1=%.3f", rep.Examples, rep.AUC, rep.Precision, rep.Recall, rep.F1)
	if rep.AUC < 0.80 {
		t.Errorf("handwritten AUC = %.4f, want ≥ 0.80", rep.AUC)
	}
}
