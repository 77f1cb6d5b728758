package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/sextant-ai/sextant/guard"
)

// runGuard dispatches `sextant guard scan|train|eval`.
func runGuard(ctx context.Context, e *env, args []string) error {
	subs := []command{
		{"scan", "scan prompts for PII, secrets and injection attempts", runGuardScan},
		{"train", "retrain the embedded injection model from labelled JSONL", runGuardTrain},
		{"eval", "score labelled JSONL sets: flagged and blocked shares, AUC, TPR at 5% FPR", runGuardEval},
	}
	if wantsHelp(args) {
		w := e.stdout
		if len(args) == 0 {
			w = e.stderr
		}
		fmt.Fprintln(w, "Usage: sextant guard COMMAND [FLAGS]\n\nCommands:")
		for _, c := range subs {
			fmt.Fprintf(w, "  %-6s %s\n", c.name, c.summary)
		}
		if len(args) == 0 {
			return usageErrorf("guard: name a command")
		}
		return nil
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	return usageErrorf("guard: unknown command %q (want scan, train or eval)", args[0])
}

// scanFinding is one finding in `guard scan --json` output.
type scanFinding struct {
	Type  string  `json:"type"`
	Start int     `json:"start"`
	End   int     `json:"end"`
	Score float64 `json:"score"`
}

// scanResult is one line of `guard scan --json` output.
type scanResult struct {
	Line           int           `json:"line"`
	InjectionScore float64       `json:"injection_score"`
	Action         string        `json:"action"`
	Findings       []scanFinding `json:"findings"`
}

func runGuardScan(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("guard scan", e.stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per input line")
	jsonl := fs.Bool("jsonl", false, `input lines are JSON objects {"text": "..."}`)
	whole := fs.Bool("whole", false, "scan the whole input as one text (reported as line 1)")
	document := fs.Bool("document", false, "score as a retrieved document (indirect injection threshold)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: sextant guard scan [--json] [--jsonl] [--whole] [--document] FILE|-")
		fmt.Fprintln(fs.Output(), "\nEach input line is scanned as a separate prompt: PII and secret findings (byte offsets\ninto the line's text) and an injection score with the action it leads to.")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageErrorf("guard scan: want exactly one FILE (or - for standard input), got %d", len(pos))
	}
	if *whole && *jsonl {
		return usageErrorf("guard scan: --whole and --jsonl exclude each other")
	}
	name := pos[0]
	var r io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("guard scan: %w", err)
		}
		defer f.Close()
		r = f
	} else {
		name = "standard input"
	}
	scanner := guard.New(guard.Options{})
	inj := guard.DefaultInjection()
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	emit := func(line int, text string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		res := scanText(scanner, inj, text, *document)
		res.Line = line
		if *asJSON {
			b, err := json.Marshal(res)
			if err != nil {
				return err
			}
			out.Write(b)
			out.WriteByte('\n')
			return nil
		}
		fmt.Fprintf(out, "line %d: %s (injection %.3f)", line, res.Action, res.InjectionScore)
		for _, f := range res.Findings {
			fmt.Fprintf(out, " %s[%d:%d]=%.2f", f.Type, f.Start, f.End, f.Score)
		}
		out.WriteByte('\n')
		return nil
	}
	if *whole {
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("guard scan: %s: %w", name, err)
		}
		return emit(1, string(b))
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if *jsonl {
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			var rec struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal(b, &rec); err != nil {
				return fmt.Errorf("guard scan: %s:%d: %v", name, line, err)
			}
			if rec.Text == nil {
				return fmt.Errorf(`guard scan: %s:%d: object has no "text" field`, name, line)
			}
			text = *rec.Text
		}
		if err := emit(line, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("guard scan: %s: %w", name, err)
	}
	return nil
}

// scanText scans one prompt. The action is the strongest that applies:
// block (injection at or above the block threshold), flag (at or above the
// flag threshold), redact (PII or secrets found), allow.
func scanText(s *guard.Scanner, inj *guard.Injection, text string, document bool) scanResult {
	var a guard.Assessment
	if document {
		a = inj.ScoreDocument(text)
	} else {
		a = inj.Score(text)
	}
	res := scanResult{InjectionScore: round3(a.Score), Action: string(a.Action), Findings: []scanFinding{}}
	for _, f := range s.Scan(text) {
		res.Findings = append(res.Findings, scanFinding{Type: string(f.Type), Start: f.Start, End: f.End, Score: round3(f.Confidence)})
	}
	if a.Action == guard.ActionAllow && len(res.Findings) > 0 {
		res.Action = string(guard.ActionRedact)
	}
	return res
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// readLabeledFiles reads comma-separated labelled JSONL files ("" = none).
func readLabeledFiles(list string) ([]guard.LabeledText, error) {
	var out []guard.LabeledText
	for _, path := range strings.Split(list, ",") {
		if path = strings.TrimSpace(path); path == "" {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("guard train: %w", err)
		}
		ex, err := guard.ReadLabeled(f, path)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("guard train: %w", err)
		}
		out = append(out, ex...)
	}
	return out, nil
}

func runGuardTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("guard train", e.stderr)
	data := fs.String("data", "", "labelled JSONL {\"text\", \"label\": 0|1} (the train split only); trains the n-gram model and the combiner")
	extra := fs.String("extra", "", "comma-separated labelled JSONL files for the combiner only (the n-gram model never sees them)")
	calibrate := fs.String("calibrate", "", "comma-separated JSONL files of benign prompts the flag and block thresholds are chosen on")
	flagFPR := fs.Float64("flag-fpr", 0, "false-positive budget of the flag threshold on the calibration prompts (default 0.03)")
	blockFPR := fs.Float64("block-fpr", 0, "false-positive budget of the block threshold on the calibration prompts (default 0.005)")
	outPath := fs.String("out", "", "where to write the model (guard/injection_model.bin to embed it)")
	seed := fs.Uint64("seed", 0, "shuffling seed (training is deterministic per seed)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: sextant guard train --data TRAIN.jsonl [--extra A.jsonl,B.jsonl] [--calibrate BENIGN.jsonl] --out MODEL.bin [--seed N]")
		fs.PrintDefaults()
	}
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *data == "" || *outPath == "" {
		fs.Usage()
		return usageErrorf("guard train: --data and --out are required")
	}
	if *flagFPR < 0 || *flagFPR >= 1 || *blockFPR < 0 || *blockFPR >= 1 {
		return usageErrorf("guard train: --flag-fpr and --block-fpr must be in [0, 1)")
	}
	ex, err := readLabeledFiles(*data)
	if err != nil {
		return err
	}
	opts := guard.TrainOptions{Seed: *seed, FlagFPR: *flagFPR, BlockFPR: *blockFPR}
	if opts.Extra, err = readLabeledFiles(*extra); err != nil {
		return err
	}
	if opts.Calibration, err = readLabeledFiles(*calibrate); err != nil {
		return err
	}
	inj, rep, err := guard.TrainInjection(ex, opts)
	if err != nil {
		return err
	}
	b, err := inj.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*outPath, b, 0o644); err != nil {
		return fmt.Errorf("guard train: %w", err)
	}
	fmt.Fprintf(e.stdout, "trained on %d examples (%d injections); wrote %s (%d bytes)\n", rep.Examples, rep.Positives, *outPath, len(b))
	fmt.Fprintf(e.stdout, "cross-validated: AUC %.3f (n-gram model alone %.3f); at the flag threshold recall %.3f, FPR %.3f\n",
		rep.CVAUC, rep.CVModelAUC, rep.CVRecallAtFlag, rep.CVFPRAtFlag)
	if rep.Extra > 0 {
		fmt.Fprintf(e.stdout, "combiner also trained on %d extra examples\n", rep.Extra)
	}
	fmt.Fprintf(e.stdout, "thresholds: flag %.3f, block %.3f, document %.3f\n", rep.Thresholds.Flag, rep.Thresholds.Block, rep.Thresholds.Document)
	if rep.Calibration > 0 {
		fmt.Fprintf(e.stdout, "chosen on %d calibration prompts: %.1f%% of them reach the flag threshold\n", rep.Calibration, 100*rep.CalibFPRAtFlag)
	}
	names := make([]string, 0, len(rep.Combiner))
	for n := range rep.Combiner {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%.2f", n, rep.Combiner[n]))
	}
	fmt.Fprintf(e.stdout, "combiner weights: %s\n", strings.Join(parts, " "))
	return nil
}

// guardEvalSet is one line of `guard eval`.
type guardEvalSet struct {
	File           string   `json:"file"`
	Texts          int      `json:"texts"`
	Attacks        int      `json:"attacks"`
	AttacksFlagged float64  `json:"attacks_flagged"` // flagged or blocked
	AttacksBlocked float64  `json:"attacks_blocked"`
	BenignFlagged  float64  `json:"benign_flagged"` // flagged or blocked: false positives
	BenignBlocked  float64  `json:"benign_blocked"`
	AUC            *float64 `json:"auc,omitempty"` // with both labels
	TPRAtFPR05     *float64 `json:"tpr_at_fpr_05,omitempty"`
	scores, labels []float64
	benign         int
}

func runGuardEval(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("guard eval", e.stderr)
	model := fs.String("model", "", "injection model file (default: the embedded one)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: sextant guard eval [--model MODEL.bin] [--json] FILE.jsonl...\n\n"+
			"Scores labelled JSON Lines ({\"text\", \"label\": 0|1}) with the injection scorer at its thresholds:\n"+
			"per file the share of attacks flagged or blocked, the share of benign texts flagged or blocked\n"+
			"(false positives), and with both labels AUC and the TPR at 5% FPR; then all files together.")
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return usageErrorf("guard eval: name at least one labelled JSONL file")
	}
	inj := guard.DefaultInjection()
	if *model != "" {
		b, err := os.ReadFile(*model)
		if err != nil {
			return fmt.Errorf("guard eval: %w", err)
		}
		if inj, err = guard.LoadInjection(b); err != nil {
			return fmt.Errorf("guard eval: %s: %w", *model, err)
		}
	}
	var sets []*guardEvalSet
	all := &guardEvalSet{File: "all"}
	for _, path := range files {
		ex, err := readLabeledFiles(path)
		if err != nil {
			return err
		}
		st := &guardEvalSet{File: path, Texts: len(ex)}
		for _, x := range ex {
			a := inj.Score(x.Text)
			st.add(x.Injection, a)
			all.add(x.Injection, a)
		}
		st.finish()
		sets = append(sets, st)
	}
	if len(sets) > 1 {
		all.finish()
		sets = append(sets, all)
	}
	if *asJSON {
		return writeJSON(e.stdout, map[string]any{"thresholds": inj.Thresholds, "sets": sets})
	}
	fmt.Fprintf(e.stdout, "thresholds: flag %.3f, block %.3f\n", inj.Thresholds.Flag, inj.Thresholds.Block)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	io.WriteString(tw, "FILE\tTEXTS\tATTACKS\tATTACKS FLAGGED\tBLOCKED\tBENIGN FLAGGED\tBLOCKED\tAUC\tTPR AT 5% FPR\n")
	opt := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.3f", *p)
	}
	for _, st := range sets {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%s\n", filepath.Base(st.File), st.Texts, st.Attacks,
			st.AttacksFlagged, st.AttacksBlocked, st.BenignFlagged, st.BenignBlocked, opt(st.AUC), opt(st.TPRAtFPR05))
	}
	return tw.Flush()
}

func (st *guardEvalSet) add(attack bool, a guard.Assessment) {
	if st.File == "all" {
		st.Texts++
	}
	hit, block := a.Action != guard.ActionAllow, a.Action == guard.ActionBlock
	st.scores = append(st.scores, a.Score)
	if attack {
		st.labels = append(st.labels, 1)
		st.Attacks++
		st.AttacksFlagged += b2f(hit)
		st.AttacksBlocked += b2f(block)
	} else {
		st.labels = append(st.labels, 0)
		st.benign++
		st.BenignFlagged += b2f(hit)
		st.BenignBlocked += b2f(block)
	}
}

func (st *guardEvalSet) finish() {
	if st.Attacks > 0 {
		st.AttacksFlagged /= float64(st.Attacks)
		st.AttacksBlocked /= float64(st.Attacks)
	}
	if st.benign > 0 {
		st.BenignFlagged /= float64(st.benign)
		st.BenignBlocked /= float64(st.benign)
	}
	if st.Attacks > 0 && st.benign > 0 {
		auc, tpr := guard.AUC(st.scores, st.labels), guard.TPRAtFPR(st.scores, st.labels, 0.05)
		st.AUC, st.TPRAtFPR05 = &auc, &tpr
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
