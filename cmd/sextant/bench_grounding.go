package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"text/tabwriter"

	"github.com/sextant-ai/sextant/eval"
)

// runBenchGrounding scores labelled answers with the built-in groundedness
// scorer and reports how well it detects unsupported ones.
func runBenchGrounding(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench grounding", e.stderr)
	data := fs.String("data", "", "labelled examples, JSON Lines: {\"context\", \"question\" (optional), \"answer\", \"label\": 1 supported | 0 not, \"subset\" (optional)}")
	beir := fs.String("beir", "", "instead of --data: generate the labelled sets from a BEIR SciFact folder (e.g. ../shared/data/beir-scifact) and score one of them")
	set := fs.String("set", eval.GroundingDev, "with --beir: the generated set to score, dev or heldout")
	threshold := fs.Float64("threshold", 0, fmt.Sprintf("support score below which an answer is flagged unsupported (default %.2f)", eval.DefaultThreshold))
	asJSON := fs.Bool("json", false, `print {"examples", "auc", "precision", "recall", "f1", "threshold", "p50_ms"} (and per-subset figures) as JSON`)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("bench grounding: unexpected argument %q", pos[0])
	}
	switch {
	case *data == "" && *beir == "":
		return usageErrorf("bench grounding: --data FILE.jsonl or --beir DIR is required")
	case *data != "" && *beir != "":
		return usageErrorf("bench grounding: give --data or --beir, not both")
	case *beir != "" && *set != eval.GroundingDev && *set != eval.GroundingHeldout:
		return usageErrorf("bench grounding: --set %q: want dev or heldout", *set)
	}
	if *threshold < 0 || *threshold > 1 || math.IsNaN(*threshold) {
		return usageErrorf("bench grounding: --threshold must be in [0, 1], got %v", *threshold)
	}
	exs, name, err := groundingExamples(*data, *beir, *set)
	if err != nil {
		return err
	}
	s := eval.NewScorer(eval.ScorerOptions{Threshold: *threshold})
	rep, err := eval.BenchGrounding(ctx, s, exs, 0)
	if err != nil {
		return fmt.Errorf("bench grounding: %w", err)
	}
	if *asJSON {
		for i := range rep.Subsets {
			rep.Subsets[i].AUC = finiteOr(rep.Subsets[i].AUC, -1)
		}
		rep.AUC = finiteOr(rep.AUC, -1)
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(rep)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "grounding benchmark: %s\n", name)
	fmt.Fprintf(w, "examples\t%d\n", rep.Examples)
	fmt.Fprintf(w, "AUC (detecting unsupported)\t%s\n", fmtAUC(rep.AUC))
	fmt.Fprintf(w, "threshold\t%.2f\n", rep.Threshold)
	fmt.Fprintf(w, "precision / recall / F1\t%.3f / %.3f / %.3f\n", rep.Precision, rep.Recall, rep.F1)
	fmt.Fprintf(w, "latency per example p50 / p99\t%.3f ms / %.3f ms\n", rep.P50ms, rep.P99ms)
	if len(rep.Subsets) > 0 {
		fmt.Fprintln(w, "\nsubset\texamples\tlabel\tmean score\taccuracy\tAUC vs other label")
		for _, sr := range rep.Subsets {
			fmt.Fprintf(w, "%s\t%d\t%.2f\t%.3f\t%.3f\t%s\n", sr.Name, sr.Examples, sr.Label, sr.MeanScore, sr.Accuracy, fmtAUC(sr.AUC))
		}
	}
	if len(rep.Pairs) > 0 {
		fmt.Fprintln(w, "\nsupported subset\tunsupported subset\tAUC")
		for _, p := range rep.Pairs {
			fmt.Fprintf(w, "%s\t%s\t%s\n", p.Supported, p.Unsupported, fmtAUC(p.AUC))
		}
	}
	return w.Flush()
}

// groundingExamples reads the examples of --data, or generates the --set
// of --beir, and names them for the report.
func groundingExamples(data, beir, set string) ([]eval.GroundingExample, string, error) {
	if beir != "" {
		dev, heldout, err := eval.GroundingSets(os.DirFS(beir))
		if err != nil {
			return nil, "", fmt.Errorf("bench grounding: %s: %w", beir, err)
		}
		if set == eval.GroundingHeldout {
			return heldout, beir + " (generated " + set + " set)", nil
		}
		return dev, beir + " (generated " + set + " set)", nil
	}
	f, err := os.Open(data)
	if err != nil {
		return nil, "", fmt.Errorf("bench grounding: %w", err)
	}
	defer f.Close()
	exs, err := eval.ReadGroundingExamples(f)
	if err != nil {
		return nil, "", fmt.Errorf("bench grounding: %s: %w", data, err)
	}
	return exs, data, nil
}

func fmtAUC(x float64) string {
	if math.IsNaN(x) {
		return "n/a (one label only)"
	}
	return fmt.Sprintf("%.4f", x)
}

// finiteOr replaces NaN, which JSON cannot carry, by v.
func finiteOr(x, v float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return v
	}
	return x
}
