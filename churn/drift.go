package churn

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/sextant-ai/sextant/gbdt"
)

// Reference is the training distribution drift is measured against: for
// each feature and for the score, bin edges and the share of training rows
// in each bin.
type Reference struct {
	Features []RefDist `json:"features"`
	Score    RefDist   `json:"score"`
}

// RefDist is one reference distribution. Numeric values fall into bins by
// Edges (value <= Edges[i] goes to the first such bin, larger values to the
// last); a categorical value's bin is its code (unseen codes share the bin
// after the known ones). The final bin counts missing values.
type RefDist struct {
	Name        string    `json:"name"`
	Categorical bool      `json:"categorical,omitempty"`
	Edges       []float64 `json:"edges,omitempty"`
	Shares      []float64 `json:"shares"`
}

// refBins is the number of quantile bins of a numeric reference.
const refBins = 10

func newReference(d *gbdt.Data, scores []float64) *Reference {
	r := &Reference{}
	for j, f := range d.Features {
		r.Features = append(r.Features, newRefDist(f.Name, f.Categorical, d.Columns[j]))
	}
	r.Score = newRefDist("score", false, scores)
	return r
}

func newRefDist(name string, categorical bool, vals []float64) RefDist {
	rd := RefDist{Name: name, Categorical: categorical}
	if categorical {
		maxCode := -1
		for _, v := range vals {
			if v >= 0 && int(v) > maxCode {
				maxCode = int(v)
			}
		}
		rd.Shares = make([]float64, maxCode+3) // codes, unseen, missing
	} else {
		var sorted []float64
		for _, v := range vals {
			if !math.IsNaN(v) {
				sorted = append(sorted, v)
			}
		}
		slices.Sort(sorted)
		for q := 1; q < refBins && len(sorted) > 0; q++ {
			e := sorted[(q*len(sorted))/refBins]
			if len(rd.Edges) == 0 || e > rd.Edges[len(rd.Edges)-1] {
				rd.Edges = append(rd.Edges, e)
			}
		}
		rd.Shares = make([]float64, len(rd.Edges)+2) // bins, missing
	}
	for _, v := range vals {
		rd.Shares[rd.bin(v)]++
	}
	for i := range rd.Shares {
		rd.Shares[i] /= float64(max(len(vals), 1))
	}
	return rd
}

func (rd *RefDist) bin(v float64) int {
	missing := len(rd.Shares) - 1
	if math.IsNaN(v) {
		return missing
	}
	if rd.Categorical {
		if v < 0 {
			return missing
		}
		return min(int(v), missing-1)
	}
	i, _ := slices.BinarySearch(rd.Edges, v) // first edge >= v
	return i
}

// psiFloor keeps empty bins from making PSI infinite.
const psiFloor = 1e-4

// PSI is the population stability index of actual shares against expected
// ones: Σ (a−e)·ln(a/e), each share floored at 1e-4.
func PSI(expected, actual []float64) float64 {
	var s float64
	for i := range expected {
		e, a := max(expected[i], psiFloor), max(actual[i], psiFloor)
		s += (a - e) * math.Log(a/e)
	}
	return s
}

// DriftOptions set the alert thresholds; zero means the usual 0.1 (warn)
// and 0.25 (alert).
type DriftOptions struct {
	Warn, Alert float64
}

// DriftItem is the drift of one feature or of the score.
type DriftItem struct {
	Name  string  `json:"name"`
	PSI   float64 `json:"psi"`
	Level string  `json:"level"` // ok, warn or alert
}

// DriftReport compares recent scoring traffic with the training data.
type DriftReport struct {
	Model    string      `json:"model"`
	Rows     int         `json:"rows"` // traffic rows compared
	Score    DriftItem   `json:"score"`
	Features []DriftItem `json:"features"` // by descending PSI
	Alerts   int         `json:"alerts"`
	Warnings int         `json:"warnings"`
}

// Drift measures PSI per feature and on the score between the model's
// reference and traffic rows (feature values in model order) and their
// scores.
func Drift(m *Model, rows [][]float64, scores []float64, o DriftOptions) (*DriftReport, error) {
	if o.Warn == 0 {
		o.Warn = 0.1
	}
	if o.Alert == 0 {
		o.Alert = 0.25
	}
	ref := m.Reference
	if ref == nil {
		return nil, fmt.Errorf("model %s has no reference distribution", m.ID)
	}
	rep := &DriftReport{Model: m.ID, Rows: len(rows)}
	if len(rows) == 0 {
		return rep, nil
	}
	level := func(psi float64) string {
		switch {
		case psi >= o.Alert:
			rep.Alerts++
			return "alert"
		case psi >= o.Warn:
			rep.Warnings++
			return "warn"
		}
		return "ok"
	}
	for j := range ref.Features {
		rd := &ref.Features[j]
		actual := make([]float64, len(rd.Shares))
		for _, x := range rows {
			if j < len(x) {
				actual[rd.bin(x[j])]++
			}
		}
		for i := range actual {
			actual[i] /= float64(len(rows))
		}
		psi := PSI(rd.Shares, actual)
		rep.Features = append(rep.Features, DriftItem{Name: rd.Name, PSI: psi, Level: level(psi)})
	}
	actual := make([]float64, len(ref.Score.Shares))
	for _, s := range scores {
		actual[ref.Score.bin(s)]++
	}
	for i := range actual {
		actual[i] /= float64(max(len(scores), 1))
	}
	psi := PSI(ref.Score.Shares, actual)
	rep.Score = DriftItem{Name: "score", PSI: psi, Level: level(psi)}
	slices.SortStableFunc(rep.Features, func(a, b DriftItem) int {
		switch {
		case a.PSI > b.PSI:
			return -1
		case a.PSI < b.PSI:
			return 1
		}
		return 0
	})
	return rep, nil
}

// WriteMetrics writes the report in the Prometheus text exposition format:
// sextant_churn_psi{model,feature} per feature and feature="score" for the
// score, and sextant_churn_drift_alerts{model}.
func (r *DriftReport) WriteMetrics(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# HELP sextant_churn_psi Population stability index of scoring traffic against training data.\n")
	b.WriteString("# TYPE sextant_churn_psi gauge\n")
	items := append([]DriftItem{r.Score}, r.Features...)
	for _, it := range items {
		fmt.Fprintf(&b, "sextant_churn_psi{model=%q,feature=%q} %g\n", r.Model, it.Name, it.PSI)
	}
	b.WriteString("# HELP sextant_churn_drift_alerts Features and score whose PSI is over the alert threshold.\n")
	b.WriteString("# TYPE sextant_churn_drift_alerts gauge\n")
	fmt.Fprintf(&b, "sextant_churn_drift_alerts{model=%q} %d\n", r.Model, r.Alerts)
	_, err := io.WriteString(w, b.String())
	return err
}
