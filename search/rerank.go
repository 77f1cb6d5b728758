package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sextant-ai/sextant"
)

// Reranker re-scores retrieved candidates against the query, returning one
// score per candidate (higher is better), in order.
type Reranker interface {
	Rerank(ctx context.Context, query string, cands []Candidate) ([]float64, error)
}

// Candidate is one chunk offered to a Reranker: its text and where it
// stood in each retrieval stage.
type Candidate struct {
	ChunkID    string
	DocumentID string
	Title      string   // document title
	Section    []string // section path
	Text       string   // chunk text

	Lexical, Vector, Fused float64 // stage scores (see the Has flags)
	HasLexical, HasVector  bool    // whether that list returned the chunk
}

// RerankFunc adapts a hosted cross-encoder (the common /rerank API of
// Cohere, Jina, vLLM, TEI: llm.Model.Rerank) to Reranker: it is called
// with the query and each candidate's title and text, and returns one
// relevance score per document, in order.
type RerankFunc func(ctx context.Context, query string, docs []string) ([]float64, error)

// Rerank implements Reranker.
func (f RerankFunc) Rerank(ctx context.Context, query string, cands []Candidate) ([]float64, error) {
	docs := make([]string, len(cands))
	for i, c := range cands {
		docs[i] = c.Text
		if c.Title != "" {
			docs[i] = c.Title + "\n" + c.Text
		}
	}
	s, err := f(ctx, query, docs)
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	if len(s) != len(cands) {
		return nil, sextant.Errorf(sextant.EINTERNAL, "rerank: %d scores for %d candidates", len(s), len(cands))
	}
	return s, nil
}

// Features of the built-in reranker, in the order of FeatureWeights'
// fields and of Features' rows.
var FeatureNames = []string{"coverage", "title", "proximity", "lexical", "vector", "fused"}

// FeatureWeights weighs the built-in reranker's features; the score is
// their weighted sum. Every feature is in [0, 1]:
//
//   - Coverage: the share of the query's distinct terms in the chunk
//     (title, headings or text);
//   - Title: the share in the document title and section headings;
//   - Proximity: the largest share found within any window of
//     ProximityWindow consecutive words of the text;
//   - Lexical, Vector, Fused: the BM25, cosine and fused scores, min-max
//     normalised over the candidates (0 when the list did not return the
//     chunk).
type FeatureWeights struct {
	Coverage, Title, Proximity, Lexical, Vector, Fused float64
}

// DefaultFeatureWeights were fitted by coordinate ascent on nDCG@10 over
// the BEIR SciFact TRAIN queries only, over hybrid candidates (weighted
// z-score fusion, vector weight 0.25, USE-lite vectors), never on the test
// queries they are measured on. Reproduce with `sextant bench retrieval
// --split train --mode hybrid --fusion weighted --norm zscore
// --vector-weight 0.25 --rerank features --fit-rerank --vectors DIR`
// (docs/vectors.md, which also says how little they gain there).
var DefaultFeatureWeights = FeatureWeights{Coverage: 0.2, Title: 0.25, Proximity: 0.2, Lexical: 0.8, Vector: 0.3, Fused: 1.15}

func (w FeatureWeights) slice() []float64 {
	return []float64{w.Coverage, w.Title, w.Proximity, w.Lexical, w.Vector, w.Fused}
}

// WeightsFrom builds FeatureWeights from a slice in FeatureNames order.
func WeightsFrom(s []float64) FeatureWeights {
	var w FeatureWeights
	p := []*float64{&w.Coverage, &w.Title, &w.Proximity, &w.Lexical, &w.Vector, &w.Fused}
	for i := range min(len(s), len(p)) {
		*p[i] = s[i]
	}
	return w
}

// ProximityWindow is the word window of the proximity feature.
const ProximityWindow = 8

// FeatureReranker is the built-in reranker: a weighted sum of term
// coverage, title match, term proximity and the retrieval scores, computed
// with the index's analyzer. It needs no model and costs microseconds per
// candidate.
type FeatureReranker struct {
	Analyzer *Analyzer      // the index's analyzer (Index.Analyzer)
	Weights  FeatureWeights // zero = DefaultFeatureWeights
}

// Rerank implements Reranker.
func (fr *FeatureReranker) Rerank(_ context.Context, query string, cands []Candidate) ([]float64, error) {
	w := fr.Weights
	if w == (FeatureWeights{}) {
		w = DefaultFeatureWeights
	}
	ws := w.slice()
	feats := Features(fr.Analyzer, query, cands)
	out := make([]float64, len(cands))
	for i, f := range feats {
		for j, x := range f {
			out[i] += ws[j] * x
		}
	}
	return out, nil
}

// Features returns each candidate's feature row (FeatureNames order), for
// the reranker and for fitting its weights.
func Features(a *Analyzer, query string, cands []Candidate) [][]float64 {
	qterms := uniqueTerms(a.Terms(query))
	out := make([][]float64, len(cands))
	norm := func(get func(Candidate) (float64, bool)) func(Candidate) float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, c := range cands {
			if v, ok := get(c); ok {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		return func(c Candidate) float64 {
			v, ok := get(c)
			switch {
			case !ok:
				return 0
			case hi == lo:
				return 1
			}
			return (v - lo) / (hi - lo)
		}
	}
	lex := norm(func(c Candidate) (float64, bool) { return c.Lexical, c.HasLexical })
	vec := norm(func(c Candidate) (float64, bool) { return c.Vector, c.HasVector })
	fused := norm(func(c Candidate) (float64, bool) { return c.Fused, true })
	nq := float64(len(qterms))
	for i, c := range cands {
		f := make([]float64, len(FeatureNames))
		if nq > 0 {
			title := c.Title
			if len(c.Section) > 0 {
				title += " \n " + strings.Join(c.Section, " \n ")
			}
			inTitle := termSet(a.Terms(title))
			toks := a.Tokens(c.Text)
			inBody := make(map[string]bool, len(toks))
			for _, t := range toks {
				inBody[t.Term] = true
			}
			cov, tit := 0, 0
			for _, t := range qterms {
				if inTitle[t] || inBody[t] {
					cov++
				}
				if inTitle[t] {
					tit++
				}
			}
			f[0] = float64(cov) / nq
			f[1] = float64(tit) / nq
			f[2] = float64(bestWindow(toks, qterms)) / nq
		}
		f[3], f[4], f[5] = lex(c), vec(c), fused(c)
		out[i] = f
	}
	return out
}

func uniqueTerms(ts []string) []string {
	out := slices.Clone(ts)
	slices.Sort(out)
	return slices.Compact(out)
}

func termSet(ts []string) map[string]bool {
	m := make(map[string]bool, len(ts))
	for _, t := range ts {
		m[t] = true
	}
	return m
}

// bestWindow returns the most distinct query terms found within any
// ProximityWindow consecutive word positions of toks.
func bestWindow(toks []Token, qterms []string) int {
	type hit struct{ pos, term int }
	var hits []hit
	for _, t := range toks {
		if j, ok := slices.BinarySearch(qterms, t.Term); ok {
			hits = append(hits, hit{t.Position, j})
		}
	}
	best := 0
	count := make([]int, len(qterms))
	distinct, lo := 0, 0
	for _, h := range hits {
		if count[h.term] == 0 {
			distinct++
		}
		count[h.term]++
		for hits[lo].pos <= h.pos-ProximityWindow {
			count[hits[lo].term]--
			if count[hits[lo].term] == 0 {
				distinct--
			}
			lo++
		}
		best = max(best, distinct)
	}
	return best
}

// FitQuery is one training query for FitFeatureWeights: its candidates'
// feature rows, the gain (relevance grade) of each, and the gains of all
// its judged-relevant items, for the ideal ranking.
type FitQuery struct {
	Features [][]float64
	Gains    []float64
	Ideal    []float64
}

// FitFeatureWeights fits reranker weights that maximise mean nDCG@10 over
// queries by coordinate ascent (Metzler and Croft, 2007): starting from
// start, each weight in turn is moved along a grid of steps while the
// metric improves, for a few rounds. It is deterministic. Fit on training
// queries only; measure on others.
func FitFeatureWeights(queries []FitQuery, start FeatureWeights) (FeatureWeights, float64) {
	w := start.slice()
	best := meanNDCG(queries, w)
	steps := []float64{-1, -0.5, -0.2, -0.1, -0.05, 0.05, 0.1, 0.2, 0.5, 1}
	for range 4 {
		improved := false
		for j := range w {
			for _, s := range steps {
				old := w[j]
				w[j] = max(0, old+s)
				if m := meanNDCG(queries, w); m > best+1e-9 {
					best, improved = m, true
				} else {
					w[j] = old
				}
			}
		}
		if !improved {
			break
		}
	}
	return WeightsFrom(w), best
}

func meanNDCG(queries []FitQuery, w []float64) float64 {
	if len(queries) == 0 {
		return 0
	}
	sum := 0.0
	idx := []int{}
	scores := []float64{}
	for _, q := range queries {
		idx, scores = idx[:0], scores[:0]
		for i, f := range q.Features {
			s := 0.0
			for j, x := range f {
				s += w[j] * x
			}
			scores = append(scores, s)
			idx = append(idx, i)
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case scores[a] > scores[b]:
				return -1
			case scores[a] < scores[b]:
				return 1
			}
			return 0
		})
		dcg := 0.0
		for r, i := range idx[:min(10, len(idx))] {
			dcg += (math.Pow(2, q.Gains[i]) - 1) / math.Log2(float64(r+2))
		}
		ideal := slices.Clone(q.Ideal)
		slices.SortFunc(ideal, func(a, b float64) int {
			switch {
			case a > b:
				return -1
			case a < b:
				return 1
			}
			return 0
		})
		idcg := 0.0
		for r, g := range ideal[:min(10, len(ideal))] {
			idcg += (math.Pow(2, g) - 1) / math.Log2(float64(r+2))
		}
		if idcg > 0 {
			sum += dcg / idcg
		}
	}
	return sum / float64(len(queries))
}
