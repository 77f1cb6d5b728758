package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/search"
	"github.com/sextant-ai/sextant/sqlite"
)

// engine is an opened store with its search index: what search, serve and
// ask work against.
type engine struct {
	store *sqlite.DB
	index *search.Index
	emb   *embedding         // the configured embedder; nil = lexical only
	mode  sextant.SearchMode // search.mode from the configuration
	note  string             // which retrieval, and why (printed at start)
	log   *slog.Logger       // warnings of background work; nil = none
}

// openEngine opens the store in dataDir and its search index (loading the
// index snapshot kept beside the store, catching up or rebuilding as
// needed). Close saves the snapshot when the index changed.
func openEngine(ctx context.Context, dataDir string) (*engine, error) {
	st, err := openStore(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	ix, err := search.Open(ctx, st, search.Options{Dir: dataDir})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &engine{store: st, index: ix}, nil
}

// refresh embeds the chunks that lack a vector (when an embedder is
// configured) and brings the index up to date with the store: what the
// server runs after an upload. An embedding failure is logged, not
// returned: the documents are stored and found by words, and the next
// refresh (or sextant reembed) embeds them.
func (e *engine) refresh(ctx context.Context) error {
	if e.emb != nil {
		if _, err := embedPending(ctx, e.store, e.emb, nil); err != nil && ctx.Err() == nil && e.log != nil {
			e.log.Warn("embedding new chunks failed; they are searchable by words until the next refresh", "err", err)
		}
	}
	return e.index.Refresh(ctx)
}

// Close saves the index snapshot if it changed and closes the store.
func (e *engine) Close() error {
	err := e.index.SaveSnapshot()
	return errors.Join(err, e.store.Close())
}

const searchUsage = `Usage: sextant search "QUERY" [--k 10] [--filter key=value ...] [--collection C]
       [--stale exclude|only|any] [--mode auto|lexical|vector|hybrid] [--rerank none|features|MODEL]
       [--fusion rrf|weighted] [--rrf-k 60] [--vector-weight 0.5] [--norm minmax|zscore] [--mmr LAMBDA] [--json]

Search the indexed documents. Without an embedder (embedder: in sextant.yaml)
search is lexical (BM25F); with one, auto mode runs lexical and vector search
together and fuses them (docs/vectors.md). The first line says which.

Flags:
`

func runSearch(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("search", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), searchUsage)
		fs.PrintDefaults()
	}
	k := fs.Int("k", 10, "number of results")
	var filters, collections multiFlag
	fs.Var(&filters, "filter", "metadata filter: key=value, key=v1|v2 (any of), updated>=DATE, updated<DATE (repeatable)")
	fs.Var(&collections, "collection", "search only this collection (repeatable)")
	stale := fs.String("stale", "any", "documents past their TTL: exclude, only or any")
	asJSON := fs.Bool("json", false, "print hits as JSON")
	mode := fs.String("mode", "", "retrieval: auto (hybrid when vectors exist), lexical, vector or hybrid (default: search.mode, auto)")
	rerankName := fs.String("rerank", "", "re-ranking: none, features (built-in), or a rerank model name (default: search.rerank)")
	fusion := fs.String("fusion", "", "hybrid fusion: rrf or weighted (default: search.fusion, rrf)")
	rrfK := fs.String("rrf-k", "", "RRF k (default 60)")
	vw := fs.String("vector-weight", "", "weight of the vector list in fusion, 0..1 (default 0.5)")
	norm := fs.String("norm", "", "weighted fusion normalisation: minmax or zscore")
	mmr := fs.String("mmr", "", "MMR diversification lambda in (0,1); 0 = off")
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	dataDir := dataFlag(fs, e)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(strings.Join(pos, " "))
	if text == "" {
		return usageErrorf("search: give the query text, e.g. sextant search \"how do I rotate keys\"")
	}
	if *k < 1 || *k > 10000 {
		return usageErrorf("search: --k %d: want 1..10000", *k)
	}
	f, err := parseFilters(filters)
	if err != nil {
		return err
	}
	f.Collections = collections
	switch *stale {
	case "any":
	case "exclude":
		f.Stale = sextant.StaleExclude
	case "only":
		f.Stale = sextant.StaleOnly
	default:
		return usageErrorf("search: --stale %q: want exclude, only or any", *stale)
	}
	cfg, err := loadConfig(*configPath, *dataDir, e.getenv)
	if err != nil {
		return err
	}
	if *mode != "" {
		cfg.Search.Mode = *mode
	}
	if *fusion != "" {
		cfg.Search.Fusion = *fusion
	}
	if *norm != "" {
		cfg.Search.Normalize = *norm
	}
	if *rerankName != "" {
		cfg.Search.Rerank = *rerankName
	}
	for _, fl := range []struct {
		name, v string
		dst     *float64
	}{{"rrf-k", *rrfK, &cfg.Search.RRFK}, {"vector-weight", *vw, &cfg.Search.VectorWeight}, {"mmr", *mmr, &cfg.Search.MMRLambda}} {
		if fl.v == "" {
			continue
		}
		if *fl.dst, err = floatFlag(fl.name, fl.v); err != nil {
			return err
		}
	}
	qmode, err := parseMode(cfg.Search.Mode)
	if err != nil {
		return err
	}
	model, err := cfg.models(e.getenv)
	if err != nil {
		return err
	}
	eng, err := openEngineWith(ctx, e, cfg, model, *dataDir)
	if err != nil {
		return err
	}
	start := time.Now()
	q := sextant.Query{Text: text, K: *k, Filter: f, Mode: qmode}
	hits, err := eng.index.Search(ctx, q)
	took := time.Since(start)
	used := usedMode(eng, q, hits)
	stats := embedStats(eng.emb)
	if cerr := eng.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeHitsJSON(e.stdout, text, hits, took, used, eng.note, stats)
	}
	fmt.Fprintf(e.stdout, "%s\n\n", eng.note)
	writeHits(e.stdout, hits, isTerminal(e.stdout), took)
	return nil
}

// usedMode is the retrieval a query actually used, for output: auto
// resolves to hybrid or lexical, and a hybrid query whose vector side
// failed (auto mode answers lexically then) shows no fused scores.
func usedMode(eng *engine, q sextant.Query, hits []sextant.Hit) sextant.SearchMode {
	m := eng.index.Mode(q)
	if q.Mode == sextant.ModeAuto && m == sextant.ModeHybrid && len(hits) > 0 {
		if _, ok := hits[0].Scores[search.ScoreFused]; !ok {
			return sextant.ModeLexical
		}
	}
	return m
}

// parseFilters turns --filter values into a Filter: key=value (equality),
// key=v1|v2 (set membership), updated>=T, updated>T, updated<T, updated<=T
// with T a date (2006-01-02) or an RFC 3339 time.
func parseFilters(specs []string) (sextant.Filter, error) {
	var f sextant.Filter
	for _, s := range specs {
		if rest, ok := strings.CutPrefix(s, "updated"); ok && len(rest) > 1 && (rest[0] == '<' || rest[0] == '>') {
			op := rest[:1]
			if rest[1] == '=' {
				op = rest[:2]
			}
			t, day, err := parseFilterTime(rest[len(op):])
			if err != nil {
				return f, usageErrorf("--filter %q: %v", s, err)
			}
			// Strict bounds move to the next representable instant:
			// the next day for dates, the next nanosecond for times.
			next := t.Add(time.Nanosecond)
			if day {
				next = t.AddDate(0, 0, 1)
			}
			switch op {
			case ">=":
				f.UpdatedAfter = t
			case ">":
				f.UpdatedAfter = next
			case "<":
				f.UpdatedBefore = t
			case "<=":
				f.UpdatedBefore = next
			}
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return f, usageErrorf("--filter %q: want key=value, key=v1|v2, updated>=DATE or updated<DATE", s)
		}
		if strings.Contains(v, "|") {
			if f.In == nil {
				f.In = map[string][]string{}
			}
			f.In[k] = append(f.In[k], strings.Split(v, "|")...)
			continue
		}
		if f.Equals == nil {
			f.Equals = map[string]string{}
		}
		if old, dup := f.Equals[k]; dup && old != v {
			return f, usageErrorf("--filter %s: given twice with different values (%q, %q); use %s=%s|%s for either", k, old, v, k, old, v)
		}
		f.Equals[k] = v
	}
	return f, nil
}

// parseFilterTime parses a date (day reports true) or an RFC 3339 time.
func parseFilterTime(s string) (t time.Time, day bool, err error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, false, nil
	}
	return time.Time{}, false, fmt.Errorf("%q is not a date (2006-01-02) or an RFC 3339 time", s)
}

// isTerminal reports whether w is a terminal (for bold marks and colour).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func writeHits(w io.Writer, hits []sextant.Hit, tty bool, took time.Duration) {
	if len(hits) == 0 {
		fmt.Fprintf(w, "no results (%.2f ms)\n", float64(took.Microseconds())/1000)
		return
	}
	for i, h := range hits {
		title := h.Document.Title
		if title == "" {
			title = h.Document.ID
		}
		if sec := sextant.SectionPath(h.Chunk.Section); sec != "" && sec != title {
			title += " › " + sec
		}
		snippet := h.Snippet
		if tty {
			snippet = strings.NewReplacer("«", "\x1b[1m", "»", "\x1b[0m").Replace(snippet)
			title = "\x1b[1m" + title + "\x1b[0m"
		}
		fmt.Fprintf(w, "%2d. %s  (score %.3f)\n", i+1, title, h.Score)
		fmt.Fprintf(w, "    %s  [bytes %d-%d]\n", h.Document.Source, h.Chunk.Start, h.Chunk.End)
		fmt.Fprintf(w, "    %s\n\n", snippet)
	}
	fmt.Fprintf(w, "%d results (%.2f ms)\n", len(hits), float64(took.Microseconds())/1000)
}

// jsonHit is the --json form of one hit.
type jsonHit struct {
	Rank       int                `json:"rank"`
	Score      float64            `json:"score"`
	ChunkID    string             `json:"chunk_id"`
	DocumentID string             `json:"document_id"`
	Title      string             `json:"title"`
	Source     string             `json:"source"`
	Section    []string           `json:"section,omitempty"`
	Start      int                `json:"start"`
	End        int                `json:"end"`
	Snippet    string             `json:"snippet"`
	Text       string             `json:"text"`
	Collection string             `json:"collection"`
	Metadata   map[string]string  `json:"metadata,omitempty"`
	UpdatedAt  *time.Time         `json:"updated_at,omitempty"`
	Stale      bool               `json:"stale,omitempty"`
	Scores     map[string]float64 `json:"scores,omitempty"`
}

func writeHitsJSON(w io.Writer, query string, hits []sextant.Hit, took time.Duration, mode sextant.SearchMode, note string, stats *embedStatsJSON) error {
	out := struct {
		Query  string          `json:"query"`
		Mode   string          `json:"mode"`
		Note   string          `json:"retrieval"`
		TookMS float64         `json:"took_ms"`
		Embed  *embedStatsJSON `json:"embedding,omitempty"`
		Hits   []jsonHit       `json:"hits"`
	}{Query: query, Mode: string(mode), Note: note, TookMS: float64(took.Microseconds()) / 1000, Embed: stats, Hits: []jsonHit{}}
	now := time.Now()
	for i, h := range hits {
		j := jsonHit{Rank: i + 1, Score: h.Score, ChunkID: h.Chunk.ID, DocumentID: h.Document.ID,
			Title: h.Document.Title, Source: h.Document.Source, Section: h.Chunk.Section,
			Start: h.Chunk.Start, End: h.Chunk.End, Snippet: h.Snippet, Text: h.Chunk.Text,
			Collection: h.Document.Collection, Metadata: h.Document.Metadata, Stale: h.Document.Stale(now), Scores: h.Scores}
		if !h.Document.UpdatedAt.IsZero() {
			t := h.Document.UpdatedAt
			j.UpdatedAt = &t
		}
		out.Hits = append(out.Hits, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
