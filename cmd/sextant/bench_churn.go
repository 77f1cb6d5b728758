package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sextant-ai/sextant/churn"
	"github.com/sextant-ai/sextant/gbdt"
)

// churnBenchResult is `sextant bench churn --json`. The keys are shared
// with bench/churn_peer.py. Metrics are means over the folds, except ECE:
// it is measured on all out-of-fold predictions together, because binned
// ECE grows as the sample shrinks (a perfectly calibrated model scores
// about 0.023 on 1,400-row telco folds but 0.010 on all 7,043 rows), so a
// mean of per-fold ECEs measures fold size more than calibration.
type churnBenchResult struct {
	Rows          int     `json:"rows"`
	Folds         int     `json:"folds"`
	AUC           float64 `json:"auc"`
	PRAUC         float64 `json:"pr_auc"`
	LogLoss       float64 `json:"logloss"`
	Brier         float64 `json:"brier"`
	ECE           float64 `json:"ece"`
	TrainSeconds  float64 `json:"train_seconds"`
	ScoreRowsPerS float64 `json:"score_rows_per_s"`
}

func runBenchChurn(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench churn", e.stderr)
	data := fs.String("data", "", "customer table (CSV with a header row)")
	target := fs.String("target", "", "label column")
	positive := fs.String("positive", "", "label value meaning churned (default: inferred for yes/no, true/false, 1/0)")
	drop := fs.String("drop", "", "comma-separated columns to leave out")
	folds := fs.Int("folds", 5, "cross-validation folds")
	seed := fs.Uint64("seed", 1, "fold assignment and subsampling seed")
	threads := fs.Int("threads", 1, "training threads (1 also sets GOMAXPROCS=1 for the run, for a single-core figure)")
	calibration := fs.String("calibration", churn.CalibrationPlatt, "none, platt or isotonic (cross-fitted on out-of-fold predictions)")
	scoreTrees := fs.Int("score-trees", 100, "trees of the model whose batch scoring speed is measured")
	scoreDepth := fs.Int("score-depth", 6, "depth of the trees of that model")
	scoreSeconds := fs.Float64("score-seconds", 2, "how long to measure scoring")
	clock := fs.String("clock", "cpu", "measure training seconds and scoring rows/s in process CPU time (cpu: steadier on a busy machine) or wall time (wall)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	switch {
	case *data == "" || *target == "":
		return usageErrorf("bench churn: --data and --target are required")
	case *folds < 2:
		return usageErrorf("--folds %d: want at least 2", *folds)
	case *clock != "cpu" && *clock != "wall":
		return usageErrorf("--clock %q: want cpu or wall", *clock)
	case *threads < 1:
		return usageErrorf("--threads %d: want at least 1", *threads)
	case *scoreTrees < 1 || *scoreDepth < 1 || *scoreDepth > 10:
		return usageErrorf("--score-trees must be positive and --score-depth in 1..10")
	}
	if *threads == 1 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	logf := func(format string, a ...any) {
		w := e.stdout
		if *asJSON {
			w = e.stderr
		}
		fmt.Fprintf(w, format+"\n", a...)
	}

	ds, err := loadBenchData(*data, *target, *positive, *drop)
	if err != nil {
		return err
	}
	p := churn.DefaultParams()
	p.Threads = *threads
	opts := churn.TrainOptions{Params: p, Folds: *folds, Seed: *seed, Calibration: *calibration, Threads: *threads, CPUTime: cpuSeconds}
	cv, err := churn.CrossValidate(ctx, ds.Data, opts)
	if err != nil {
		return err
	}
	times := cv.TrainSeconds
	if *clock == "cpu" {
		times = cv.TrainCPUSeconds
	}
	var trainSum float64
	for _, s := range times {
		trainSum += s
	}
	res := churnBenchResult{
		Rows: ds.Data.Rows(), Folds: *folds,
		AUC: cv.Mean.AUC, PRAUC: cv.Mean.PRAUC, LogLoss: cv.Mean.LogLoss, Brier: cv.Mean.Brier, ECE: cv.Pooled.ECE,
		TrainSeconds: trainSum / float64(*folds),
	}

	// Scoring speed of a fixed-size model on the same rows.
	sm, err := gbdt.Train(ctx, ds.Data, nil, gbdt.Params{Rounds: *scoreTrees, MaxDepth: *scoreDepth, MinChildWeight: 1e-3, Lambda: 1, Threads: *threads, Seed: *seed})
	if err != nil {
		return err
	}
	rowsPerS, rowsPerCPU, depth := measureScoring(sm, ds.Data, *scoreSeconds)
	res.ScoreRowsPerS = rowsPerS
	if *clock == "cpu" && rowsPerCPU > 0 {
		res.ScoreRowsPerS = rowsPerCPU
	}

	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(e.stdout, string(b))
	}
	logf("data %s: %d rows, %d features, %d churned; %d folds (seed %d), %d thread(s), calibration %s",
		*data, res.Rows, len(ds.Data.Features), cv.Pooled.Positives, *folds, *seed, *threads, *calibration)
	logf("params: %s", paramString(p))
	logf("%-6s %7s %7s %8s %7s %7s %8s %6s", "fold", "auc", "pr_auc", "logloss", "brier", "ece", "train_s", "trees")
	for k, m := range cv.PerFold {
		logf("%-6d %7.4f %7.4f %8.4f %7.4f %7.4f %8.3f %6d", k+1, m.AUC, m.PRAUC, m.LogLoss, m.Brier, m.ECE, times[k], cv.Rounds[k])
	}
	logf("%-6s %7.4f %7.4f %8.4f %7.4f %7.4f %8.3f   (train_s: %s seconds per fold)", "mean", res.AUC, res.PRAUC, res.LogLoss, res.Brier, cv.Mean.ECE, res.TrainSeconds, *clock)
	po := cv.Pooled
	logf("%-6s %7.4f %7.4f %8.4f %7.4f %7.4f   (all out-of-fold rows together; --json ece is this one)", "pooled", po.AUC, po.PRAUC, po.LogLoss, po.Brier, po.ECE)
	logf("scoring: %d-tree depth-%d model, %.0f rows/s wall, %.0f rows per CPU-second (one goroutine, parsed rows in, probabilities out)",
		len(sm.Trees), depth, rowsPerS, rowsPerCPU)
	return nil
}

// loadBenchData reads and encodes the benchmark table with an inferred
// schema.
func loadBenchData(path, target, positive, drop string) (*churn.Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := churn.ReadTable(f, path)
	if err != nil {
		return nil, err
	}
	s, err := churn.Infer(t, churn.InferOptions{Target: target, Positive: positive})
	if err != nil {
		return nil, err
	}
	for _, name := range splitList(drop) {
		i := slices.IndexFunc(s.Columns, func(c churn.Column) bool { return c.Name == name })
		if i < 0 {
			return nil, usageErrorf("--drop: no column %q in %s", name, path)
		}
		s.Columns[i].Role = churn.RoleIgnore
	}
	return churn.NewDataset(t, s)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func paramString(p gbdt.Params) string {
	return fmt.Sprintf("learning rate %g, max depth %d, min child weight %g, lambda %g, alpha %g, up to %d rounds, early stopping %d on a %g hold-out, %d bins",
		p.LearningRate, p.MaxDepth, p.MinChildWeight, p.Lambda, p.Alpha, p.Rounds, p.EarlyStopping, p.ValidFraction, max(p.MaxBins, 255))
}

// measureScoring batch-scores d's rows with the compiled model for about
// seconds on one goroutine and returns rows per wall second and per CPU
// second of the process.
func measureScoring(m *gbdt.Model, d *gbdt.Data, seconds float64) (wall, cpu float64, depth int) {
	s := gbdt.Compile(m)
	n, nf := d.Rows(), len(d.Columns)
	rows := make([]float64, n*nf)
	for j, c := range d.Columns {
		for i, v := range c {
			rows[i*nf+j] = v
		}
	}
	out := make([]float64, n)
	_ = s.PredictBatch(rows, out) // warm up
	var scored int
	c0 := cpuSeconds()
	start := time.Now()
	for time.Since(start).Seconds() < seconds {
		_ = s.PredictBatch(rows, out)
		scored += n
	}
	el := time.Since(start).Seconds()
	c := cpuSeconds() - c0
	cpu = 0
	if c > 0 {
		cpu = float64(scored) / c
	}
	return float64(scored) / el, cpu, m.MaxDepth()
}
