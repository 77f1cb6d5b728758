package churn

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
)

// synthTable builds a customer table where churn depends on plan, tenure
// and autopay; region is noise the schema ignores. With treat, a "offer"
// column is added that halves churn for basic-plan customers only.
func synthTable(n int, seed uint64, treat bool) *Table {
	r := rand.New(rand.NewPCG(seed, 9))
	t := &Table{Name: "synth.csv", Header: []string{"id", "plan", "tenure", "monthly", "autopay", "region", "churned"}}
	if treat {
		t.Header = append(t.Header, "offer")
	}
	plans := []string{"basic", "family", "premium"}
	for i := range n {
		plan := plans[r.IntN(3)]
		tenure := r.IntN(72)
		monthly := 20 + r.Float64()*80
		autopay := r.IntN(2) == 1
		z := -1.0 - 0.05*float64(tenure) + 0.01*monthly
		if plan == "basic" {
			z += 1.2
		}
		if !autopay {
			z += 0.8
		}
		offer := r.IntN(2) == 1
		p := sigmoid(z)
		if treat && offer && plan == "basic" {
			p /= 2
		}
		churned := "No"
		if r.Float64() < p {
			churned = "Yes"
		}
		ten := strconv.Itoa(tenure)
		if r.IntN(50) == 0 {
			ten = ""
		}
		row := []string{fmt.Sprintf("c%05d", i), plan, ten, strconv.FormatFloat(monthly, 'f', 2, 64), strconv.FormatBool(autopay), []string{"north", "south"}[r.IntN(2)], churned}
		if treat {
			row = append(row, strconv.FormatBool(offer))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func synthSchema(t testing.TB, tb *Table, treatment string) *Schema {
	t.Helper()
	s, err := Infer(tb, InferOptions{Target: "churned", ID: "id", Treatment: treatment})
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Columns {
		if s.Columns[i].Name == "region" {
			s.Columns[i].Role = RoleIgnore
		}
	}
	return s
}

func fastOptions() TrainOptions {
	p := DefaultParams()
	p.Rounds, p.LearningRate = 200, 0.1
	return TrainOptions{Params: p, Folds: 3, Seed: 5, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
}

func trainedModel(t testing.TB, n int, seed uint64) *Model {
	t.Helper()
	tb := synthTable(n, seed, false)
	d, err := NewDataset(tb, synthSchema(t, tb, ""))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Train(context.Background(), d, "hash", fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTrainLearnsAndCalibrates(t *testing.T) {
	m := trainedModel(t, 4000, 1)
	cv := m.CV.Pooled
	if cv.AUC < 0.75 {
		t.Fatalf("cross-validated AUC %.3f on data with a clear signal", cv.AUC)
	}
	if cv.ECE > 0.05 {
		t.Fatalf("ECE %.3f after calibration", cv.ECE)
	}
	if m.Importance[len(m.Importance)-1].Gain > m.Importance[0].Gain {
		t.Fatal("importance not sorted")
	}
	if !strings.Contains(m.Card, "AUC") || m.Reference == nil || len(m.Reference.Features) != 4 {
		t.Fatalf("card or reference missing: %q", m.Card)
	}
	for _, imp := range m.Importance {
		if imp.Feature == "region" {
			t.Fatal("an ignored column became a feature")
		}
	}
}

func TestRegistryLifecycle(t *testing.T) {
	ctx := context.Background()
	reg, err := OpenRegistry(t.TempDir(), func() time.Time { return time.Date(2026, 5, 6, 0, 0, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Load("production"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Fatalf("empty registry: %v", err)
	}
	m1 := trainedModel(t, 1500, 2)
	m2 := trainedModel(t, 1500, 3)
	e1, err := reg.Save(ctx, m1)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := reg.Save(ctx, m2)
	if err != nil {
		t.Fatal(err)
	}
	if e1.ID != "v1" || e2.ID != "v2" || e1.Stage != StageCandidate {
		t.Fatalf("entries %+v %+v", e1, e2)
	}
	steps := []struct {
		do   func() error
		prod string
	}{
		{func() error { return reg.Promote(ctx, "v1") }, "v1"},
		{func() error { return reg.Promote(ctx, "v2") }, "v2"},
		{func() error { _, err := reg.Rollback(ctx); return err }, "v1"},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if id, _ := reg.Resolve("production"); id != s.prod {
			t.Fatalf("step %d: production %s, want %s", i, id, s.prod)
		}
	}
	if _, err := reg.Rollback(ctx); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Fatalf("rollback with no history: %v", err)
	}
	if err := reg.Promote(ctx, "v9"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Fatalf("promote unknown: %v", err)
	}
	list, _ := reg.List()
	if list[0].Stage != StageProduction || list[1].Stage != StageArchived {
		t.Fatalf("stages %+v", list)
	}

	// A loaded model scores exactly as the trained one.
	back, err := reg.Load("v2")
	if err != nil {
		t.Fatal(err)
	}
	tb := synthTable(200, 77, false)
	a := scoreTable(t, NewScorer(m2, ScorerOptions{}), tb, 1)
	b := scoreTable(t, NewScorer(back, ScorerOptions{}), tb, 1)
	if a != b {
		t.Fatal("the reloaded model scores differently")
	}
}

func scoreTable(t testing.TB, sc *Scorer, tb *Table, threads int) string {
	t.Helper()
	var in, out bytes.Buffer
	if err := tb.WriteCSV(&in); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.ScoreCSV(context.Background(), &in, "in.csv", &out, CSVScoreOptions{Threads: threads}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestScoreCSV(t *testing.T) {
	m := trainedModel(t, 1500, 4)
	var recorded int
	sc := NewScorer(m, ScorerOptions{Reasons: 2, Record: func(r []TrafficRecord) error { recorded += len(r); return nil }})
	tb := synthTable(5000, 8, false)
	tb.Rows[3][2] = "forty"
	one := scoreTable(t, sc, tb, 1)
	four := scoreTable(t, NewScorer(m, ScorerOptions{Reasons: 2}), tb, 4)
	if one != four {
		t.Fatal("output depends on the thread count")
	}
	recs, err := csv.NewReader(strings.NewReader(one)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5001 || strings.Join(recs[0], ",") != "id,probability,reasons,error" {
		t.Fatalf("%d output rows, header %v", len(recs), recs[0])
	}
	for i, r := range recs[1:] {
		if r[0] != tb.Rows[i][0] {
			t.Fatalf("row %d: id %s, want %s (order lost)", i, r[0], tb.Rows[i][0])
		}
	}
	if bad := recs[4]; bad[1] != "" || !strings.Contains(bad[3], `line 5 field "tenure": not a number: "forty"`) {
		t.Fatalf("invalid row output %v", bad)
	}
	if recorded != 4999 {
		t.Fatalf("recorded %d rows, want the 4999 valid ones", recorded)
	}
	if !strings.Contains(recs[1][2], "=") {
		t.Fatalf("no reasons: %v", recs[1])
	}
	_, err = sc.ScoreCSV(context.Background(), strings.NewReader("id,plan\n1,basic\n"), "thin.csv", &bytes.Buffer{}, CSVScoreOptions{})
	if err == nil || !strings.Contains(err.Error(), `thin.csv: no column "tenure"`) {
		t.Fatalf("missing column: %v", err)
	}
}

func TestReasonsSumWithBias(t *testing.T) {
	m := trainedModel(t, 1500, 5)
	x := []float64{0, 3, 50, 0}
	phi := m.Booster.Contributions(x)
	var sum float64
	for _, v := range phi {
		sum += v
	}
	if math.Abs(sum-m.Booster.Margin(x)) > 1e-9 {
		t.Fatalf("contributions %v sum to %v, margin %v", phi, sum, m.Booster.Margin(x))
	}
}

func TestDriftDetectsShift(t *testing.T) {
	ctx := context.Background()
	m := trainedModel(t, 3000, 6)
	reg, err := OpenRegistry(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Save(ctx, m); err != nil {
		t.Fatal(err)
	}
	sc := NewScorer(m, ScorerOptions{Record: func(r []TrafficRecord) error { return reg.RecordTraffic(m.ID, r) }})
	same := synthTable(3000, 60, false)
	scoreTable(t, sc, same, 2)
	recs, err := reg.Traffic(m.ID, 0)
	if err != nil || len(recs) != 3000 {
		t.Fatalf("traffic: %d records, %v", len(recs), err)
	}
	rows, scores := split(recs)
	rep, err := Drift(m, rows, scores, DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Alerts != 0 || rep.Warnings != 0 {
		t.Fatalf("same distribution flagged: %+v", rep)
	}
	// New customers: short tenure, everyone on basic.
	shifted := synthTable(3000, 61, false)
	for _, r := range shifted.Rows {
		r[1] = "basic"
		if n, err := strconv.Atoi(r[2]); err == nil {
			r[2] = strconv.Itoa(n / 6)
		}
	}
	var got [][]float64
	var gotScores []float64
	sc2 := NewScorer(m, ScorerOptions{Record: func(r []TrafficRecord) error {
		for _, x := range r {
			got = append(got, append([]float64(nil), x.X...))
			gotScores = append(gotScores, x.Score)
		}
		return nil
	}})
	scoreTable(t, sc2, shifted, 1)
	rep, err = Drift(m, got, gotScores, DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	level := map[string]string{}
	for _, it := range rep.Features {
		level[it.Name] = it.Level
	}
	if level["plan"] != "alert" || level["tenure"] != "alert" || rep.Score.Level == "ok" || level["monthly"] != "ok" {
		t.Fatalf("drift levels %v, score %+v", level, rep.Score)
	}
	var buf bytes.Buffer
	if err := rep.WriteMetrics(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `sextant_churn_psi{model="v1",feature="plan"}`) || !strings.Contains(buf.String(), "sextant_churn_drift_alerts") {
		t.Fatalf("metrics:\n%s", buf.String())
	}
}

func split(recs []TrafficRecord) ([][]float64, []float64) {
	var rows [][]float64
	var scores []float64
	for _, r := range recs {
		rows = append(rows, r.X)
		scores = append(scores, r.Score)
	}
	return rows, scores
}

func TestPSI(t *testing.T) {
	if got := PSI([]float64{0.5, 0.5}, []float64{0.5, 0.5}); got != 0 {
		t.Fatalf("PSI of equal shares %v", got)
	}
	// (0.7-0.5)·ln(1.4) + (0.3-0.5)·ln(0.6)
	want := 0.2*math.Log(1.4) - 0.2*math.Log(0.6)
	if got := PSI([]float64{0.5, 0.5}, []float64{0.7, 0.3}); math.Abs(got-want) > 1e-12 {
		t.Fatalf("PSI %v, want %v", got, want)
	}
}

func TestUpliftFindsTheResponsiveSegment(t *testing.T) {
	tb := synthTable(8000, 10, true)
	d, err := NewDataset(tb, synthSchema(t, tb, "offer"))
	if err != nil {
		t.Fatal(err)
	}
	o := fastOptions()
	o.Params.MaxDepth = 2
	res, err := Uplift(context.Background(), d, o, []float64{30, 100})
	if err != nil {
		t.Fatal(err)
	}
	top, all := res.AtK[0], res.AtK[1]
	if math.Abs(all.Uplift-res.Overall) > 1e-12 {
		t.Fatalf("uplift at 100%% %v differs from overall %v", all.Uplift, res.Overall)
	}
	// Only basic-plan customers (a third) respond: the top 30% by predicted
	// uplift must show clearly more uplift than everyone together.
	if !(top.Uplift > 2*all.Uplift && top.Uplift > 0.1) {
		t.Fatalf("uplift in the top 30%% %.3f, overall %.3f", top.Uplift, all.Uplift)
	}
	if _, err := Uplift(context.Background(), &Dataset{Data: d.Data}, o, nil); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("no treatment column: %v", err)
	}
}

func TestTrainRefusesBadOptions(t *testing.T) {
	tb := synthTable(100, 1, false)
	d, err := NewDataset(tb, synthSchema(t, tb, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CrossValidate(context.Background(), d.Data, TrainOptions{Folds: 1}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("1 fold: %v", err)
	}
	if _, err := Train(context.Background(), d, "", TrainOptions{Calibration: "magic", Folds: 2}); err == nil {
		t.Fatal("unknown calibration accepted")
	}
	p := DefaultParams()
	p.LearningRate = -1
	if _, err := Train(context.Background(), d, "", TrainOptions{Params: p, Folds: 2}); err == nil {
		t.Fatal("bad params accepted")
	}
}

// BenchmarkScoreRecord measures one real-time request of one customer:
// validation, encoding, compiled scoring and calibration, with and without
// three TreeSHAP reasons.
func BenchmarkScoreRecord(b *testing.B) {
	m := trainedModel(b, 3000, 1)
	rec := []map[string]any{{"id": "c1", "plan": "basic", "tenure": 3, "monthly": 42.5, "autopay": "no"}}
	for _, reasons := range []int{0, 3} {
		b.Run(fmt.Sprintf("reasons=%d", reasons), func(b *testing.B) {
			sc := NewScorer(m, ScorerOptions{Reasons: reasons})
			for b.Loop() {
				if _, err := sc.ScoreRecords(context.Background(), rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestCrossValidateSameWhateverTheThreads(t *testing.T) {
	tb := synthTable(1500, 12, false)
	d, err := NewDataset(tb, synthSchema(t, tb, ""))
	if err != nil {
		t.Fatal(err)
	}
	var raws [][]float64
	for _, threads := range []int{1, 3} {
		o := fastOptions()
		o.Threads = threads
		cv, err := CrossValidate(context.Background(), d.Data, o)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, cv.Calibrated)
	}
	if !slices.Equal(raws[0], raws[1]) {
		t.Fatal("out-of-fold predictions depend on the thread count")
	}
}

func TestLoadRefusesOtherModelVersions(t *testing.T) {
	reg, err := OpenRegistry(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Save(context.Background(), trainedModel(t, 600, 9)); err != nil {
		t.Fatal(err)
	}
	path := reg.Dir() + "/models/v1/model.json"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(`"version": 1`), []byte(`"version": 7`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Load("v1"); err == nil || !strings.Contains(err.Error(), "format version 7") {
		t.Fatalf("loading a version-7 model: %v", err)
	}
}
