package eval

import (
	"fmt"
	"math"
	"strings"

	"github.com/sextant-ai/sextant"
)

// Gate is a condition that fails a run. Three forms:
//
//	hallucination_rate > 0.05    absolute: the run's value compared with a number
//	ndcg@10 drop > 0.01          the fall from the baseline run's value (baseline − new)
//	latency_p95_ms rise > 20%    the rise over the baseline run's value, here relative
//
// A trailing '%' makes a drop or rise relative to the baseline value.
// Comparisons are > or >=. A gate names one variant by prefixing
// "VARIANT: "; otherwise it applies to every variant, each compared with the
// baseline run's variant of the same name.
type Gate struct {
	Text     string
	Variant  string // "" = every variant
	Metric   string
	Kind     string // GateAbsolute, GateDrop or GateRise
	Op       string // for GateAbsolute any of >= > <= < == !=; for drops and rises > or >=
	Value    float64
	Relative bool // the value is a percentage of the baseline value
}

// Gate kinds.
const (
	GateAbsolute = "absolute"
	GateDrop     = "drop"
	GateRise     = "rise"
)

// ParseGate parses a gate (see Gate for the forms). Errors are EINVALID and
// say what is wrong with the text.
func ParseGate(s string) (Gate, error) {
	text := strings.TrimSpace(s)
	g := Gate{Text: text}
	body := text
	if v, rest, ok := strings.Cut(body, ":"); ok && !strings.ContainsAny(v, "<>=!@ ") {
		g.Variant, body = strings.TrimSpace(v), strings.TrimSpace(rest)
		if !ValidName(g.Variant) {
			return Gate{}, sextant.Errorf(sextant.EINVALID, "gate %q: variant %q is not a valid name", text, g.Variant)
		}
	}
	left, op, right, ok := splitOp(body)
	if !ok {
		return Gate{}, sextant.Errorf(sextant.EINVALID, "gate %q: want METRIC OP NUMBER (\"hallucination_rate > 0.05\") or METRIC drop|rise > NUMBER[%%] (\"ndcg@10 drop > 0.01\")", text)
	}
	g.Metric, g.Op, g.Kind = left, op, GateAbsolute
	if f := strings.Fields(left); len(f) == 2 && (f[1] == GateDrop || f[1] == GateRise) {
		g.Metric, g.Kind = f[0], f[1]
		if op != ">" && op != ">=" {
			return Gate{}, sextant.Errorf(sextant.EINVALID, "gate %q: a %s is compared with > or >=", text, f[1])
		}
	} else if len(f) != 1 {
		return Gate{}, sextant.Errorf(sextant.EINVALID, "gate %q: %q is not a metric (a metric, or a metric followed by drop or rise)", text, left)
	}
	if _, _, err := ParseMetric(g.Metric); err != nil {
		return Gate{}, sextant.Errorf(sextant.EINVALID, "gate %q: %s", text, sextant.ErrorMessage(err))
	}
	if pct, ok := strings.CutSuffix(right, "%"); ok {
		if g.Kind == GateAbsolute {
			return Gate{}, sextant.Errorf(sextant.EINVALID, "gate %q: a percentage needs drop or rise (\"%s drop > %s\")", text, g.Metric, right)
		}
		g.Relative, right = true, pct
	}
	v, err := parseFinite(right)
	if err != nil {
		return Gate{}, sextant.Errorf(sextant.EINVALID, "gate %q: %q is not a number", text, right)
	}
	if g.Kind != GateAbsolute && v < 0 {
		return Gate{}, sextant.Errorf(sextant.EINVALID, "gate %q: a %s threshold is not negative", text, g.Kind)
	}
	g.Value = v
	return g, nil
}

// GateResult is one gate checked on one variant.
type GateResult struct {
	Gate     string   `json:"gate"`
	Variant  string   `json:"variant"`
	Metric   string   `json:"metric"`
	Value    float64  `json:"value"`
	Baseline *float64 `json:"baseline,omitempty"` // the baseline run's value, when there is one
	Failed   bool     `json:"failed"`
	// Skipped says why the gate could not be checked (no baseline run, the
	// metric has no value); a skipped gate does not fail.
	Skipped string `json:"skipped,omitempty"`
	Message string `json:"message"`
}

// CheckGates checks gates on every variant of r (or the one a gate names),
// comparing with the variant of the same name in baseline (nil = none).
// Drops and rises need a baseline and are skipped without one.
func CheckGates(r, baseline *Report, gates []Gate) []GateResult {
	var out []GateResult
	for _, g := range gates {
		for vi := range r.Variants {
			v := &r.Variants[vi]
			if g.Variant != "" && g.Variant != v.Name {
				continue
			}
			out = append(out, checkGate(g, v, r, baseline))
		}
		if g.Variant != "" && r.Variant(g.Variant) == nil {
			out = append(out, GateResult{Gate: g.Text, Variant: g.Variant, Metric: g.Metric, Skipped: "no such variant in the run",
				Message: fmt.Sprintf("gate %q: the run has no variant %q", g.Text, g.Variant)})
		}
	}
	return out
}

func checkGate(g Gate, v *VariantReport, r, baseline *Report) GateResult {
	res := GateResult{Gate: g.Text, Variant: v.Name, Metric: g.Metric}
	val, ok := v.Metrics[g.Metric]
	if !ok {
		res.Skipped = "the metric has no value in this run"
		res.Message = fmt.Sprintf("gate %q on %s: skipped, %s has no value (no question has what it needs)", g.Text, v.Name, g.Metric)
		return res
	}
	res.Value = val
	var base float64
	haveBase := false
	baseName := ""
	if baseline != nil {
		if bv := baseline.Variant(v.Name); bv != nil {
			if b, ok := bv.Metrics[g.Metric]; ok {
				base, haveBase = b, true
				res.Baseline = &b
				baseName = "baseline run " + baseline.ID
			}
		}
	}
	switch g.Kind {
	case GateAbsolute:
		c := Condition{Metric: g.Metric, Op: g.Op, Value: g.Value}
		res.Failed = c.Holds(val)
		basePart := "no baseline"
		if haveBase {
			basePart = fmt.Sprintf("%s: %s", baseName, fmtMetric(g.Metric, base))
		}
		if res.Failed {
			res.Message = fmt.Sprintf("gate %q failed on %s: %s is %s (%s), and must not be %s %s",
				g.Text, v.Name, g.Metric, fmtMetric(g.Metric, val), basePart, g.Op, fmtMetric(g.Metric, g.Value))
		} else {
			res.Message = fmt.Sprintf("gate %q passed on %s: %s is %s (%s)", g.Text, v.Name, g.Metric, fmtMetric(g.Metric, val), basePart)
		}
	default:
		if !haveBase {
			res.Skipped = "no baseline value"
			res.Message = fmt.Sprintf("gate %q on %s: skipped, no baseline run with %s for this variant", g.Text, v.Name, g.Metric)
			return res
		}
		change := base - val // a drop
		word := "fell"
		if g.Kind == GateRise {
			change, word = val-base, "rose"
		}
		amount := change
		unit := ""
		if g.Relative {
			if base == 0 {
				amount = math.Inf(1)
				if change <= 0 {
					amount = 0
				}
			} else {
				amount = 100 * change / math.Abs(base)
			}
			unit = "%"
		}
		if g.Op == ">=" {
			res.Failed = amount >= g.Value
		} else {
			res.Failed = amount > g.Value
		}
		shown := amount // a rise prints with +, a drop with -
		if g.Kind == GateDrop {
			shown = -amount
		}
		how := fmt.Sprintf("%s %s from %s (%s) to %s (%+.4g%s)", g.Metric, word, fmtMetric(g.Metric, base), baseName,
			fmtMetric(g.Metric, val), shown, unit)
		if change <= 0 {
			how = fmt.Sprintf("%s moved from %s (%s) to %s", g.Metric, fmtMetric(g.Metric, base), baseName, fmtMetric(g.Metric, val))
		}
		if res.Failed {
			res.Message = fmt.Sprintf("gate %q failed on %s: %s, more than the %s%s allowed", g.Text, v.Name, how, trimFloat(g.Value), unit)
		} else {
			res.Message = fmt.Sprintf("gate %q passed on %s: %s", g.Text, v.Name, how)
		}
	}
	return res
}

func trimFloat(x float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.6f", x), "0"), ".")
}

// fmtMetric formats a metric value for messages and tables.
func fmtMetric(metric string, x float64) string {
	base, _, _ := strings.Cut(metric, "@")
	switch base {
	case MetricLatencyMS, MetricLatencyP50, MetricLatencyP95:
		return fmt.Sprintf("%.1f ms", x)
	case MetricCostUSD, MetricCostTotal:
		return fmt.Sprintf("$%.6f", x)
	case MetricInputTokens, MetricOutputTokens, MetricTokens:
		return fmt.Sprintf("%.1f", x)
	case MetricBLEU:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.4f", x)
}
