package search

import (
	"cmp"
	"math"
	"slices"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/hnsw"
)

// Fusion is how hybrid search combines the lexical and vector rankings.
type Fusion string

const (
	// FusionRRF is reciprocal rank fusion (Cormack, Clarke and Büttcher,
	// 2009): a chunk scores (1−w)/(k+rank_lexical) + w/(k+rank_vector),
	// ranks counted from 1, a list that did not return it adding nothing.
	// It needs no score calibration, which is why it is the default.
	FusionRRF Fusion = "rrf"
	// FusionWeighted normalises each list's scores (Normalization) and
	// sums them: (1−w)·lexical + w·vector, a list that did not return a
	// chunk counting as that list's lowest normalised score.
	FusionWeighted Fusion = "weighted"
)

// Normalization maps one list's scores onto a common scale before
// weighted fusion.
type Normalization string

const (
	NormMinMax Normalization = "minmax" // (s − min) / (max − min)
	NormZScore Normalization = "zscore" // (s − mean) / standard deviation
)

// Retrieval configures vector and hybrid queries. The zero value is the
// default: RRF with k = 60 and equal weights over the top 100 of each
// list, no diversification, no re-ranking. Lexical queries ignore it.
type Retrieval struct {
	Fusion Fusion // "" = FusionRRF
	// RRFK is RRF's k: larger flattens the rank curve. 0 = 60.
	RRFK float64
	// VectorWeight is w, the vector list's share in either fusion (the
	// lexical list gets 1−w). 0 = 0.5; use Mode lexical or vector for a
	// single list.
	VectorWeight float64
	// Normalize is weighted fusion's score normalisation; "" = min-max.
	Normalize Normalization
	// Depth is how many candidates each list contributes (at least the k
	// asked for). 0 = 100.
	Depth int
	// MMRLambda, in (0, 1], turns on maximal marginal relevance (Carbonell
	// and Goldstein, 1998) over the fused candidates: each next result
	// maximises λ·relevance − (1−λ)·(highest cosine similarity to a result
	// already chosen). 0 = off; 1 = relevance only.
	MMRLambda float64
	// Reranker, when set, re-scores the best RerankDepth fused candidates
	// (in every mode but lexical; use Mode hybrid to re-rank).
	Reranker Reranker
	// RerankDepth is how many candidates the reranker sees. 0 = 50.
	RerankDepth int
}

// Defaults.
const (
	DefaultRRFK         = 60
	DefaultVectorWeight = 0.5
	DefaultDepth        = 100
	DefaultRerankDepth  = 50
)

func (r Retrieval) withDefaults() Retrieval {
	if r.Fusion == "" {
		r.Fusion = FusionRRF
	}
	if r.RRFK <= 0 {
		r.RRFK = DefaultRRFK
	}
	if r.VectorWeight == 0 {
		r.VectorWeight = DefaultVectorWeight
	}
	if r.Normalize == "" {
		r.Normalize = NormMinMax
	}
	if r.Depth <= 0 {
		r.Depth = DefaultDepth
	}
	if r.RerankDepth <= 0 {
		r.RerankDepth = DefaultRerankDepth
	}
	return r
}

// Validate reports the first thing wrong with r, as an EINVALID error.
func (r Retrieval) Validate() error {
	switch {
	case r.Fusion != "" && r.Fusion != FusionRRF && r.Fusion != FusionWeighted:
		return sextant.Errorf(sextant.EINVALID, "fusion %q: want rrf or weighted", r.Fusion)
	case r.Normalize != "" && r.Normalize != NormMinMax && r.Normalize != NormZScore:
		return sextant.Errorf(sextant.EINVALID, "normalisation %q: want minmax or zscore", r.Normalize)
	case r.RRFK < 0 || math.IsNaN(r.RRFK) || math.IsInf(r.RRFK, 0):
		return sextant.Errorf(sextant.EINVALID, "rrf k %v: want a positive number", r.RRFK)
	case r.VectorWeight < 0 || r.VectorWeight > 1 || math.IsNaN(r.VectorWeight):
		return sextant.Errorf(sextant.EINVALID, "vector weight %v: want 0..1", r.VectorWeight)
	case r.MMRLambda < 0 || r.MMRLambda > 1 || math.IsNaN(r.MMRLambda):
		return sextant.Errorf(sextant.EINVALID, "mmr lambda %v: want 0 (off) or (0, 1]", r.MMRLambda)
	case r.Depth < 0 || r.Depth > maxK:
		return sextant.Errorf(sextant.EINVALID, "depth %d: want 0..%d", r.Depth, maxK)
	case r.RerankDepth < 0 || r.RerankDepth > maxK:
		return sextant.Errorf(sextant.EINVALID, "rerank depth %d: want 0..%d", r.RerankDepth, maxK)
	}
	return nil
}

// Stage score names in Ranked.Scores and sextant.Hit.Scores.
const (
	ScoreBM25   = "bm25"
	ScoreVector = "vector"
	ScoreFused  = "fused"
	ScoreRerank = "rerank"
	ScoreMMR    = "mmr"
)

// Fuse combines a lexical and a vector ranking (each best first, as Rank
// returns them) into one, best first, ties broken by index order. Each
// result carries its stage scores ("bm25", "vector" when that list
// returned it, and "fused"). r's zero fields take their defaults.
func Fuse(lexical, vector []Ranked, r Retrieval) []Ranked {
	r = r.withDefaults()
	w := r.VectorWeight
	type acc struct {
		Ranked
		lex, vec       float64
		hasLex, hasVec bool
	}
	byNum := make(map[uint32]int, len(lexical)+len(vector))
	var all []acc
	get := func(x Ranked) *acc {
		i, ok := byNum[x.num]
		if !ok {
			i = len(all)
			byNum[x.num] = i
			all = append(all, acc{Ranked: Ranked{ChunkID: x.ChunkID, DocumentID: x.DocumentID, num: x.num}})
		}
		return &all[i]
	}
	for _, x := range lexical {
		a := get(x)
		a.lex, a.hasLex = x.Score, true
	}
	for _, x := range vector {
		a := get(x)
		a.vec, a.hasVec = x.Score, true
	}
	switch r.Fusion {
	case FusionWeighted:
		nl, lexMin := normalizer(lexical, r.Normalize)
		nv, vecMin := normalizer(vector, r.Normalize)
		for i := range all {
			a := &all[i]
			l, v := lexMin, vecMin
			if a.hasLex {
				l = nl(a.lex)
			}
			if a.hasVec {
				v = nv(a.vec)
			}
			a.Score = (1-w)*l + w*v
		}
	default:
		for i, x := range lexical {
			all[byNum[x.num]].Score += (1 - w) / (r.RRFK + float64(i+1))
		}
		for i, x := range vector {
			all[byNum[x.num]].Score += w / (r.RRFK + float64(i+1))
		}
	}
	out := make([]Ranked, len(all))
	for i := range all {
		a := &all[i]
		s := make(map[string]float64, 3)
		if a.hasLex {
			s[ScoreBM25] = a.lex
		}
		if a.hasVec {
			s[ScoreVector] = a.vec
		}
		s[ScoreFused] = a.Score
		a.Scores = s
		out[i] = a.Ranked
	}
	sortRanked(out)
	return out
}

// sortRanked orders by score, best first, then by index order.
func sortRanked(rs []Ranked) {
	slices.SortStableFunc(rs, func(a, b Ranked) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.num, b.num)
	})
}

// normalizer returns the normalisation of list's scores and the value of
// its lowest score, which a chunk the list did not return gets.
func normalizer(list []Ranked, n Normalization) (func(float64) float64, float64) {
	if len(list) == 0 {
		return func(float64) float64 { return 0 }, 0
	}
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, x := range list {
		lo, hi = min(lo, x.Score), max(hi, x.Score)
		sum += x.Score
	}
	if n == NormZScore {
		mean := sum / float64(len(list))
		ss := 0.0
		for _, x := range list {
			ss += (x.Score - mean) * (x.Score - mean)
		}
		sd := math.Sqrt(ss / float64(len(list)))
		if sd == 0 {
			return func(float64) float64 { return 0 }, 0
		}
		f := func(s float64) float64 { return (s - mean) / sd }
		return f, f(lo)
	}
	if hi == lo {
		return func(float64) float64 { return 1 }, 1
	}
	return func(s float64) float64 { return (s - lo) / (hi - lo) }, 0
}

// MMR reorders the first k of cands (best first) by maximal marginal
// relevance: repeatedly the candidate maximising λ·rel − (1−λ)·max sim to
// those already chosen, where rel is its score min-max normalised over
// cands and sim the cosine similarity of the two chunks' vectors (vec
// returns a unit vector or nil; chunks without one are similar to
// nothing). The chosen k come first, in choice order, each with its MMR
// value in Scores["mmr"] and as Score (kept descending); the rest follow
// in their old order, scored below them.
func MMR(cands []Ranked, k int, lambda float64, vec func(Ranked) []float32) []Ranked {
	if lambda <= 0 || lambda >= 1 || len(cands) < 2 {
		return cands
	}
	k = min(k, len(cands))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range cands {
		lo, hi = min(lo, c.Score), max(hi, c.Score)
	}
	rel := func(s float64) float64 {
		if hi == lo {
			return 1
		}
		return (s - lo) / (hi - lo)
	}
	vecs := make([][]float32, len(cands))
	for i, c := range cands {
		vecs[i] = vec(c)
	}
	maxSim := make([]float64, len(cands)) // to the chosen set; -inf until one is chosen
	for i := range maxSim {
		maxSim[i] = math.Inf(-1)
	}
	chosen := make([]bool, len(cands))
	out := make([]Ranked, 0, len(cands))
	for len(out) < k {
		best, bestV := -1, math.Inf(-1)
		for i := range cands {
			if chosen[i] {
				continue
			}
			sim := maxSim[i]
			if math.IsInf(sim, -1) {
				sim = 0
			}
			v := lambda*rel(cands[i].Score) - (1-lambda)*sim
			if v > bestV {
				best, bestV = i, v
			}
		}
		chosen[best] = true
		c := cands[best]
		c.Scores = cloneScores(c.Scores)
		c.Scores[ScoreMMR] = bestV
		c.Score = bestV
		if n := len(out); n > 0 && c.Score >= out[n-1].Score {
			c.Score = math.Nextafter(out[n-1].Score, math.Inf(-1))
		}
		out = append(out, c)
		if vb := vecs[best]; vb != nil {
			for i := range cands {
				if !chosen[i] && vecs[i] != nil {
					maxSim[i] = max(maxSim[i], float64(dot(vb, vecs[i])))
				}
			}
		}
	}
	var rest []Ranked
	for i := range cands {
		if !chosen[i] {
			rest = append(rest, cands[i])
		}
	}
	return append(out, below(rest, out[len(out)-1].Score)...)
}

func cloneScores(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// dot is the SIMD dot product of the hnsw kernels.
func dot(a, b []float32) float32 { return hnsw.Dot(a, b) }
