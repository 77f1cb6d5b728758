package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

// benchKinds lists the `sextant bench KIND` benchmarks. Add a benchmark with
// one line here and its own cmd/sextant/bench_<kind>.go file.
func benchKinds() []command {
	return []command{
		{"retrieval", "lexical search quality (nDCG, recall, MRR, MAP) and latency on a BEIR folder, SQLite FTS5 side by side", runBenchRetrieval},
		{"scale", "generated Zipf corpus (1M chunks): ingest MB/s, index size, top-10 latency, peak memory", runBenchScale},
		{"ingest", "ingestion throughput (generated 1M-record corpus or --corpus PATH): MB/s, CPU, re-ingest, store bytes/chunk", runBenchIngest},
		{"ann", "vector index: recall, QPS, latency, memory (and hnswlib side by side)", runBenchANN},
		{"churn", "churn model: cross-validated AUC, log-loss, calibration, training time, scoring rows/s", runBenchChurn},
		{"grounding", "groundedness scorer on labelled answers: AUC, precision/recall/F1 for unsupported answers, latency", runBenchGrounding},
		{"answer", "answer pipeline on a BEIR folder: citation coverage, supported rate (eval scorer), RAG overhead p50/p95", runBenchAnswer},
		{"gateway", "gateway overhead against a local fake upstream (p50/p99 added, requests/s) and RAG overhead over HTTP on SciFact", runBenchGateway},
		{"guard", "guardrails: injection precision/recall/TPR@5%FPR/AUC, PII F1 per type, 2 KB scan latency", runBenchGuard},
		{"audit", "audit log: durable append records/s (group commit), verify records/s (target 1M in 10 s), export MB/s", runBenchAudit},
	}
}

func runBench(ctx context.Context, e *env, args []string) error {
	if wantsHelp(args) {
		printBenchUsage(e.stdout)
		if len(args) == 0 {
			return usageErrorf("bench: name a benchmark")
		}
		return nil
	}
	for _, k := range benchKinds() {
		if k.name == args[0] {
			return k.run(ctx, e, args[1:])
		}
	}
	printBenchUsage(e.stderr)
	return usageErrorf("bench: unknown benchmark %q", args[0])
}

func printBenchUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: sextant bench KIND [FLAGS]   (sextant bench KIND -h for its flags)")
	fmt.Fprintln(w, "\nBenchmarks:")
	for _, k := range benchKinds() {
		fmt.Fprintf(w, "  %-10s %s\n", k.name, k.summary)
	}
}

// benchDir returns the directory a benchmark works in: keep when it is
// set (left in place), otherwise a new temporary directory that cleanup
// removes. cleanup is never nil.
func benchDir(keep, kind string) (dir string, cleanup func(), err error) {
	if keep != "" {
		return keep, func() {}, nil
	}
	if dir, err = os.MkdirTemp("", "sextant-bench-"+kind+"-"); err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
