package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/search"
	"github.com/sextant-ai/sextant/sqlite"
)

// retrievalRow is one system's line of the retrieval benchmark.
type retrievalRow struct {
	System       string  `json:"system"`
	NDCGAt10     float64 `json:"ndcg_at_10"`
	RecallAt100  float64 `json:"recall_at_100"`
	MRRAt10      float64 `json:"mrr_at_10"`
	MAPAt100     float64 `json:"map_at_100"`
	IndexSeconds float64 `json:"index_seconds"`
	P50MS        float64 `json:"query_p50_ms"`
	P95MS        float64 `json:"query_p95_ms"`
	P99MS        float64 `json:"query_p99_ms"`
}

// retrievalReport is the --json output: the required keys at top level
// (Sextant's figures), the peer's row and the comparison beside them.
type retrievalReport struct {
	Dataset       string        `json:"dataset"`
	Split         string        `json:"split"`
	Docs          int           `json:"docs"`
	Chunks        int           `json:"chunks"`
	Queries       int           `json:"queries"`
	NDCGAt10      float64       `json:"ndcg_at_10"`
	RecallAt100   float64       `json:"recall_at_100"`
	MRRAt10       float64       `json:"mrr_at_10"`
	MAPAt100      float64       `json:"map_at_100"`
	IndexSeconds  float64       `json:"index_seconds"`
	IngestSeconds float64       `json:"ingest_seconds"`
	BuildSeconds  float64       `json:"index_build_seconds"`
	P50MS         float64       `json:"query_p50_ms"`
	P95MS         float64       `json:"query_p95_ms"`
	P99MS         float64       `json:"query_p99_ms"`
	SearchP50MS   float64       `json:"search_k10_p50_ms"` // hydrated Search, k=10
	SearchP95MS   float64       `json:"search_k10_p95_ms"`
	Depth         int           `json:"depth"`
	Repeat        int           `json:"repeat"`
	Peer          *retrievalRow `json:"peer,omitempty"`
	P50Speedup    float64       `json:"p50_speedup_vs_peer,omitempty"`
	NDCGDelta     float64       `json:"ndcg_at_10_minus_peer,omitempty"`

	Mode         string             `json:"mode"`
	Vectors      string             `json:"vectors,omitempty"`       // --vectors DIR
	VectorDim    int                `json:"vector_dim,omitempty"`    // dimension of the supplied vectors
	Fusion       string             `json:"fusion,omitempty"`        // hybrid: rrf or weighted
	RRFK         float64            `json:"rrf_k,omitempty"`         // hybrid rrf
	VectorWeight float64            `json:"vector_weight,omitempty"` // hybrid
	Normalize    string             `json:"normalize,omitempty"`     // hybrid weighted
	MMRLambda    float64            `json:"mmr_lambda,omitempty"`
	Rerank       string             `json:"rerank,omitempty"`
	RerankWeight map[string]float64 `json:"rerank_weights,omitempty"` // features reranker weights used (or fitted)
	FitNDCG      float64            `json:"fit_ndcg_at_10,omitempty"` // --fit-rerank: nDCG@10 of the fitted weights on this split
}

func runBenchRetrieval(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench retrieval", e.stderr)
	beir := fs.String("beir", "", "BEIR-format folder: corpus.jsonl[.gz], queries.jsonl, qrels/SPLIT.tsv (required)")
	split := fs.String("split", "test", "judgement split: qrels/SPLIT.tsv")
	depth := fs.Int("k", 100, "documents retrieved per query (at least 100 for recall@100 and MAP@100)")
	peer := fs.String("peer", "fts5", `side-by-side peer: "fts5" (SQLite FTS5 bm25()) or "none"`)
	repeat := fs.Int("repeat", 3, "timed passes over the queries (latency percentiles pool all passes)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	keep := fs.String("keep", "", "build the index in this directory and keep it (default: a temporary directory, removed)")
	k1 := fs.Float64("k1", 0, "BM25 k1 (0 = the product default)")
	b := fs.Float64("b", 0, "BM25 b (0 = the product default)")
	titleWeight := fs.Float64("title-weight", 0, "title field weight (0 = the product default)")
	chunkTokens := fs.Int("chunk-tokens", 0, "chunk size in tokens (0 = the product default)")
	noParts := fs.Bool("no-parts", false, "analyzer: do not index the parts of compound words")
	mode := fs.String("mode", "lexical", "retrieval: lexical, vector or hybrid (vector and hybrid need --vectors)")
	vecDir := fs.String("vectors", "", "folder with precomputed corpus.vectors.jsonl and queries.vectors.jsonl ({\"id\", \"vector\"} lines; corpus ids are BEIR document ids, each document's vector is given to every chunk of it)")
	fusion := fs.String("fusion", "rrf", "hybrid fusion: rrf or weighted")
	rrfK := fs.Float64("rrf-k", search.DefaultRRFK, "RRF k")
	vw := fs.Float64("vector-weight", search.DefaultVectorWeight, "weight of the vector list in fusion, 0..1")
	norm := fs.String("norm", "minmax", "weighted fusion normalisation: minmax or zscore")
	mmr := fs.Float64("mmr", 0, "MMR lambda (0 = off)")
	rerankName := fs.String("rerank", "none", "re-ranking: none or features")
	rerankDepth := fs.Int("rerank-depth", search.DefaultRerankDepth, "candidates the reranker sees")
	rerankWeights := fs.String("rerank-weights", "", "feature reranker weights, comma-separated in the order "+strings.Join(search.FeatureNames, ",")+" (default: the product's)")
	fitRerank := fs.Bool("fit-rerank", false, "fit the feature reranker's weights on this split (coordinate ascent on nDCG@10) and report them; use --split train")
	int8 := fs.Bool("int8", false, "vector index keeps int8 codes (float rescoring)")
	ef := fs.Int("ef", 0, "HNSW efSearch (0 = default; searches use at least the candidate depth)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	qmode, err := parseMode(*mode)
	if err != nil || qmode == sextant.ModeAuto {
		return usageErrorf("bench retrieval: --mode %q: want lexical, vector or hybrid", *mode)
	}
	if qmode != sextant.ModeLexical && *vecDir == "" {
		return usageErrorf("bench retrieval: --mode %s needs --vectors DIR (precomputed vectors; see bench/embed)", qmode)
	}
	retr := search.Retrieval{Fusion: search.Fusion(*fusion), RRFK: *rrfK, VectorWeight: *vw, Normalize: search.Normalization(*norm),
		MMRLambda: *mmr, RerankDepth: *rerankDepth}
	if err := retr.Validate(); err != nil {
		return usageErrorf("bench retrieval: %v", err)
	}
	var weights search.FeatureWeights
	switch *rerankName {
	case "none":
	case "features":
		weights = search.DefaultFeatureWeights
		if *rerankWeights != "" {
			var ws []float64
			for _, p := range strings.Split(*rerankWeights, ",") {
				f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
				if err != nil {
					return usageErrorf("bench retrieval: --rerank-weights %q: %q is not a number", *rerankWeights, p)
				}
				ws = append(ws, f)
			}
			if len(ws) != len(search.FeatureNames) {
				return usageErrorf("bench retrieval: --rerank-weights: want %d numbers (%s)", len(search.FeatureNames), strings.Join(search.FeatureNames, ","))
			}
			weights = search.WeightsFrom(ws)
		}
	default:
		return usageErrorf("bench retrieval: --rerank %q: want none or features", *rerankName)
	}
	if *beir == "" {
		return usageErrorf("bench retrieval: --beir DIR is required")
	}
	if *depth < 100 || *depth > 10000 {
		return usageErrorf("bench retrieval: --k %d: want 100..10000", *depth)
	}
	if *peer != "fts5" && *peer != "none" {
		return usageErrorf("bench retrieval: --peer %q: want fts5 or none", *peer)
	}
	if *repeat < 1 {
		return usageErrorf("bench retrieval: --repeat %d: want at least 1", *repeat)
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
		if _, ok := queries[q]; !ok {
			return fmt.Errorf("bench retrieval: query %q is judged in qrels/%s.tsv but missing from queries.jsonl", q, *split)
		}
		qids = append(qids, q)
	}
	slices.Sort(qids)

	dir, cleanup, err := benchDir(*keep, "retrieval")
	if err != nil {
		return err
	}
	defer cleanup()
	corpus, err := beirCorpus(*beir)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "ingesting %s ...\n", corpus)
	t0 := time.Now()
	st, err := openStore(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := ingestForBenchChunked(ctx, st, corpus, ingest.ChunkOptions{Tokens: *chunkTokens}); err != nil {
		return err
	}
	ingestSec := time.Since(t0).Seconds()
	var qvecs map[string][]float32
	vecDim := 0
	if *vecDir != "" {
		fmt.Fprintf(progress, "storing the vectors of %s ...\n", *vecDir)
		if qvecs, vecDim, err = storeBenchVectors(ctx, st, *vecDir); err != nil {
			return err
		}
	}
	t1 := time.Now()
	sopts := search.Options{K1: *k1, B: *b, TitleWeight: *titleWeight}
	sopts.Analyzer.NoParts = *noParts
	if *vecDir != "" {
		sopts.Vector = search.VectorOptions{Enabled: true, Int8: *int8, EfSearch: *ef}
	}
	ix, err := search.Open(ctx, st, sopts)
	if err != nil {
		return err
	}
	buildSec := time.Since(t1).Seconds()
	if weights != (search.FeatureWeights{}) {
		retr.Reranker = &search.FeatureReranker{Analyzer: ix.Analyzer(), Weights: weights}
	}
	stats := ix.Stats()
	// Documents were ingested with ids "collection:record-id"; the scope
	// prefix is dropped to compare with the judgements.
	beirID := func(docID string) string {
		_, id, ok := strings.Cut(docID, ":")
		if !ok {
			return docID
		}
		return id
	}

	var fts *sqlite.FTS5
	var ftsSec float64
	if *peer == "fts5" {
		fmt.Fprintln(progress, "building the SQLite FTS5 peer index ...")
		t := time.Now()
		tw := *titleWeight
		if tw == 0 {
			tw = search.DefaultTitleWeight
		}
		if fts, err = buildFTS5(ctx, st, filepath.Join(dir, "fts5.db"), tw); err != nil {
			return err
		}
		defer fts.Close()
		ftsSec = time.Since(t).Seconds()
	}
	stop := map[string]bool{}
	for _, w := range search.EnglishStopWords {
		stop[w] = true
	}

	query := func(q string, k int) sextant.Query {
		return sextant.Query{Text: queries[q], K: k, Mode: qmode, Vector: qvecs[q]}
	}
	if qmode != sextant.ModeLexical {
		for _, q := range qids {
			if qvecs[q] == nil {
				return fmt.Errorf("bench retrieval: query %q has no vector in %s", q, filepath.Join(*vecDir, "queries.vectors.jsonl"))
			}
		}
	}
	var fitNDCG float64
	if *fitRerank {
		fmt.Fprintf(progress, "fitting the feature reranker on %d %s queries ...\n", len(qids), *split)
		if weights, fitNDCG, err = fitBenchReranker(ctx, ix, qids, query, qrels, beirID, retr, *depth); err != nil {
			return err
		}
		retr.Reranker = &search.FeatureReranker{Analyzer: ix.Analyzer(), Weights: weights}
	}
	fmt.Fprintf(progress, "running %d queries × %d passes ...\n", len(qids), *repeat)
	run := map[string][]eval.Scored{}
	peerRun := map[string][]eval.Scored{}
	var lat, peerLat, hydLat []time.Duration
	// One core: the figures are per-query cost, not parallel throughput.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for pass := -1; pass < *repeat; pass++ { // pass -1 warms caches, untimed
		for _, q := range qids {
			text := queries[q]
			t := time.Now()
			ranked, err := ix.RankDocumentsWith(ctx, query(q, *depth), retr)
			d := time.Since(t)
			if err != nil {
				return fmt.Errorf("bench retrieval: query %q: %w", q, err)
			}
			if pass >= 0 {
				lat = append(lat, d)
			}
			if pass == 0 {
				for _, r := range ranked {
					run[q] = append(run[q], eval.Scored{ID: beirID(r.DocumentID), Score: r.Score})
				}
			}
			if pass == 0 {
				t = time.Now()
				if _, err := ix.SearchWith(ctx, query(q, 10), retr); err != nil {
					return err
				}
				hydLat = append(hydLat, time.Since(t))
			}
			if fts == nil {
				continue
			}
			t = time.Now()
			hits, err := fts.Search(ctx, sqlite.FTS5Query(text, stop), 3**depth)
			docs := collapseFTS5(hits, *depth)
			d = time.Since(t)
			if err != nil {
				return fmt.Errorf("bench retrieval: fts5 query %q: %w", q, err)
			}
			if pass >= 0 {
				peerLat = append(peerLat, d)
			}
			if pass == 0 {
				for _, h := range docs {
					peerRun[q] = append(peerRun[q], eval.Scored{ID: beirID(h.DocumentID), Score: h.Score})
				}
			}
		}
	}

	m := eval.EvaluateRun(run, qrels)
	rep := retrievalReport{
		Dataset: filepath.Base(filepath.Clean(*beir)), Split: *split, Docs: stats.Documents, Chunks: stats.Chunks,
		Queries: m.Queries, NDCGAt10: m.NDCGAt10, RecallAt100: m.RecallAt100, MRRAt10: m.MRRAt10, MAPAt100: m.MAPAt100,
		IndexSeconds: ingestSec + buildSec, IngestSeconds: ingestSec, BuildSeconds: buildSec,
		P50MS: percentileMS(lat, 50), P95MS: percentileMS(lat, 95), P99MS: percentileMS(lat, 99),
		SearchP50MS: percentileMS(hydLat, 50), SearchP95MS: percentileMS(hydLat, 95),
		Depth: *depth, Repeat: *repeat,
		Mode: string(qmode), Vectors: *vecDir, VectorDim: vecDim, MMRLambda: *mmr, FitNDCG: fitNDCG,
	}
	if qmode == sextant.ModeHybrid {
		rep.Fusion, rep.VectorWeight = *fusion, *vw
		if *fusion == "rrf" {
			rep.RRFK = *rrfK
		} else {
			rep.Normalize = *norm
		}
	}
	if retr.Reranker != nil {
		rep.Rerank = "features"
		rep.RerankWeight = map[string]float64{}
		for i, w := range []float64{weights.Coverage, weights.Title, weights.Proximity, weights.Lexical, weights.Vector, weights.Fused} {
			rep.RerankWeight[search.FeatureNames[i]] = w
		}
	}
	rows := []retrievalRow{{System: "sextant-" + string(qmode), NDCGAt10: rep.NDCGAt10, RecallAt100: rep.RecallAt100, MRRAt10: rep.MRRAt10,
		MAPAt100: rep.MAPAt100, IndexSeconds: rep.IndexSeconds, P50MS: rep.P50MS, P95MS: rep.P95MS, P99MS: rep.P99MS}}
	if fts != nil {
		pm := eval.EvaluateRun(peerRun, qrels)
		rep.Peer = &retrievalRow{System: "sqlite-fts5-bm25", NDCGAt10: pm.NDCGAt10, RecallAt100: pm.RecallAt100, MRRAt10: pm.MRRAt10,
			MAPAt100: pm.MAPAt100, IndexSeconds: ingestSec + ftsSec,
			P50MS: percentileMS(peerLat, 50), P95MS: percentileMS(peerLat, 95), P99MS: percentileMS(peerLat, 99)}
		rows = append(rows, *rep.Peer)
		if rep.P50MS > 0 {
			rep.P50Speedup = rep.Peer.P50MS / rep.P50MS
		}
		rep.NDCGDelta = rep.NDCGAt10 - rep.Peer.NDCGAt10
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(rep)
	}
	w := e.stdout
	fmt.Fprintf(w, "%s (%s): %d documents, %d chunks, %d judged queries, depth %d, %d timed passes on 1 core; mode %s\n",
		rep.Dataset, rep.Split, rep.Docs, rep.Chunks, rep.Queries, rep.Depth, rep.Repeat, rep.Mode)
	if rep.Fusion != "" {
		fmt.Fprintf(w, "fusion %s (k %g, normalise %s), vector weight %g, MMR %g\n", rep.Fusion, rep.RRFK, rep.Normalize, rep.VectorWeight, rep.MMRLambda)
	}
	if rep.Rerank != "" {
		fmt.Fprintf(w, "rerank %s, weights %v\n", rep.Rerank, rep.RerankWeight)
	}
	if *fitRerank {
		fmt.Fprintf(w, "fitted on %s: nDCG@10 %.4f with --rerank-weights %g,%g,%g,%g,%g,%g\n", rep.Split, fitNDCG,
			weights.Coverage, weights.Title, weights.Proximity, weights.Lexical, weights.Vector, weights.Fused)
	}
	fmt.Fprintf(w, "%-18s %8s %8s %8s %8s %9s %8s %8s %8s\n", "system", "nDCG@10", "R@100", "MRR@10", "MAP@100", "index s", "p50 ms", "p95 ms", "p99 ms")
	for _, r := range rows {
		fmt.Fprintf(w, "%-18s %8.4f %8.4f %8.4f %8.4f %9.2f %8.3f %8.3f %8.3f\n", r.System, r.NDCGAt10, r.RecallAt100,
			r.MRRAt10, r.MAPAt100, r.IndexSeconds, r.P50MS, r.P95MS, r.P99MS)
	}
	fmt.Fprintf(w, "index seconds = ingest %.2f s + index build %.2f s; hydrated search (k=10) p50 %.3f ms, p95 %.3f ms\n",
		rep.IngestSeconds, rep.BuildSeconds, rep.SearchP50MS, rep.SearchP95MS)
	if rep.Peer != nil {
		fmt.Fprintf(w, "sextant vs fts5: nDCG@10 %+.4f, p50 latency %.1f× faster (peer index build %.2f s after the same ingest)\n",
			rep.NDCGDelta, rep.P50Speedup, ftsSec)
	}
	return nil
}

// percentileMS returns the p-th percentile (nearest rank) in milliseconds.
func percentileMS(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i].Nanoseconds()) / 1e6
}

// collapseFTS5 keeps the best chunk of each document, in rank order, up to
// k documents.
func collapseFTS5(hits []sqlite.FTS5Hit, k int) []sqlite.FTS5Hit {
	seen := map[string]bool{}
	var out []sqlite.FTS5Hit
	for _, h := range hits {
		if !seen[h.DocumentID] {
			seen[h.DocumentID] = true
			out = append(out, h)
			if len(out) == k {
				break
			}
		}
	}
	return out
}

// buildFTS5 indexes every stored chunk (title: document title and section
// path, as Sextant's title field; body: chunk text) in an FTS5 table.
func buildFTS5(ctx context.Context, st *sqlite.DB, path string, titleWeight float64) (*sqlite.FTS5, error) {
	fts, err := sqlite.OpenFTS5(ctx, path, titleWeight)
	if err != nil {
		return nil, err
	}
	var rows []sqlite.FTS5Row
	flush := func() error {
		err := fts.Add(ctx, rows)
		rows = rows[:0]
		return err
	}
	err = st.Scan(ctx, func(d *sextant.Document, chunks []sextant.Chunk) error {
		for _, c := range chunks {
			title := d.Title
			if len(c.Section) > 0 {
				title += " \n " + strings.Join(c.Section, " \n ")
			}
			rows = append(rows, sqlite.FTS5Row{ChunkID: c.ID, DocumentID: d.ID, Title: title, Body: c.Text})
		}
		if len(rows) >= 5000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = fts.Optimize(ctx)
	}
	if err != nil {
		fts.Close()
		return nil, err
	}
	return fts, nil
}

// beirCorpus returns the corpus file of a BEIR folder: corpus.jsonl or
// corpus.jsonl.gz (ingestion reads gzip'd record files directly).
func beirCorpus(dir string) (string, error) {
	for _, name := range []string{"corpus.jsonl", "corpus.jsonl.gz"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("bench retrieval: %s holds neither corpus.jsonl nor corpus.jsonl.gz", dir)
}

// ingestForBench ingests a corpus file through the product's ingestion
// path and fails if any record was not stored.
func ingestForBench(ctx context.Context, st *sqlite.DB, corpus string) (ingest.Summary, error) {
	return ingestForBenchChunked(ctx, st, corpus, ingest.ChunkOptions{})
}

// ingestForBenchChunked is ingestForBench with explicit chunking options.
func ingestForBenchChunked(ctx context.Context, st *sqlite.DB, corpus string, chunk ingest.ChunkOptions) (ingest.Summary, error) {
	sum, err := ingest.Run(ctx, []string{corpus}, ingest.Options{Chunk: chunk}, st)
	if err != nil {
		return sum, fmt.Errorf("bench: ingest %s: %w", corpus, err)
	}
	if sum.Failed > 0 || sum.Skipped > 0 {
		msg := ""
		if len(sum.Problems) > 0 {
			p := sum.Problems[0]
			msg = fmt.Sprintf(" (first: %s %s: %s)", p.Path, p.Record, p.Reason)
		}
		return sum, fmt.Errorf("bench: ingest %s: %d records failed, %d skipped%s", corpus, sum.Failed, sum.Skipped, msg)
	}
	return sum, nil
}

// loadBEIRQueries reads queries.jsonl: id → text. Only "_id" and "text"
// are read; a query's metadata is never used.
func loadBEIRQueries(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench retrieval: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var q struct {
			ID   json.RawMessage `json:"_id"`
			Text string          `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			return nil, fmt.Errorf("bench retrieval: %s line %d: %v", path, n, err)
		}
		id := strings.Trim(string(q.ID), `"`)
		if id == "" {
			return nil, fmt.Errorf("bench retrieval: %s line %d: no _id", path, n)
		}
		out[id] = q.Text
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench retrieval: %s: %w", path, err)
	}
	return out, nil
}

// loadQrels reads a BEIR qrels TSV (query-id, corpus-id, score; an
// optional header line). Every row counts, including score 0 (judged
// non-relevant), as trec_eval reads qrels.
func loadQrels(path string) (eval.Qrels, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench retrieval: %w", err)
	}
	q := eval.Qrels{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 4 { // TREC layout: qid iter docid rel
			f = []string{f[0], f[2], f[3]}
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("bench retrieval: %s line %d: want query-id, corpus-id, score", path, n+1)
		}
		grade, err := strconv.Atoi(f[2])
		if err != nil {
			if n == 0 {
				continue // header
			}
			return nil, fmt.Errorf("bench retrieval: %s line %d: score %q is not an integer", path, n+1, f[2])
		}
		if q[f[0]] == nil {
			q[f[0]] = map[string]int{}
		}
		q[f[0]][f[1]] = grade
	}
	if len(q) == 0 {
		return nil, fmt.Errorf("bench retrieval: %s holds no judgements", path)
	}
	return q, nil
}
