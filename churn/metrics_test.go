package churn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestAUC(t *testing.T) {
	cases := []struct {
		name string
		y, p []float64
		want float64
	}{
		{"perfect", []float64{0, 0, 1, 1}, []float64{0.1, 0.2, 0.8, 0.9}, 1},
		{"reversed", []float64{1, 1, 0, 0}, []float64{0.1, 0.2, 0.8, 0.9}, 0},
		{"all tied", []float64{0, 1, 0, 1}, []float64{0.5, 0.5, 0.5, 0.5}, 0.5},
		// Pairs (pos, neg): (0.4 vs 0.1) win, (0.4 vs 0.4) tie, (0.4 vs 0.6)
		// loss, (0.8 vs all) 3 wins: (1 + 0.5 + 0 + 3) / 6.
		{"ties", []float64{0, 1, 0, 0, 1}, []float64{0.1, 0.4, 0.4, 0.6, 0.8}, 4.5 / 6},
		{"one class", []float64{1, 1}, []float64{0.1, 0.2}, 0.5},
	}
	for _, c := range cases {
		if got := AUC(c.y, c.p); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: AUC %v, want %v", c.name, got, c.want)
		}
	}
}

func TestAveragePrecision(t *testing.T) {
	// Ranked: 0.9(1) 0.8(0) 0.7(1) 0.1(0): AP = ½·1 + ½·⅔ = 5/6
	// (scikit-learn's average_precision_score gives the same).
	if got := AveragePrecision([]float64{1, 0, 1, 0}, []float64{0.9, 0.8, 0.7, 0.1}); math.Abs(got-5.0/6) > 1e-12 {
		t.Fatalf("AP %v, want 5/6", got)
	}
}

func TestEvaluateOperatingPoints(t *testing.T) {
	y := []float64{1, 0, 1, 0, 0, 0, 0, 0, 0, 1}
	p := []float64{0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.2, 0.1, 0.05}
	m := Evaluate(y, p, 0.5, 20, Economics{OfferCost: 10, CustomerValue: 100, SaveRate: 0.5})
	// Threshold 0.5: predicted 0.9 0.8 0.7 0.6 → tp 2, fp 2, fn 1.
	// Top 20% = 2 rows (0.9, 0.8) → 1 churner of 3: recall ⅓, lift
	// (1/2)/(3/10) = 5/3, ROI 1·0.5·100 − 2·10 = 30.
	want := Metrics{Rows: 10, Positives: 3, Threshold: 0.5, Precision: 0.5, Recall: 2.0 / 3, TopPct: 20, RecallTop: 1.0 / 3, LiftTop: 5.0 / 3, ROI: 30}
	ignore := cmpopts.IgnoreFields(Metrics{}, "AUC", "PRAUC", "LogLoss", "Brier", "ECE")
	if diff := cmp.Diff(want, m, ignore, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Fatalf("metrics (-want +got):\n%s", diff)
	}
	var ll, br float64
	for i := range y {
		if y[i] == 1 {
			ll -= math.Log(p[i])
		} else {
			ll -= math.Log(1 - p[i])
		}
		br += (p[i] - y[i]) * (p[i] - y[i])
	}
	if math.Abs(m.LogLoss-ll/10) > 1e-12 || math.Abs(m.Brier-br/10) > 1e-12 {
		t.Fatalf("log-loss %v brier %v, want %v %v", m.LogLoss, m.Brier, ll/10, br/10)
	}
}

func TestReliability(t *testing.T) {
	y := []float64{0, 1, 1, 1}
	p := []float64{0.05, 0.15, 0.95, 0.95}
	ece, table := Reliability(y, p, 10)
	// Bin 0: 0.05 vs 0 → 0.05; bin 1: 0.15 vs 1 → 0.85; bin 9: 0.95 vs 1 → 0.05 ×2.
	want := (0.05 + 0.85 + 2*0.05) / 4
	if math.Abs(ece-want) > 1e-12 {
		t.Fatalf("ECE %v, want %v", ece, want)
	}
	if table[9].Count != 2 || table[9].Observed != 1 || table[5].Count != 0 {
		t.Fatalf("table %+v", table)
	}
}

func TestCalibratorsAreMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// A model whose probabilities are too extreme: true p = sigmoid(0.5·logit(q)).
	var y, q []float64
	for range 5000 {
		qi := r.Float64()*0.98 + 0.01
		truth := sigmoid(0.5 * logit(qi))
		q = append(q, qi)
		y = append(y, b2f(r.Float64() < truth))
	}
	for _, method := range []string{CalibrationPlatt, CalibrationIsotonic} {
		c, err := FitCalibrator(method, y, q)
		if err != nil {
			t.Fatal(err)
		}
		prev := -1.0
		for x := 0.0; x <= 1; x += 0.001 {
			v := c.Apply(x)
			if v < prev-1e-12 || v < 0 || v > 1 {
				t.Fatalf("%s: not monotone in [0,1]: f(%v) = %v after %v", method, x, v, prev)
			}
			prev = v
		}
		var cal []float64
		for _, qi := range q {
			cal = append(cal, c.Apply(qi))
		}
		before, _ := Reliability(y, q, 10)
		after, _ := Reliability(y, cal, 10)
		if after > before/2 {
			t.Errorf("%s: ECE %v → %v, want at least halved", method, before, after)
		}
	}
	c, _ := FitCalibrator(CalibrationPlatt, y, q)
	if math.Abs(c.A-0.5) > 0.1 {
		t.Errorf("Platt slope %v, want about 0.5", c.A)
	}
	if _, err := FitCalibrator("beta", y, q); err == nil {
		t.Error("unknown method accepted")
	}
}

func TestIsotonicPAV(t *testing.T) {
	// Sorted by p: labels 0 1 0 1 1 → blocks {0} {1,0}→0.5 {1,1}, the
	// outer ones kept within [1/7, 6/7] for 5 rows.
	xs, ys := fitIsotonic([]float64{0, 1, 0, 1, 1}, []float64{0.1, 0.2, 0.3, 0.4, 0.5})
	if !cmp.Equal(ys, []float64{1.0 / 7, 0.5, 6.0 / 7}) || !slices.IsSorted(xs) || len(xs) != 3 {
		t.Fatalf("knots %v %v", xs, ys)
	}
}

func TestFoldsMatchPeerScript(t *testing.T) {
	// Values printed by bench/churn_peer.py's folds() for the same input.
	y := []float64{0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0}
	if got := Folds(y, 3, 7); !cmp.Equal(got, []int{0, 1, 2, 0, 0, 0, 0, 1, 1, 2, 2, 1}) {
		t.Fatalf("Folds(y, 3, 7) = %v", got)
	}
	if got := Folds(y, 5, 12345678901234567890); !cmp.Equal(got, []int{1, 3, 1, 3, 4, 2, 0, 1, 0, 2, 0, 4}) {
		t.Fatalf("Folds(y, 5, big seed) = %v", got)
	}
	// Stratified: each fold gets its share of each class.
	r := rand.New(rand.NewPCG(3, 4))
	y = make([]float64, 1000)
	for i := range y {
		y[i] = b2f(r.Float64() < 0.27)
	}
	count := map[[2]int]int{}
	for i, f := range Folds(y, 5, 1) {
		count[[2]int{f, int(y[i])}]++
	}
	for f := range 5 {
		if n0, n1 := count[[2]int{f, 0}], count[[2]int{f, 1}]; abs(n0-count[[2]int{0, 0}]) > 1 || abs(n1-count[[2]int{0, 1}]) > 1 {
			t.Fatalf("fold %d: %d/%d rows, not stratified", f, n0, n1)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
