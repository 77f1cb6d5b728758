package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/search"
)

// scaleReport is the output of sextant bench scale.
type scaleReport struct {
	Chunks             int     `json:"chunks"`
	Documents          int     `json:"docs"`
	Vocabulary         int     `json:"vocabulary"`
	CorpusMB           float64 `json:"corpus_mb"`
	GenerateSeconds    float64 `json:"generate_seconds"`
	IngestSeconds      float64 `json:"ingest_seconds"`
	IngestMBPerSec     float64 `json:"ingest_mb_per_s"`
	IndexBuildSeconds  float64 `json:"index_build_seconds"`
	IndexChunksPerSec  float64 `json:"index_chunks_per_s"`
	Terms              int     `json:"terms"`
	IndexBytesPerChunk float64 `json:"index_bytes_per_chunk"`    // postings, block metadata, lengths, dictionary
	SnapshotBytesChunk float64 `json:"snapshot_bytes_per_chunk"` // the whole search snapshot on disk
	HeapBytesPerChunk  float64 `json:"heap_bytes_per_chunk"`     // live Go heap after build (index + metadata), per chunk
	PeakRSSMB          float64 `json:"peak_rss_mb"`
	Queries            int     `json:"queries"`
	P50MS              float64 `json:"query_p50_ms"`
	P95MS              float64 `json:"query_p95_ms"`
	P99MS              float64 `json:"query_p99_ms"`
	SearchP50MS        float64 `json:"search_k10_p50_ms"` // hydrated Search (store read, snippets)
	SearchP95MS        float64 `json:"search_k10_p95_ms"`
}

func runBenchScale(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench scale", e.stderr)
	nChunks := fs.Int("chunks", 1_000_000, "chunks to generate (one per record)")
	vocab := fs.Int("vocab", 200_000, "vocabulary size (Zipf-distributed word frequencies)")
	words := fs.Int("words", 60, "mean words per chunk")
	nq := fs.Int("queries", 1000, "top-10 queries to time")
	seed := fs.Uint64("seed", 1, "random seed")
	asJSON := fs.Bool("json", false, "print one JSON object")
	keep := fs.String("keep", "", "work in this directory and keep it (default: a temporary directory, removed)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *nChunks < 1 || *vocab < 100 || *words < 4 || *nq < 1 {
		return usageErrorf("bench scale: want --chunks >= 1, --vocab >= 100, --words >= 4, --queries >= 1")
	}
	progress := e.stderr
	if *asJSON {
		progress = io.Discard
	}
	dir, cleanup, err := benchDir(*keep, "scale")
	if err != nil {
		return err
	}
	defer cleanup()
	rep := scaleReport{Vocabulary: *vocab}

	fmt.Fprintf(progress, "generating %d chunks (Zipf vocabulary of %d words) ...\n", *nChunks, *vocab)
	t := time.Now()
	gen := newZipfText(*seed, *vocab)
	corpusDir := filepath.Join(dir, "corpus")
	bytes, err := gen.writeCorpus(corpusDir, *nChunks, *words)
	if err != nil {
		return err
	}
	rep.GenerateSeconds = time.Since(t).Seconds()
	rep.CorpusMB = float64(bytes) / 1e6

	fmt.Fprintf(progress, "ingesting %.0f MB ...\n", rep.CorpusMB)
	dataDir := filepath.Join(dir, "data")
	st, err := openStore(ctx, dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	t = time.Now()
	if _, err := ingestForBench(ctx, st, corpusDir); err != nil {
		return err
	}
	rep.IngestSeconds = time.Since(t).Seconds()
	rep.IngestMBPerSec = rep.CorpusMB / rep.IngestSeconds

	fmt.Fprintln(progress, "building the index from the store ...")
	t = time.Now()
	ix, err := search.Open(ctx, st, search.Options{Dir: dataDir})
	if err != nil {
		return err
	}
	rep.IndexBuildSeconds = time.Since(t).Seconds()
	stats := ix.Stats()
	rep.Chunks, rep.Documents, rep.Terms = stats.Chunks, stats.Documents, stats.Terms
	rep.IndexChunksPerSec = float64(stats.Chunks) / rep.IndexBuildSeconds
	rep.IndexBytesPerChunk = float64(stats.IndexBytes) / float64(stats.Chunks)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapBytesPerChunk = float64(ms.HeapAlloc) / float64(stats.Chunks)
	if err := ix.SaveSnapshot(); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Join(dataDir, search.SnapshotFile)); err == nil {
		rep.SnapshotBytesChunk = float64(fi.Size()) / float64(stats.Chunks)
	}

	fmt.Fprintf(progress, "timing %d top-10 queries on one core ...\n", *nq)
	queries := gen.queries(*nq)
	var lat, hyd []time.Duration
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for pass := range 2 { // pass 0 warms up
		for i, q := range queries {
			start := time.Now()
			if _, err := ix.Rank(ctx, sextant.Query{Text: q, K: 10, Mode: sextant.ModeLexical}); err != nil {
				return err
			}
			if pass == 1 {
				lat = append(lat, time.Since(start))
			}
			if pass == 1 && i%4 == 0 {
				start = time.Now()
				if _, err := ix.Search(ctx, sextant.Query{Text: q, K: 10, Mode: sextant.ModeLexical}); err != nil {
					return err
				}
				hyd = append(hyd, time.Since(start))
			}
		}
	}
	rep.Queries = len(lat)
	rep.P50MS, rep.P95MS, rep.P99MS = percentileMS(lat, 50), percentileMS(lat, 95), percentileMS(lat, 99)
	rep.SearchP50MS, rep.SearchP95MS = percentileMS(hyd, 50), percentileMS(hyd, 95)
	rep.PeakRSSMB = float64(maxRSSBytes()) / 1e6

	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(rep)
	}
	w := e.stdout
	fmt.Fprintf(w, "corpus: %d chunks in %d documents, %.0f MB, vocabulary %d (Zipf), %d distinct terms indexed\n",
		rep.Chunks, rep.Documents, rep.CorpusMB, rep.Vocabulary, rep.Terms)
	fmt.Fprintf(w, "ingest: %.1f s, %.1f MB/s (through ingest.Run into SQLite)\n", rep.IngestSeconds, rep.IngestMBPerSec)
	fmt.Fprintf(w, "index:  %.1f s from the store (%.0f chunks/s); %.0f B/chunk inverted index, %.0f B/chunk snapshot, %.0f B/chunk live heap\n",
		rep.IndexBuildSeconds, rep.IndexChunksPerSec, rep.IndexBytesPerChunk, rep.SnapshotBytesChunk, rep.HeapBytesPerChunk)
	fmt.Fprintf(w, "top-10 queries (1 core, %d): p50 %.3f ms, p95 %.3f ms, p99 %.3f ms; hydrated search p50 %.3f ms, p95 %.3f ms\n",
		rep.Queries, rep.P50MS, rep.P95MS, rep.P99MS, rep.SearchP50MS, rep.SearchP95MS)
	fmt.Fprintf(w, "peak RSS: %.0f MB\n", rep.PeakRSSMB)
	return nil
}

// zipfText generates words, chunks and queries from a Zipf-distributed
// vocabulary of pseudo-words.
type zipfText struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	words []string
}

func newZipfText(seed uint64, vocab int) *zipfText {
	rng := rand.New(rand.NewPCG(seed, 0x5e7a47))
	stop := map[string]bool{}
	for _, w := range search.EnglishStopWords {
		stop[w] = true
	}
	const consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
	seen := map[string]bool{}
	words := make([]string, 0, vocab)
	for len(words) < vocab {
		n := 2 + rng.IntN(3) // syllables
		b := make([]byte, 0, 2*n+1)
		for range n {
			b = append(b, consonants[rng.IntN(len(consonants))], vowels[rng.IntN(len(vowels))])
		}
		if rng.IntN(2) == 0 {
			b = append(b, consonants[rng.IntN(len(consonants))])
		}
		w := string(b)
		if !seen[w] && !stop[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return &zipfText{rng: rng, zipf: rand.NewZipf(rng, 1.07, 2, uint64(vocab-1)), words: words}
}

func (z *zipfText) word() string { return z.words[z.zipf.Uint64()] }

// writeCorpus writes n JSONL records (id, title, text) over 16 files and
// returns the bytes written.
func (z *zipfText) writeCorpus(dir string, n, meanWords int) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	const files = 16
	var total int64
	per := (n + files - 1) / files
	for f := 0; f < files && f*per < n; f++ {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("part-%02d.jsonl", f)))
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		var line []byte
		for i := f * per; i < min(n, (f+1)*per); i++ {
			line = append(line[:0], `{"_id":"c`...)
			line = strconv.AppendInt(line, int64(i), 10)
			line = append(line, `","title":"`...)
			for j := range 3 + z.rng.IntN(5) {
				if j > 0 {
					line = append(line, ' ')
				}
				line = append(line, z.word()...)
			}
			line = append(line, `","text":"`...)
			nw := meanWords/2 + z.rng.IntN(meanWords+1)
			for j := range nw {
				if j > 0 {
					if j%12 == 0 {
						line = append(line, ". "...)
					} else {
						line = append(line, ' ')
					}
				}
				line = append(line, z.word()...)
			}
			line = append(line, ".\"}\n"...)
			if _, err := w.Write(line); err != nil {
				fh.Close()
				return 0, err
			}
			total += int64(len(line))
		}
		if err := w.Flush(); err != nil {
			fh.Close()
			return 0, err
		}
		if err := fh.Close(); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// queries returns n queries of 2 to 6 words drawn from the same Zipf
// distribution as the text, so common words appear in queries as often as
// in documents.
func (z *zipfText) queries(n int) []string {
	out := make([]string, n)
	for i := range out {
		var b []byte
		for j := range 2 + z.rng.IntN(5) {
			if j > 0 {
				b = append(b, ' ')
			}
			b = append(b, z.word()...)
		}
		out[i] = string(b)
	}
	return out
}
