package eval

import (
	"slices"
	"strconv"
	"strings"

	"github.com/sextant-ai/sextant"
)

// Metric names used by suites, gates, reports and history. Retrieval
// metrics take a depth: "ndcg@10", "recall@100".
const (
	// Retrieval, per question with relevance judgements, averaged.
	MetricNDCG      = "ndcg"      // trec_eval ndcg_cut_k
	MetricRecall    = "recall"    // trec_eval recall_k
	MetricPrecision = "precision" // trec_eval P_k
	MetricMRR       = "mrr"       // trec_eval recip_rank over the run cut at k
	MetricMAP       = "map"       // trec_eval map_cut_k
	MetricHitRate   = "hit_rate"  // a relevant document among the first k

	// Groundedness, pooled over the run's answers (GroundingSummary).
	MetricGroundedness            = "groundedness"
	MetricHallucinationRate       = "hallucination_rate"        // unsupported claims / checkable claims
	MetricAnswerHallucinationRate = "answer_hallucination_rate" // answers with an unsupported claim / answers
	MetricCitationCoverage        = "citation_coverage"
	MetricGroundedCitationRate    = "grounded_citation_rate"

	// Answers against references (questions with a reference answer).
	MetricExactMatch = "exact_match" // SQuAD v1.1
	MetricF1         = "f1"          // SQuAD v1.1 token F1
	MetricRougeL     = "rouge_l"     // rouge-score rougeL F-measure, Porter stemming
	MetricBLEU       = "bleu"        // sacreBLEU corpus BLEU (0–100) over the run; sentence BLEU per question

	// Every answer.
	MetricRelevance    = "relevance"    // built-in answer relevance
	MetricAnswered     = "answered"     // 1 unless the answer is a refusal or "nothing found"
	MetricTaskSuccess  = "task_success" // the suite's success rule held
	MetricLatencyMS    = "latency_ms"   // time to the finished answer
	MetricInputTokens  = "input_tokens"
	MetricOutputTokens = "output_tokens"
	MetricTokens       = "tokens"   // input + output
	MetricCostUSD      = "cost_usd" // per task, at list prices

	// Run-level only.
	MetricLatencyP50   = "latency_p50_ms"
	MetricLatencyP95   = "latency_p95_ms"
	MetricCostTotal    = "cost_usd_total"
	MetricErrorRate    = "error_rate" // questions whose answer failed
	MetricUnpricedRate = "unpriced_rate"
)

var retrievalMetrics = []string{MetricNDCG, MetricRecall, MetricPrecision, MetricMRR, MetricMAP, MetricHitRate}

var groundingMetrics = []string{MetricGroundedness, MetricHallucinationRate, MetricAnswerHallucinationRate,
	MetricCitationCoverage, MetricGroundedCitationRate}

// questionMetrics are measured per question and averaged over the
// questions that have them.
var questionMetrics = []string{MetricExactMatch, MetricF1, MetricRougeL, MetricRelevance, MetricAnswered,
	MetricTaskSuccess, MetricLatencyMS, MetricInputTokens, MetricOutputTokens, MetricTokens, MetricCostUSD}

var runMetrics = []string{MetricBLEU, MetricLatencyP50, MetricLatencyP95, MetricCostTotal, MetricErrorRate, MetricUnpricedRate}

// lowerIsBetter lists the metrics where a smaller value is an improvement.
var lowerIsBetter = []string{MetricHallucinationRate, MetricAnswerHallucinationRate, MetricLatencyMS, MetricInputTokens,
	MetricOutputTokens, MetricTokens, MetricCostUSD, MetricLatencyP50, MetricLatencyP95, MetricCostTotal, MetricErrorRate,
	MetricUnpricedRate}

// DefaultMetrics are the metrics a suite reports when it names none.
var DefaultMetrics = []string{"ndcg@10", "recall@10", "mrr@10", MetricGroundedness, MetricHallucinationRate,
	MetricCitationCoverage, MetricGroundedCitationRate, MetricRelevance, MetricF1, MetricRougeL, MetricTaskSuccess,
	MetricLatencyP50, MetricLatencyP95, MetricTokens, MetricCostUSD}

// maxDepth bounds the k of retrieval metrics.
const maxDepth = 1000

// ParseMetric checks a metric name and returns its base name and, for
// retrieval metrics, its depth k ("ndcg@10" → "ndcg", 10). Unknown names
// are EINVALID errors that list the known ones.
func ParseMetric(name string) (base string, k int, err error) {
	base, depth, hasK := strings.Cut(name, "@")
	if slices.Contains(retrievalMetrics, base) {
		if !hasK {
			return "", 0, sextant.Errorf(sextant.EINVALID, "metric %q needs a depth, like %s@10", name, base)
		}
		k, err := strconv.Atoi(depth)
		if err != nil || k < 1 || k > maxDepth {
			return "", 0, sextant.Errorf(sextant.EINVALID, "metric %q: the depth must be a whole number from 1 to %d", name, maxDepth)
		}
		return base, k, nil
	}
	known := slices.Contains(groundingMetrics, base) || slices.Contains(questionMetrics, base) || slices.Contains(runMetrics, base)
	if hasK && known {
		return "", 0, sextant.Errorf(sextant.EINVALID, "metric %q: only retrieval metrics (%s) take a depth", name, strings.Join(retrievalMetrics, ", "))
	}
	if known {
		return base, 0, nil
	}
	return "", 0, sextant.Errorf(sextant.EINVALID, "unknown metric %q (known: %s@K, %s, %s, %s)", name,
		strings.Join(retrievalMetrics, "@K, "), strings.Join(groundingMetrics, ", "), strings.Join(questionMetrics, ", "),
		strings.Join(runMetrics, ", "))
}

// LowerIsBetter reports whether a smaller value of metric is better.
func LowerIsBetter(metric string) bool {
	base, _, _ := strings.Cut(metric, "@")
	return slices.Contains(lowerIsBetter, base)
}

// perQuestion reports whether a metric has a value per question (task
// success rules may use it).
func perQuestion(metric string) bool {
	base, _, _ := strings.Cut(metric, "@")
	return slices.Contains(retrievalMetrics, base) || slices.Contains(groundingMetrics, base) ||
		slices.Contains(questionMetrics, base) || base == MetricBLEU
}
