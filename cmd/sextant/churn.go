package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sextant-ai/sextant/churn"
)

// churnCommands lists `sextant churn SUB`.
func churnCommands() []command {
	return []command{
		{"train", "train and register a model: --data FILE.csv --target COLUMN", runChurnTrain},
		{"score", "score customers: --model ID|production IN.csv > OUT.csv", runChurnScore},
		{"models", "list registered models", runChurnModels},
		{"promote", "make a model the production model: promote ID", runChurnPromote},
		{"rollback", "restore the previous production model", runChurnRollback},
		{"drift", "population stability of scoring traffic against training data", runChurnDrift},
		{"uplift", "two-model uplift estimate: --data FILE.csv --target COLUMN --treatment COLUMN", runChurnUplift},
	}
}

func runChurn(ctx context.Context, e *env, args []string) error {
	if wantsHelp(args) {
		printChurnUsage(e.stdout)
		if len(args) == 0 {
			return usageErrorf("churn: name a subcommand")
		}
		return nil
	}
	for _, c := range churnCommands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	printChurnUsage(e.stderr)
	return usageErrorf("churn: unknown subcommand %q", args[0])
}

func printChurnUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: sextant churn SUBCOMMAND [FLAGS]   (sextant churn SUBCOMMAND -h for its flags)")
	fmt.Fprintln(w, "\nSubcommands:")
	for _, c := range churnCommands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}

// churnDirFlag registers --dir: the data directory whose churn/
// subdirectory holds the model registry. (--data names the input CSV in
// churn commands, so the data directory flag has another name here.)
func churnDirFlag(fs *flag.FlagSet, e *env) *string {
	def := e.getenv("SEXTANT_DATA")
	if def == "" {
		def = defaultDataDir
	}
	return fs.String("dir", def, "data directory; models live in DIR/churn (env SEXTANT_DATA)")
}

func openRegistry(dir string) (*churn.Registry, error) {
	return churn.OpenRegistry(filepath.Join(dir, "churn"), nil)
}

func readTableFile(e *env, path string) (*churn.Table, []byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, nil, err
	}
	t, err := churn.ParseTable(data, path)
	return t, data, err
}

// sourceFlags are the --source NAME=FILE.csv event tables of feature
// assembly.
type sourceFlags struct {
	sources multiFlag
	text    multiFlag
	windows string
	asOf    string
}

func (s *sourceFlags) register(fs *flag.FlagSet) {
	fs.Var(&s.sources, "source", "event table joined on the customer id, NAME=FILE.csv (repeatable): usage, billing, tickets...")
	fs.Var(&s.text, "text", "free-text column of a source scored for sentiment, NAME=COLUMN (repeatable)")
	fs.StringVar(&s.windows, "windows", "30,90", "aggregation windows in days before the as-of date")
	fs.StringVar(&s.asOf, "as-of", "", "as-of date of the features, YYYY-MM-DD (default: the latest event)")
}

func (s *sourceFlags) load(e *env) ([]churn.Source, []int, time.Time, error) {
	var asOf time.Time
	if s.asOf != "" {
		t, err := time.Parse("2006-01-02", s.asOf)
		if err != nil {
			return nil, nil, asOf, usageErrorf("--as-of %q: want YYYY-MM-DD", s.asOf)
		}
		asOf = t.Add(24*time.Hour - time.Nanosecond)
	}
	var windows []int
	for _, w := range splitList(s.windows) {
		var d int
		if _, err := fmt.Sscan(w, &d); err != nil || d <= 0 {
			return nil, nil, asOf, usageErrorf("--windows %q: want positive day counts", s.windows)
		}
		windows = append(windows, d)
	}
	texts, err := keyValues("text", s.text)
	if err != nil {
		return nil, nil, asOf, err
	}
	var out []churn.Source
	for _, kv := range s.sources {
		name, path, ok := strings.Cut(kv, "=")
		if !ok || name == "" || path == "" {
			return nil, nil, asOf, usageErrorf("--source %q: want NAME=FILE.csv", kv)
		}
		t, _, err := readTableFile(e, path)
		if err != nil {
			return nil, nil, asOf, err
		}
		out = append(out, churn.Source{Name: name, Table: t, Text: texts[name]})
	}
	for name := range texts {
		if !slices.ContainsFunc(out, func(s churn.Source) bool { return s.Name == name }) {
			return nil, nil, asOf, usageErrorf("--text %s=...: no --source named %s", name, name)
		}
	}
	return out, windows, asOf, nil
}

func runChurnTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("churn train", e.stderr)
	dir := churnDirFlag(fs, e)
	data := fs.String("data", "", "customer table: CSV with a header row (- for standard input)")
	target := fs.String("target", "", "label column")
	positive := fs.String("positive", "", "label value meaning the customer left (default: inferred for yes/no, true/false, 1/0)")
	schemaPath := fs.String("schema", "", "schema file (YAML) to use instead of inferring one")
	writeSchema := fs.String("write-schema", "", "write the schema used to this file, to pin it")
	id := fs.String("id", "", "customer id column, never a feature (when inferring; also the join key of --source)")
	treatment := fs.String("treatment", "", "treatment column, kept out of the features (when inferring)")
	drop := fs.String("drop", "", "comma-separated columns to leave out")
	folds := fs.Int("folds", 5, "cross-validation folds")
	seed := fs.Uint64("seed", 1, "fold assignment and subsampling seed")
	calibration := fs.String("calibration", churn.CalibrationPlatt, "none, platt or isotonic")
	threshold := fs.Float64("threshold", 0.5, "decision threshold for precision and recall")
	top := fs.Float64("top", 10, "percent of riskiest customers for recall, lift and ROI")
	offer := fs.Float64("offer-cost", 0, "cost of one retention offer, for ROI")
	value := fs.Float64("customer-value", 0, "value of keeping one customer, for ROI")
	save := fs.Float64("save-rate", 0, "share of contacted churners an offer keeps, for ROI")
	threads := fs.Int("threads", 0, "training threads (0: all cores)")
	promote := fs.Bool("promote", false, "promote the new model to production")
	asJSON := fs.Bool("json", false, "print the registry entry and metrics as JSON")
	var src sourceFlags
	src.register(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *data == "" || (*target == "" && *schemaPath == "") {
		return usageErrorf("churn train: --data and --target (or --schema) are required")
	}
	if *folds < 2 {
		return usageErrorf("--folds %d: want at least 2", *folds)
	}
	info := e.stdout
	if *asJSON {
		info = e.stderr
	}
	t, raw, err := readTableFile(e, *data)
	if err != nil {
		return err
	}
	sources, windows, asOf, err := src.load(e)
	if err != nil {
		return err
	}
	var asm *churn.Assembly
	if len(sources) > 0 {
		if t, asm, err = churn.Assemble(ctx, t, *id, sources, churn.AssembleOptions{Windows: windows, AsOf: asOf}); err != nil {
			return err
		}
		fmt.Fprintf(info, "feature assembly: %d source(s) joined on %s as of %s, windows %v days\n", len(sources), *id, asm.AsOf.Format("2006-01-02"), windows)
	}
	var schema *churn.Schema
	if *schemaPath != "" {
		f, err := os.Open(*schemaPath)
		if err != nil {
			return err
		}
		schema, err = churn.ReadSchema(f, *schemaPath)
		f.Close()
		if err != nil {
			return err
		}
	} else {
		if schema, err = churn.Infer(t, churn.InferOptions{Target: *target, Positive: *positive, ID: *id, Treatment: *treatment}); err != nil {
			return err
		}
	}
	for _, name := range splitList(*drop) {
		i := slices.IndexFunc(schema.Columns, func(c churn.Column) bool { return c.Name == name })
		if i < 0 {
			return usageErrorf("--drop: no column %q", name)
		}
		schema.Columns[i].Role = churn.RoleIgnore
	}
	if *schemaPath == "" {
		fmt.Fprintln(info, "inferred schema (pin it with --write-schema FILE and --schema FILE):")
		printSchema(info, schema)
	}
	if *writeSchema != "" {
		f, err := os.Create(*writeSchema)
		if err != nil {
			return err
		}
		err = schema.WriteYAML(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	ds, err := churn.NewDataset(t, schema)
	if err != nil {
		return err
	}
	opts := churn.TrainOptions{Folds: *folds, Seed: *seed, Calibration: *calibration, Threshold: *threshold, TopPct: *top,
		Economics: churn.Economics{OfferCost: *offer, CustomerValue: *value, SaveRate: *save}, Threads: *threads,
		Progress: func(k, of int) { fmt.Fprintf(e.stderr, "fold %d/%d done\n", k, of) }}
	m, err := churn.Train(ctx, ds, churn.HashData(raw), opts)
	if err != nil {
		return err
	}
	m.Sources = asm
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	entry, err := reg.Save(ctx, m)
	if err != nil {
		return err
	}
	if *promote {
		if err := reg.Promote(ctx, entry.ID); err != nil {
			return err
		}
		entry.Stage = churn.StageProduction
	}
	if *asJSON {
		return writeJSON(e.stdout, map[string]any{"model": entry, "cv": m.CV, "importance": m.Importance})
	}
	printTrainReport(e.stdout, m)
	fmt.Fprintf(e.stdout, "\nregistered model %s (%s) in %s\n", entry.ID, entry.Stage, reg.Dir())
	return nil
}

func printSchema(w io.Writer, s *churn.Schema) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  column\ttype\trole\tdetail\n")
	for _, c := range s.Columns {
		role := string(c.Role)
		if role == "" {
			role = string(churn.RoleFeature)
		}
		detail := ""
		switch {
		case c.Name == s.Target:
			detail = fmt.Sprintf("positive = %q", s.Positive)
		case len(c.Categories) > 0:
			detail = fmt.Sprintf("%d categories", len(c.Categories))
			if len(c.Categories) <= 5 {
				detail += ": " + strings.Join(c.Categories, ", ")
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, c.Type, role, detail)
	}
	tw.Flush()
}

func printTrainReport(w io.Writer, m *churn.Model) {
	cv := m.CV
	fmt.Fprintf(w, "\n%d-fold cross-validation, out of fold, calibrated (%s):\n", cv.Folds, m.Calibrator.Method)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "fold\tauc\tpr_auc\tlogloss\tbrier\tece\tprecision\trecall\trecall_top\tlift_top\troi\ttrees\t\n")
	row := func(name string, x churn.Metrics, trees string) {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.3f\t%.3f\t%.3f\t%.2f\t%.0f\t%s\t\n", name, x.AUC, x.PRAUC, x.LogLoss, x.Brier, x.ECE, x.Precision, x.Recall, x.RecallTop, x.LiftTop, x.ROI, trees)
	}
	for k, f := range cv.PerFold {
		row(fmt.Sprint(k+1), f, fmt.Sprint(cv.Rounds[k]))
	}
	row("mean", cv.Mean, "")
	row("pooled", cv.Pooled, "")
	tw.Flush()
	p := cv.Pooled
	fmt.Fprintf(w, "precision/recall at threshold %.2f; recall, lift and ROI in the top %g%%\n", p.Threshold, p.TopPct)
	_, table := churn.Reliability(cv.Labels, cv.Calibrated, 10)
	fmt.Fprintln(w, "\nreliability (pooled out-of-fold):")
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "bin\trows\tpredicted\tobserved\t\n")
	for _, b := range table {
		if b.Count > 0 {
			fmt.Fprintf(tw, "%.1f-%.1f\t%d\t%.3f\t%.3f\t\n", b.Lo, b.Hi, b.Count, b.Predicted, b.Observed)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nfeature importance (gain share):")
	for i, imp := range m.Importance {
		if i == 10 || imp.Gain == 0 {
			break
		}
		fmt.Fprintf(w, "  %-24s %5.1f%%\n", imp.Feature, 100*imp.Share)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runChurnScore(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("churn score", e.stderr)
	dir := churnDirFlag(fs, e)
	model := fs.String("model", "production", "model id, or production")
	reasons := fs.Int("reasons", 3, "top reasons per customer (0 for none; reasons cost TreeSHAP time)")
	threads := fs.Int("threads", 0, "scoring goroutines (0: all cores)")
	webhook := fs.String("webhook", "", "CRM endpoint to POST customers at or above --risk to")
	risk := fs.Float64("risk", 0.5, "probability at which a customer is pushed to the webhook")
	record := fs.Bool("record", true, "keep the scored rows as traffic for drift measurement")
	var src sourceFlags
	src.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("churn score: want one input file (IN.csv, or - for standard input)")
	}
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	m, err := reg.Load(*model)
	if err != nil {
		return err
	}
	opts := churn.ScorerOptions{Reasons: *reasons}
	if *record {
		opts.Record = func(recs []churn.TrafficRecord) error { return reg.RecordTraffic(m.ID, recs) }
	}
	sc := churn.NewScorer(m, opts)
	var in io.Reader = e.stdin
	if m.Sources != nil {
		sources, _, asOf, err := src.load(e)
		if err != nil {
			return err
		}
		t, _, err := readTableFile(e, pos[0])
		if err != nil {
			return err
		}
		wide, err := churn.Reassemble(ctx, t, m.Sources, sources, asOf, nil)
		if err != nil {
			return err
		}
		if in, err = tableReader(wide); err != nil {
			return err
		}
	} else if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	var copts churn.CSVScoreOptions
	copts.Threads = *threads
	var pushed churn.WebhookStats
	if *webhook != "" {
		wh := &churn.Webhook{URL: *webhook, Threshold: *risk}
		copts.Sink = func(ctx context.Context, rs []churn.Result) error {
			st, err := wh.Push(ctx, m.ID, rs)
			pushed.Customers += st.Customers
			pushed.Requests += st.Requests
			pushed.Batches += st.Batches
			return err
		}
	}
	st, err := sc.ScoreCSV(ctx, in, pos[0], e.stdout, copts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "model %s: %d rows, %d scored, %d invalid", m.ID, st.Rows, st.Scored, st.Invalid)
	if *webhook != "" {
		fmt.Fprintf(e.stderr, "; %d customers pushed to the webhook in %d requests", pushed.Customers, pushed.Requests)
	}
	fmt.Fprintln(e.stderr)
	return nil
}

// tableReader renders a table back to CSV for the streaming scorer.
func tableReader(t *churn.Table) (io.Reader, error) {
	var buf bytes.Buffer
	if err := t.WriteCSV(&buf); err != nil {
		return nil, err
	}
	return &buf, nil
}

func runChurnModels(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("churn models", e.stderr)
	dir := churnDirFlag(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	list, err := reg.List()
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []churn.Entry{}
		}
		return writeJSON(e.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintf(e.stdout, "no churn models in %s (train one: sextant churn train --data FILE.csv --target COLUMN)\n", reg.Dir())
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTAGE\tCREATED\tTARGET\tROWS\tTREES\tAUC\tECE\tDATA")
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%.4f\t%.4f\t%s\n", m.ID, m.Stage, m.Created.Format("2006-01-02 15:04"), m.Target, m.Rows, m.Trees, m.AUC, m.ECE, m.DataHash[:min(12, len(m.DataHash))])
	}
	return tw.Flush()
}

func runChurnPromote(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("churn promote", e.stderr)
	dir := churnDirFlag(fs, e)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("churn promote: want one model id")
	}
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	if err := reg.Promote(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "model %s is now in production\n", pos[0])
	return nil
}

func runChurnRollback(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("churn rollback", e.stderr)
	dir := churnDirFlag(fs, e)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	id, err := reg.Rollback(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rolled back: model %s is in production again\n", id)
	return nil
}

func runChurnDrift(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("churn drift", e.stderr)
	dir := churnDirFlag(fs, e)
	model := fs.String("model", "production", "model id, or production")
	window := fs.Int("window", 10000, "most recent scored rows to compare")
	data := fs.String("data", "", "compare this CSV instead of the recorded scoring traffic")
	warn := fs.Float64("warn", 0.1, "PSI at which a feature is flagged warn")
	alert := fs.Float64("alert", 0.25, "PSI at which a feature raises an alert")
	asJSON := fs.Bool("json", false, "print JSON")
	metrics := fs.Bool("metrics", false, "print Prometheus text-format metrics")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	m, err := reg.Load(*model)
	if err != nil {
		return err
	}
	var rows [][]float64
	var scores []float64
	if *data != "" {
		t, _, err := readTableFile(e, *data)
		if err != nil {
			return err
		}
		var recs []churn.TrafficRecord
		sc := churn.NewScorer(m, churn.ScorerOptions{Record: func(r []churn.TrafficRecord) error {
			for _, x := range r {
				x.X = slices.Clone(x.X)
				recs = append(recs, x)
			}
			return nil
		}})
		in, err := tableReader(t)
		if err != nil {
			return err
		}
		if _, err := sc.ScoreCSV(ctx, in, *data, io.Discard, churn.CSVScoreOptions{Threads: 1}); err != nil {
			return err
		}
		for _, r := range recs {
			rows, scores = append(rows, r.X), append(scores, r.Score)
		}
	} else {
		recs, err := reg.Traffic(m.ID, *window)
		if err != nil {
			return err
		}
		for _, r := range recs {
			rows, scores = append(rows, r.X), append(scores, r.Score)
		}
	}
	rep, err := churn.Drift(m, rows, scores, churn.DriftOptions{Warn: *warn, Alert: *alert})
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return writeJSON(e.stdout, rep)
	case *metrics:
		return rep.WriteMetrics(e.stdout)
	}
	if rep.Rows == 0 {
		fmt.Fprintf(e.stdout, "model %s: no scoring traffic recorded yet (score with sextant churn score, or pass --data FILE.csv)\n", m.ID)
		return nil
	}
	fmt.Fprintf(e.stdout, "model %s: %d rows compared with the training data (PSI warn >= %g, alert >= %g)\n", m.ID, rep.Rows, *warn, *alert)
	tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPSI\tLEVEL")
	for _, it := range append([]churn.DriftItem{rep.Score}, rep.Features...) {
		fmt.Fprintf(tw, "%s\t%.4f\t%s\n", it.Name, it.PSI, it.Level)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%d alert(s), %d warning(s)\n", rep.Alerts, rep.Warnings)
	return nil
}

func runChurnUplift(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("churn uplift", e.stderr)
	data := fs.String("data", "", "customer table with a treatment column (CSV)")
	target := fs.String("target", "", "label column")
	positive := fs.String("positive", "", "label value meaning the customer left")
	treatment := fs.String("treatment", "", "column saying whether the customer got the offer (yes/no, 1/0, true/false)")
	id := fs.String("id", "", "customer id column")
	drop := fs.String("drop", "", "comma-separated columns to leave out")
	folds := fs.Int("folds", 5, "cross-validation folds")
	seed := fs.Uint64("seed", 1, "seed")
	ks := fs.String("k", "10,20,30,50,100", "percentages of customers (by predicted uplift) to report uplift for")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *data == "" || *target == "" || *treatment == "" {
		return usageErrorf("churn uplift: --data, --target and --treatment are required")
	}
	var pcts []float64
	for _, s := range splitList(*ks) {
		var p float64
		if _, err := fmt.Sscan(s, &p); err != nil || p <= 0 || p > 100 {
			return usageErrorf("--k %q: want percentages in (0,100]", *ks)
		}
		pcts = append(pcts, p)
	}
	t, _, err := readTableFile(e, *data)
	if err != nil {
		return err
	}
	schema, err := churn.Infer(t, churn.InferOptions{Target: *target, Positive: *positive, ID: *id, Treatment: *treatment})
	if err != nil {
		return err
	}
	for _, name := range splitList(*drop) {
		i := slices.IndexFunc(schema.Columns, func(c churn.Column) bool { return c.Name == name })
		if i < 0 {
			return usageErrorf("--drop: no column %q", name)
		}
		schema.Columns[i].Role = churn.RoleIgnore
	}
	ds, err := churn.NewDataset(t, schema)
	if err != nil {
		return err
	}
	res, err := churn.Uplift(ctx, ds, churn.TrainOptions{Folds: *folds, Seed: *seed}, pcts)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "%d rows (%d treated, %d control), %d folds; observed uplift overall %+.4f (control churn rate minus treated)\n",
		res.Rows, res.Treated, res.Control, res.Folds, res.Overall)
	tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "top %\trows\ttreated\tcontrol\tobserved uplift\tpredicted uplift\t")
	for _, p := range res.AtK {
		fmt.Fprintf(tw, "%g\t%d\t%d\t%d\t%+.4f\t%+.4f\t\n", p.Pct, p.Rows, p.Treated, p.Control, p.Uplift, p.Expected)
	}
	return tw.Flush()
}
