package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/sextant-ai/sextant/guard"
)

// guardBenchReport is the `sextant bench guard --json` object.
type guardBenchReport struct {
	Injection struct {
		Precision  float64 `json:"precision"`
		Recall     float64 `json:"recall"`
		F1         float64 `json:"f1"`
		TPRAtFPR05 float64 `json:"tpr_at_fpr_05"`
		AUC        float64 `json:"auc"`
	} `json:"injection"`
	PII struct {
		Micro struct {
			Precision float64 `json:"precision"`
			Recall    float64 `json:"recall"`
			F1        float64 `json:"f1"`
		} `json:"micro"`
		PerType map[string]guard.PRF `json:"per_type"`
	} `json:"pii"`
	ScanP95US2KB float64 `json:"scan_p95_us_2kb"`
}

func runBenchGuard(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench guard", e.stderr)
	injDir := fs.String("injection", "", "labelled injection folder with test.jsonl (deepset layout)")
	piiDir := fs.String("pii", "", "folder with the Presidio synth_dataset_v2.json")
	asJSON := fs.Bool("json", false, "print one JSON object")
	match := fs.String("match", guard.MatchOverlap, "PII span matching: overlap (same type, spans overlap) or exact")
	iters := fs.Int("iters", 2000, "timed scans of 2 KB prompts for the latency figure")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: sextant bench guard --injection DIR --pii DIR [--json] [--match overlap|exact] [--iters N]")
		fs.PrintDefaults()
	}
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *injDir == "" || *piiDir == "" {
		fs.Usage()
		return usageErrorf("bench guard: --injection and --pii are required")
	}
	if *match != guard.MatchOverlap && *match != guard.MatchExact {
		return usageErrorf("bench guard: --match must be overlap or exact, got %q", *match)
	}
	var rep guardBenchReport

	// Injection: the embedded scorer on the test split.
	testPath := filepath.Join(*injDir, "test.jsonl")
	f, err := os.Open(testPath)
	if err != nil {
		return fmt.Errorf("bench guard: %w", err)
	}
	tests, err := guard.ReadLabeled(f, testPath)
	f.Close()
	if err != nil {
		return fmt.Errorf("bench guard: %w", err)
	}
	inj := guard.DefaultInjection()
	scores, labels := make([]float64, len(tests)), make([]float64, len(tests))
	var tp, fp, fn float64
	for i, t := range tests {
		a := inj.Score(t.Text)
		scores[i] = a.Score
		hit := a.Action != guard.ActionAllow
		if t.Injection {
			labels[i] = 1
		}
		switch {
		case hit && t.Injection:
			tp++
		case hit:
			fp++
		case t.Injection:
			fn++
		}
	}
	if tp+fp > 0 {
		rep.Injection.Precision = tp / (tp + fp)
	}
	if tp+fn > 0 {
		rep.Injection.Recall = tp / (tp + fn)
	}
	if p, r := rep.Injection.Precision, rep.Injection.Recall; p+r > 0 {
		rep.Injection.F1 = 2 * p * r / (p + r)
	}
	rep.Injection.TPRAtFPR05 = guard.TPRAtFPR(scores, labels, 0.05)
	rep.Injection.AUC = guard.AUC(scores, labels)

	// PII: Presidio synthetic data, character offsets converted to bytes.
	piiPath := filepath.Join(*piiDir, "synth_dataset_v2.json")
	data, err := os.ReadFile(piiPath)
	if err != nil {
		return fmt.Errorf("bench guard: %w", err)
	}
	examples, err := guard.ParsePresidio(data)
	if err != nil {
		return fmt.Errorf("bench guard: %s: %w", piiPath, err)
	}
	scanner := guard.New(guard.Options{})
	types := []guard.Type{guard.Email, guard.Phone, guard.CreditCard, guard.IBAN, guard.SSN, guard.IPAddress,
		guard.Person, guard.StreetAddress, guard.DateOfBirth}
	pii := guard.ScorePII(scanner, examples, types, *match)
	rep.PII.Micro.Precision, rep.PII.Micro.Recall, rep.PII.Micro.F1 = pii.Micro.Precision, pii.Micro.Recall, pii.Micro.F1
	rep.PII.PerType = map[string]guard.PRF{}
	for t, p := range pii.PerType {
		rep.PII.PerType[string(t)] = *p
	}
	structured := guard.ScorePII(scanner, examples, types[:6], *match)
	// Held-out halves: rules are tuned looking at the even-numbered
	// records (0, 2, 4, ...); the odd-numbered ones are the check.
	var even, odd []guard.Example
	for i, ex := range examples {
		if i%2 == 0 {
			even = append(even, ex)
		} else {
			odd = append(odd, ex)
		}
	}
	halves := [2]guard.PIIScore{guard.ScorePII(scanner, even, types, *match), guard.ScorePII(scanner, odd, types, *match)}
	coverage := guard.Coverage(scanner, examples, types[6:8])
	allDates := guard.ScorePII(scanner, guard.AllDatesAsBirth(examples), []guard.Type{guard.DateOfBirth}, *match).PerType[guard.DateOfBirth]
	other := map[string]guard.PIIScore{}
	if !*asJSON {
		alt := guard.MatchExact
		if *match == guard.MatchExact {
			alt = guard.MatchOverlap
		}
		other[alt] = guard.ScorePII(scanner, examples, types, alt)
	}

	// Latency: PII scan plus injection score of 2 KB prompts on one core.
	prompts := twoKBPrompts(tests, examples)
	lat, err := timeScans(ctx, scanner, inj, prompts, *iters)
	if err != nil {
		return err
	}
	rep.ScanP95US2KB = lat.p95

	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(rep)
	}
	w := e.stdout
	fmt.Fprintf(w, "injection (%s, %d prompts, embedded model, thresholds flag %.3f block %.3f):\n", testPath, len(tests), inj.Thresholds.Flag, inj.Thresholds.Block)
	fmt.Fprintf(w, "  at the flag threshold: precision %.3f recall %.3f F1 %.3f\n", rep.Injection.Precision, rep.Injection.Recall, rep.Injection.F1)
	fmt.Fprintf(w, "  threshold-free: TPR at 5%% FPR %.3f, AUC %.3f\n", rep.Injection.TPRAtFPR05, rep.Injection.AUC)
	printPII := func(label string, s guard.PIIScore) {
		fmt.Fprintf(w, "PII (%s, %d texts, %s matching):\n", piiPath, len(examples), label)
		fmt.Fprintf(w, "  %-14s %9s %9s %9s %8s\n", "type", "precision", "recall", "F1", "support")
		for _, t := range types {
			p := s.PerType[t]
			fmt.Fprintf(w, "  %-14s %9.3f %9.3f %9.3f %8d\n", t, p.Precision, p.Recall, p.F1, p.Support)
		}
		fmt.Fprintf(w, "  %-14s %9.3f %9.3f %9.3f %8d\n", "micro", s.Micro.Precision, s.Micro.Recall, s.Micro.F1, s.Micro.Support)
	}
	printPII(*match, pii)
	fmt.Fprintf(w, "  structured types (email, phone, card, IBAN, SSN, IP) micro: precision %.3f recall %.3f F1 %.3f\n",
		structured.Micro.Precision, structured.Micro.Recall, structured.Micro.F1)
	fmt.Fprintf(w, "  DATE_OF_BIRTH is scored against the dates the texts call birth dates; against every labelled date (DATE_TIME): precision %.3f recall %.3f F1 %.3f support %d\n",
		allDates.Precision, allDates.Recall, allDates.F1, allDates.Support)
	fmt.Fprintf(w, "  labelled spans overlapped by a finding of their type, one finding may cover several (what redaction hides): PERSON %.3f, ADDRESS %.3f\n",
		coverage[guard.Person], coverage[guard.StreetAddress])
	fmt.Fprintf(w, "  halves (%s matching; rules were written looking at even-numbered records only, odd-numbered ones held out):\n", *match)
	fmt.Fprintf(w, "  %-14s %9s %9s %9s %9s\n", "type", "F1 even", "F1 odd", "R even", "R odd")
	for _, t := range types {
		e, o := halves[0].PerType[t], halves[1].PerType[t]
		fmt.Fprintf(w, "  %-14s %9.3f %9.3f %9.3f %9.3f\n", t, e.F1, o.F1, e.Recall, o.Recall)
	}
	for label, s := range other {
		printPII(label, s)
	}
	clock := "wall time"
	if lat.cpu {
		clock = "thread CPU time"
	}
	fmt.Fprintf(w, "scan cost, 2 KB prompts, all detectors + injection score, one core, %d scans (%s): p50 %.0f µs, p95 %.0f µs, p99 %.0f µs; wall-clock p95 %.0f µs\n",
		lat.n, clock, lat.p50, lat.p95, lat.p99, lat.wall95)
	return nil
}

// twoKBPrompts builds 2,048-byte prompts by concatenating labelled texts
// (injection prompts and PII samples), so the timed text has the mix of
// findings the detectors see in practice.
func twoKBPrompts(tests []guard.LabeledText, pii []guard.Example) []string {
	var pool []string
	for i := 0; i < max(len(tests), len(pii)); i++ {
		if i < len(pii) {
			pool = append(pool, pii[i].Text)
		}
		if i < len(tests) {
			pool = append(pool, tests[i].Text)
		}
	}
	var out []string
	k := 0
	for len(out) < 200 && len(pool) > 0 {
		var b []byte
		for len(b) < 2048 {
			b = append(b, pool[k%len(pool)]...)
			b = append(b, '\n')
			k++
		}
		// Cut at a UTF-8 boundary at or below 2,048 bytes.
		n := 2048
		for n > 0 && b[n]&0xC0 == 0x80 {
			n--
		}
		out = append(out, string(b[:n]))
	}
	return out
}

type latency struct {
	n             int
	cpu           bool    // percentiles are thread CPU time, not wall time
	p50, p95, p99 float64 // microseconds
	wall95        float64 // wall-clock p95, microseconds
}

// timeScans times Scan + Score of each prompt on one core. On Linux the
// figure is the CPU time of the scanning thread, so the result is the work
// a scan adds, not the time spent waiting for a CPU on a shared machine;
// the wall-clock p95 is reported beside it.
func timeScans(ctx context.Context, s *guard.Scanner, inj *guard.Injection, prompts []string, iters int) (latency, error) {
	if len(prompts) == 0 || iters <= 0 {
		return latency{}, nil
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, p := range prompts { // warm up
		s.Scan(p)
		inj.Score(p)
	}
	_, useCPU := threadCPU()
	ds := make([]float64, 0, iters)
	ws := make([]float64, 0, iters)
	for i := 0; i < iters; i++ {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return latency{}, err
			}
		}
		p := prompts[i%len(prompts)]
		c0, _ := threadCPU()
		t0 := time.Now()
		s.Scan(p)
		inj.Score(p)
		w := float64(time.Since(t0).Nanoseconds()) / 1e3
		c1, _ := threadCPU()
		ws = append(ws, w)
		if useCPU {
			ds = append(ds, float64(c1-c0)/1e3)
		} else {
			ds = append(ds, w)
		}
	}
	slices.Sort(ds)
	slices.Sort(ws)
	q := func(xs []float64, f float64) float64 { return xs[min(len(xs)-1, int(f*float64(len(xs))))] }
	return latency{n: len(ds), cpu: useCPU, p50: q(ds, 0.5), p95: q(ds, 0.95), p99: q(ds, 0.99), wall95: q(ws, 0.95)}, nil
}
