package churn

import (
	"context"
	"fmt"
	"math"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/gbdt"
)

// UpliftPoint is the observed uplift among the customers a model ranks in
// its top Pct percent: the churn rate of the untreated minus that of the
// treated among them (positive: the treatment keeps customers).
type UpliftPoint struct {
	Pct      float64 `json:"pct"`
	Rows     int     `json:"rows"`
	Treated  int     `json:"treated"`
	Control  int     `json:"control"`
	Uplift   float64 `json:"uplift"`
	Expected float64 `json:"expected"` // mean predicted uplift of those rows
}

// UpliftResult is a cross-validated two-model (T-learner) uplift estimate.
type UpliftResult struct {
	Rows    int `json:"rows"`
	Treated int `json:"treated"`
	Control int `json:"control"`
	Folds   int `json:"folds"`
	// Overall is the observed uplift over all rows (control churn rate
	// minus treated churn rate).
	Overall float64       `json:"overall"`
	AtK     []UpliftPoint `json:"at_k"`
	// Predicted holds each row's out-of-fold predicted uplift:
	// P(churn | untreated) - P(churn | treated).
	Predicted []float64 `json:"-"`
}

// Uplift estimates the effect of the treatment column on churn with a
// T-learner: per fold, one model on treated rows and one on control rows;
// a held-out row's uplift is the control model's churn probability minus
// the treated model's. Rows are ranked by predicted uplift and the
// observed uplift is reported at each percentage in ks.
func Uplift(ctx context.Context, d *Dataset, o TrainOptions, ks []float64) (*UpliftResult, error) {
	if d.Treated == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "uplift needs a treatment column")
	}
	o = o.withDefaults()
	n := d.Data.Rows()
	res := &UpliftResult{Rows: n, Folds: o.Folds, Predicted: make([]float64, n)}
	var yt, yc float64
	for i, t := range d.Treated {
		if t == 1 {
			res.Treated++
			yt += d.Data.Label[i]
		} else {
			res.Control++
			yc += d.Data.Label[i]
		}
	}
	if res.Treated < 2*o.Folds || res.Control < 2*o.Folds {
		return nil, sextant.Errorf(sextant.EINVALID, "uplift needs treated and control rows in every fold: %d treated, %d control", res.Treated, res.Control)
	}
	res.Overall = yc/float64(res.Control) - yt/float64(res.Treated)
	// Stratify folds by treatment and outcome together.
	strata := make([]float64, n)
	for i := range strata {
		strata[i] = d.Data.Label[i]*2 + d.Treated[i]
	}
	fold := make([]int, n)
	for s := 0.0; s < 4; s++ {
		var y []float64
		var idx []int
		for i, v := range strata {
			if v == s {
				idx = append(idx, i)
				y = append(y, 0)
			}
		}
		for k, f := range Folds(y, o.Folds, o.Seed+uint64(s)) {
			fold[idx[k]] = f
		}
	}
	x := make([]float64, len(d.Data.Columns))
	for k := range o.Folds {
		var trT, trC, te []int
		for i, f := range fold {
			switch {
			case f == k:
				te = append(te, i)
			case d.Treated[i] == 1:
				trT = append(trT, i)
			default:
				trC = append(trC, i)
			}
		}
		var models [2]*gbdt.Scorer
		for g, rows := range [][]int{trC, trT} {
			tr, va := innerSplit(subset(d.Data, rows), o.Params, o.Seed+uint64(k)+1)
			m, err := gbdt.Train(ctx, tr, va, o.Params)
			if err != nil {
				return nil, fmt.Errorf("uplift fold %d: %w", k+1, err)
			}
			models[g] = gbdt.Compile(m)
		}
		for _, i := range te {
			for j, c := range d.Data.Columns {
				x[j] = c[i]
			}
			res.Predicted[i] = models[0].Predict(x) - models[1].Predict(x)
		}
	}
	order := rankDesc(res.Predicted)
	for _, pct := range ks {
		kk := min(n, int(math.Ceil(pct/100*float64(n))))
		p := UpliftPoint{Pct: pct, Rows: kk}
		var ct, cc, sum float64
		for _, i := range order[:kk] {
			sum += res.Predicted[i]
			if d.Treated[i] == 1 {
				p.Treated++
				ct += d.Data.Label[i]
			} else {
				p.Control++
				cc += d.Data.Label[i]
			}
		}
		if p.Treated > 0 && p.Control > 0 {
			p.Uplift = cc/float64(p.Control) - ct/float64(p.Treated)
		} else {
			p.Uplift = 0 // one group absent: no estimate
		}
		if kk > 0 {
			p.Expected = sum / float64(kk)
		}
		res.AtK = append(res.AtK, p)
	}
	return res, nil
}
