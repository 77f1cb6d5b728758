package churn

import (
	"cmp"
	"math"
	"slices"
)

// Economics values a retention campaign: each customer contacted costs
// OfferCost, and a contacted customer who would have left stays with
// probability SaveRate, keeping CustomerValue.
type Economics struct {
	OfferCost     float64 `json:"offer_cost" yaml:"offer_cost"`
	CustomerValue float64 `json:"customer_value" yaml:"customer_value"`
	SaveRate      float64 `json:"save_rate" yaml:"save_rate"`
}

// Metrics are the quality figures of probabilistic predictions p for
// labels y (1 = churned).
type Metrics struct {
	Rows      int     `json:"rows"`
	Positives int     `json:"positives"`
	AUC       float64 `json:"auc"`
	PRAUC     float64 `json:"pr_auc"` // average precision
	LogLoss   float64 `json:"logloss"`
	Brier     float64 `json:"brier"`
	ECE       float64 `json:"ece"` // expected calibration error, 10 equal-width bins
	Threshold float64 `json:"threshold"`
	Precision float64 `json:"precision"` // at Threshold
	Recall    float64 `json:"recall"`    // at Threshold
	TopPct    float64 `json:"top_pct"`
	RecallTop float64 `json:"recall_top"` // share of churners in the TopPct% riskiest
	LiftTop   float64 `json:"lift_top"`   // churn rate in the top TopPct% over the base rate
	// ROI is the expected net dollars of contacting the TopPct% riskiest:
	// churners reached × SaveRate × CustomerValue − contacted × OfferCost.
	ROI float64 `json:"roi"`
}

// Evaluate computes Metrics; threshold and topPct (percent) set the
// operating points.
func Evaluate(y, p []float64, threshold, topPct float64, econ Economics) Metrics {
	m := Metrics{Rows: len(y), Threshold: threshold, TopPct: topPct}
	if len(y) == 0 {
		return m
	}
	var tp, fp, fn float64
	for i, yi := range y {
		pi := clampProb(p[i])
		if yi == 1 {
			m.Positives++
			m.LogLoss -= math.Log(pi)
		} else {
			m.LogLoss -= math.Log(1 - pi)
		}
		m.Brier += (p[i] - yi) * (p[i] - yi)
		switch pred := p[i] >= threshold; {
		case pred && yi == 1:
			tp++
		case pred:
			fp++
		case yi == 1:
			fn++
		}
	}
	n := float64(len(y))
	m.LogLoss /= n
	m.Brier /= n
	m.Precision = ratio(tp, tp+fp)
	m.Recall = ratio(tp, tp+fn)
	m.AUC = AUC(y, p)
	m.PRAUC = AveragePrecision(y, p)
	m.ECE, _ = Reliability(y, p, 10)

	order := rankDesc(p)
	k := int(math.Ceil(topPct / 100 * n))
	var hits float64
	for _, i := range order[:k] {
		hits += y[i]
	}
	m.RecallTop = ratio(hits, float64(m.Positives))
	base := float64(m.Positives) / n
	if k > 0 && base > 0 {
		m.LiftTop = hits / float64(k) / base
	}
	m.ROI = hits*econ.SaveRate*econ.CustomerValue - float64(k)*econ.OfferCost
	return m
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func clampProb(p float64) float64 { return min(max(p, 1e-15), 1-1e-15) }

// rankDesc returns row indexes by descending score, ties by index.
func rankDesc(p []float64) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(p[b], p[a]) })
	return idx
}

// AUC is the area under the ROC curve, with tied scores counted half (the
// Mann–Whitney statistic). It is 0.5 when a class is absent.
func AUC(y, p []float64) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(p[a], p[b]) })
	var rankSum, npos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // average 1-based rank of the tie group
		for _, k := range idx[i:j] {
			if y[k] == 1 {
				rankSum += mid
				npos++
			}
		}
		i = j
	}
	nneg := float64(len(y)) - npos
	if npos == 0 || nneg == 0 {
		return 0.5
	}
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}

// AveragePrecision is the area under the precision-recall curve as the
// step sum of precision at each threshold, tied scores taken together (as
// scikit-learn's average_precision_score).
func AveragePrecision(y, p []float64) float64 {
	order := rankDesc(p)
	var npos float64
	for _, v := range y {
		npos += v
	}
	if npos == 0 {
		return 0
	}
	var tp, fp, ap, prevRecall float64
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && p[order[j]] == p[order[i]] {
			if y[order[j]] == 1 {
				tp++
			} else {
				fp++
			}
			j++
		}
		recall := tp / npos
		ap += (recall - prevRecall) * tp / (tp + fp)
		prevRecall = recall
		i = j
	}
	return ap
}

// Bin is one row of a reliability table.
type Bin struct {
	Lo, Hi    float64 // predicted probability range [Lo, Hi)
	Count     int
	Predicted float64 // mean predicted probability
	Observed  float64 // observed churn rate
}

// Reliability returns the expected calibration error over bins
// equal-width probability bins (the count-weighted mean absolute gap
// between mean prediction and observed rate) and the table itself.
func Reliability(y, p []float64, bins int) (float64, []Bin) {
	table := make([]Bin, bins)
	for b := range table {
		table[b].Lo, table[b].Hi = float64(b)/float64(bins), float64(b+1)/float64(bins)
	}
	for i, pi := range p {
		b := min(max(int(pi*float64(bins)), 0), bins-1)
		table[b].Count++
		table[b].Predicted += pi
		table[b].Observed += y[i]
	}
	var ece float64
	for b := range table {
		t := &table[b]
		if t.Count == 0 {
			continue
		}
		t.Predicted /= float64(t.Count)
		t.Observed /= float64(t.Count)
		ece += float64(t.Count) * math.Abs(t.Predicted-t.Observed)
	}
	if len(p) > 0 {
		ece /= float64(len(p))
	}
	return ece, table
}
