package eval

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// Compact returns a copy of the report without its questions and A/B
// changes: the metrics a later run compares with (--baseline FILE.json),
// small enough to keep in a repository for CI.
func (r *Report) Compact() *Report {
	c := *r
	c.Variants = make([]VariantReport, len(r.Variants))
	for i, v := range r.Variants {
		v.Questions = nil
		c.Variants[i] = v
	}
	c.Diffs = nil
	return &c
}

// WriteTable writes the key metrics as a text table, one row per metric and
// one column per variant (with the baseline's value beside it when there
// is a baseline), then the A/B summaries and the gates.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "suite %s, run %s: %d questions × %d variants in %.1f s (%d workers)\n", r.Suite, r.ID, r.Questions,
		len(r.Variants), r.Seconds, r.Workers)
	if r.Baseline != nil {
		fmt.Fprintf(w, "baseline: run %s (%s)\n", r.Baseline.ID, r.Baseline.CreatedAt.Format("2006-01-02 15:04"))
	}
	head := "metric\t"
	for _, v := range r.Variants {
		head += v.Name + "\t"
		if r.Baseline != nil {
			head += "(baseline)\t"
		}
	}
	fmt.Fprintln(tw, head)
	for _, m := range r.Metrics {
		row := m + "\t"
		for _, v := range r.Variants {
			row += cell(m, v.Metrics) + "\t"
			if r.Baseline != nil {
				row += "(" + cell(m, r.Baseline.Metrics[v.Name]) + ")\t"
			}
		}
		fmt.Fprintln(tw, row)
	}
	row := "errors\t"
	for _, v := range r.Variants {
		row += fmt.Sprintf("%d\t", v.Errors)
		if r.Baseline != nil {
			row += "\t"
		}
	}
	fmt.Fprintln(tw, row)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range r.Diffs {
		fmt.Fprintf(w, "A/B %s vs %s on %s: %d better, %d worse, %d unchanged\n", d.Variant, d.Control, d.Metric, d.Better, d.Worse, d.Same)
		for _, c := range d.Changes[:min(5, len(d.Changes))] {
			word := "worse"
			if c.Better {
				word = "better"
			}
			fmt.Fprintf(w, "  %-6s %s %s → %s  %s\n", word, c.ID, fmtMetric(d.Metric, c.Control), fmtMetric(d.Metric, c.Value), clip(c.Question, 70))
		}
	}
	for _, g := range r.Gates {
		status := "PASS"
		switch {
		case g.Failed:
			status = "FAIL"
		case g.Skipped != "":
			status = "SKIP"
		}
		fmt.Fprintf(w, "%s  %s\n", status, g.Message)
	}
	return nil
}

func cell(metric string, m map[string]float64) string {
	x, ok := m[metric]
	if !ok {
		return "–"
	}
	return strings.TrimSuffix(strings.TrimPrefix(fmtMetric(metric, x), "$"), " ms")
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"fmt":   fmtMetric,
	"pct":   func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) },
	"score": func(x float64) string { return fmt.Sprintf("%.2f", x) },
	"clip":  clip,
	"ints":  func(xs []int) string { s := fmt.Sprint(xs); return strings.Trim(s, "[]") },
	"lower": LowerIsBetter,
	"deref": func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"deref2": func(p *bool) bool { return p != nil && *p },
}).Parse(reportTemplateText))

// WriteHTML writes the report as one self-contained HTML page: inline CSS,
// inline SVG charts, no scripts, fonts or other resources, and a content
// security policy that forbids loading any. It shows the gates, the key
// metrics per variant against the baseline, charts, the prompt A/B
// differences, and a drill-down of every question: each variant's answer,
// its claims with their support, and its sources.
func (r *Report) WriteHTML(w io.Writer) error {
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, newReportView(r)); err != nil {
		return fmt.Errorf("eval: rendering the HTML report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// reportView is what the HTML template renders.
type reportView struct {
	R         *Report
	Variants  []string
	Rows      []metricRow
	Charts    []barChart
	Hists     []histogram
	Questions []questionView
	Failed    int
}

type metricRow struct {
	Metric string
	Cells  []metricCell
}

type metricCell struct {
	Value, Baseline string
	Delta           string
	Better, Worse   bool
}

// barChart is one metric across variants (and the baseline), as SVG bars.
type barChart struct {
	Metric string
	Height int
	Bars   []bar
}

type bar struct {
	Label    string
	Value    string
	Y, W     float64 // SVG coordinates
	Baseline bool
	LabelY   float64
	ValueX   float64
}

// histogram is the distribution of one per-question metric for a variant.
type histogram struct {
	Variant, Metric string
	Bins            []hbin
	N               int
}

type hbin struct {
	X, Y, H float64
	Label   string
	Count   int
}

type questionView struct {
	ID, Question, Reference string
	Relevant                []string
	Tags                    []string
	Answers                 []answerView
	Changed                 bool
}

type answerView struct {
	Variant string
	Q       *QuestionResult
	Key     string // the A/B metric's value
	Metrics []kv
}

type kv struct{ K, V string }

const chartWidth = 360.0

func newReportView(r *Report) *reportView {
	v := &reportView{R: r}
	for _, vr := range r.Variants {
		v.Variants = append(v.Variants, vr.Name)
	}
	for _, g := range r.Gates {
		if g.Failed {
			v.Failed++
		}
	}
	for _, m := range r.Metrics {
		row := metricRow{Metric: m}
		for _, vr := range r.Variants {
			c := metricCell{Value: "–", Baseline: ""}
			x, ok := vr.Metrics[m]
			if ok {
				c.Value = fmtMetric(m, x)
			}
			if r.Baseline != nil {
				if b, bok := r.Baseline.Metrics[vr.Name][m]; bok {
					c.Baseline = fmtMetric(m, b)
					if ok && math.Abs(x-b) > 1e-12 {
						c.Delta = fmt.Sprintf("%+.4g", x-b)
						better := x > b
						if LowerIsBetter(m) {
							better = x < b
						}
						c.Better, c.Worse = better, !better
					}
				}
			}
			row.Cells = append(row.Cells, c)
		}
		v.Rows = append(v.Rows, row)
		v.Charts = append(v.Charts, newBarChart(r, m))
	}
	hms := []string{MetricGroundedness}
	if r.ABMetric != "" && r.ABMetric != MetricGroundedness && unitInterval(r.ABMetric) {
		hms = append(hms, r.ABMetric)
	}
	for _, hm := range hms {
		for _, vr := range r.Variants {
			v.Hists = append(v.Hists, newHistogram(vr, hm))
		}
	}
	changed := map[string]bool{}
	for _, d := range r.Diffs {
		for _, c := range d.Changes {
			changed[c.ID] = true
		}
	}
	if len(r.Variants) > 0 {
		for qi := range r.Variants[0].Questions {
			q0 := &r.Variants[0].Questions[qi]
			qv := questionView{ID: q0.ID, Question: q0.Question, Reference: q0.Reference, Relevant: q0.Relevant, Tags: q0.Tags, Changed: changed[q0.ID]}
			for vi := range r.Variants {
				q := &r.Variants[vi].Questions[qi]
				av := answerView{Variant: r.Variants[vi].Name, Q: q, Key: "–"}
				if x, ok := q.Metrics[r.ABMetric]; ok {
					av.Key = fmtMetric(r.ABMetric, x)
				}
				keys := make([]string, 0, len(q.Metrics))
				for k := range q.Metrics {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					av.Metrics = append(av.Metrics, kv{k, fmtMetric(k, q.Metrics[k])})
				}
				qv.Answers = append(qv.Answers, av)
			}
			v.Questions = append(v.Questions, qv)
		}
	}
	return v
}

func newBarChart(r *Report, m string) barChart {
	type val struct {
		label string
		x     float64
		base  bool
	}
	var vals []val
	for _, vr := range r.Variants {
		if x, ok := vr.Metrics[m]; ok {
			vals = append(vals, val{vr.Name, x, false})
		}
		if r.Baseline != nil {
			if b, ok := r.Baseline.Metrics[vr.Name][m]; ok {
				vals = append(vals, val{vr.Name + " (baseline)", b, true})
			}
		}
	}
	top := 1.0
	if !unitInterval(m) || slices.ContainsFunc(vals, func(v val) bool { return v.x > 1 }) {
		top = 0
		for _, v := range vals {
			top = math.Max(top, v.x)
		}
		if top == 0 {
			top = 1
		}
	}
	c := barChart{Metric: m, Height: 22*len(vals) + 4}
	for i, v := range vals {
		w := math.Max(0, v.x/top) * (chartWidth - 190)
		c.Bars = append(c.Bars, bar{Label: clip(v.label, 24), Value: fmtMetric(m, v.x), Y: float64(22*i + 4), W: w,
			Baseline: v.base, LabelY: float64(22*i + 18), ValueX: 130 + w + 4})
	}
	return c
}

func newHistogram(vr VariantReport, m string) histogram {
	h := histogram{Variant: vr.Name, Metric: m}
	counts := make([]int, 10)
	for _, q := range vr.Questions {
		x, ok := q.Metrics[m]
		if !ok || q.Error != "" {
			continue
		}
		b := int(math.Floor(x * 10))
		b = max(0, min(b, 9))
		counts[b]++
		h.N++
	}
	top := slices.Max(counts)
	if top == 0 {
		top = 1
	}
	for i, n := range counts {
		hh := 80 * float64(n) / float64(top)
		h.Bins = append(h.Bins, hbin{X: float64(4 + 30*i), Y: 84 - hh, H: hh, Count: n, Label: fmt.Sprintf("%.1f", float64(i)/10)})
	}
	return h
}

// unitInterval reports whether a metric's values lie in [0, 1].
func unitInterval(m string) bool {
	base, _, _ := strings.Cut(m, "@")
	return !slices.Contains([]string{MetricLatencyMS, MetricLatencyP50, MetricLatencyP95, MetricCostUSD, MetricCostTotal,
		MetricInputTokens, MetricOutputTokens, MetricTokens, MetricBLEU}, base)
}
