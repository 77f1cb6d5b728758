package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/extractive"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/sqlite"
)

const evalUsage = `Usage: sextant eval run SUITE.yaml [--baseline last|none|RUN-ID|REPORT.json] [--json] [--out DIR] [--save-baseline FILE]
       sextant eval history [--suite NAME] [--limit N] [--json]
       sextant eval init [--out suite.yaml] [--n 50] [--model NAME]
       sextant eval grounding-data --beir DIR --out DIR

Evaluate answer quality (docs/evaluation.md).

  run             answer every question of a suite's dataset with every
                  variant, score retrieval and answers, write a JSON and an
                  HTML report, store the run in the history, compare with the
                  baseline and exit with status 3 when a gate fails
  history         list stored runs with their key metrics
  init            draft a starter suite and golden set from the documents in
                  the store, for a person to review
  grounding-data  generate the grounding benchmark's labelled sets from BEIR
                  SciFact

Flags:
`

// Exit status of `sextant eval run` when a gate fails (1 is any other
// error, 2 a command-line mistake).
const exitGateFailed = 3

func runEval(ctx context.Context, e *env, args []string) error {
	if wantsHelp(args) {
		fmt.Fprint(e.stdout, evalUsage)
		if len(args) == 0 {
			return usageErrorf("eval: name a subcommand: run, history, init or grounding-data")
		}
		return nil
	}
	switch args[0] {
	case "run":
		return runEvalRun(ctx, e, args[1:])
	case "history":
		return runEvalHistory(ctx, e, args[1:])
	case "init":
		return runEvalInit(ctx, e, args[1:])
	case "grounding-data":
		return runEvalGroundingData(ctx, e, args[1:])
	}
	return usageErrorf("eval: unknown subcommand %q (want run, history, init or grounding-data)", args[0])
}

// evalConfig is the configuration's eval section.
type evalConfig struct {
	// Judge names the model of the LLM judge suites use when they name
	// none; "" = the built-in scorer only.
	Judge  string           `yaml:"judge"`
	Online evalOnlineConfig `yaml:"online"` // evalonline.go
	// Suites are suite files a server runs by name (POST
	// /v1/evals/runs), besides DATA/evals/*.yaml; relative paths are
	// relative to the data directory. evalserve.go.
	Suites []string `yaml:"suites"`
}

func (c *evalConfig) check() error {
	o := c.Online
	switch {
	case o.Sample < 0 || o.Sample > 1:
		return fmt.Errorf("config: eval.online.sample %v: want a share of answers in [0, 1]", o.Sample)
	case o.HallucinationAlert < 0 || o.HallucinationAlert > 1:
		return fmt.Errorf("config: eval.online.hallucination_alert %v: want a rate in [0, 1] (0 = no alerts)", o.HallucinationAlert)
	case o.Window < 0 || o.Window > 100000:
		return fmt.Errorf("config: eval.online.window %d: want 0 (100) to 100000 answers", o.Window)
	case o.Queue < 0 || o.Queue > 1000000:
		return fmt.Errorf("config: eval.online.queue %d: want 0 (256) to 1000000 answers", o.Queue)
	case o.Workers < 0 || o.Workers > 64:
		return fmt.Errorf("config: eval.online.workers %d: want 0 (1) to 64", o.Workers)
	case o.Judge && c.Judge == "":
		return fmt.Errorf("config: eval.online.judge is set but eval.judge names no judge model")
	}
	return nil
}

// ---- eval run -------------------------------------------------------------

func runEvalRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("eval run", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	baseline := fs.String("baseline", "last", "run to compare with and check gates against: last (the suite's previous stored run), none, a run id, or a JSON report file")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of the table")
	out := fs.String("out", "", "write report.json and report.html to this directory (default DATA/eval-reports/RUN-ID)")
	workers := fs.Int("workers", 0, "questions answered at once (default: the suite's workers, else one per CPU)")
	noSave := fs.Bool("no-save", false, "do not store the run in the evaluation history")
	fresh := fs.Bool("fresh", false, "re-ingest the suite's corpus even when a store for it exists")
	saveBaseline := fs.String("save-baseline", "", "also write the run's metrics without its questions to this JSON file, a baseline to keep in the repository for --baseline FILE.json")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("eval run: name one suite file")
	}
	if *workers < 0 {
		return usageErrorf("eval run: --workers %d is negative", *workers)
	}
	progress := e.stderr
	suitePath := pos[0]
	data, err := os.ReadFile(suitePath)
	if err != nil {
		return fmt.Errorf("eval run: %w", err)
	}
	suite, err := eval.ParseSuite(suitePath, data)
	if err != nil {
		return err
	}
	suiteDir := filepath.Dir(suitePath)
	ds, err := loadEvalDataset(resolvePath(suiteDir, suite.Dataset), suite.Split)
	if err != nil {
		return err
	}

	history, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer history.Close()
	var base *eval.Report
	if base, err = loadBaseline(ctx, history, suite.Name, *baseline); err != nil {
		return err
	}

	// The answers come from the suite's own corpus (ingested once into a
	// store kept under DATA) or from the data directory.
	answerDir := *dataDir
	if len(suite.Corpus) > 0 {
		if answerDir, err = corpusStore(ctx, *dataDir, suite, suiteDir, *fresh, progress); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(*configPath, *dataDir, e.getenv)
	if err != nil {
		return err
	}
	s, err := buildPipeline(ctx, e, cfg, answerDir, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(progress, "suite %s: %d questions × %d variants (%s)\n", suite.Name, min(len(ds.Items), limitOr(suite.Limit, len(ds.Items))),
		len(suite.Variants), strings.Join(variantNames(suite), ", "))
	rep, err := scoreSuite(ctx, suiteJob{s: s, history: history, dataDir: *dataDir, suite: suite, suiteDir: suiteDir, ds: ds,
		base: base, workers: *workers, progress: func(done, n int) {
			if done == n || done%100 == 0 {
				fmt.Fprintf(progress, "answered %d of %d\n", done, n)
			}
		}})
	if err != nil {
		return err
	}

	if !*noSave {
		if err := saveRun(ctx, history, rep); err != nil {
			return err
		}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(*dataDir, "eval-reports", rep.ID)
	}
	jsonPath, htmlPath, err := writeReports(dir, rep)
	if err != nil {
		return err
	}
	if *saveBaseline != "" {
		if err := writeFileWith(*saveBaseline, rep.Compact().WriteJSON); err != nil {
			return fmt.Errorf("eval run: --save-baseline: %w", err)
		}
	}
	if *asJSON {
		if err := rep.WriteJSON(e.stdout); err != nil {
			return err
		}
	} else {
		if err := rep.WriteTable(e.stdout); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "report: %s\n        %s\n", htmlPath, jsonPath)
		if *noSave {
			fmt.Fprintln(e.stdout, "not stored in the history (--no-save)")
		} else {
			fmt.Fprintf(e.stdout, "stored as run %s (sextant eval history)\n", rep.ID)
		}
	}
	if failed := rep.Failed(); len(failed) > 0 {
		var msgs []string
		for _, g := range failed {
			msgs = append(msgs, g.Message)
		}
		return &exitStatus{code: exitGateFailed, err: fmt.Errorf("eval run: %d gate(s) failed:\n  %s", len(failed), strings.Join(msgs, "\n  "))}
	}
	return nil
}

// suiteJob is one evaluation run's inputs: what `sextant eval run` and
// POST /v1/evals/runs both score.
type suiteJob struct {
	s         *askSetup   // the pipeline and configuration answering
	history   *sqlite.DB  // the judge's verdict cache
	dataDir   string      // templates of variants' template files
	suite     *eval.Suite //
	suiteDir  string      // suite-relative paths resolve against it
	ds        *eval.Dataset
	base      *eval.Report      // the baseline; nil = none
	workers   int               // 0 = the suite's
	principal sextant.Principal // who the answers are asked as (its groups scope retrieval)
	progress  func(done, n int) // nil = none
	id        string            // the run's id; "" = a new one
	meter     *runMeter         // admits and books the run's model calls (HTTP runs); nil = none
}

// scoreSuite answers and scores every question of the job's suite, and
// compares the report with the baseline and checks the gates. It stores
// nothing.
func scoreSuite(ctx context.Context, j suiteJob) (*eval.Report, error) {
	s, suite := j.s, j.suite
	runner, err := newEvalRunner(s, suite, j.suiteDir, j.dataDir)
	if err != nil {
		return nil, err
	}
	runner.principal, runner.meter = j.principal, j.meter
	prices, err := s.cfg.priceTable()
	if err != nil {
		return nil, err
	}
	opts := eval.RunOptions{Answer: runner.answer, Retrieve: runner.retrieve, Workers: j.workers, Progress: j.progress,
		NewID: runIDFunc(j.id),
		Cost: func(model string, u sextant.Usage) (float64, bool) {
			ch := prices.Charge(model, u)
			return ch.USD, ch.Priced
		},
	}
	judgeModel := suite.Judge
	if judgeModel == "" {
		judgeModel = s.cfg.Eval.Judge
	}
	if judgeModel != "" {
		m, _ := s.opts.Model.(*llm.Model)
		if m == nil {
			return nil, fmt.Errorf("eval run: the judge needs the model layer")
		}
		jd := newMeteredJudge(m, judgeModel, j.history, j.meter)
		opts.Grounder = &eval.Grounder{Judge: jd}
		opts.Judge = jd.PromptVersion()
	}
	rep, err := eval.Run(ctx, suite, j.ds, opts)
	if err != nil {
		return nil, fmt.Errorf("eval run: %w", err)
	}
	if base := j.base; base != nil {
		rep.Baseline = &eval.RunRef{ID: base.ID, CreatedAt: base.CreatedAt, Metrics: map[string]map[string]float64{}}
		for _, v := range base.Variants {
			rep.Baseline.Metrics[v.Name] = v.Metrics
		}
	}
	rep.Gates = eval.CheckGates(rep, j.base, suite.Gates)
	return rep, nil
}

// runIDFunc returns id as eval.RunOptions.NewID, or nil for "" (a new
// id).
func runIDFunc(id string) func() string {
	if id == "" {
		return nil
	}
	return func() string { return id }
}

func limitOr(limit, n int) int {
	if limit > 0 {
		return limit
	}
	return n
}

func variantNames(s *eval.Suite) []string {
	var out []string
	for _, v := range s.Variants {
		out = append(out, v.Name)
	}
	return out
}

// resolvePath makes p relative to dir unless it is absolute.
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// loadEvalDataset reads a golden JSONL file or a BEIR folder.
func loadEvalDataset(path, split string) (*eval.Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("eval: dataset: %w", err)
	}
	if st.IsDir() {
		d, err := eval.ReadBEIR(os.DirFS(path), split)
		if err != nil {
			return nil, fmt.Errorf("eval: dataset %s: %w", path, err)
		}
		d.Name = filepath.Base(filepath.Clean(path)) + ":" + strings.TrimPrefix(d.Name, "beir:")
		return d, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: dataset: %w", err)
	}
	defer f.Close()
	return eval.ReadDataset(f, filepath.Base(path))
}

// loadBaseline returns the report to compare with: the suite's last stored
// run, a stored run by id, a JSON report file, or none.
func loadBaseline(ctx context.Context, db *sqlite.DB, suite, which string) (*eval.Report, error) {
	var run *sqlite.EvalRun
	var err error
	switch {
	case which == "none" || which == "":
		return nil, nil
	case which == "last":
		run, err = db.LastEvalRun(ctx, suite)
		if sextant.ErrorCode(err) == sextant.ENOTFOUND {
			return nil, nil
		}
	case strings.HasSuffix(which, ".json"):
		b, err := os.ReadFile(which)
		if err != nil {
			return nil, fmt.Errorf("eval run: --baseline: %w", err)
		}
		var r eval.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("eval run: --baseline %s: not a JSON report: %v", which, err)
		}
		return &r, nil
	default:
		run, err = db.EvalRun(ctx, which)
	}
	if err != nil {
		return nil, fmt.Errorf("eval run: --baseline: %w", err)
	}
	var r eval.Report
	if err := json.Unmarshal(run.Report, &r); err != nil {
		return nil, fmt.Errorf("eval run: stored run %s: %v", run.ID, err)
	}
	if r.Suite != suite {
		return nil, usageErrorf("eval run: --baseline %s is a run of suite %q, not %q", which, r.Suite, suite)
	}
	return &r, nil
}

// saveRun stores a report in the evaluation history.
func saveRun(ctx context.Context, db *sqlite.DB, r *eval.Report) error {
	report, err := json.Marshal(r)
	if err != nil {
		return err
	}
	summary := map[string]map[string]float64{}
	for _, v := range r.Variants {
		m := map[string]float64{}
		for _, k := range r.Metrics {
			if x, ok := v.Metrics[k]; ok {
				m[k] = x
			}
		}
		summary[v.Name] = m
	}
	sum, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	return db.PutEvalRun(ctx, &sqlite.EvalRun{ID: r.ID, Suite: r.Suite, Dataset: r.Dataset, Questions: r.Questions,
		FailedGates: len(r.Failed()), Summary: sum, Report: report, CreatedAt: r.CreatedAt})
}

// writeReports writes DIR/report.json and DIR/report.html.
func writeReports(dir string, r *eval.Report) (jsonPath, htmlPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("eval run: %w", err)
	}
	jsonPath, htmlPath = filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")
	for _, w := range []struct {
		path  string
		write func(io.Writer) error
	}{{jsonPath, r.WriteJSON}, {htmlPath, r.WriteHTML}} {
		if err := writeFileWith(w.path, w.write); err != nil {
			return "", "", fmt.Errorf("eval run: %w", err)
		}
	}
	return jsonPath, htmlPath, nil
}

// writeFileWith creates path and writes it with write.
func writeFileWith(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// corpusStore returns a store holding the suite's corpus, kept under
// DATA/eval-corpora and keyed by the corpus files' paths, sizes and
// modification times, so later runs skip the ingestion.
func corpusStore(ctx context.Context, dataDir string, s *eval.Suite, suiteDir string, fresh bool, progress io.Writer) (string, error) {
	var paths []string
	h := sha256.New()
	for _, c := range s.Corpus {
		p, err := filepath.Abs(resolvePath(suiteDir, c))
		if err != nil {
			return "", err
		}
		paths = append(paths, p)
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, info.Size(), info.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("eval run: corpus: %w", err)
		}
	}
	dir := filepath.Join(dataDir, "eval-corpora", s.Name+"-"+hex.EncodeToString(h.Sum(nil))[:12])
	if fresh {
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
	}
	st, err := openStore(ctx, dir)
	if err != nil {
		return "", err
	}
	defer st.Close()
	if gen, err := st.Generation(ctx); err != nil {
		return "", err
	} else if gen > 0 {
		return dir, nil
	}
	t0 := time.Now()
	fmt.Fprintf(progress, "ingesting the suite's corpus (%s) into %s ...\n", strings.Join(s.Corpus, ", "), dir)
	for _, p := range paths {
		if _, err := ingestForBench(ctx, st, p); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("eval run: %w", err)
		}
	}
	fmt.Fprintf(progress, "ingested in %.1f s\n", time.Since(t0).Seconds())
	return dir, nil
}

// ---- answering as a variant ---------------------------------------------

// evalRunner answers questions as each variant of a suite: one pipeline
// per variant, over the same store, without recording answers or caching.
type evalRunner struct {
	principal sextant.Principal // asks as; the zero principal is the local user
	meter     *runMeter         // admits and books each answer; nil = none
	s         *askSetup
	pipelines map[string]*rag.Pipeline
	asst      map[string]rag.Assistant
	modes     map[string]sextant.SearchMode
}

// modeRetriever searches with a fixed retrieval mode.
type modeRetriever struct {
	r    rag.Retriever
	mode sextant.SearchMode
}

func (m modeRetriever) Search(ctx context.Context, q sextant.Query) ([]sextant.Hit, error) {
	q.Mode = m.mode
	return m.r.Search(ctx, q)
}

func newEvalRunner(s *askSetup, suite *eval.Suite, suiteDir, dataDir string) (*evalRunner, error) {
	r := &evalRunner{s: s, pipelines: map[string]*rag.Pipeline{}, asst: map[string]rag.Assistant{}, modes: map[string]sextant.SearchMode{}}
	for _, v := range suite.Variants {
		a, ok := s.pipeline.Assistant(v.Assistant)
		if !ok {
			var names []string
			for _, x := range s.pipeline.Assistants() {
				names = append(names, x.Name)
			}
			return nil, fmt.Errorf("eval run: variant %q: assistant %q is not configured (have %s)", v.Name, v.Assistant, strings.Join(names, ", "))
		}
		opts := s.opts
		opts.Store, opts.Cache, opts.Hooks = nil, nil, rag.Hooks{}
		if v.Template != "" {
			a.Template = v.Template
		}
		if v.TemplateFile != "" {
			t, name, err := templatesWith(dataDir, resolvePath(suiteDir, v.TemplateFile))
			if err != nil {
				return nil, fmt.Errorf("eval run: variant %q: %w", v.Name, err)
			}
			opts.Templates, a.Template = t, name
		}
		if v.Model != "" {
			a.Model = v.Model
			if a.Model == extractive.Model && a.ContextWindow == 0 {
				a.ContextWindow = -1
			}
		}
		if v.System != nil {
			a.System = *v.System
		}
		if v.TopK > 0 {
			a.TopK = v.TopK
		}
		if v.MaxTokens > 0 {
			a.MaxTokens = v.MaxTokens
		}
		if v.Temperature != nil {
			a.Temperature = v.Temperature
		}
		if v.Mode != "" {
			r.modes[v.Name] = sextant.SearchMode(v.Mode)
			opts.Retriever = modeRetriever{r: opts.Retriever, mode: sextant.SearchMode(v.Mode)}
		}
		// The rag pipeline copies collections into the filter itself.
		if len(a.Filter.Collections) > 0 && slices.Equal(a.Filter.Collections, a.Collections) {
			a.Filter.Collections = nil
		}
		opts.Assistants, opts.DefaultAssistant = []rag.Assistant{a}, a.Name
		p, err := rag.New(opts)
		if err != nil {
			return nil, fmt.Errorf("eval run: variant %q: %w", v.Name, err)
		}
		r.pipelines[v.Name] = p
		a, _ = p.Assistant("")
		r.asst[v.Name] = a
	}
	return r, nil
}

// templatesWith loads the data directory's templates plus one template
// file, and returns the file's template name.
func templatesWith(dataDir, file string) (*rag.Templates, string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	tmp, err := os.MkdirTemp("", "sextant-eval-templates-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(tmp)
	if entries, err := os.ReadDir(filepath.Join(dataDir, "templates")); err == nil {
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmpl") {
				if c, err := os.ReadFile(filepath.Join(dataDir, "templates", e.Name())); err == nil {
					if err := os.WriteFile(filepath.Join(tmp, e.Name()), c, 0o644); err != nil {
						return nil, "", err
					}
				}
			}
		}
	}
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	if err := os.WriteFile(filepath.Join(tmp, name+".tmpl"), b, 0o644); err != nil {
		return nil, "", err
	}
	t, err := rag.LoadTemplates(os.DirFS(tmp))
	if err != nil {
		return nil, "", err
	}
	return t, name, nil
}

func (r *evalRunner) answer(ctx context.Context, v *eval.Variant, it *eval.Item) (*sextant.Answer, error) {
	p := r.pipelines[v.Name]
	res, err := r.meter.askAs(ctx, r.asst[v.Name], func(ctx context.Context) (*rag.Result, error) {
		return p.Ask(ctx, &rag.Request{Question: it.Question, Principal: r.principal})
	})
	if err != nil {
		return nil, err
	}
	return &res.Answer, nil
}

// retrieve ranks the k best documents (each by its best chunk, as
// `sextant bench retrieval` does) the way the variant's assistant searches
// (its collections, filter and retrieval mode), for the retrieval metrics.
func (r *evalRunner) retrieve(ctx context.Context, v *eval.Variant, it *eval.Item, k int) ([]sextant.Source, error) {
	a := r.asst[v.Name]
	ranked, err := r.s.eng.index.RankDocuments(ctx, sextant.Query{Text: it.Question, K: k, Filter: r.principal.Scope(a.Filter), Mode: r.modes[v.Name]})
	if err != nil {
		return nil, err
	}
	out := make([]sextant.Source, len(ranked))
	for i, h := range ranked {
		out[i] = sextant.Source{N: i + 1, DocumentID: h.DocumentID, ChunkID: h.ChunkID, Score: h.Score}
	}
	if it.NamesFiles() { // relevant pages named by file: the metrics need each document's URI
		ids := make([]string, len(out))
		for i := range out {
			ids[i] = out[i].DocumentID
		}
		docs, err := r.s.eng.store.LookupDocuments(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i := range out {
			if d := docs[out[i].DocumentID]; d != nil {
				out[i].URI = d.Source
			}
		}
	}
	return out, nil
}

// ---- judge ---------------------------------------------------------------

// modelComplete asks model name through the model layer, deterministically.
func modelComplete(m *llm.Model, name string, maxTokens int) eval.CompleteFunc {
	return func(ctx context.Context, system, user string) (string, error) {
		zero := 0.0
		res, err := m.Complete(ctx, &llm.Request{Model: name, Temperature: &zero, MaxTokens: maxTokens, Messages: []sextant.Message{
			{Role: sextant.RoleSystem, Content: system}, {Role: sextant.RoleUser, Content: user}}})
		if err != nil {
			return "", err
		}
		return res.Text, nil
	}
}

// newJudge is the LLM judge over model name, its verdicts cached in the
// store (across runs) and in memory.
func newJudge(m *llm.Model, name string, db *sqlite.DB) *eval.CachedJudge {
	return judgeWith(name, db, modelComplete(m, name, judgeMaxTokens))
}

// judgeWith is the LLM judge of model name asking through complete, its
// verdicts cached in memory and in the store.
func judgeWith(name string, db *sqlite.DB, complete eval.CompleteFunc) *eval.CachedJudge {
	return &eval.CachedJudge{Judge: &eval.LLMJudge{Model: name, Complete: complete},
		Cache: &storedVerdicts{db: db, mem: &eval.MemoryVerdictCache{}, now: time.Now}}
}

// judgeMaxTokens bounds a judge's verdict (a short JSON object).
const judgeMaxTokens = 300

// newMeteredJudge is newJudge with each model call (not a cached
// verdict) admitted and booked through meter; nil = none.
func newMeteredJudge(m *llm.Model, name string, db *sqlite.DB, meter *runMeter) *eval.CachedJudge {
	if meter == nil {
		return newJudge(m, name, db)
	}
	return judgeWith(name, db, meteredComplete(m, name, judgeMaxTokens, meter))
}

// meteredComplete is modelComplete with the call admitted against the
// run's budgets and its usage booked.
func meteredComplete(m *llm.Model, name string, maxTokens int, meter *runMeter) eval.CompleteFunc {
	return func(ctx context.Context, system, user string) (string, error) {
		zero := 0.0
		req := &llm.Request{Model: name, Temperature: &zero, MaxTokens: maxTokens, Messages: []sextant.Message{
			{Role: sextant.RoleSystem, Content: system}, {Role: sextant.RoleUser, Content: user}}}
		var text string
		err := meter.complete(ctx, name, system+user, maxTokens, func(ctx context.Context) (sextant.Usage, string, error) {
			res, err := m.Complete(ctx, req)
			if err != nil {
				return sextant.Usage{}, "", err
			}
			text = res.Text
			return res.Usage, res.Call.Target.Provider, nil
		})
		return text, err
	}
}

// storedVerdicts is the persistent eval.VerdictCache: an in-memory LRU in
// front of the store's eval_verdicts table.
type storedVerdicts struct {
	db  *sqlite.DB
	mem *eval.MemoryVerdictCache
	now func() time.Time
}

func (c *storedVerdicts) Get(ctx context.Context, key string) (eval.Verdict, bool, error) {
	if v, ok, _ := c.mem.Get(ctx, key); ok {
		return v, true, nil
	}
	b, ok, err := c.db.Verdict(ctx, key)
	if err != nil || !ok {
		return eval.Verdict{}, false, err
	}
	var v eval.Verdict
	if err := json.Unmarshal(b, &v); err != nil {
		return eval.Verdict{}, false, nil // an unreadable entry is a miss; the new verdict replaces it
	}
	c.mem.Put(ctx, key, v)
	return v, true, nil
}

func (c *storedVerdicts) Put(ctx context.Context, key string, v eval.Verdict) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.mem.Put(ctx, key, v)
	return c.db.PutVerdict(ctx, key, b, c.now())
}

// ---- eval history ----------------------------------------------------------

func runEvalHistory(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("eval history", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	suite := fs.String("suite", "", "only runs of this suite")
	limit := fs.Int("limit", 20, "at most this many runs, newest first (0 = all)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("eval history: unexpected argument %q", pos[0])
	}
	db, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	runs, err := db.EvalRuns(ctx, *suite, *limit)
	if err != nil {
		return err
	}
	type row struct {
		ID          string                        `json:"id"`
		Suite       string                        `json:"suite"`
		Dataset     string                        `json:"dataset"`
		CreatedAt   time.Time                     `json:"created_at"`
		Questions   int                           `json:"questions"`
		FailedGates int                           `json:"failed_gates"`
		Metrics     map[string]map[string]float64 `json:"metrics"`
	}
	rows := make([]row, 0, len(runs))
	for _, r := range runs {
		x := row{ID: r.ID, Suite: r.Suite, Dataset: r.Dataset, CreatedAt: r.CreatedAt, Questions: r.Questions, FailedGates: r.FailedGates}
		if err := json.Unmarshal(r.Summary, &x.Metrics); err != nil {
			return fmt.Errorf("eval history: run %s: %v", r.ID, err)
		}
		rows = append(rows, x)
	}
	if *asJSON {
		return writeJSON(e.stdout, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.stdout, "no evaluation runs stored (sextant eval run SUITE.yaml stores one)")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "run\ttime (UTC)\tsuite\tquestions\tgates\tvariant\tkey metrics")
	for _, r := range rows {
		gates := "ok"
		if r.FailedGates > 0 {
			gates = fmt.Sprintf("%d failed", r.FailedGates)
		}
		variants := sortedKeys(r.Metrics)
		for i, v := range variants {
			var ms []string
			for _, k := range sortedKeys(r.Metrics[v]) {
				ms = append(ms, fmt.Sprintf("%s=%.4g", k, r.Metrics[v][k]))
			}
			if i == 0 {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.CreatedAt.Format("2006-01-02 15:04"), r.Suite, r.Questions, gates, v, strings.Join(ms, " "))
			} else {
				fmt.Fprintf(w, "\t\t\t\t\t%s\t%s\n", v, strings.Join(ms, " "))
			}
		}
	}
	return w.Flush()
}

// ---- eval init -------------------------------------------------------------

func runEvalInit(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("eval init", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	out := fs.String("out", "suite.yaml", "suite file to write; the golden set goes beside it as NAME.golden.jsonl")
	n := fs.Int("n", 50, "questions to draft")
	model := fs.String("model", "", "model that drafts the questions (default: the default assistant's model unless it is the extractive one; \"templated\" forces templates)")
	force := fs.Bool("force", false, "overwrite existing files")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("eval init: unexpected argument %q", pos[0])
	}
	if *n < 1 || *n > 10000 {
		return usageErrorf("eval init: --n %d: want 1..10000", *n)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(*out), ".yaml"), ".yml")
	goldenPath := filepath.Join(filepath.Dir(*out), base+".golden.jsonl")
	if !*force {
		for _, p := range []string{*out, goldenPath} {
			if _, err := os.Stat(p); err == nil {
				return usageErrorf("eval init: %s exists (use --force to overwrite)", p)
			}
		}
	}
	cfg, err := loadConfig(*configPath, *dataDir, e.getenv)
	if err != nil {
		return err
	}
	drafter := *model
	if drafter == "" {
		as, def, err := cfg.assistants()
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.Name == def && a.Model != extractive.Model {
				drafter = a.Model
			}
		}
	}
	if drafter == "templated" || drafter == extractive.Model {
		drafter = ""
	}
	var complete eval.CompleteFunc
	if drafter != "" {
		m, err := cfg.models(e.getenv)
		if err != nil {
			return err
		}
		complete = modelComplete(m, drafter, 400)
	}
	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	var docs []eval.DraftSource
	err = st.Scan(ctx, func(d *sextant.Document, chunks []sextant.Chunk) error {
		docs = append(docs, eval.DraftSource{DocumentID: d.ID, URI: d.Source, Title: d.Title, Chunks: slices.Clone(chunks)})
		return nil
	})
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return fmt.Errorf("eval init: the store in %s holds no documents (sextant ingest PATH first)", *dataDir)
	}
	slices.SortFunc(docs, func(a, b eval.DraftSource) int { return strings.Compare(a.DocumentID, b.DocumentID) })
	items, err := eval.Draft(ctx, docs, eval.DraftOptions{N: *n, Complete: complete})
	if err != nil {
		return fmt.Errorf("eval init: %w", err)
	}
	if len(items) == 0 {
		return fmt.Errorf("eval init: no passage long enough to draft a question from")
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	gf, err := os.Create(goldenPath)
	if err != nil {
		return err
	}
	if err := eval.WriteDataset(gf, items); err != nil {
		gf.Close()
		return err
	}
	if err := gf.Close(); err != nil {
		return err
	}
	how := "templated questions (headings, definitions and key sentences of the documents)"
	if drafter != "" {
		how = fmt.Sprintf("questions drafted by %s (prompt %s)", drafter, eval.DraftPromptVersion())
	}
	suite := fmt.Sprintf(starterSuite, base, time.Now().UTC().Format("2006-01-02"), len(items), how, filepath.Base(goldenPath))
	if err := os.WriteFile(*out, []byte(suite), 0o644); err != nil {
		return err
	}
	if _, err := eval.ParseSuite(*out, []byte(suite)); err != nil {
		return fmt.Errorf("eval init: the starter suite does not parse (a bug): %w", err)
	}
	fmt.Fprintf(e.stdout, "wrote %s and %s: %d %s from %d documents.\n", *out, goldenPath, len(items), how, len(docs))
	fmt.Fprintf(e.stdout, "Review the questions and reference answers, then: sextant eval run %s\n", *out)
	return nil
}

const starterSuite = `# Starter evaluation suite written by sextant eval init on %[2]s.
# Review %[5]s first: %[3]d %[4]s.
# Each line is {"id", "question", "reference_answer", "relevant_ids", "tags"};
# fix or delete questions that are unclear, and correct the reference answers.
# docs/evaluation.md describes every key.
name: %[1]s
dataset: %[5]s

# Compare assistant configurations or prompts: each variant starts from a
# configured assistant and overrides some of its fields (template,
# template_file, model, system, top_k, max_tokens, temperature, mode).
variants:
  - name: default
    assistant: sextant
#  - name: fewer-sources
#    assistant: sextant
#    top_k: 4

metrics: [ndcg@10, recall@10, mrr@10, groundedness, hallucination_rate, citation_coverage,
  grounded_citation_rate, relevance, f1, rouge_l, task_success, latency_p95_ms, tokens, cost_usd]

# A question succeeds when every condition holds.
success:
  - f1 >= 0.5
  - hallucination_rate <= 0

# Any gate that is met fails the run (exit status 3): absolute, or a drop
# or rise against the baseline run (--baseline last by default).
gates:
  - ndcg@10 drop > 0.01
  - hallucination_rate > 0.05
`

// ---- eval grounding-data --------------------------------------------------

func runEvalGroundingData(_ context.Context, e *env, args []string) error {
	fs := newFlagSet("eval grounding-data", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalUsage)
		fs.PrintDefaults()
	}
	beir := fs.String("beir", "", "BEIR SciFact folder: corpus.jsonl.gz with sentences, claims/claims_{train,validation}.csv (required)")
	out := fs.String("out", "", "directory to write dev.jsonl and heldout.jsonl to (required)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErrorf("eval grounding-data: unexpected argument %q", pos[0])
	case *beir == "" || *out == "":
		return usageErrorf("eval grounding-data: --beir DIR and --out DIR are required")
	}
	dev, heldout, err := eval.GroundingSets(os.DirFS(*beir))
	if err != nil {
		return fmt.Errorf("eval grounding-data: %s: %w", *beir, err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, set := range []struct {
		name string
		exs  []eval.GroundingExample
	}{{eval.GroundingDev, dev}, {eval.GroundingHeldout, heldout}} {
		path := filepath.Join(*out, set.name+".jsonl")
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		h := sha256.New()
		err = eval.WriteGroundingExamples(io.MultiWriter(f, h), set.exs)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("eval grounding-data: %s: %w", path, err)
		}
		fmt.Fprintf(e.stdout, "wrote %s (%d examples, sha256 %s)\n", path, len(set.exs), hex.EncodeToString(h.Sum(nil)))
	}
	return nil
}
