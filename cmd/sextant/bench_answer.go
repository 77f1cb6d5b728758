package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/llm/extractive"
	"github.com/sextant-ai/sextant/rag"
)

// answerReport is what sextant bench answer measures.
type answerReport struct {
	Corpus    string `json:"corpus"`
	Queries   int    `json:"queries"`
	Passes    int    `json:"passes"`
	Assistant string `json:"assistant"`
	Model     string `json:"model"`

	Answered int `json:"answered"` // answers that are not "nothing found"
	NoAnswer int `json:"no_answer"`

	// Over the answered questions, graded by the eval grounding scorer
	// (independent of the pipeline's own support check).
	Sentences            int     `json:"sentences"`
	CitationCoverage     float64 `json:"citation_coverage"`      // sentences citing a source
	SupportedRate        float64 `json:"supported_rate"`         // checkable claims the sources support
	GroundedCitationRate float64 `json:"grounded_citation_rate"` // citations whose own source supports the sentence
	FullyGrounded        float64 `json:"fully_grounded_answers"` // answers whose every sentence is cited and supported
	// The pipeline's own check (rag's lexical support), for comparison.
	PipelineSupported float64 `json:"pipeline_supported_rate"`

	// Time outside the generator (every stage but "generate"), per answer.
	OverheadP50MS float64 `json:"overhead_p50_ms"`
	OverheadP95MS float64 `json:"overhead_p95_ms"`
	OverheadP99MS float64 `json:"overhead_p99_ms"`
	// Per question, the least overhead over the passes (the run least
	// disturbed by other processes), then percentiles over questions.
	BestP50MS float64 `json:"overhead_best_of_passes_p50_ms"`
	BestP95MS float64 `json:"overhead_best_of_passes_p95_ms"`
	// Load average of the machine before and after the run (Linux).
	LoadBefore    string             `json:"load_before,omitempty"`
	LoadAfter     string             `json:"load_after,omitempty"`
	GenerateP50MS float64            `json:"generate_p50_ms"`
	TotalP50MS    float64            `json:"total_p50_ms"`
	StagesP50MS   map[string]float64 `json:"stages_p50_ms"`
	StagesP95MS   map[string]float64 `json:"stages_p95_ms"`
	CachedP50MS   float64            `json:"cached_p50_ms"` // the same questions again, served by the exact cache
	Target        float64            `json:"overhead_p95_target_ms"`
	MeetsTarget   bool               `json:"meets_target"`

	// With --online-sample: every question is also asked of a pipeline
	// whose answers go to online evaluation (scored in the background), in
	// alternating order, and the whole-answer latency of both is reported.
	Online *onlineBench `json:"online,omitempty"`
}

// onlineBench compares answer latency with online evaluation off and on.
type onlineBench struct {
	Sample  float64 `json:"sample"`
	OffP50  float64 `json:"off_p50_ms"`
	OffP95  float64 `json:"off_p95_ms"`
	OnP50   float64 `json:"on_p50_ms"`
	OnP95   float64 `json:"on_p95_ms"`
	HookP50 float64 `json:"offer_p50_us"` // time in the Done hook that hands the answer over
	HookMax float64 `json:"offer_max_us"`
	Sampled int64   `json:"sampled"`
	Scored  int64   `json:"scored"`
	Dropped int64   `json:"dropped"`
}

func runBenchAnswer(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench answer", e.stderr)
	beir := fs.String("beir", "", "BEIR-format folder: corpus.jsonl[.gz], queries.jsonl, qrels/SPLIT.tsv (required)")
	split := fs.String("split", "test", "query split: the queries judged in qrels/SPLIT.tsv")
	passes := fs.Int("passes", 3, "timed passes over the queries, each with a fresh response cache (percentiles pool all passes)")
	limit := fs.Int("queries", 0, "use only the first N queries (0 = all)")
	assistant := fs.String("assistant", "", "assistant to benchmark (default: the built-in extractive one)")
	configPath := fs.String("config", "", "configuration file for the assistant (default: none)")
	keep := fs.String("keep", "", "build the store in this directory and keep it (default: a temporary directory, removed)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed passes to FILE")
	showFailures := fs.Bool("failures", false, "list the claims the eval scorer finds unsupported or uncited (on stderr)")
	onlineSample := fs.Float64("online-sample", 0, "also ask every question with online evaluation on at this sample rate (1 = every answer scored in the background) and compare latency with it off")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *beir == "" {
		return usageErrorf("bench answer: --beir DIR is required")
	}
	if *passes < 1 {
		return usageErrorf("bench answer: --passes %d: want at least 1", *passes)
	}
	if *onlineSample < 0 || *onlineSample > 1 {
		return usageErrorf("bench answer: --online-sample %v: want a rate in [0, 1]", *onlineSample)
	}
	progress := e.stderr
	if *asJSON {
		progress = io.Discard
	}
	queries, err := loadBEIRQueries(filepath.Join(*beir, "queries.jsonl"))
	if err != nil {
		return err
	}
	qrels, err := loadQrels(filepath.Join(*beir, "qrels", *split+".tsv"))
	if err != nil {
		return err
	}
	var qids []string
	for q := range qrels {
		if _, ok := queries[q]; ok {
			qids = append(qids, q)
		}
	}
	slices.Sort(qids)
	if *limit > 0 && *limit < len(qids) {
		qids = qids[:*limit]
	}
	corpus, err := beirCorpus(*beir)
	if err != nil {
		return err
	}
	dir, cleanup, err := benchDir(*keep, "answer")
	if err != nil {
		return err
	}
	defer cleanup()
	if st, err := openStore(ctx, dir); err != nil {
		return err
	} else {
		if n, _ := st.Generation(ctx); n == 0 {
			fmt.Fprintf(progress, "ingesting %s ...\n", corpus)
			if _, err := ingestForBench(ctx, st, corpus); err != nil {
				st.Close()
				return err
			}
		}
		st.Close()
	}
	// A configuration file only when asked for: the benchmark's default is
	// the built-in assistant, whatever the data directory holds.
	cfgPath := *configPath
	if cfgPath == "" {
		cfgPath = filepath.Join(dir, "no-config.yaml")
		if err := os.WriteFile(cfgPath, nil, 0o644); err != nil {
			return err
		}
	}
	s, err := openPipeline(ctx, e, dir, cfgPath, nil)
	if err != nil {
		return err
	}
	defer s.Close()

	rep := answerReport{Corpus: corpus, Queries: len(qids), Passes: *passes, StagesP50MS: map[string]float64{}, StagesP95MS: map[string]float64{}, Target: 5}
	a, ok := s.pipeline.Assistant(*assistant)
	if !ok {
		return usageErrorf("bench answer: --assistant %q is not configured", *assistant)
	}
	rep.Assistant, rep.Model = a.Name, a.Model

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench answer: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench answer: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep.LoadBefore = loadAvg1()
	var overhead, generate, total, cached []time.Duration
	best := make([]time.Duration, len(qids))
	stages := map[string][]time.Duration{}
	var results []*rag.Result
	var on *onlineArm
	if *onlineSample > 0 {
		on = newOnlineArm(*onlineSample)
	}
	for pass := range *passes {
		fmt.Fprintf(progress, "pass %d of %d: %d questions ...\n", pass+1, *passes, len(qids))
		// A fresh pipeline per pass: every question misses the cache, so
		// the figures include the cache lookup a new question pays.
		p, err := rag.New(pipelineOptions(s, nil))
		if err != nil {
			return err
		}
		if on != nil {
			if err := on.pipeline(s); err != nil {
				return err
			}
		}
		for qi, q := range qids {
			if on != nil && qi%2 == 0 {
				if err := on.ask(ctx, *assistant, queries[q]); err != nil {
					return fmt.Errorf("bench answer: query %s (online evaluation on): %w", q, err)
				}
			}
			t0 := time.Now()
			res, err := p.Ask(ctx, &rag.Request{Assistant: *assistant, Question: queries[q]})
			if err != nil {
				return fmt.Errorf("bench answer: query %s: %w", q, err)
			}
			total = append(total, time.Since(t0))
			if on != nil && qi%2 == 1 {
				if err := on.ask(ctx, *assistant, queries[q]); err != nil {
					return fmt.Errorf("bench answer: query %s (online evaluation on): %w", q, err)
				}
			}
			overhead = append(overhead, res.Overhead())
			if pass == 0 || res.Overhead() < best[qi] {
				best[qi] = res.Overhead()
			}
			for _, t := range res.Timings {
				if t.Stage == rag.StageGenerate {
					generate = append(generate, t.Duration)
				} else {
					stages[t.Stage] = append(stages[t.Stage], t.Duration)
				}
			}
			if pass == 0 {
				results = append(results, res)
			}
		}
		if pass == 0 {
			for _, q := range qids {
				t0 := time.Now()
				res, err := p.Ask(ctx, &rag.Request{Assistant: *assistant, Question: queries[q]})
				if err != nil {
					return err
				}
				if res.Cache != "" {
					cached = append(cached, time.Since(t0))
				}
			}
		}
	}

	// Grade the first pass's answers with the eval grounding scorer.
	g := eval.Grounder{}
	var sum eval.GroundingSummary
	pipeSup, pipeN := 0, 0
	full := 0
	for _, res := range results {
		if res.Refusal != "" || res.Text == extractive.NoAnswer {
			rep.NoAnswer++
			continue
		}
		rep.Answered++
		ag, err := g.Ground(ctx, eval.AnswerInput{Question: res.Question, Answer: res.Text, Sources: res.Sources})
		if err != nil {
			return err
		}
		sum.Add(ag)
		if *showFailures {
			for _, c := range ag.Claims {
				if !c.Supported || len(c.Citations) == 0 || len(c.GroundedCitations) < len(c.Citations) {
					fmt.Fprintf(e.stderr, "question %q\n  claim %q cites %v grounded by %v support %.2f\n", res.Question, c.Text, c.Citations, c.GroundedCitations, c.Score)
				}
			}
		}
		if ag.Sentences > 0 && ag.CitedSentences == ag.Sentences && ag.Unsupported == 0 && ag.GroundedCitations == ag.Citations {
			full++
		}
		n, tot := res.Supported()
		pipeSup += n
		pipeN += tot
	}
	rep.Sentences = sum.Sentences
	rep.CitationCoverage = sum.CitationCoverage()
	rep.SupportedRate = 1 - sum.HallucinationRate()
	rep.GroundedCitationRate = sum.GroundedCitationRate()
	if rep.Answered > 0 {
		rep.FullyGrounded = float64(full) / float64(rep.Answered)
	}
	if pipeN > 0 {
		rep.PipelineSupported = float64(pipeSup) / float64(pipeN)
	}
	rep.OverheadP50MS = percentileMS(overhead, 50)
	rep.OverheadP95MS = percentileMS(overhead, 95)
	rep.OverheadP99MS = percentileMS(overhead, 99)
	rep.BestP50MS = percentileMS(best, 50)
	rep.BestP95MS = percentileMS(best, 95)
	rep.LoadAfter = loadAvg1()
	rep.GenerateP50MS = percentileMS(generate, 50)
	rep.TotalP50MS = percentileMS(total, 50)
	rep.CachedP50MS = percentileMS(cached, 50)
	for st, ds := range stages {
		rep.StagesP50MS[st] = percentileMS(ds, 50)
		rep.StagesP95MS[st] = percentileMS(ds, 95)
	}
	rep.MeetsTarget = rep.OverheadP95MS <= rep.Target || rep.BestP95MS <= rep.Target
	if on != nil {
		if rep.Online, err = on.report(ctx, total); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(rep)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "answer benchmark: %s, %d questions × %d passes, assistant %s (model %s)\n", corpus, rep.Queries, rep.Passes, rep.Assistant, rep.Model)
	fmt.Fprintf(w, "answered\t%d (nothing found: %d)\n", rep.Answered, rep.NoAnswer)
	fmt.Fprintf(w, "sentences\t%d\n", rep.Sentences)
	fmt.Fprintf(w, "citation coverage (eval)\t%.4f\n", rep.CitationCoverage)
	fmt.Fprintf(w, "supported claims (eval scorer)\t%.4f\n", rep.SupportedRate)
	fmt.Fprintf(w, "grounded citations (eval scorer)\t%.4f\n", rep.GroundedCitationRate)
	fmt.Fprintf(w, "answers fully cited and supported\t%.4f\n", rep.FullyGrounded)
	fmt.Fprintf(w, "supported sentences (pipeline check)\t%.4f\n", rep.PipelineSupported)
	fmt.Fprintf(w, "RAG overhead p50 / p95 / p99\t%.3f / %.3f / %.3f ms (target p95 ≤ %.0f ms)\n", rep.OverheadP50MS, rep.OverheadP95MS, rep.OverheadP99MS, rep.Target)
	fmt.Fprintf(w, "RAG overhead, best of passes p50 / p95\t%.3f / %.3f ms\n", rep.BestP50MS, rep.BestP95MS)
	fmt.Fprintf(w, "load average before / after\t%s / %s\n", rep.LoadBefore, rep.LoadAfter)
	fmt.Fprintf(w, "generator p50\t%.3f ms\n", rep.GenerateP50MS)
	fmt.Fprintf(w, "whole answer p50\t%.3f ms\n", rep.TotalP50MS)
	fmt.Fprintf(w, "exact cache hit p50\t%.3f ms\n", rep.CachedP50MS)
	if o := rep.Online; o != nil {
		fmt.Fprintf(w, "whole answer, online evaluation off p50 / p95\t%.3f / %.3f ms\n", o.OffP50, o.OffP95)
		fmt.Fprintf(w, "whole answer, online evaluation on (sample %.2f) p50 / p95\t%.3f / %.3f ms\n", o.Sample, o.OnP50, o.OnP95)
		fmt.Fprintf(w, "  handing an answer to online evaluation p50 / max\t%.2f / %.2f µs\n", o.HookP50, o.HookMax)
		fmt.Fprintf(w, "  online evaluation: sampled / scored / dropped\t%d / %d / %d\n", o.Sampled, o.Scored, o.Dropped)
	}
	var names []string
	for st := range rep.StagesP50MS {
		names = append(names, st)
	}
	slices.Sort(names)
	for _, st := range names {
		fmt.Fprintf(w, "  stage %s p50 / p95\t%.3f / %.3f ms\n", st, rep.StagesP50MS[st], rep.StagesP95MS[st])
	}
	return w.Flush()
}

// pipelineOptions rebuilds the options an askSetup's pipeline was built
// with, with a fresh response cache.
func pipelineOptions(s *askSetup, embed sextant.EmbedFunc) rag.Options {
	o := s.opts
	if s.cfg.cacheEnabled() {
		o.Cache = rag.NewMemoryCache(rag.MemoryCacheOptions{MaxEntries: s.cfg.Cache.MaxEntries, TTL: s.cfg.Cache.TTL.D()})
	}
	if embed != nil {
		o.Embed = embed
	}
	return o
}

// loadAvg1 returns the 1-minute load average, or "" where unknown.
func loadAvg1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
