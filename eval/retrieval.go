package eval

import (
	"math"
	"slices"
	"strings"
)

// Retrieval metrics follow trec_eval (usnistgov/trec_eval, measures
// ndcg_cut, recall, P, map_cut, recip_rank) exactly, so figures compare with
// published BEIR/Anserini numbers:
//
//   - A run is ordered by score, descending, ties broken by document id in
//     descending byte order (trec_eval's comp_sim_docno); the rank a system
//     assigned is ignored. TrecOrder does this.
//   - Judgements are graded: a document is relevant when its grade is at
//     least 1; grades 0 (and negative) are judged non-relevant; documents
//     absent from the judgements are non-relevant.
//   - nDCG uses the grade itself as gain and log2(rank+1) as discount; the
//     ideal ranking orders every judged relevant document by grade.
//   - Recall and average precision divide by the number of relevant
//     documents (not capped at k); a query without relevant documents
//     scores 0. Precision@k divides by k even when fewer were retrieved.

// Qrels holds relevance judgements: query id → document id → grade.
type Qrels map[string]map[string]int

// Scored is one retrieved document and the score the system gave it.
type Scored struct {
	ID    string
	Score float64
}

// TrecOrder returns the document ids of run in trec_eval's order (score
// descending, then id descending), keeping the first of duplicate ids.
func TrecOrder(run []Scored) []string {
	s := slices.Clone(run)
	slices.SortStableFunc(s, func(a, b Scored) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return strings.Compare(b.ID, a.ID)
	})
	out := make([]string, 0, len(s))
	seen := make(map[string]bool, len(s))
	for _, d := range s {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d.ID)
		}
	}
	return out
}

// numRel counts the relevant (grade >= 1) judged documents.
func numRel(rel map[string]int) int {
	n := 0
	for _, g := range rel {
		if g >= 1 {
			n++
		}
	}
	return n
}

// relRetrieved counts relevant documents among the first k of ranked.
func relRetrieved(ranked []string, rel map[string]int, k int) int {
	n := 0
	for _, d := range ranked[:min(k, len(ranked))] {
		if rel[d] >= 1 {
			n++
		}
	}
	return n
}

// RecallAtK is the fraction of relevant documents found in the first k of
// ranked (trec_eval recall_k); 0 when there are none to find.
func RecallAtK(ranked []string, rel map[string]int, k int) float64 {
	n := numRel(rel)
	if n == 0 {
		return 0
	}
	return float64(relRetrieved(ranked, rel, k)) / float64(n)
}

// PrecisionAtK is the number of relevant documents in the first k of
// ranked divided by k (trec_eval P_k).
func PrecisionAtK(ranked []string, rel map[string]int, k int) float64 {
	if k <= 0 {
		return 0
	}
	return float64(relRetrieved(ranked, rel, k)) / float64(k)
}

// HitRateAtK is 1 when a relevant document is among the first k, else 0.
func HitRateAtK(ranked []string, rel map[string]int, k int) float64 {
	if relRetrieved(ranked, rel, k) > 0 {
		return 1
	}
	return 0
}

// ReciprocalRankAtK is 1/rank of the first relevant document within the
// first k (trec_eval recip_rank over a run cut at k); its mean over
// queries is MRR@k.
func ReciprocalRankAtK(ranked []string, rel map[string]int, k int) float64 {
	for i, d := range ranked[:min(k, len(ranked))] {
		if rel[d] >= 1 {
			return 1 / float64(i+1)
		}
	}
	return 0
}

// AveragePrecisionAtK sums the precision at the rank of each relevant
// document within the first k and divides by the number of relevant
// documents (trec_eval map_cut_k); its mean over queries is MAP@k.
func AveragePrecisionAtK(ranked []string, rel map[string]int, k int) float64 {
	n := numRel(rel)
	if n == 0 {
		return 0
	}
	sum, found := 0.0, 0
	for i, d := range ranked[:min(k, len(ranked))] {
		if rel[d] >= 1 {
			found++
			sum += float64(found) / float64(i+1)
		}
	}
	return sum / float64(n)
}

// NDCGAtK is the normalised discounted cumulative gain of the first k of
// ranked (trec_eval ndcg_cut_k): gains are the grades, the discount of
// rank r is log2(r+1), and the ideal orders all judged relevant documents
// by grade. 0 when no document has a positive grade.
func NDCGAtK(ranked []string, rel map[string]int, k int) float64 {
	dcg := 0.0
	for i, d := range ranked[:min(k, len(ranked))] {
		if g := rel[d]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i+2))
		}
	}
	var grades []int
	for _, g := range rel {
		if g > 0 {
			grades = append(grades, g)
		}
	}
	slices.SortFunc(grades, func(a, b int) int { return b - a })
	ideal := 0.0
	for i, g := range grades[:min(k, len(grades))] {
		ideal += float64(g) / math.Log2(float64(i+2))
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

// RetrievalScores are per-run means over the judged queries.
type RetrievalScores struct {
	Queries     int     // judged queries averaged over
	NDCGAt10    float64 // ndcg_cut_10
	RecallAt100 float64 // recall_100
	MRRAt10     float64 // recip_rank, run cut at 10
	MAPAt100    float64 // map_cut_100
	PrecisionAt10,
	RecallAt10,
	HitRateAt10 float64
}

// EvaluateRun scores a run (query id → retrieved documents with scores)
// against qrels. Every query in qrels counts, including those the run has
// no results for (they score 0, as with trec_eval -c); run queries without
// judgements are ignored.
func EvaluateRun(run map[string][]Scored, qrels Qrels) RetrievalScores {
	var s RetrievalScores
	for q, rel := range qrels {
		ranked := TrecOrder(run[q])
		s.Queries++
		s.NDCGAt10 += NDCGAtK(ranked, rel, 10)
		s.RecallAt100 += RecallAtK(ranked, rel, 100)
		s.MRRAt10 += ReciprocalRankAtK(ranked, rel, 10)
		s.MAPAt100 += AveragePrecisionAtK(ranked, rel, 100)
		s.PrecisionAt10 += PrecisionAtK(ranked, rel, 10)
		s.RecallAt10 += RecallAtK(ranked, rel, 10)
		s.HitRateAt10 += HitRateAtK(ranked, rel, 10)
	}
	if s.Queries > 0 {
		n := float64(s.Queries)
		for _, p := range []*float64{&s.NDCGAt10, &s.RecallAt100, &s.MRRAt10, &s.MAPAt100, &s.PrecisionAt10, &s.RecallAt10, &s.HitRateAt10} {
			*p /= n
		}
	}
	return s
}
