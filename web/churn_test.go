package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/churn"
	"github.com/sextant-ai/sextant/web"
)

// smallChurnModel trains a quick model on synthetic customers whose churn
// follows tenure and plan.
func smallChurnModel(t *testing.T) *churn.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("id,plan,tenure,churned\n")
	for i := range 600 {
		plan := []string{"basic", "premium"}[r.IntN(2)]
		tenure := r.IntN(60)
		p := 0.1
		if tenure < 12 {
			p += 0.5
		}
		if plan == "basic" {
			p += 0.2
		}
		churned := "No"
		if r.Float64() < p {
			churned = "Yes"
		}
		fmt.Fprintf(&b, "c%04d,%s,%d,%s\n", i, plan, tenure, churned)
	}
	tb, err := churn.ParseTable([]byte(b.String()), "synthetic.csv")
	if err != nil {
		t.Fatal(err)
	}
	s, err := churn.Infer(tb, churn.InferOptions{Target: "churned", ID: "id"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := churn.NewDataset(tb, s)
	if err != nil {
		t.Fatal(err)
	}
	p := churn.DefaultParams()
	p.Rounds = 30
	m, err := churn.Train(context.Background(), d, "hash", churn.TrainOptions{Params: p, Folds: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestChurnScore(t *testing.T) {
	sc := churn.NewScorer(smallChurnModel(t), churn.ScorerOptions{Reasons: 2})
	s := newStack(t, stackOptions{tweak: func(o *web.Options) {
		o.Scorer = func(_ context.Context, ref string) (*churn.Scorer, string, error) {
			if ref != "" && ref != "production" && ref != "v1" {
				return nil, "", sextant.Errorf(sextant.ENOTFOUND, "no churn model %q", ref)
			}
			return sc, "v1", nil
		}
	}})
	status, _, body := s.postJSON(t, "/v1/churn/score", map[string]any{"rows": []map[string]any{
		{"id": "new", "plan": "basic", "tenure": 2}, {"id": "loyal", "plan": "premium", "tenure": 55}}})
	var out churn.ScoreResponse
	if status != 200 || json.Unmarshal(body, &out) != nil || out.Model != "v1" || len(out.Results) != 2 {
		t.Fatalf("%d %s", status, body)
	}
	if a, b := out.Results[0], out.Results[1]; a.ID != "new" || a.Probability <= b.Probability || len(a.Reasons) == 0 {
		t.Errorf("results %+v", out.Results)
	}
	status, _, body = s.postJSON(t, "/v1/churn/score", map[string]any{"rows": []map[string]any{
		{"id": "a", "plan": "basic", "tenure": "ten"}, {"id": "b", "colour": "red"}}})
	e := apiErr(t, body)
	details, _ := json.Marshal(e.Details)
	if status != 400 || e.Param != "rows[0].tenure" || !strings.Contains(string(details), `"field":"colour"`) {
		t.Errorf("invalid rows: %d %+v %s", status, e, details)
	}
	if status, _, body = s.postJSON(t, "/v1/churn/score", map[string]any{"model": "v9", "rows": []map[string]any{{"id": "a"}}}); status != 404 || apiErr(t, body).Param != "model" {
		t.Errorf("unknown model: %d %s", status, body)
	}
	if status, _, body = s.postJSON(t, "/v1/churn/score", map[string]any{"rows": []map[string]any{}}); status != 400 || apiErr(t, body).Param != "rows" {
		t.Errorf("no rows: %d %s", status, body)
	}
}
