package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
)

// ingestReport is the output of sextant bench ingest.
type ingestReport struct {
	Corpus          string  `json:"corpus"`
	SourceMB        float64 `json:"source_mb"` // bytes read, after decompression
	Documents       int     `json:"docs"`
	Chunks          int     `json:"chunks"`
	Runs            int     `json:"runs"`
	IngestSeconds   float64 `json:"ingest_seconds"` // median over runs, into a fresh store
	IngestMBPerSec  float64 `json:"ingest_mb_per_s"`
	IngestBestMBps  float64 `json:"ingest_best_mb_per_s"`
	DocsPerSec      float64 `json:"docs_per_s"`
	CPUSeconds      float64 `json:"ingest_cpu_seconds"`    // user+system, median run
	CPUMBPerSec     float64 `json:"ingest_mb_per_cpu_s"`   // MB per CPU second: the figure load on a shared machine disturbs least
	ReingestSeconds float64 `json:"reingest_seconds"`      // second run over the same files: all unchanged
	ReingestMBps    float64 `json:"reingest_mb_per_s"`     //
	StoreBytes      int64   `json:"store_bytes"`           // database file after a checkpoint
	StoreBytesChunk float64 `json:"store_bytes_per_chunk"` // including the documents' text
	TextBytesChunk  float64 `json:"text_bytes_per_chunk"`
	ScanSeconds     float64 `json:"scan_seconds"` // Scan of every document and chunk (the index rebuild read)
	ScanChunksPerS  float64 `json:"scan_chunks_per_s"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
}

func runBenchIngest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench ingest", e.stderr)
	corpus := fs.String("corpus", "", "ingest this file or folder instead of a generated corpus (e.g. ../shared/data/beir-scifact/corpus.jsonl.gz)")
	nChunks := fs.Int("chunks", 1_000_000, "generated corpus: records (one chunk each)")
	vocab := fs.Int("vocab", 200_000, "generated corpus: vocabulary size (Zipf-distributed)")
	words := fs.Int("words", 60, "generated corpus: mean words per record")
	seed := fs.Uint64("seed", 1, "generated corpus: random seed")
	runs := fs.Int("repeat", 1, "ingest into a fresh store this many times; the median is reported")
	asJSON := fs.Bool("json", false, "print one JSON object")
	keep := fs.String("keep", "", "work in this directory and keep it (default: a temporary directory, removed)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *nChunks < 1 || *vocab < 100 || *words < 4 || *runs < 1 {
		return usageErrorf("bench ingest: want --chunks >= 1, --vocab >= 100, --words >= 4, --repeat >= 1")
	}
	progress := e.stderr
	if *asJSON {
		progress = io.Discard
	}
	dir, cleanup, err := benchDir(*keep, "ingest")
	if err != nil {
		return err
	}
	defer cleanup()
	rep := ingestReport{Corpus: *corpus, Runs: *runs}
	src := *corpus
	if src == "" {
		src = filepath.Join(dir, "corpus")
		rep.Corpus = fmt.Sprintf("generated: %d records, ~%d words each, Zipf vocabulary of %d", *nChunks, *words, *vocab)
		fmt.Fprintf(progress, "generating %d records ...\n", *nChunks)
		if _, err := newZipfText(*seed, *vocab).writeCorpus(src, *nChunks, *words); err != nil {
			return err
		}
	}

	type run struct {
		seconds, cpu float64
		sum          ingest.Summary
	}
	var results []run
	dataDir := filepath.Join(dir, "data")
	for i := range *runs {
		if err := os.RemoveAll(dataDir); err != nil {
			return err
		}
		fmt.Fprintf(progress, "ingest run %d/%d ...\n", i+1, *runs)
		st, err := openStore(ctx, dataDir)
		if err != nil {
			return err
		}
		cpu0, t := cpuSeconds(), time.Now()
		sum, err := ingest.Run(ctx, []string{src}, ingest.Options{}, st)
		r := run{time.Since(t).Seconds(), cpuSeconds() - cpu0, sum}
		if i < *runs-1 {
			st.Close()
		}
		if err != nil {
			st.Close()
			return err
		}
		if sum.Failed > 0 {
			st.Close()
			return fmt.Errorf("bench ingest: %d documents failed, first: %+v", sum.Failed, sum.Problems[0])
		}
		results = append(results, r)
		if i < *runs-1 {
			continue
		}
		defer st.Close()

		fmt.Fprintln(progress, "re-ingesting (unchanged) ...")
		t = time.Now()
		again, err := ingest.Run(ctx, []string{src}, ingest.Options{}, st)
		if err != nil {
			return err
		}
		rep.ReingestSeconds = time.Since(t).Seconds()
		if again.Unchanged != sum.Added {
			return fmt.Errorf("bench ingest: re-ingest found %d unchanged of %d", again.Unchanged, sum.Added)
		}
		rep.ReingestMBps = float64(again.Bytes) / 1e6 / rep.ReingestSeconds

		fmt.Fprintln(progress, "scanning the store ...")
		t = time.Now()
		n := 0
		if err := st.Scan(ctx, func(_ *sextant.Document, cs []sextant.Chunk) error { n += len(cs); return nil }); err != nil {
			return err
		}
		rep.ScanSeconds = time.Since(t).Seconds()
		rep.ScanChunksPerS = float64(n) / rep.ScanSeconds
		if err := st.Checkpoint(ctx); err != nil {
			return err
		}
		stats, err := st.Stats(ctx, time.Now())
		if err != nil {
			return err
		}
		rep.StoreBytes = stats.FileBytes
		rep.StoreBytesChunk = float64(stats.FileBytes) / float64(max(stats.Chunks, 1))
		rep.TextBytesChunk = float64(stats.TextBytes) / float64(max(stats.Chunks, 1))
	}
	sort.Slice(results, func(i, j int) bool { return results[i].seconds < results[j].seconds })
	med := results[len(results)/2]
	rep.SourceMB = float64(med.sum.Bytes) / 1e6
	rep.Documents, rep.Chunks = med.sum.Added, med.sum.Chunks
	rep.IngestSeconds = med.seconds
	rep.IngestMBPerSec = rep.SourceMB / med.seconds
	rep.IngestBestMBps = rep.SourceMB / results[0].seconds
	rep.DocsPerSec = float64(rep.Documents) / med.seconds
	rep.CPUSeconds = med.cpu
	rep.CPUMBPerSec = rep.SourceMB / med.cpu
	rep.PeakRSSMB = float64(maxRSSBytes()) / 1e6

	if *asJSON {
		return writeJSON(e.stdout, rep)
	}
	w := e.stdout
	fmt.Fprintf(w, "corpus: %s; %.1f MB read, %d documents, %d chunks\n", rep.Corpus, rep.SourceMB, rep.Documents, rep.Chunks)
	fmt.Fprintf(w, "ingest (median of %d, fresh store): %.2f s, %.1f MB/s (best %.1f), %.0f docs/s; %.2f CPU s = %.1f MB per CPU second\n",
		rep.Runs, rep.IngestSeconds, rep.IngestMBPerSec, rep.IngestBestMBps, rep.DocsPerSec, rep.CPUSeconds, rep.CPUMBPerSec)
	fmt.Fprintf(w, "re-ingest, all unchanged: %.2f s, %.1f MB/s\n", rep.ReingestSeconds, rep.ReingestMBps)
	fmt.Fprintf(w, "store: %.1f MB on disk, %.0f B per chunk (%.0f B of it document text)\n", float64(rep.StoreBytes)/1e6, rep.StoreBytesChunk, rep.TextBytesChunk)
	fmt.Fprintf(w, "scan (index rebuild read): %.2f s, %.0f chunks/s\n", rep.ScanSeconds, rep.ScanChunksPerS)
	fmt.Fprintf(w, "peak RSS: %.0f MB\n", rep.PeakRSSMB)
	return nil
}
