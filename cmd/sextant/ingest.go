package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
	"golang.org/x/term"
)

const ingestUsage = `Usage: sextant ingest PATH... [flags]

Ingest files and folders (recursively) into the store: .txt, .md, .html,
.pdf, .json, .jsonl and .csv, optionally gzip-compressed (.jsonl.gz).
Unchanged documents are skipped by content hash; changed ones are replaced
atomically. Bad files are reported and skipped; the run goes on.

Exit status: 0 when the run completed, even if some files or records
failed (they are listed); 1 with --strict when anything failed, or on an
error that stopped the run; 2 for a command-line mistake.

Flags:
`

func runIngest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("ingest", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), ingestUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	tenant := fs.String("tenant", "", "tenant the documents belong to: only keys of that tenant find them (default: the default tenant)")
	collection := fs.String("collection", "", "collection to ingest into (default \"default\")")
	var meta multiFlag
	fs.Var(&meta, "meta", "metadata key=value added to every document (repeatable)")
	labels := fs.String("labels", "", "comma-separated access labels of every document")
	ttl := fs.String("ttl", "", "documents go stale this long after their last change, e.g. 720h or 30d")
	prune := fs.Bool("prune", false, "delete documents under the given paths whose source is gone")
	force := fs.Bool("force", false, "re-extract and re-chunk even unchanged documents (after changing chunk flags)")
	strict := fs.Bool("strict", false, "exit 1 when any file or record failed")
	chunkTokens := fs.Int("chunk-tokens", ingest.DefaultChunkTokens, "token budget of one chunk")
	chunkOverlap := fs.Int("chunk-overlap", ingest.DefaultChunkOverlap, "tokens of whole sentences repeated between consecutive chunks (0 = none)")
	idField := fs.String("id-field", "", "record id field/column, or a comma-separated list tried in order (default _id,id)")
	titleField := fs.String("title-field", "", "record title field/column(s) (default title)")
	textField := fs.String("text-field", "", "record text field(s), joined as paragraphs (default text)")
	csvText := fs.String("csv-text-cols", "", "CSV text columns, joined as paragraphs (default: --text-field)")
	maxBytes := fs.String("max-bytes", "64MiB", "largest document: a whole file, or one record of a JSON/JSONL/CSV file")
	workers := fs.Int("workers", 0, "files extracted at once (default: the number of CPUs)")
	batchChunks := fs.Int("batch-chunks", 4096, "chunks per store transaction (each document stays atomic)")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	quiet := fs.Bool("quiet", false, "no progress output")
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG); its embedder: embeds new and changed chunks")
	noEmbed := fs.Bool("no-embed", false, "do not embed chunks even with an embedder configured (run sextant reembed later)")
	paths, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		fs.Usage()
		return usageErrorf("ingest: name at least one file or folder")
	}
	metadata, err := keyValues("meta", meta)
	if err != nil {
		return err
	}
	opts := ingest.Options{
		Tenant:     *tenant,
		Collection: *collection,
		Metadata:   metadata,
		Labels:     splitList(*labels),
		Prune:      *prune,
		Force:      *force,
		Chunk:      ingest.ChunkOptions{Tokens: *chunkTokens, Overlap: *chunkOverlap},
		Fields: ingest.RecordFields{
			ID: splitList(*idField), Title: splitList(*titleField), Text: splitList(*textField), CSVText: splitList(*csvText),
		},
		Workers:     *workers,
		BatchChunks: *batchChunks,
	}
	if *workers < 0 || *batchChunks < 1 {
		return usageErrorf("ingest: --workers must not be negative and --batch-chunks must be positive")
	}
	if *chunkOverlap == 0 {
		opts.Chunk.Overlap = -1
	}
	if *chunkOverlap < 0 {
		return usageErrorf("ingest: --chunk-overlap must not be negative")
	}
	if err := opts.Chunk.Validate(); err != nil {
		return usageErrorf("ingest: %v", err)
	}
	if *ttl != "" {
		if opts.TTL, err = parseTTL(*ttl); err != nil {
			return usageErrorf("ingest: --ttl %q: %v", *ttl, err)
		}
	}
	if opts.MaxBytes, err = parseBytes(*maxBytes); err != nil {
		return usageErrorf("ingest: --max-bytes %q: %v", *maxBytes, err)
	}
	if !*quiet {
		opts.Progress = newProgressPrinter(e.stderr)
	}

	cfg, err := loadConfig(*configPath, *dataDir, e.getenv)
	if err != nil {
		return err
	}
	if err := cfg.ingestPII(&opts, e.getenv); err != nil { // guard.collections (guardrails.go)
		return err
	}
	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	var emb *embedding
	if !*noEmbed && cfg.Embedder.Model != "" {
		model, err := cfg.models(e.getenv)
		if err != nil {
			return err
		}
		if emb, err = cfg.embedderFor(model, e.getenv, st, sextant.EmbeddingSpace{}); err != nil {
			return err
		}
		// Refuse before ingesting anything when the store's vectors are
		// of another model: changing it is `sextant reembed`.
		if _, err := st.ClaimSpace(ctx, emb.space); err != nil {
			return err
		}
	}
	if !*quiet && !*asJSON {
		if emb == nil {
			fmt.Fprintln(e.stderr, "ingest: lexical only: no embedder configured, chunks are not embedded")
		} else {
			fmt.Fprintf(e.stderr, "ingest: new and changed chunks are embedded with %s\n", emb.space)
		}
	}
	sum, runErr := ingest.Run(ctx, paths, opts, st)
	var esum *ingest.EmbedSummary
	var embedErr error
	if emb != nil && runErr == nil {
		var w io.Writer
		if !*quiet {
			w = e.stderr
		}
		es, err := embedPending(ctx, st, emb, w)
		esum, embedErr = &es, err
	}
	gen, _ := st.Generation(ctx)
	if *asJSON {
		if err := writeIngestJSON(e.stdout, *dataDir, opts.Collection, gen, sum, esum, embedStats(emb), embedErr); err != nil {
			return err
		}
	} else {
		writeIngestSummary(e.stdout, *dataDir, opts.Collection, sum)
		writeEmbedSummary(e.stdout, emb, esum, embedErr)
	}
	if runErr != nil {
		return runErr
	}
	if embedErr != nil {
		return fmt.Errorf("ingest: documents stored, but embedding stopped (run sextant reembed to finish): %w", embedErr)
	}
	if *strict && sum.Failed > 0 {
		return fmt.Errorf("ingest: %d files or records failed (--strict)", sum.Failed)
	}
	return nil
}

// parseTTL parses a Go duration, also accepting whole days ("30d").
func parseTTL(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("want a positive number of days or a duration like 720h")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive duration like 720h or 30d")
	}
	return d, nil
}

// parseBytes parses a size: a number of bytes with an optional unit (KB,
// MB, GB in powers of 1000; KiB, MiB, GiB in powers of 1024).
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a positive size such as 1048576, 64MiB or 10MB")
	}
	return n * mult, nil
}

// newProgressPrinter renders progress: a redrawn bar when w is a terminal,
// else a plain line every few seconds.
func newProgressPrinter(w io.Writer) func(ingest.Progress) {
	f, ok := w.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	start := time.Now()
	var lastLine time.Time
	return func(p ingest.Progress) {
		el := time.Since(start).Seconds()
		rate := 0.0
		if el > 0 {
			rate = float64(p.BytesDone) / 1e6 / el
		}
		counts := fmt.Sprintf("added %d, updated %d, unchanged %d, skipped %d, failed %d",
			p.Added, p.Updated, p.Unchanged, p.Skipped, p.Failed)
		if tty {
			if p.Done {
				fmt.Fprint(w, "\r\033[K")
				return
			}
			frac := 0.0
			if p.BytesTotal > 0 {
				frac = min(1, float64(p.BytesDone)/float64(p.BytesTotal))
			}
			const width = 24
			n := int(frac * width)
			bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
			line := fmt.Sprintf("[%s] %3.0f%% %d/%d files %.1f MB/s %s", bar, frac*100, p.FilesDone, p.FilesTotal, rate, counts)
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 10 && len(line) > cols-1 {
				line = line[:cols-1]
			}
			fmt.Fprint(w, "\r\033[K"+line)
			return
		}
		if p.Done || time.Since(lastLine) < 5*time.Second {
			return
		}
		lastLine = time.Now()
		fmt.Fprintf(w, "ingest: %d/%d files, %.1f MB, %.1f MB/s; %s\n", p.FilesDone, p.FilesTotal, float64(p.BytesDone)/1e6, rate, counts)
	}
}

func mbPerSec(sum ingest.Summary) float64 {
	if sum.Duration <= 0 {
		return 0
	}
	return float64(sum.Bytes) / 1e6 / sum.Duration.Seconds()
}

// displayPath shows a path relative to the working directory when it is
// under it.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

func writeIngestSummary(w io.Writer, dataDir, collection string, sum ingest.Summary) {
	if collection == "" {
		collection = "default"
	}
	fmt.Fprintf(w, "Ingested %d files (%.1f MB) in %.2fs (%.1f MB/s) into %s, collection %q\n",
		sum.Files, float64(sum.Bytes)/1e6, sum.Duration.Seconds(), mbPerSec(sum), dataDir, collection)
	fmt.Fprintf(w, "  added %d, updated %d, unchanged %d, deleted %d, skipped %d, failed %d; %d chunks written\n",
		sum.Added, sum.Updated, sum.Unchanged, sum.Deleted, sum.Skipped, sum.Failed, sum.Chunks)
	if len(sum.Problems) == 0 {
		return
	}
	fmt.Fprintln(w, "Problems:")
	for _, p := range sum.Problems {
		where := displayPath(p.Path)
		if p.Record != "" {
			where += " " + p.Record
		}
		fmt.Fprintf(w, "  %-8s %s: %s\n", p.Kind, where, p.Reason)
	}
	if sum.Omitted > 0 {
		fmt.Fprintf(w, "  ... and %d more (at most 20 per file are listed)\n", sum.Omitted)
	}
}

// writeEmbedSummary prints what embedding did after an ingest.
func writeEmbedSummary(w io.Writer, emb *embedding, es *ingest.EmbedSummary, err error) {
	if emb == nil {
		fmt.Fprintln(w, "  lexical only: no embedder configured (chunks not embedded)")
		return
	}
	if es == nil {
		return
	}
	s := emb.emb.Stats()
	fmt.Fprintf(w, "  embedded %d chunks with %s in %.2fs (cache hits %d, misses %d; %d requests, %d tokens)\n",
		es.Embedded, emb.space, es.Duration.Seconds(), s.CacheHits, s.CacheMisses, s.Requests, s.Tokens)
	if err != nil {
		fmt.Fprintf(w, "  embedding stopped: %v\n", err)
	}
}

func writeIngestJSON(w io.Writer, dataDir, collection string, gen int64, sum ingest.Summary, es *ingest.EmbedSummary, stats *embedStatsJSON, embedErr error) error {
	if collection == "" {
		collection = "default"
	}
	problems := sum.Problems
	if problems == nil {
		problems = []ingest.Problem{}
	}
	out := struct {
		DataDir    string           `json:"data_dir"`
		Collection string           `json:"collection"`
		Files      int              `json:"files"`
		Bytes      int64            `json:"bytes"`
		Added      int              `json:"added"`
		Updated    int              `json:"updated"`
		Unchanged  int              `json:"unchanged"`
		Deleted    int              `json:"deleted"`
		Skipped    int              `json:"skipped"`
		Failed     int              `json:"failed"`
		Chunks     int              `json:"chunks"`
		Seconds    float64          `json:"seconds"`
		MBPerSec   float64          `json:"mb_per_s"`
		Generation int64            `json:"generation"`
		Problems   []ingest.Problem `json:"problems"`
		Omitted    int              `json:"problems_omitted"`
		Embedded   *int64           `json:"embedded,omitempty"`
		Embedding  *embedStatsJSON  `json:"embedding,omitempty"`
		EmbedError string           `json:"embed_error,omitempty"`
	}{DataDir: dataDir, Collection: collection, Files: sum.Files, Bytes: sum.Bytes, Added: sum.Added, Updated: sum.Updated,
		Unchanged: sum.Unchanged, Deleted: sum.Deleted, Skipped: sum.Skipped, Failed: sum.Failed, Chunks: sum.Chunks,
		Seconds: sum.Duration.Seconds(), MBPerSec: mbPerSec(sum), Generation: gen, Problems: problems, Omitted: sum.Omitted,
		Embedding: stats}
	if es != nil {
		out.Embedded = &es.Embedded
	}
	if embedErr != nil {
		out.EmbedError = embedErr.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
